"""The conflict-of-interest filter: not the same person, not the same employer."""

from __future__ import annotations

import numpy as np

from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary, fold
from plugins.match_conflict.settings import PLUGIN_ID, ConflictSettings
from plugins.match_support import N_, sentence, who

LABEL = N_("Conflict of interest")
SAME_PERSON = N_("%(mentee)s and %(mentor)s are the same person.")
SAME_EMPLOYER = N_("%(mentee)s and %(mentor)s work for the same employer (%(employer)s).")
NONE = N_("No conflict of interest between %(mentee)s and %(mentor)s.")


def _differ(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a[i] != b[j]`` for all pairs, where -1 (none given) differs from everything."""
    # The mentors' "none" becomes -2, so that it never equals the mentees' -1.
    np.not_equal(a[:, None], np.where(b < 0, -2, b)[None, :], out=out)
    return out


class ConflictCriterion(Criterion):
    kind = CriterionKind.FILTER
    label = LABEL
    weight = 1.0  # a filter's weight is not used

    def __init__(self, settings: ConflictSettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.same_employer = settings.same_employer

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        shape = (len(mentees), len(mentors))
        allowed = _differ(mentees["person"], mentors["person"], np.empty(shape, dtype=bool))
        if self.same_employer:
            other = _differ(mentees["employer"], mentors["employer"], np.empty(shape, dtype=bool))
            np.bitwise_and(allowed.view(np.uint8), other.view(np.uint8), out=allowed.view(np.uint8))
        return allowed

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        if fold(mentee.person) and fold(mentee.person) == fold(mentor.person):
            return sentence(locale, SAME_PERSON, **names)
        employer = fold(mentee.employer)
        if self.same_employer and employer and employer == fold(mentor.employer):
            return sentence(locale, SAME_EMPLOYER, employer=mentor.employer.strip(), **names)
        return sentence(locale, NONE, **names)
