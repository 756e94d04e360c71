"""When someone can meet: a small fixed set of time slots with translated labels.

Few and coarse on purpose: the matching only needs to know whether a mentor and a
mentee share a slot at all, and a short list is quick to fill in on a phone.
Stored values are the slot ids (``"weekday_evening"``), in the order of :data:`SLOTS`.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import N_
from core.i18n.catalogs import gettext

SLOTS: dict[str, str] = {
    "weekday_daytime": N_("Weekdays, during the day"),
    "weekday_evening": N_("Weekdays, in the evening"),
    "weekend_daytime": N_("Weekends, during the day"),
    "weekend_evening": N_("Weekends, in the evening"),
}


class UnknownSlotError(ValueError):
    pass


def normalise(slots: Iterable[str]) -> list[str]:
    """Known slots only, each once, in the canonical order; UnknownSlotError otherwise."""
    chosen = set(slots)
    unknown = sorted(chosen - SLOTS.keys())
    if unknown:
        raise UnknownSlotError(f"unknown time slot(s): {', '.join(map(repr, unknown))}")
    return [slot for slot in SLOTS if slot in chosen]


def label(slot: str, locale: str) -> str:
    return gettext(locale, SLOTS[slot]) if slot in SLOTS else slot


def overlap(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """The slots two people share, in canonical order (for the matching)."""
    shared = set(a) & set(b)
    return [slot for slot in SLOTS if slot in shared]
