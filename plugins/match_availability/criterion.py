"""The availability criterion: the share of the mentee's time slots the mentor has too."""

from __future__ import annotations

import numpy as np

from core.matching.criteria import Criterion, CriterionKind, Factored
from core.matching.features import Person, Side, Vocabulary
from core.reference import availability
from plugins.match_availability.settings import PLUGIN_ID, AvailabilitySettings
from plugins.match_support import N_, MentorMemo, profiles, sentence, who

LABEL = N_("Availability")
SHARED = N_("%(mentee)s and %(mentor)s are both free at these times: %(slots)s.")
NONE = N_("%(mentee)s and %(mentor)s have no time slot in common.")
UNKNOWN = N_("%(mentee)s or %(mentor)s has not said when they are free.")


class AvailabilityCriterion(Criterion):
    kind = CriterionKind.SCORE
    label = LABEL

    def __init__(self, settings: AvailabilitySettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.weight = settings.weight
        self.unknown_score = np.float32(settings.unknown_score)
        self._mentors = MentorMemo()

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        # The fewest bytes the slots fit in: the pair passes below are memory-bound.
        dtype = next(
            t for t in (np.uint8, np.uint16, np.uint32) if np.iinfo(t).bits >= len(vocabulary.slots)
        )
        # Per pair of distinct slot sets (a cohort has few), as a table.
        a, profile_a = profiles(mentees["availability"].astype(dtype))
        b, profile_b = self._mentors.get(
            mentors, dtype, lambda: profiles(mentors["availability"].astype(dtype))
        )
        shared = np.bitwise_and(a[:, None], b[None, :])
        counts = np.bitwise_count(shared, out=shared.view(np.uint8) if dtype is np.uint8 else None)
        own = np.bitwise_count(a).astype(np.float32)
        with np.errstate(divide="ignore"):
            per_slot = np.where(own > 0, 1 / own, 0).astype(np.float32)
        table = np.multiply(counts, per_slot[:, None], dtype=np.float32)
        # Someone who gave no slots: unknown, so neither rewarded nor ruled out.
        table[own == 0] = self.unknown_score
        table[:, b == 0] = self.unknown_score
        return Factored(table, profile_a, profile_b)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        names = {"mentee": who(mentee), "mentor": who(mentor)}
        if not mentee.availability or not mentor.availability:
            return sentence(locale, UNKNOWN, **names)
        common = availability.overlap(mentee.availability, mentor.availability)
        if not common:
            return sentence(locale, NONE, **names)
        # The labels have commas of their own ("Weekdays, in the evening").
        slots = "; ".join(availability.label(slot, locale) for slot in common)
        return sentence(locale, SHARED, slots=slots, **names)
