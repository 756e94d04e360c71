"""Verification codes: what a certificate prints, what ``/verify/<code>`` looks up.

A code is 12 characters of Crockford's base32 (60 random bits): digits and upper-case
letters without I, L, O and U, so that nothing on paper is ambiguous. It is stored
without separators and printed in groups of four (``7K3M-Q9TZ-2B4X``). What people
type back is forgiving in the same way Crockford's alphabet is: case, spaces and
dashes do not matter, I and L read as 1, O as 0.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
# What people type for a character that looks like one of the alphabet's.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = str.maketrans("", "", " -_.\t\u00a0\u2010\u2011\u2012\u2013\u2014")


def new_code() -> str:
    """A fresh random code (stored form: 12 characters, no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str | None:
    """The stored form of a code someone typed or scanned; None if it cannot be one."""
    if len(typed) > 4 * LENGTH:  # nobody types that much; do not process it
        return None
    code = typed.strip().upper().translate(_SEPARATORS).translate(_READ_AS)
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def display(code: str) -> str:
    """The printed form: groups of four joined by dashes."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


__all__ = ["ALPHABET", "LENGTH", "display", "new_code", "normalise"]
