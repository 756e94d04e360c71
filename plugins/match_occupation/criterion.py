"""The occupation criterion: the closer two ISCO-08 codes, the higher the score."""

from __future__ import annotations

import numpy as np

from core.matching.criteria import Criterion, CriterionKind, Factored
from core.matching.features import Person, Side, Vocabulary, occupation_number
from core.reference import occupations
from plugins.match_occupation.settings import PLUGIN_ID, OccupationSettings
from plugins.match_support import N_, MentorMemo, profiles, sentence, who

LABEL = N_("Occupation")
SAME = N_("%(mentee)s and %(mentor)s work in the same occupation: %(occupation)s.")
RELATED = N_(
    "%(mentee)s (%(mentee_occupation)s) and %(mentor)s (%(mentor_occupation)s) work in "
    "related occupations, both in %(group)s."
)
RELATED_IN = N_("%(mentee)s and %(mentor)s work in related occupations, both in %(group)s.")
UNRELATED = N_(
    "%(mentee)s (%(mentee_occupation)s) and %(mentor)s (%(mentor_occupation)s) work in "
    "unrelated occupations."
)
UNKNOWN = N_("The occupation of %(mentee)s or %(mentor)s is not known.")

# The column holds codes padded to four digits (features.occupation_number): dividing
# by these gives the unit, minor, sub-major and major group.
DIVISORS = (1000, 100, 10, 1)


def _title(code: str, locale: str) -> str:
    """The title of ``code``, or of its closest group we have a title for."""
    for length in range(len(code), 0, -1):
        if code[:length] in occupations.OCCUPATIONS:
            return occupations.title(code[:length], locale)
    return code


class OccupationCriterion(Criterion):
    kind = CriterionKind.SCORE
    label = LABEL

    def __init__(self, settings: OccupationSettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.weight = settings.weight
        # By the number of levels two codes share, from none (0) to the same code (4).
        self.by_depth = np.array(
            [
                0.0,
                settings.same_major_group,
                settings.same_sub_major_group,
                settings.same_minor_group,
                settings.same_unit_group,
            ],
            dtype=np.float32,
        )
        self._mentors = MentorMemo()

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        codes_a, profile_a = profiles(mentees["occupation"])
        codes_b, profile_b = self._mentors.get(
            mentors, None, lambda: profiles(mentors["occupation"])
        )
        return Factored(self._table(codes_a, codes_b), profile_a, profile_b)

    def _table(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        a, b = codes_a.astype(np.int64)[:, None], codes_b.astype(np.int64)[None, :]
        depth = np.zeros((len(codes_a), len(codes_b)), dtype=np.intp)
        for divisor in DIVISORS:
            depth += a // divisor == b // divisor
        depth *= (a >= 0) & (b >= 0)  # -1 is "unknown", never related to anything
        return self.by_depth[depth]

    def depth(self, mentee: Person, mentor: Person) -> int | None:
        """How many levels the two codes share (4: the same code); None if one is unknown."""
        if not mentee.occupation or not mentor.occupation:
            return None
        a, b = occupation_number(mentee.occupation), occupation_number(mentor.occupation)
        return sum(a // divisor == b // divisor for divisor in DIVISORS)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        depth = self.depth(mentee, mentor)
        if depth is None:
            return sentence(locale, UNKNOWN, **names)
        assert mentee.occupation is not None and mentor.occupation is not None
        if depth == 4:
            return sentence(locale, SAME, occupation=_title(mentee.occupation, locale), **names)
        titles = {
            "mentee_occupation": _title(mentee.occupation, locale),
            "mentor_occupation": _title(mentor.occupation, locale),
        }
        if depth == 0:
            return sentence(locale, UNRELATED, **titles, **names)
        group = _title(mentee.occupation.ljust(4, "0")[:depth], locale)
        if titles["mentee_occupation"] == titles["mentor_occupation"]:
            # Codes finer than our titles (2142 and 2146): one title would be said thrice.
            return sentence(locale, RELATED_IN, group=group, **names)
        return sentence(locale, RELATED, group=group, **titles, **names)
