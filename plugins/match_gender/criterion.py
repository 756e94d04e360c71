"""The mentee's wish for a mentor of the same gender, and nothing else about gender."""

from __future__ import annotations

import numpy as np

from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary, fold
from plugins.match_gender.settings import PLUGIN_ID, GenderSettings
from plugins.match_support import N_, sentence, who

LABEL = N_("Same gender (mentee's wish)")
NOT_ASKED = N_("%(mentee)s did not ask for a mentor of the same gender.")
NO_GENDER = N_(
    "%(mentee)s asked for a mentor of the same gender but did not give a gender, so the "
    "wish cannot be taken into account."
)
KEPT = N_("%(mentee)s asked for a mentor of the same gender, and %(mentor)s is.")
NOT_KEPT = N_("%(mentee)s asked for a mentor of the same gender, and %(mentor)s is not.")
UNKNOWN = N_(
    "%(mentee)s asked for a mentor of the same gender, and %(mentor)s has not given a gender."
)


class GenderCriterion(Criterion):
    """A filter (``hard``) or a score: 1 where the wish is kept or was not made, else 0.

    The wish counts only for mentees who made it *and* gave their gender; a mentor
    who gave no gender does not keep it.
    """

    label = LABEL

    def __init__(self, settings: GenderSettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.kind = CriterionKind.FILTER if settings.hard else CriterionKind.SCORE
        self.weight = settings.weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        gender_a, gender_b = mentees["gender"], mentors["gender"]
        free = ~(mentees["same_gender"] & (gender_a >= 0))
        kept = np.empty((len(mentees), len(mentors)), dtype=bool)
        if free.all():
            kept.fill(True)
        else:
            # Mentors without a gender are -1, which no wishing mentee's gender equals.
            np.equal(gender_a[:, None], gender_b[None, :], out=kept)
            np.bitwise_or(
                kept.view(np.uint8), free.view(np.uint8)[:, None], out=kept.view(np.uint8)
            )
        return kept if self.kind is CriterionKind.FILTER else kept.astype(np.float32)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        if not mentee.same_gender:
            return sentence(locale, NOT_ASKED, **names)
        if not fold(mentee.gender):
            return sentence(locale, NO_GENDER, **names)
        if not fold(mentor.gender):
            return sentence(locale, UNKNOWN, **names)
        kept = fold(mentee.gender) == fold(mentor.gender)
        return sentence(locale, KEPT if kept else NOT_KEPT, **names)
