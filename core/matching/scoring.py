"""Criteria over all pairs, block by block: pair scores, and each mentee's best candidates.

A run evaluates every criterion on every (mentee, mentor) pair once, but never holds
the criteria's matrices for more than a block: :func:`iter_blocks` walks the mentees
in blocks of a few million pairs (two at a time on two cores), and :func:`candidates`
keeps from each block what the solver needs - each mentee's best ``K`` allowed
mentors, a bound on what it left out, whether it had any allowed mentor at all, and,
when memory allows, every pair's score in a compact :class:`ScoreCache` that the
solver's proof checks against.

A pair's score is the weighted mean of the score criteria in whole millionths
(:data:`~core.matching.criteria.SCALE`). Everything that scores pairs goes through
:func:`_combine`, so the candidates, :func:`score_rows`, :func:`score_pairs` and the
dense reference compute the same integers - as long as the criteria themselves give
the same floats for a pair whatever block it comes in (the built-in ones do, but for
float32 rounding in one of them; a run relies only on its own pass's numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.matching.criteria import (
    SCALE,
    Criterion,
    CriterionError,
    CriterionKind,
    Factored,
    as_matrix,
)
from core.matching.features import Side
from core.matching.problem import Problem

# Pairs per block: large enough that numpy, not Python, dominates; small enough that
# the criteria's matrices of one block (a few per criterion, float32) stay well under
# the 600 MB the 10k x 3k run may use.
BLOCK_PAIRS = 2_000_000
NO_SCORE = -1  # in candidate keys: not allowed, or a mentor with no places


@dataclass
class ScoredRows:
    """Every pair of a few mentees: what :func:`score_rows` answers."""

    rows: np.ndarray  # int64 mentee row numbers scored
    allowed: np.ndarray  # bool (r, m): every filter passed and not forbidden
    score: np.ndarray  # int64 (r, m) millionths (0 where not allowed)
    parts: dict[str, np.ndarray]  # score criterion id -> float32 (r, m)


@dataclass
class LockPlan:
    """Locked pairs taken before anything is solved, and what they leave for the rest."""

    mentees: np.ndarray  # int64, locked mentee rows (ascending)
    mentors: np.ndarray  # int64, their mentors, same order
    places: np.ndarray  # int64 (m,), each mentor's places left for the solver
    free: np.ndarray  # bool (n,), mentees the solver may still match


@dataclass
class Candidates:
    """What the block scorer keeps: the candidate graph and what the proof needs."""

    k: int
    mentee: np.ndarray  # int64 [nnz] mentee rows (ascending; mentors ascending within)
    mentor: np.ndarray  # int64 [nnz]
    score: np.ndarray  # int64 [nnz] millionths
    parts: np.ndarray  # float32 [nnz, C], columns in the order of ``part_ids``
    part_ids: tuple[str, ...]
    # Per mentee, a bound on every allowed pair with places *not* kept (-1: none is
    # left out): the exact best left out, or just under the scorer's cut-off. Every
    # pair of the mentee scoring above it is kept.
    pruned_best: np.ndarray  # int64 (n,)
    row_best: np.ndarray  # int64 (n,), best score with any allowed mentor with places; -1
    pruned: int  # allowed pairs (to mentors with places) not kept
    mentee_allowed: np.ndarray  # bool (n,), any allowed mentor, places or not
    mentor_allowed: np.ndarray  # bool (m,), any allowed mentee
    locked_score: np.ndarray  # int64, per locked pair of the LockPlan (filters ignored)
    locked_parts: np.ndarray  # float32 [locks, C]


@dataclass
class ScoreCache:
    """Every usable pair's score, or an upper bound of it, kept from the one scoring pass.

    The proof must compare every pair with the potentials, and scoring pairs again
    is both slow and - for a criterion whose float results depend on the block it
    was given - not bit for bit the same. So the pass keeps them:

    * ``exact``: int32 scores, -1 where the pair cannot be used (not allowed, mentor
      without places, locked mentee); 4 bytes a pair.
    * ``packed``: the same scores in 3 bytes a pair: ``codes`` (uint16) holds
      ``1 + score // 16`` (0 where unusable) and ``low`` (uint8) ``score % 16``.
      The proof's scan of all pairs reads ``codes`` only - two thirds of the bytes,
      and no unpacking - and takes exact scores just for the pairs it picks.
    * ``uint8``: an upper bound only: 0 where unusable, else ``1 + score // step``.
      Pairs the proof takes from it are scored again.

    In all three, the scan's ``codes`` satisfy ``score <= code * step - 1`` with
    ``code`` the stored value (``step`` 16 or the uint8's) or, for ``exact``, the
    stored value plus one (``step`` 1): see :meth:`coarse`.
    """

    kind: str
    codes: np.ndarray
    low: np.ndarray | None = None
    step: int = 1

    @property
    def exact(self) -> bool:
        """Whether :meth:`values_at` gives scores (not only upper bounds)."""
        return self.kind != "uint8"

    @classmethod
    def empty(cls, n: int, m: int, kind: str) -> ScoreCache:
        # np.empty: the pass writes every row.
        if kind == "exact":
            return cls(kind, np.empty((n, m), dtype=np.int32))
        if kind == "packed":
            codes = np.empty((n, m), dtype=np.uint16)
            return cls(kind, codes, np.empty((n, m), np.uint8), step=PACKED_STEP)
        if kind == "uint8":
            return cls(kind, np.empty((n, m), dtype=np.uint8), step=-(-(SCALE + 1) // 254))
        raise ValueError(f"unknown score cache {kind!r}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def unusable(self) -> int:
        """What :meth:`coarse` holds for a pair that cannot be used."""
        return -1 if self.kind == "exact" else 0

    def store(self, start: int, key: np.ndarray) -> None:
        """Keep a block's scores (int32, -1 where the pair cannot be used) from row ``start``."""
        rows = slice(start, start + len(key))
        if self.kind == "exact":
            self.codes[rows] = key
        elif self.kind == "packed":
            # -1 >> 4 is -1: an unusable pair's code comes out 0 without a test.
            high = np.right_shift(key, 4)
            high += 1
            np.copyto(self.codes[rows], high, casting="unsafe")
            np.bitwise_and(key, PACKED_STEP - 1, out=self.low[rows], casting="unsafe")
        else:
            # -1 (unusable) becomes 0; a score s becomes 1 + s // step.
            np.floor_divide(key + self.step, self.step, out=self.codes[rows], casting="unsafe")

    def forget(self, mentee: np.ndarray, mentor: np.ndarray) -> None:
        """Mark pairs unusable (scored again, a filter excluded them after all)."""
        if self.kind == "uint8":
            self.codes[mentee, mentor] = 0
        else:
            raise ValueError("exact caches never need to forget a pair")

    def coarse(self, start: int, stop: int) -> np.ndarray:
        """The stored codes of rows ``start:stop`` (a view; see the class)."""
        return self.codes[start:stop]

    def bounds(self, start: int, stop: int) -> np.ndarray:
        """int32 scores (or upper bounds) for rows ``start:stop``; -1 where unusable."""
        return self._decode(
            self.codes[start:stop], self.low[start:stop] if self.low is not None else None
        )

    def values_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """:meth:`bounds` of the pairs ``(rows[k], cols[k])``."""
        low = self.low[rows, cols] if self.low is not None else None
        return self._decode(self.codes[rows, cols], low)

    def _decode(self, codes: np.ndarray, low: np.ndarray | None) -> np.ndarray:
        if self.kind == "exact":
            return codes.astype(np.int32, copy=True)
        value = codes.astype(np.int32)
        value *= np.int32(self.step)
        if low is None:
            return value - np.int32(1)
        # An unusable pair: code 0 and low 15 (-1 & 15), so -16 + 15 = -1.
        value -= np.int32(self.step)
        value += low
        return value


PACKED_STEP = 16


@dataclass
class Block:
    """One block of mentee rows, every criterion evaluated."""

    rows: np.ndarray  # int64 mentee row numbers
    allowed: np.ndarray | None  # bool (b, m); None: every pair allowed
    score: np.ndarray  # int32 (b, m) millionths, filters not applied
    parts: list[np.ndarray]  # float32 (b, m) per score criterion (when asked for)


def score_criteria(problem: Problem) -> tuple[Criterion, ...]:
    return tuple(c for c in problem.criteria if c.kind is CriterionKind.SCORE)


def _filter_criteria(problem: Problem) -> tuple[Criterion, ...]:
    return tuple(c for c in problem.criteria if c.kind is CriterionKind.FILTER)


def _factors(scores: Sequence[Criterion]) -> list[np.float32]:
    """Each score criterion's multiplier: its share of the weights, in millionths."""
    for criterion in scores:
        if not (np.isfinite(criterion.weight) and criterion.weight > 0):
            raise CriterionError(criterion.id, f"has weight {criterion.weight!r}, not > 0")
    total = float(sum(c.weight for c in scores))
    return [np.float32(c.weight * SCALE / total) for c in scores]


COMBINE_TILE = 1 << 18  # pairs per tile of the weighted sum: its arrays stay in cache


def _combine(
    matrices: Sequence[np.ndarray],
    factors: Sequence[np.float32],
    shape: tuple[int, int],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The weighted mean in millionths, as int32 (scores never exceed SCALE).

    Tile by tile of rows, so that each criterion's term is added while the sum is
    still in the CPU cache: about twice as fast as whole-block passes. The sum is
    the same (the same float32 operations in the same order) however it is tiled.
    """
    if out is None:
        out = np.empty(shape, dtype=np.int32)
    if not matrices:
        out[...] = 0
        return out
    rows = max(1, COMBINE_TILE // max(shape[1], 1))
    acc = np.empty((min(rows, shape[0]), shape[1]), dtype=np.float32)
    term = np.empty_like(acc)
    # A factored answer's table is weighted once: the same float32 products, so the
    # same sum, as weighting each pair.
    terms = [
        Factored(m.table * f, m.rows, m.cols) if isinstance(m, Factored) else (m, f)
        for m, f in zip(matrices, factors, strict=True)
    ]
    for a in range(0, shape[0], rows):
        b = min(a + rows, shape[0])
        total, extra = acc[: b - a], term[: b - a]
        for at, weighted in enumerate(terms):
            into = extra if at else total
            if isinstance(weighted, Factored):
                weighted.tile(a, b, out=into)
            else:
                matrix, factor = weighted
                np.multiply(matrix[a:b], factor, out=into)
            if at:
                total += extra
        np.rint(total, out=total)
        np.copyto(out[a:b], total, casting="unsafe")
    return out


def check_pairs(problem: Problem) -> None:
    """Locked and forbidden pairs must name existing people, and not contradict each other."""
    n, m = len(problem.mentees), len(problem.mentors)
    for kind, pairs in (("locked", problem.locked), ("forbidden", problem.forbidden)):
        for pair in pairs:
            if not (0 <= pair.mentee < n and 0 <= pair.mentor < m):
                raise ValueError(f"{kind} pair {pair} names no mentee/mentor of this problem")
    both = problem.locked & problem.forbidden
    if both:
        pair = min(both, key=lambda p: (p.mentee, p.mentor))
        raise ValueError(
            f"pair of mentee {problem.mentees.ids[pair.mentee]!r} and mentor "
            f"{problem.mentors.ids[pair.mentor]!r} is both locked and forbidden"
        )


def lock_plan(problem: Problem) -> LockPlan:
    """Locks first: they stay whatever the filters say now, and use up their mentor's places.

    A mentee locked twice, or a mentor locked beyond their capacity, is a contradiction
    the coordinator has to resolve; the solver refuses rather than pick one.
    """
    check_pairs(problem)
    capacity = np.asarray(problem.mentors["capacity"], dtype=np.int64)
    negative = np.flatnonzero(capacity < 0)
    if negative.size:
        raise ValueError(
            f"mentor {problem.mentors.ids[negative[0]]!r} has negative capacity "
            f"{int(capacity[negative[0]])}"
        )
    locks = sorted(problem.locked, key=lambda p: (p.mentee, p.mentor))
    mentees = np.array([p.mentee for p in locks], dtype=np.int64)
    mentors = np.array([p.mentor for p in locks], dtype=np.int64)
    twice = mentees[1:][mentees[1:] == mentees[:-1]]
    if twice.size:
        raise ValueError(f"mentee {problem.mentees.ids[twice[0]]!r} is locked to two mentors")
    used = np.bincount(mentors, minlength=len(capacity)) if len(capacity) else capacity
    over = np.flatnonzero(used > capacity)
    if over.size:
        j = over[0]
        raise ValueError(
            f"mentor {problem.mentors.ids[j]!r} has {int(used[j])} locked mentees "
            f"but capacity {int(capacity[j])}"
        )
    free = np.ones(len(problem.mentees), dtype=bool)
    free[mentees] = False
    return LockPlan(mentees=mentees, mentors=mentors, places=capacity - used, free=free)


def _forbidden_index(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    pairs = sorted(problem.forbidden, key=lambda p: (p.mentee, p.mentor))
    return (
        np.array([p.mentee for p in pairs], dtype=np.int64),
        np.array([p.mentor for p in pairs], dtype=np.int64),
    )


def evaluate_block(
    problem: Problem,
    mentees: Side,
    rows: np.ndarray,
    forbidden: tuple[np.ndarray, np.ndarray],
    want_parts: bool,
    mentors: Side | None = None,
    cols: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> Block:
    """Every criterion on one block of mentees against all mentors (or ``cols`` of them).

    ``out`` (int32, the block's shape) receives the scores, e.g. rows of a cache.
    """
    if mentors is None:
        mentors = problem.mentors
    shape = (len(mentees), len(mentors))
    allowed: np.ndarray | None = None
    for criterion in _filter_criteria(problem):
        mask = as_matrix(criterion.evaluate(mentees, mentors, problem.vocabulary), criterion, shape)
        if allowed is None:
            allowed = np.empty(shape, dtype=bool)
            allowed[...] = mask
        else:
            np.logical_and(allowed, mask, out=allowed)
    f_mentee, f_mentor = forbidden
    if f_mentee.size:
        at_row = _positions(rows, f_mentee)
        at_col = f_mentor if cols is None else _positions(cols, f_mentor)
        hit = (at_row >= 0) & (at_col >= 0)
        if hit.any():
            if allowed is None:
                allowed = np.ones(shape, dtype=bool)
            allowed[at_row[hit], at_col[hit]] = False
    scores = score_criteria(problem)
    factors = _factors(scores)
    parts = [as_matrix(c.evaluate(mentees, mentors, problem.vocabulary), c, shape) for c in scores]
    score = _combine(parts, factors, shape, out)
    return Block(rows=rows, allowed=allowed, score=score, parts=parts if want_parts else [])


@dataclass
class ScoredPairs:
    """Some pairs, each with everything a block would say about it."""

    allowed: np.ndarray  # bool [p]
    score: np.ndarray  # int64 [p] millionths (filters not applied)
    parts: np.ndarray  # float32 [p, C], score criteria in problem order


PAIR_BLOCK_ROWS = 256  # mentees per rectangle when scoring scattered pairs


def score_pairs(problem: Problem, mentee: np.ndarray, mentor: np.ndarray) -> ScoredPairs:
    """Scattered pairs, scored in rectangles: a few hundred mentees x the mentors they need.

    Criteria only take whole blocks; a pair list is sorted by mentee and cut into
    groups of rows, each evaluated against the union of its mentors. When the pairs
    share mentors (as the proof's pairs do: the same cheap mentors for many), that
    is far less than scoring the rows in full.
    """
    mentee = np.asarray(mentee, dtype=np.int64)
    mentor = np.asarray(mentor, dtype=np.int64)
    count = len(score_criteria(problem))
    allowed = np.zeros(len(mentee), dtype=bool)
    score = np.zeros(len(mentee), dtype=np.int64)
    parts = np.zeros((len(mentee), count), dtype=np.float32)
    order = np.argsort(mentee, kind="stable")
    rows_sorted = mentee[order]
    firsts = np.flatnonzero(np.r_[True, rows_sorted[1:] != rows_sorted[:-1]]) if len(order) else []
    forbidden = _forbidden_index(problem)
    for g in range(0, len(firsts), PAIR_BLOCK_ROWS):
        lo = firsts[g]
        hi = firsts[g + PAIR_BLOCK_ROWS] if g + PAIR_BLOCK_ROWS < len(firsts) else len(order)
        at = order[lo:hi]
        rows, row_at = np.unique(mentee[at], return_inverse=True)
        cols, col_at = np.unique(mentor[at], return_inverse=True)
        block = evaluate_block(
            problem,
            problem.mentees.take(rows),
            rows,
            forbidden,
            True,
            mentors=problem.mentors.take(cols),
            cols=cols,
        )
        allowed[at] = True if block.allowed is None else block.allowed[row_at, col_at]
        score[at] = block.score[row_at, col_at]
        for c, part in enumerate(block.parts):
            parts[at, c] = part[row_at, col_at]
    return ScoredPairs(allowed=allowed, score=score, parts=parts)


def _positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each of ``wanted`` sits in ``rows`` (-1 where absent); ``rows`` need not be sorted."""
    order = np.argsort(rows, kind="stable")
    at = np.searchsorted(rows, wanted, sorter=order)
    at = np.minimum(at, max(len(rows) - 1, 0))
    found = order[at] if len(rows) else np.zeros(len(wanted), dtype=np.int64)
    ok = (rows[found] == wanted) if len(rows) else np.zeros(len(wanted), dtype=bool)
    return np.where(ok, found, -1)


def block_rows(mentors: int, pairs: int = BLOCK_PAIRS) -> int:
    # Below 2**21 rows: the candidates' sort key packs a block's row number in 21 bits.
    return max(1, min(pairs // max(mentors, 1), 1 << 20))


def iter_blocks(
    problem: Problem,
    want_parts: bool,
    threads: int = 1,
    pairs: int = BLOCK_PAIRS,
    rows: np.ndarray | None = None,
    out: np.ndarray | None = None,
    digest: Callable[[Block], Any] | None = None,
) -> Iterator[Any]:
    """All mentees (or ``rows``) in order, one block at a time (the same blocks every time).

    With ``out`` (int32, n x m; only without ``rows``) each block's scores are
    written straight into its rows, and ``Block.score`` is that view.

    With ``threads`` > 1 the next block is evaluated while the caller works on this
    one; numpy releases the GIL in the heavy operations, so two blocks overlap.
    ``digest`` (default: the block itself) turns each block into what the caller
    keeps, on the thread that evaluated it, so that the caller's work is spread too.
    """
    n = len(problem.mentees) if rows is None else len(rows)
    step = block_rows(len(problem.mentors), pairs)
    forbidden = _forbidden_index(problem)

    def one(start: int) -> Block:
        stop = min(start + step, n)
        if rows is not None:
            picked = np.asarray(rows[start:stop], dtype=np.int64)
            mentees = problem.mentees.take(picked)
        else:
            picked = np.arange(start, stop, dtype=np.int64)
            mentees = problem.mentees.rows(start, stop)
        target = out[start:stop] if out is not None and rows is None else None
        block = evaluate_block(problem, mentees, picked, forbidden, want_parts, out=target)
        return block if digest is None else digest(block)

    starts = range(0, n, step)
    if threads <= 1:
        yield from map(one, starts)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = [pool.submit(one, s) for s in starts[:threads]]
        for s in starts[threads:]:
            done = pending.pop(0).result()
            pending.append(pool.submit(one, s))
            yield done
        for future in pending:
            yield future.result()


def score_rows(problem: Problem, rows: Sequence[int] | np.ndarray) -> ScoredRows:
    """Every pair of a few mentees, with every criterion's part (self-match, proof checks)."""
    picked = np.asarray(rows, dtype=np.int64).reshape(-1)
    if picked.size and (picked.min() < 0 or picked.max() >= len(problem.mentees)):
        raise ValueError("score_rows: row number out of range")
    block = evaluate_block(
        problem, problem.mentees.take(picked), picked, _forbidden_index(problem), True
    )
    shape = block.score.shape
    allowed = np.ones(shape, dtype=bool) if block.allowed is None else block.allowed
    score = np.where(allowed, block.score, 0).astype(np.int64)
    ids = [c.id for c in score_criteria(problem)]
    return ScoredRows(
        rows=picked, allowed=allowed, score=score, parts=dict(zip(ids, block.parts, strict=True))
    )


def _sorted_entries(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, in_order: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries by row, best value first, then lower column (a fixed order for ties).

    ``in_order``: the entries already come by row, then column (as ``flatnonzero``
    gives them), so one stable sort on a packed key does it - much faster than a
    three-key ``lexsort``, which remains for values too wide to pack.
    """
    if len(values) and rows.max() < 1 << 21 and np.abs(values).max() < 1 << 40:
        if not in_order:
            first = np.argsort((rows.astype(np.int64) << 32) | cols, kind="stable")
            rows, cols, values = rows[first], cols[first], values[first]
        packed = (rows.astype(np.int64) << 42) | ((1 << 41) - values)
        order = np.argsort(packed, kind="stable")
    else:
        order = np.lexsort((cols, -values, rows))
    return rows[order], cols[order], values[order]


SAMPLE_COLUMNS = 256  # columns sampled per row to guess a cut-off for the best k
EXACT_BELOW = 1024  # fewer mentors than this: partition whole rows


def row_top(
    key: np.ndarray, k: int, unusable: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k`` best entries (ties with the ``k``-th kept too, up to ``2k``).

    ``key`` holds the ranking values, ``unusable`` (or less) where a pair cannot be
    used. Returns the kept entries as (local rows, columns, values), sorted, and per
    row a bound on every usable entry not kept (``unusable`` if none is left out).

    Partitioning whole rows costs more than evaluating a cheap criterion, so with
    many mentors a cut-off is guessed from a sample of columns: a row's entries at or
    above it are sorted, and only rows where fewer than ``k + 1`` reach it are
    partitioned. Entries below the cut-off are bounded by it.
    """
    b, m = key.shape
    cap = 2 * k
    if m < EXACT_BELOW:
        return _row_top_exact(key, np.arange(b), k, cap, unusable)
    sample = np.unique(np.linspace(0, m - 1, SAMPLE_COLUMNS).round().astype(np.int64))
    s = len(sample)
    r = min(s, math.ceil(2 * (k + 1) * s / m) + 1)
    cut = np.partition(key[:, sample], s - r, axis=1)[:, s - r].astype(np.int64)
    np.maximum(cut, unusable + 1, out=cut)
    flat = np.flatnonzero(key >= cut.astype(key.dtype)[:, None])
    e_rows = flat // m
    e_cols = flat - e_rows * m
    e_vals = key.ravel()[flat].astype(np.int64)
    count = np.bincount(e_rows, minlength=b)
    short = (count < k + 1) & (cut > unusable + 1)
    if short.any():
        fine = ~short[e_rows]
        e_rows, e_cols, e_vals = e_rows[fine], e_cols[fine], e_vals[fine]
        count[short] = 0
    e_rows, e_cols, e_vals = _sorted_entries(e_rows, e_cols, e_vals, in_order=True)
    starts = np.cumsum(count) - count
    rank = np.arange(len(e_rows)) - starts[e_rows]
    kth = np.full(b, unusable, dtype=np.int64)
    has_k = count >= k
    kth[has_k] = e_vals[starts[has_k] + k - 1]
    kept = (rank < k) | ((rank < cap) & (e_vals == kth[e_rows]))
    kept_count = np.bincount(e_rows[kept], minlength=b)
    # Below the cut-off nothing was looked at: the cut-off bounds it.
    pruned = np.where(cut > unusable + 1, cut - 1, unusable)
    more = kept_count < count
    pruned[more] = e_vals[starts[more] + kept_count[more]]
    rows, cols, vals = e_rows[kept], e_cols[kept], e_vals[kept]
    if short.any():
        which = np.flatnonzero(short)
        x_rows, x_cols, x_vals, x_pruned = _row_top_exact(key[which], which, k, cap, unusable)
        pruned[which] = x_pruned
        rows, cols, vals = _sorted_entries(
            np.concatenate([rows, x_rows]),
            np.concatenate([cols, x_cols]),
            np.concatenate([vals, x_vals]),
        )
    return rows, cols, vals, pruned


def _row_top_exact(
    key: np.ndarray, rows: np.ndarray, k: int, cap: int, unusable: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`row_top` by partitioning whole rows; ``rows`` are the rows' local numbers."""
    b, m = key.shape
    width = min(cap + 1, m)
    if width < m:
        top = np.argpartition(key, m - width, axis=1)[:, m - width :]
    else:
        top = np.broadcast_to(np.arange(m), (b, m))
    vals = np.take_along_axis(key, top, axis=1).astype(np.int64).ravel()
    local = np.repeat(np.arange(b), width)
    local, cols, vals = _sorted_entries(local, top.ravel().astype(np.int64), vals)
    usable = vals > unusable
    local, cols, vals = local[usable], cols[usable], vals[usable]
    count = np.bincount(local, minlength=b)
    starts = np.cumsum(count) - count
    rank = np.arange(len(local)) - starts[local]
    kth = np.full(b, unusable, dtype=np.int64)
    has_k = count >= k
    kth[has_k] = vals[starts[has_k] + k - 1]
    kept = (rank < k) | ((rank < cap) & (vals == kth[local]))
    kept_count = np.bincount(local[kept], minlength=b)
    pruned = np.full(b, unusable, dtype=np.int64)
    more = kept_count < count
    pruned[more] = vals[starts[more] + kept_count[more]]
    return rows[local[kept]], cols[kept], vals[kept], pruned


def _gather(parts: Sequence[np.ndarray], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if not parts:
        return np.zeros((len(rows), 0), dtype=np.float32)
    return np.stack([p[rows, cols] for p in parts], axis=1).astype(np.float32, copy=False)


NONE = -(1 << 62)  # below any score - price: "no pair left out" in the solver's bounds


@dataclass
class _Digest:
    """One block's share of :class:`Candidates` (see :func:`candidates`)."""

    rows: np.ndarray
    rows_allowed: np.ndarray | None  # None: every pair of the block is allowed
    cols_allowed: np.ndarray | None
    usable: int  # allowed pairs with places, locked mentees left out
    locks: np.ndarray  # indices into the LockPlan of the block's locked mentees
    lock_scores: np.ndarray
    lock_parts: np.ndarray
    row_best: np.ndarray
    pruned_best: np.ndarray
    top: tuple[np.ndarray, ...]  # (mentee, mentor, score, parts) kept


def candidates(
    problem: Problem,
    k: int,
    progress: Callable[[float, str], None] | None = None,
    *,
    plan: LockPlan | None = None,
    cache: ScoreCache | None = None,
    threads: int = 1,
    pairs: int = BLOCK_PAIRS,
) -> Candidates:
    """Each free mentee's best ``k`` allowed mentors with places, block by block.

    Ties with a mentee's ``k``-th best are kept too (up to ``2k``). Also per mentee a
    bound on the pairs left out (``pruned_best``, see :class:`Candidates`) - all the
    solver's optimality check needs to know about them - its best score with any
    mentor, and whether it had any allowed mentor at all (for the unmatched reasons).
    Locked mentees get no candidates; their locked pair's score is recorded instead.
    A ``cache`` (n x m) receives every usable pair's score on the way.
    ``progress`` gets the fraction of mentees scored, 0 -> 1.
    """
    if k < 1:
        raise ValueError("candidates: k must be at least 1")
    plan = plan or lock_plan(problem)
    n, m = len(problem.mentees), len(problem.mentors)
    part_ids = tuple(c.id for c in score_criteria(problem))
    placed = plan.places > 0
    placed_count = int(placed.sum())
    no_places = np.flatnonzero(~placed)
    lock_at = np.full(n, -1, dtype=np.int64)
    lock_at[plan.mentees] = np.arange(len(plan.mentees))

    kept: list[tuple[np.ndarray, ...]] = []
    pruned_best = np.full(n, NO_SCORE, dtype=np.int64)
    row_best = np.full(n, -1, dtype=np.int64)
    mentee_allowed = np.zeros(n, dtype=bool)
    mentor_allowed = np.zeros(m, dtype=bool)
    locked_score = np.zeros(len(plan.mentees), dtype=np.int64)
    locked_parts = np.zeros((len(plan.mentees), len(part_ids)), dtype=np.float32)
    allowed_placed = 0
    done = 0

    direct = cache.codes if cache is not None and cache.kind == "exact" else None

    def digest(block: Block) -> _Digest:
        """What the candidates keep of one block - on the thread that evaluated it."""
        here = block.rows
        b = len(here)
        key = block.score  # scratch from here on: the int32 scores become the sort keys
        locked_here = lock_at[here]
        local_locks = np.flatnonzero(locked_here >= 0)
        if block.allowed is None:
            rows_allowed: np.ndarray | None = None
            cols_allowed: np.ndarray | None = None
            usable_count = (b - local_locks.size) * placed_count
        else:
            rows_allowed = block.allowed.any(axis=1)
            cols_allowed = block.allowed.any(axis=0)
            usable = block.allowed if no_places.size == 0 else block.allowed[:, placed]
            usable_count = int(np.count_nonzero(usable))
            if local_locks.size:
                # A locked mentee's pairs are not pruned: it takes no part in solving.
                usable_count -= int(np.count_nonzero(usable[local_locks]))
        which = locked_here[local_locks]
        lock_cols = plan.mentors[which]
        lock_scores = key[local_locks, lock_cols].astype(np.int64)
        lock_parts = _gather(block.parts, local_locks, lock_cols)
        if block.allowed is not None:
            # NO_SCORE is -1, every bit set: OR-ing it in where a pair is not allowed
            # is one fast pass; a masked copy (np.copyto where=) is ten times slower.
            np.bitwise_or(key, block.allowed.view(np.int8) - np.int8(1), out=key)
        if no_places.size:
            key[:, no_places] = NO_SCORE
        if local_locks.size:
            key[local_locks] = NO_SCORE
        best = key.max(axis=1)
        if cache is not None and direct is None:
            cache.store(int(here[0]), key)  # rows of its own: no other thread writes them
        local, cols, values, pruned = row_top(key, k, NO_SCORE)
        return _Digest(
            rows=here,
            rows_allowed=rows_allowed,
            cols_allowed=cols_allowed,
            usable=usable_count,
            locks=which,
            lock_scores=lock_scores,
            lock_parts=lock_parts,
            row_best=best,
            pruned_best=pruned,
            top=(here[local], cols, values, _gather(block.parts, local, cols)),
        )

    blocks = iter_blocks(problem, True, threads=threads, pairs=pairs, out=direct, digest=digest)
    for found in blocks if n and m else ():
        here = found.rows
        if found.rows_allowed is None:
            mentee_allowed[here] = True
            mentor_allowed[:] = True
        else:
            mentee_allowed[here] = found.rows_allowed
            mentor_allowed |= found.cols_allowed
        allowed_placed += found.usable
        locked_score[found.locks] = found.lock_scores
        locked_parts[found.locks] = found.lock_parts
        row_best[here] = found.row_best
        pruned_best[here] = found.pruned_best
        kept.append(found.top)
        done += len(here)
        if progress is not None:
            progress(done / n, "scoring")

    if kept:
        mentee, mentor, score, parts = (np.concatenate(c) for c in zip(*kept, strict=True))
        order = np.lexsort((mentor, mentee))
        mentee, mentor, score, parts = mentee[order], mentor[order], score[order], parts[order]
    else:
        mentee = mentor = score = np.zeros(0, dtype=np.int64)
        parts = np.zeros((0, len(part_ids)), dtype=np.float32)
    return Candidates(
        k=k,
        mentee=mentee.astype(np.int64, copy=False),
        mentor=mentor.astype(np.int64, copy=False),
        score=score.astype(np.int64, copy=False),
        parts=parts.astype(np.float32, copy=False),
        part_ids=part_ids,
        pruned_best=pruned_best,
        row_best=row_best,
        pruned=allowed_placed - len(mentee),
        mentee_allowed=mentee_allowed,
        mentor_allowed=mentor_allowed,
        locked_score=locked_score,
        locked_parts=locked_parts,
    )
