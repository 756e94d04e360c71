"""The capacity criterion: mentors with more of their places still free score higher."""

from __future__ import annotations

import numpy as np

from core.i18n.catalogs import translations
from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary
from plugins.match_capacity.settings import PLUGIN_ID, CapacitySettings
from plugins.match_support import N_, plural_sentence, who

LABEL = N_("Free places")


def free_share(capacity: np.ndarray, load: np.ndarray) -> np.ndarray:
    """``capacity / (capacity + load)``: places left over all places; 0 without places."""
    free = np.maximum(capacity, 0).astype(np.float32)
    total = free + np.maximum(load, 0).astype(np.float32)
    return np.divide(free, total, out=np.zeros_like(free), where=total > 0)


class CapacityCriterion(Criterion):
    kind = CriterionKind.SCORE
    label = LABEL

    def __init__(self, settings: CapacitySettings, id: str = PLUGIN_ID) -> None:
        self.id = id
        self.weight = settings.weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        # The same for every mentee: one row, which the scorer broadcasts to the block.
        return free_share(mentors["capacity"], mentors["load"]).astype(np.float32)[None, :]

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        free = max(mentor.capacity, 0)
        total = free + max(mentor.load, 0)
        text = translations(locale).ngettext(
            "%(mentor)s has %(free)s of %(total)s place free.",
            "%(mentor)s has %(free)s of %(total)s places free.",
            total,
        )
        return plural_sentence(locale, text, mentor=who(mentor), free=free, total=total)
