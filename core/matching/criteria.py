"""Matching criteria: what plugins contribute through ``register_matching_criteria``.

A criterion is either a **filter** (a pair is allowed or not) or a **score** in [0, 1]
with a weight. Both are evaluated over whole arrays: :meth:`Criterion.evaluate` gets
a block of mentees and all mentors as :class:`~core.matching.features.Side` columns
and returns one value per pair of the block — a boolean matrix for a filter, a
float matrix for a score, both of shape ``(len(mentees), len(mentors))``. A filter
that knows its few allowed pairs may return :class:`AllowedPairs` instead. The
scorer calls ``evaluate`` once per block of a few thousand mentees, so the cost of
one call is numpy's, never Python's per pair. Blocks are scored in two threads at
once, and a pair may be scored again later in another block: ``evaluate`` must keep
no state between calls, and a pair's value must depend on that pair alone (beware
float32 transcendental functions, whose last bit differs between numpy's vector and
scalar paths).

A pair's score is the weighted mean of the score criteria (weights are the tenant's,
from each plugin's settings): ``sum(w_c * s_c) / sum(w_c)``, in [0, 1]. The solver
works on it in whole millionths (:data:`SCALE`), so that every solver and every
check sees exactly the same numbers.

:meth:`Criterion.explain` says in a sentence, in the reader's language, what the
criterion saw in one pair; it is called only for the pairs shown to people.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.matching.features import Person, Side, Vocabulary

SCALE = 1_000_000  # pair scores are integers in [0, SCALE]


class CriterionKind(StrEnum):
    FILTER = "filter"
    SCORE = "score"


@dataclass(frozen=True)
class AllowedPairs:
    """A filter's answer as the allowed pairs only: rows into the block, columns into mentors."""

    rows: np.ndarray  # int, indices into the mentees passed to evaluate
    cols: np.ndarray  # int, indices into the mentors

    def to_mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, dtype=bool)
        mask[self.rows, self.cols] = True
        return mask


class Criterion(ABC):
    """One rule of a tenant's matching, built by a plugin with that tenant's settings.

    ``id`` is unique within a run (the plugin's id, or ``<plugin>.<name>`` if a plugin
    brings several); ``label`` is a msgid shown (translated) as the column heading on
    the proposals page; ``weight`` is > 0 for scores and ignored for filters.
    """

    id: str
    kind: CriterionKind
    label: str
    weight: float = 1.0

    @abstractmethod
    def evaluate(
        self, mentees: Side, mentors: Side, vocabulary: Vocabulary
    ) -> np.ndarray | AllowedPairs:
        """Bool (filter) or float in [0, 1] (score), shape ``(len(mentees), len(mentors))``."""

    @abstractmethod
    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        """One sentence, in ``locale``, on what this criterion saw in this pair."""


def as_matrix(result: np.ndarray | AllowedPairs, criterion: Criterion, shape: tuple[int, int]):
    """A criterion's answer as a checked matrix: bool for filters, float32 in [0, 1] for scores.

    A plugin that returns the wrong shape or values out of range is a bug in that
    plugin; saying which one saves its author a search.
    """
    if isinstance(result, AllowedPairs):
        if criterion.kind is not CriterionKind.FILTER:
            raise CriterionError(criterion.id, "only filters may return AllowedPairs")
        return result.to_mask(shape)
    matrix = np.asarray(result)
    if matrix.shape != shape and not _broadcasts(matrix.shape, shape):
        raise CriterionError(criterion.id, f"returned shape {np.shape(result)}, not {shape}")
    if criterion.kind is CriterionKind.FILTER:
        return np.broadcast_to(matrix.astype(bool, copy=False), shape)
    matrix = matrix.astype(np.float32, copy=False)
    # Checked before broadcasting: a row of one side's values is checked once.
    # min and max carry a NaN through, and a NaN fails both comparisons.
    if np.prod(shape) and matrix.size and not (matrix.min() >= 0 and matrix.max() <= 1):
        raise CriterionError(criterion.id, "returned scores outside [0, 1]")
    # A side's values stay a read-only view (a row or column repeated), never copied out.
    return np.broadcast_to(matrix, shape)


def _broadcasts(got: tuple[int, ...], want: tuple[int, int]) -> bool:
    try:
        return np.broadcast_shapes(got, want) == want
    except ValueError:
        return False


class CriterionError(RuntimeError):
    """A criterion plugin answered with something the scorer cannot use."""

    def __init__(self, criterion_id: str, problem: str) -> None:
        super().__init__(f"matching criterion {criterion_id!r} {problem}")
        self.criterion_id = criterion_id
