"""The seniority criterion: the mentor should be ahead of the mentee in experience."""

from __future__ import annotations

import numpy as np

from core.i18n.catalogs import translations
from core.matching.criteria import Criterion, CriterionKind, Factored
from core.matching.features import Person, Side, Vocabulary
from plugins.match_seniority.settings import PLUGIN_ID, SenioritySettings
from plugins.match_support import N_, MentorMemo, number, plural_sentence, profiles, who

LABEL = N_("Experience")


class SeniorityCriterion(Criterion):
    """Score ``clip((mentor years - mentee years) / margin, 0, 1)``; with ``hard``, a
    filter ``mentor years >= mentee years`` instead."""

    label = LABEL

    def __init__(self, settings: SenioritySettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.kind = CriterionKind.FILTER if settings.hard else CriterionKind.SCORE
        self.weight = settings.weight
        self.margin = settings.margin
        self._mentors = MentorMemo()

    def evaluate(
        self, mentees: Side, mentors: Side, vocabulary: Vocabulary
    ) -> np.ndarray | Factored:
        years_a, years_b = mentees["years"], mentors["years"]
        if self.kind is CriterionKind.FILTER:
            return np.greater_equal(years_b[None, :], years_a[:, None])
        # Per pair of distinct years (a few hundred a side), as a table.
        distinct_a, profile_a = profiles(years_a)
        distinct_b, profile_b = self._mentors.get(mentors, None, lambda: profiles(years_b))
        table = np.subtract(distinct_b[None, :], distinct_a[:, None], dtype=np.float32)
        # Divided, not multiplied by 1/margin: exactly `margin` years ahead is exactly 1.
        np.divide(table, np.float32(self.margin), out=table)
        return Factored(np.clip(table, 0, 1, out=table), profile_a, profile_b)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        # Plural forms take whole numbers: 1.5 years is plural, as 2 is.
        count = 1 if mentor.years == 1 else 2
        if mentor.years > mentee.years:
            text = translations(locale).ngettext(
                "%(mentor)s has more experience than %(mentee)s: %(mentor_years)s year "
                "against %(mentee_years)s.",
                "%(mentor)s has more experience than %(mentee)s: %(mentor_years)s years "
                "against %(mentee_years)s.",
                count,
            )
        else:
            text = translations(locale).ngettext(
                "%(mentor)s does not have more experience than %(mentee)s: "
                "%(mentor_years)s year against %(mentee_years)s.",
                "%(mentor)s does not have more experience than %(mentee)s: "
                "%(mentor_years)s years against %(mentee_years)s.",
                count,
            )
        return plural_sentence(
            locale,
            text,
            mentor=who(mentor),
            mentee=who(mentee),
            mentor_years=number(mentor.years, locale),
            mentee_years=number(mentee.years, locale),
        )
