"""Column types shared by the domain models."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def str_enum(enum: type[StrEnum], length: int = 32) -> Enum:
    """A ``VARCHAR`` holding an enum's *values* (not its member names).

    Not a native PostgreSQL enum: adding a state later is then a code change, not a
    migration that locks the table. Unknown values are refused when written.
    """
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )
