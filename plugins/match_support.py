"""What the built-in matching criteria plugins (``plugins/match_*``) share.

Not a plugin itself (it has no ``PLUGIN`` and no entry point): the weight setting every
score criterion has, the sentences' common parts, and :func:`profiles` with
:class:`MentorMemo` for the criteria that answer with a
:class:`~core.matching.criteria.Factored` table.

Why a table: a criterion whose value depends on a few distinct values per side
(occupation codes, language profiles, years, availability slots) is cheapest computed
once per pair of *distinct* values; the scorer then adds the table to each pair's
score tile by tile, without writing out a matrix of the block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from babel.numbers import format_decimal
from pydantic import Field

from core.i18n.catalogs import gettext
from core.matching.features import Person
from core.web.errors import N_

WEIGHT_TITLE = N_("Weight")
WEIGHT_HELP = N_(
    "How much this criterion counts in a pair's score, relative to the other "
    "criteria's weights (more than 0, at most 100)"
)


def weight_field(default: float) -> Any:
    """The ``weight`` setting of a score criterion: > 0, so that a typo cannot zero it."""
    return Field(default=default, gt=0, le=100, title=WEIGHT_TITLE, description=WEIGHT_HELP)


def who(person: Person) -> str:
    """How a sentence names someone: their name, else the id the caller gave them."""
    return person.name or person.id


def sentence(locale: str, message: str, **variables: object) -> str:
    return _capitalised(gettext(locale, message, **variables))


def plural_sentence(locale: str, text: str, **variables: object) -> str:
    """``text`` from ``translations(locale).ngettext(...)``, filled in and capitalised.

    The ``ngettext`` call stays in the criterion, with its two literal messages, so that
    the extraction sees them as one plural entry.
    """
    return _capitalised(text % variables)


def _capitalised(text: str) -> str:
    # A name written in lower case still starts the sentence with a capital.
    return text[:1].upper() + text[1:]


def number(value: float, locale: str) -> str:
    """``2.5`` as the reader writes it (``2,5`` in German), at most one decimal."""
    return format_decimal(round(float(value), 1), format="#,##0.#", locale=locale)


def profiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (rows, for a 2-D array) of a column, and each person's index."""
    if values.ndim == 1:
        distinct, inverse = np.unique(values, return_inverse=True)
    else:
        distinct, inverse = np.unique(values, axis=0, return_inverse=True)
    return distinct, inverse.reshape(-1)


class MentorMemo:
    """Work a criterion does on the mentors, kept from one block of a run to the next.

    Every block of a run is scored against the same mentors (the same ``Side``), so
    their distinct values need finding once, not per block. One entry: a new run, or
    another ``key`` (say, other columns), replaces it. Blocks are scored on two
    threads: an entry is read once and replaced whole, never changed in place.
    """

    def __init__(self) -> None:
        self._entry: tuple[object, object, Any] | None = None

    def get(self, mentors: object, key: object, compute: Callable[[], Any]) -> Any:
        entry = self._entry
        if entry is not None and entry[0] is mentors and _same(entry[1], key):
            return entry[2]
        value = compute()
        self._entry = (mentors, key, value)
        return value


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)  # type: ignore[arg-type]
    return a == b
