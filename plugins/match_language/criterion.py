"""Shared meeting language: a filter (someone to talk to) and a score (how well).

Both work on bit masks, one per CEFR threshold: bit ``k`` of a mask for level ``t`` is
set if someone speaks the ``k``-th meeting language at ``t`` or above. Two people share
a language at ``t`` exactly when their masks for ``t`` have a bit in common, so every
threshold costs one ``&``, whatever the number of languages — no matrix product, no
pairs-by-languages tensor. The score works on the masks of distinct language profiles
(a cohort has far fewer than people) and answers with the table over them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from babel.lists import format_list

from core.matching.criteria import Criterion, CriterionKind, Factored
from core.matching.features import Person, Side, Vocabulary, level_number
from core.reference import cefr, languages
from plugins.match_language.settings import PLUGIN_ID, LanguageSettings
from plugins.match_support import N_, MentorMemo, profiles, sentence, who

FILTER_LABEL = N_("Shared language")
SCORE_LABEL = N_("Language level")
SHARED = N_(
    "%(mentee)s and %(mentor)s can meet in %(languages)s (both at level %(level)s or higher)."
)
NONE = N_("%(mentee)s and %(mentor)s share no language at level %(minimum)s or higher.")
NONE_OF = N_(
    "%(mentee)s and %(mentor)s do not both speak %(languages)s at level %(minimum)s or higher."
)
TOP = len(cefr.LEVELS)  # C2 as a level number
WORD = 64  # languages per mask word


class _Levels:
    """What both criteria of the plugin compute: shared languages per CEFR threshold."""

    def __init__(self, settings: LanguageSettings) -> None:
        self.minimum = level_number(settings.min_level)
        self.meeting = tuple(settings.languages)
        self._mentors = MentorMemo()

    @property
    def thresholds(self) -> range:
        return range(self.minimum, TOP + 1)

    def columns(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        """Language columns that can matter: meeting languages someone on each side speaks."""
        wanted = np.array(
            [not self.meeting or code in self.meeting for code in vocabulary.languages],
            dtype=bool,
        )
        for side in (mentees, mentors):
            wanted &= (side["languages"] >= self.minimum).any(axis=0)
        return np.flatnonzero(wanted)

    def shared(
        self, mentees: Side, mentors: Side, vocabulary: Vocabulary
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How many thresholds (from the minimum up) two people share a language at.

        Per pair of distinct language profiles, as a table with each side's profile
        numbers (see :class:`~core.matching.criteria.Factored`): a cohort has far fewer
        distinct profiles than people, and the mentors' stay the same all run long.
        """
        columns = self.columns(mentees, mentors, vocabulary)
        distinct_a, profile_a = profiles(mentees["languages"][:, columns])
        distinct_b, profile_b = self._mentors.get(
            mentors, columns, lambda: profiles(mentors["languages"][:, columns])
        )
        return self._count(distinct_a, distinct_b), profile_a, profile_b

    def _count(self, a_levels: np.ndarray, b_levels: np.ndarray) -> np.ndarray:
        count = np.zeros((len(a_levels), len(b_levels)), dtype=np.uint8)
        width = a_levels.shape[1]
        if not width or not count.size:
            return count
        common = np.empty(count.shape, dtype=bool)
        for start in range(0, width, WORD):
            words = np.arange(start, min(start + WORD, width))
            dtype = _mask_dtype(len(words))
            both = np.empty(count.shape, dtype=dtype)
            for threshold in self.thresholds:
                a = _masks(a_levels, words, threshold, dtype)
                b = _masks(b_levels, words, threshold, dtype)
                if not a.any() or not b.any():
                    break  # nobody on one side reaches this level, nor any higher one
                np.bitwise_and(a[:, None], b[None, :], out=both)
                np.not_equal(both, 0, out=common)
                if start:
                    # A later word: count a threshold only if no earlier word had it.
                    np.greater(common, count >= threshold - self.minimum + 1, out=common)
                np.add(count, common, out=count)
        return count

    def best(self, mentee: Person, mentor: Person) -> tuple[int, list[str]]:
        """The best level both speak a meeting language at, and the languages at it."""
        levels: dict[str, int] = {}
        for code, level in mentee.languages.items():
            if (not self.meeting or code in self.meeting) and code in mentor.languages:
                levels[code] = min(level_number(level), level_number(mentor.languages[code]))
        top = max(levels.values(), default=0)
        return top, sorted(code for code, level in levels.items() if level == top)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        minimum = cefr.LEVELS[self.minimum - 1]
        top, codes = self.best(mentee, mentor)
        if top >= self.minimum:
            spoken = _names(codes, locale)
            return sentence(locale, SHARED, languages=spoken, level=cefr.LEVELS[top - 1], **names)
        if self.meeting:
            spoken = _names(self.meeting, locale, conjunction="or")
            return sentence(locale, NONE_OF, languages=spoken, minimum=minimum, **names)
        return sentence(locale, NONE, minimum=minimum, **names)


def _mask_dtype(bits: int) -> type[np.unsignedinteger]:
    return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= bits)


def _masks(
    levels: np.ndarray, columns: np.ndarray, threshold: int, dtype: type[np.unsignedinteger]
) -> np.ndarray:
    bits = np.left_shift(np.ones(len(columns), dtype=dtype), np.arange(len(columns), dtype=dtype))
    flags = levels[:, columns] >= threshold
    # Distinct powers of two: their sum is their bitwise or.
    return (flags * bits).sum(axis=1, dtype=dtype)


def _names(codes: Sequence[str], locale: str, conjunction: str = "and") -> str:
    style = "standard" if conjunction == "and" else "or"
    return format_list([languages.name(code, locale) for code in codes], style, locale)


class SharedLanguage(Criterion):
    """Filter: the pair shares a meeting language at ``min_level`` or higher."""

    kind = CriterionKind.FILTER
    label = FILTER_LABEL

    def __init__(self, settings: LanguageSettings, id: str = f"{PLUGIN_ID}.shared") -> None:
        self.id = id
        self.weight = settings.weight
        self.levels = _Levels(settings)

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        # One threshold only: an & over the pairs is cheaper than going through a table.
        shape = (len(mentees), len(mentors))
        columns = self.levels.columns(mentees, mentors, vocabulary)
        allowed = np.zeros(shape, dtype=bool)
        if not len(columns) or not allowed.size:
            return allowed
        for start in range(0, len(columns), WORD):
            words = columns[start : start + WORD]
            dtype = _mask_dtype(len(words))
            a = _masks(mentees["languages"], words, self.levels.minimum, dtype)
            b = _masks(mentors["languages"], words, self.levels.minimum, dtype)
            common = np.not_equal(np.bitwise_and(a[:, None], b[None, :]), 0)
            allowed = common if not start else np.logical_or(allowed, common, out=allowed)
        return allowed

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return self.levels.explain(mentee, mentor, locale)


class LanguageLevel(Criterion):
    """Score: the best level both speak a meeting language at, from the minimum (lowest
    non-zero score) to C2 (1); pairs without one score 0."""

    kind = CriterionKind.SCORE
    label = SCORE_LABEL

    def __init__(self, settings: LanguageSettings, id: str = f"{PLUGIN_ID}.level") -> None:
        self.id = id
        self.weight = settings.weight
        self.levels = _Levels(settings)

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        count, profile_a, profile_b = self.levels.shared(mentees, mentors, vocabulary)
        table = np.divide(count, np.float32(len(self.levels.thresholds)), dtype=np.float32)
        return Factored(table, profile_a, profile_b)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return self.levels.explain(mentee, mentor, locale)
