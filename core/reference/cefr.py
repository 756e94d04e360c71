"""Common European Framework of Reference (CEFR) language levels, A1 (lowest) to C2."""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("A1", "A2", "B1", "B2", "C1", "C2")


class UnknownLevelError(ValueError):
    pass


def normalise(level: str) -> str:
    """``"b1"`` → ``"B1"``; anything that is not a CEFR level raises UnknownLevelError."""
    value = level.strip().upper()
    if value not in LEVELS:
        raise UnknownLevelError(f"{level!r} is not a CEFR level ({', '.join(LEVELS)})")
    return value


def rank(level: str) -> int:
    """0 for A1 … 5 for C2, for comparing levels."""
    return LEVELS.index(normalise(level))


def at_least(level: str | None, minimum: str | None) -> bool:
    """Whether ``level`` meets ``minimum`` (no minimum: always; no level: never)."""
    if minimum is None:
        return True
    if level is None:
        return False
    return rank(level) >= rank(minimum)
