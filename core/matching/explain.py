"""Why a pair was proposed, in the reader's language: one :class:`Reason` per criterion.

The scorer only knows numbers; people read sentences. :func:`explain_pair` asks each
criterion of the run to say what it saw in one pair (:meth:`Criterion.explain`, given
the two :class:`~core.matching.features.Person` records) and pairs the sentence with the
criterion's translated label, its score in [0, 1] (``None`` for filters: a proposed pair
passed them all) and its weight. Score criteria come first, the one that added most to
the pair's score leading; filters follow in the order of the run.

This runs only for the pairs shown to someone (a page of proposals, five suggestions),
so calling Python per pair is fine here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person
from core.matching.problem import Problem

log = logging.getLogger(__name__)


# A criterion plugin whose explain() fails must not take the coordinator's page down.
NO_SENTENCE = N_("This criterion gives no explanation for this pair.")


@dataclass(frozen=True)
class Reason:
    """What one criterion says about one pair."""

    criterion: str  # the criterion's id
    label: str  # its label, translated
    score: float | None  # in [0, 1]; None for a filter
    weight: float  # the run's weight (0 for filters)
    sentence: str  # in the reader's language

    @property
    def is_filter(self) -> bool:
        return self.score is None


def explain_people(
    criteria: Iterable[Criterion],
    mentee: Person,
    mentor: Person,
    parts: Mapping[str, float],
    locale: str,
) -> list[Reason]:
    """Every criterion's reason for the pair ``mentee`` and ``mentor``.

    ``parts`` holds the score criteria's scores for this pair as the run computed them
    (a criterion missing from it, as after a weight of 0, is left out); filters are
    always explained.
    """
    scores: list[Reason] = []
    filters: list[Reason] = []
    for criterion in criteria:
        is_filter = criterion.kind is CriterionKind.FILTER
        if not is_filter and criterion.id not in parts:
            continue
        reason = Reason(
            criterion=criterion.id,
            label=gettext(locale, criterion.label),
            score=None if is_filter else float(parts[criterion.id]),
            weight=0.0 if is_filter else float(criterion.weight),
            sentence=_sentence(criterion, mentee, mentor, locale),
        )
        (filters if is_filter else scores).append(reason)
    # Largest contribution first; the id breaks ties so that pages do not reshuffle.
    scores.sort(key=lambda r: (-(r.score or 0.0) * r.weight, r.criterion))
    return scores + filters


def explain_pair(
    problem: Problem, mentee: int, mentor: int, parts: Mapping[str, float], locale: str
) -> list[Reason]:
    """The reasons for the pair of rows ``mentee`` and ``mentor`` of ``problem``."""
    return explain_people(
        problem.criteria,
        problem.mentees.people[mentee],
        problem.mentors.people[mentor],
        parts,
        locale,
    )


def _sentence(criterion: Criterion, mentee: Person, mentor: Person, locale: str) -> str:
    try:
        sentence = criterion.explain(mentee, mentor, locale)
    except Exception:
        log.exception("matching criterion %r could not explain a pair", criterion.id)
        return gettext(locale, NO_SENTENCE)
    return (
        sentence if isinstance(sentence, str) and sentence.strip() else gettext(locale, NO_SENTENCE)
    )


__all__ = ["NO_SENTENCE", "Reason", "explain_pair", "explain_people"]
