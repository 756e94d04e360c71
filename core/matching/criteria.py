"""Matching criteria: what plugins contribute through ``register_matching_criteria``.

A criterion is either a **filter** (a pair is allowed or not) or a **score** in [0, 1]
with a weight. Both are evaluated over whole arrays: :meth:`Criterion.evaluate` gets
a block of mentees and all mentors as :class:`~core.matching.features.Side` columns
and returns one value per pair of the block — a boolean matrix for a filter, a
float matrix for a score, both of shape ``(len(mentees), len(mentors))``. A filter
that knows its few allowed pairs may return :class:`AllowedPairs` instead, and a score
over a few distinct values per side a :class:`Factored` table. The
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


@dataclass(frozen=True)
class Factored:
    """A score's answer as a table over distinct values: ``table[rows[i], cols[j]]``.

    For a criterion whose value depends on a few distinct values per side (occupation
    codes, language profiles, years): ``table`` holds the score per pair of distinct
    values, ``rows`` each mentee's row of it and ``cols`` each mentor's column (as
    ``np.unique(..., return_inverse=True)`` gives them). The scorer adds it to a
    pair's score tile by tile without ever writing out the whole block, which saves
    a full pass over memory per criterion. Indexing with integers or index arrays
    works as on the matrix; ``np.asarray`` writes the matrix out.
    """

    table: np.ndarray  # float32 (distinct mentee values, distinct mentor values)
    rows: np.ndarray  # intp (mentees,)
    cols: np.ndarray  # intp (mentors,)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.cols))

    def tile(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Rows ``start:stop`` of the matrix, written into ``out`` (float32)."""
        picked = np.ascontiguousarray(self.table[self.rows[start:stop]], dtype=np.float32)
        # The indices come from np.unique and are checked in as_matrix: "clip" skips
        # the bounds checks.
        return np.take(picked, self.cols, axis=1, out=out, mode="clip")

    def __getitem__(self, key: tuple[object, object]) -> np.ndarray:
        rows, cols = key
        if isinstance(rows, slice) or isinstance(cols, slice):
            return np.asarray(self)[rows, cols]
        return self.table[self.rows[rows], self.cols[cols]]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        if out.size:
            self.tile(0, len(self.rows), out)
        return out if dtype is None else out.astype(dtype)


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
    ) -> np.ndarray | AllowedPairs | Factored:
        """Bool (filter) or float in [0, 1] (score), shape ``(len(mentees), len(mentors))``."""

    @abstractmethod
    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        """One sentence, in ``locale``, on what this criterion saw in this pair."""


def as_matrix(
    result: np.ndarray | AllowedPairs | Factored, criterion: Criterion, shape: tuple[int, int]
):
    """A criterion's answer, checked: bool for filters, float32 in [0, 1] for scores.

    A score's :class:`Factored` answer stays factored (the scorer adds it tile by
    tile); everything else becomes a matrix, or a read-only broadcast view of one.
    A plugin that returns the wrong shape or values out of range is a bug in that
    plugin; saying which one saves its author a search.
    """
    if isinstance(result, AllowedPairs):
        if criterion.kind is not CriterionKind.FILTER:
            raise CriterionError(criterion.id, "only filters may return AllowedPairs")
        return result.to_mask(shape)
    if isinstance(result, Factored):
        return _checked_factored(result, criterion, shape)
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


def _checked_factored(result: Factored, criterion: Criterion, shape: tuple[int, int]) -> Factored:
    if criterion.kind is not CriterionKind.SCORE:
        raise CriterionError(criterion.id, "only scores may return a Factored answer")
    if result.shape != shape:
        raise CriterionError(criterion.id, f"returned shape {result.shape}, not {shape}")
    table = np.asarray(result.table, dtype=np.float32)
    rows = np.asarray(result.rows, dtype=np.intp)
    cols = np.asarray(result.cols, dtype=np.intp)
    if table.ndim != 2 or any(
        len(index) and (index.min() < 0 or index.max() >= size)
        for index, size in ((rows, table.shape[0]), (cols, table.shape[1]))
    ):
        raise CriterionError(criterion.id, "returned a Factored answer that indexes past its table")
    if rows.size and cols.size and not (table.min() >= 0 and table.max() <= 1):
        raise CriterionError(criterion.id, "returned scores outside [0, 1]")
    return Factored(table, rows, cols)


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
