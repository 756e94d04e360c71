"""The provably optimal assignment: min-cost flow on a candidate graph, then a proof.

1. **Locks** are taken first (:func:`~core.matching.scoring.lock_plan`): they stay even
   if a filter would exclude them now, and use up their mentor's places.
2. **Candidates**: one pass of the block scorer over all pairs keeps each free
   mentee's best ``K`` allowed mentors with places, and - when the memory allows -
   every pair's score (or an upper bound of it) in a :class:`ScoreCache`.
3. **Flow** (OR-Tools ``SimpleMinCostFlow``): each free mentee supplies one unit that
   reaches the sink either through a mentor (cost ``-value``, mentor -> sink capacity =
   places left) or through its own *bypass* arc (stays unmatched). A pair's value is
   its score times ``free + 1``, plus 1: the total score decides, and among equal
   totals the assignment matching more people (a pair scoring 0 is still proposed
   where a place is free). When the run maximises the number matched, the value is
   the score and the bypass costs ``BIG``, one more than the largest total score
   the free mentees could reach: one more tandem outweighs any score, and among
   equal counts the score decides - exact lexicographic order in integers.
4. **Proof**: potentials of the optimal flow (:mod:`~core.matching.duals`), with a
   mentee's gain ``u_i`` and a mentor's price ``v_j``, certify it on the kept graph:
   every kept pair has ``value <= u_i + v_j``. The same inequality for every pair
   left out proves the flow optimal on all pairs. With the cache, every pair is
   checked against it directly (a bound in 8 or 16 bits may flag a pair that turns
   out fine; its exact score is computed then). Without it, each mentee's bound on
   what it left out clears most mentees at once, and the others are scored again.
   A mentee with a pair that could improve the result gets its best pairs by
   ``value - v_j`` added to the graph, and the flow is solved again, until no pair
   could improve it. Top-``K`` by score is a poor guess where many mentees compete
   for the same mentors; the first round's prices turn it into a good one.
   ``Solution.proof`` records how it went.

Determinism: node numbers come from a permutation seeded with ``Options.seed`` and
the arcs are added in node order, so the same input and seed give the same arcs in
the same order, and OR-Tools the same flow; the seed decides among equal optima.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter

import numpy as np
from ortools.graph.python import min_cost_flow

from core.matching import duals
from core.matching.criteria import SCALE
from core.matching.problem import (
    Mode,
    Options,
    Problem,
    Progress,
    Proposal,
    Solution,
    Unmatched,
    UnmatchedReason,
)
from core.matching.scoring import (
    NONE,
    Candidates,
    LockPlan,
    ScoreCache,
    block_rows,
    candidates,
    lock_plan,
    row_top,
    score_criteria,
    score_pairs,
    score_rows,
)

SCORING_SHARE = 0.7  # of the progress bar: scoring is most of the work
SCORING_THREADS = 2  # criteria must not keep state between evaluate() calls
DEFAULT_K = 8  # candidates per mentee by score, in the one pass over all pairs
WIDEN_K = 16  # pairs by score - price added to a row whose pairs violate the potentials
# Rows this close to violating (millionths) are widened too: the next solve moves
# prices a little, and those rows would otherwise cost a round of their own.
NEAR = 10_000
# Pairs a mentor gains per round at most, those that violate the potentials most first.
PER_MENTOR = 64
# Unused pairs this far from tight (millionths) leave the graph between rounds.
SLACK = 50_000
# The scoring pass keeps every pair for the proof when this memory suffices: scores
# in 32 bits up to the first, in 24 (or bounds in 8) up to the second.
# 10k x 3k: 120 MB, int32; 50k x 15k: 2.1 GiB, packed.
EXACT_CACHE_BYTES = 256 << 20
CACHE_BYTES = 5 << 29


@dataclass
class _Graph:
    """The candidate pairs the flow may use (grows when the proof adds pairs back)."""

    mentee: np.ndarray  # int64 rows
    mentor: np.ndarray  # int64 rows
    score: np.ndarray  # int64 millionths
    parts: np.ndarray  # float32 [nnz, C]
    sticky: np.ndarray | None = None  # bool [nnz]: never dropped (see _prove_with_cache)

    def __post_init__(self) -> None:
        if self.sticky is None:
            self.sticky = np.zeros(len(self.mentee), dtype=bool)

    def add(
        self,
        mentee: np.ndarray,
        mentor: np.ndarray,
        score: np.ndarray,
        parts: np.ndarray,
        sticky: np.ndarray | None = None,
    ) -> None:
        self.mentee = np.concatenate([self.mentee, mentee])
        self.mentor = np.concatenate([self.mentor, mentor])
        self.score = np.concatenate([self.score, score])
        self.parts = np.concatenate([self.parts, parts])
        extra = np.zeros(len(mentee), dtype=bool) if sticky is None else sticky
        self.sticky = np.concatenate([self.sticky, extra])

    def keep(self, which: np.ndarray) -> None:
        self.mentee, self.mentor = self.mentee[which], self.mentor[which]
        self.score, self.parts = self.score[which], self.parts[which]
        self.sticky = self.sticky[which]


@dataclass
class _Market:
    """Who takes part in one flow: free mentees, mentors with places, node numbers."""

    mentees: np.ndarray  # int64 rows, ascending
    mentors: np.ndarray  # int64 rows with places, ascending
    capacity: np.ndarray  # int64 per mentor of ``mentors``
    # A pair is worth ``score * scale + bonus`` to the flow (see solve()).
    scale: int
    bonus: int
    mentee_node: np.ndarray  # int64 (n,), -1 outside the market
    mentor_node: np.ndarray  # int64 (m,), -1 outside the market
    sink: int

    def value(self, score: np.ndarray) -> np.ndarray:
        return score.astype(np.int64) * self.scale + self.bonus

    @classmethod
    def build(
        cls,
        n: int,
        m: int,
        mentees: np.ndarray,
        mentors: np.ndarray,
        capacity: np.ndarray,
        seed: int,
        scale: int = 1,
        bonus: int = 0,
    ) -> _Market:
        rng = np.random.default_rng(seed)
        mentee_node = np.full(n, -1, dtype=np.int64)
        mentee_node[mentees] = rng.permutation(len(mentees))
        mentor_node = np.full(m, -1, dtype=np.int64)
        mentor_node[mentors] = len(mentees) + rng.permutation(len(mentors))
        return cls(
            mentees=mentees,
            mentors=mentors,
            capacity=capacity.astype(np.int64),
            scale=scale,
            bonus=bonus,
            mentee_node=mentee_node,
            mentor_node=mentor_node,
            sink=len(mentees) + len(mentors),
        )


@dataclass
class _Flow:
    flow: np.ndarray  # int64 per graph pair
    gain: np.ndarray  # int64 (n,): u_i = pi(i) - pi(sink) (0 outside the market)
    price: np.ndarray  # int64 (m,): v_j = pi(sink) - pi(j) (0 outside the market)
    passes: int  # Bellman-Ford passes
    certify_seconds: float = 0.0  # of which computing and checking the potentials


def _flow(
    market: _Market, mentee: np.ndarray, mentor: np.ndarray, score: np.ndarray, bypass: int
) -> _Flow:
    """Min-cost flow on the candidate pairs, and potentials that certify it (verified)."""
    free, placed, sink = market.mentees, market.mentors, market.sink
    pairs = len(mentee)
    tails = np.concatenate(
        [market.mentee_node[mentee], market.mentee_node[free], market.mentor_node[placed]]
    )
    heads = np.concatenate(
        [
            market.mentor_node[mentor],
            np.full(len(free), sink, dtype=np.int64),
            np.full(len(placed), sink, dtype=np.int64),
        ]
    )
    capacity = np.concatenate([np.ones(pairs + len(free), dtype=np.int64), market.capacity])
    cost = np.concatenate(
        [
            -market.value(score),
            np.full(len(free), bypass, dtype=np.int64),
            np.zeros(len(placed), np.int64),
        ]
    )
    nodes = sink + 1
    # Arcs in node order - the seed's order, not the data's. (tail, head) is unique.
    order = np.argsort((tails << 32) | heads)
    flow = np.zeros(len(order), dtype=np.int64)
    if len(free):
        solver = min_cost_flow.SimpleMinCostFlow()
        solver.add_arcs_with_capacity_and_unit_cost(
            tails[order].astype(np.int32),
            heads[order].astype(np.int32),
            capacity[order],
            cost[order],
        )
        supplies = np.zeros(nodes, dtype=np.int64)
        supplies[market.mentee_node[free]] = 1
        supplies[sink] = -len(free)
        solver.set_nodes_supplies(np.arange(nodes, dtype=np.int32), supplies)
        status = solver.solve()
        if status != solver.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        flow[order] = solver.flows(np.arange(len(order), dtype=np.int32))
    certify_started = perf_counter()
    t, h, c = duals.residual(tails, heads, capacity, cost, flow)
    # Rooted at the sink and at every mentor: prices come out as low as they can be
    # (0 for a mentor with places left), mentees' gains as high as they can be.
    roots = np.concatenate([[sink], market.mentor_node[placed]]).astype(np.int64)
    pi, passes = duals.potentials(nodes, t, h, c, roots)
    duals.verify(pi, t, h, c)
    gain = np.zeros(len(market.mentee_node), dtype=np.int64)
    gain[free] = pi[market.mentee_node[free]] - pi[sink]
    price = np.zeros(len(market.mentor_node), dtype=np.int64)
    price[placed] = pi[sink] - pi[market.mentor_node[placed]]
    return _Flow(
        flow=flow[:pairs],
        gain=gain,
        price=price,
        passes=passes,
        certify_seconds=perf_counter() - certify_started,
    )


def _suspects(
    flow: _Flow,
    rows: np.ndarray,
    placed: np.ndarray,
    bound: np.ndarray,
    row_best: np.ndarray,
    ref: np.ndarray,
) -> np.ndarray:
    """Those of ``rows`` that may have a pruned pair with a negative reduced cost.

    A pruned pair ``(i, j)`` is fine when ``value <= u_i + v_j``. What is known of
    it: ``value - ref_j <= r_i`` (the row's bound, against the prices ``ref`` it was
    taken with) and ``value <= best_i``. So it can only violate if
    ``ref_j - v_j > u_i - r_i`` and ``v_j < best_i - u_i``. Over the mentors sorted
    by price, the second condition picks a prefix, and a running maximum of
    ``ref_j - v_j`` answers the first: no pair is looked at.
    """
    if not (len(rows) and len(placed)):
        return np.zeros(0, dtype=np.int64)
    v = flow.price[placed]
    order = np.argsort(v, kind="stable")
    v_sorted = v[order]
    drop = np.maximum.accumulate(ref[placed][order] - v_sorted)
    u, r, best = flow.gain[rows], bound[rows], row_best[rows]
    reach = np.searchsorted(v_sorted, best - u, side="left")
    hit = (r > NONE) & (best > NONE) & (reach > 0)
    hit[hit] = drop[reach[hit] - 1] > u[hit] - r[hit]
    return rows[hit]


def _recheck(
    problem: Problem,
    rows: np.ndarray,
    graph: _Graph,
    plan: LockPlan,
    flow: _Flow,
    bound: np.ndarray,
    k: int,
    value: Callable[[np.ndarray], np.ndarray],
) -> tuple[int, int]:
    """Score ``rows`` in full against the current prices; widen the rows that violate.

    A row with a pair that violates the potentials gets its best ``k`` pairs by
    ``score - price`` that the graph lacks (the worst violators first). Every row's
    bound becomes exact against the current prices: the best ``score - price`` it
    still leaves out. Returns (pairs added, rows widened).
    """
    n, m = len(problem.mentees), len(problem.mentors)
    placed = plan.places > 0
    price = flow.price
    order = np.argsort(graph.mentee, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph.mentee, minlength=n), out=indptr[1:])
    added = widened = 0
    new: list[tuple[np.ndarray, ...]] = []
    step = block_rows(m)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        scored = score_rows(problem, chunk)
        avail = scored.allowed & placed[None, :]
        for r, row in enumerate(chunk):
            avail[r, graph.mentor[order[indptr[row] : indptr[row + 1]]]] = False
        net = np.where(avail, value(scored.score) - price[None, :], NONE)
        violates = (net > flow.gain[chunk][:, None]).any(axis=1)
        take = np.zeros_like(avail)
        if violates.any():
            local, cols, _, _ = row_top(net[violates], k, NONE)
            take[np.flatnonzero(violates)[local], cols] = True
        bound[chunk] = np.where(take, NONE, net).max(axis=1)
        r_local, cols = np.nonzero(take)
        added += len(cols)
        widened += int(violates.sum())
        parts = np.zeros((len(cols), len(scored.parts)), dtype=np.float32)
        for c, name in enumerate(scored.parts):
            parts[:, c] = scored.parts[name][r_local, cols]
        new.append((chunk[r_local], cols.astype(np.int64), scored.score[r_local, cols], parts))
    for mentee, mentor, score, parts in new:
        graph.add(mentee, mentor, score, parts)
    return added, widened


def cache_kind(pairs: int) -> str | None:
    """How the pass keeps all pair scores for the proof, by the memory they need."""
    if pairs * 4 <= EXACT_CACHE_BYTES:
        return "exact"
    if pairs * 3 <= CACHE_BYTES:
        return "packed"
    if pairs <= CACHE_BYTES:
        return "uint8"
    return None


_LOW = np.iinfo(np.int32).min // 2  # below any 32-bit estimate of value - price


def _scan(
    cache: ScoreCache, graph: _Graph, flow: _Flow, market: _Market, width: int, margin: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Every pair outside the graph against the potentials, from the cache.

    A pair can only improve the result if its value (from the cached score or bound)
    exceeds ``u_i + v_j``. A mentee with such a pair, or within ``margin`` of one,
    gets its best ``width`` pairs outside the graph by ``value - v_j`` (the worst
    violators first, then the next best alternatives, so that a shift of prices in
    the next round finds them already there). Returns (mentee, mentor, bound) of the
    pairs to add, and whether any pair violates.

    The test runs in 32 bits on the cache's coarse codes (:meth:`ScoreCache.coarse`,
    ``score <= code * step - 1``): ``value > u + v - margin`` needs
    ``score > floor((u - margin - bonus) / scale) + floor(v / scale)``, so
    ``code - floor(cf / step) > floor((rf + 1) / step)`` with ``rf`` and ``cf`` those
    two floors - a weaker condition that lets too many pairs through, never too few.
    The pairs to add are ranked by that estimate; whether one truly violates is
    decided in 64 bits on exact values, on the chosen pairs first and, only if none
    of them does, on all that got through. Blocks of rows are scanned two at a time,
    like the scoring pass.
    """
    n, m = cache.shape
    order = np.argsort(graph.mentee, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph.mentee, minlength=n), out=indptr[1:])
    step_q = cache.step if cache.kind != "exact" else 1
    row_floor = (flow.gain - margin - market.bonus) // market.scale
    col_floor = flow.price // market.scale
    narrow = max(np.abs(row_floor).max(initial=0), np.abs(col_floor).max(initial=0)) < 1 << 29
    # code + (1 if exact) is the "code" of the docstring; fold that one into the rows.
    row_q = ((row_floor + 1) // step_q + cache.unusable).astype(np.int32)
    col_q = (col_floor // step_q).astype(np.int32)

    def block(a: int) -> tuple[tuple[np.ndarray, ...] | None, bool]:
        b = min(a + step, n)
        inside = order[indptr[a] : indptr[b]]
        gain = flow.gain[a:b]
        if narrow:
            codes = cache.coarse(a, b)
            key = np.subtract(codes, col_q[None, :], dtype=np.int32)
            key[codes <= cache.unusable] = _LOW
            key[graph.mentee[inside] - a, graph.mentor[inside]] = _LOW
            through = key > row_q[a:b, None]
            rows = np.flatnonzero(through.any(axis=1))
            if not rows.size:
                return None, False
            key, through = key[rows], through[rows]
            local, cols, _, _ = row_top(key, width, _LOW)
        else:
            # Values too wide for 32 bits (the number matched first): all in 64.
            bound = cache.bounds(a, b)
            bound[graph.mentee[inside] - a, graph.mentor[inside]] = -1
            usable = bound >= 0
            net = market.value(bound) - flow.price[None, :]
            net[~usable] = NONE
            rows = np.flatnonzero(net.max(axis=1) > gain - margin)
            if not rows.size:
                return None, False
            through = usable[rows]
            local, cols, _, _ = row_top(net[rows], width, NONE)
        chosen = cache.values_at(rows[local] + a, cols).astype(np.int64)
        net = market.value(chosen) - flow.price[cols]
        violating = bool((net > gain[rows[local]]).any())
        if not violating:
            r, c = np.nonzero(through)
            net = market.value(cache.values_at(rows[r] + a, c).astype(np.int64)) - flow.price[c]
            violating = bool((net > gain[rows[r]]).any())
        return (rows[local] + a, cols, chosen), violating

    step = block_rows(m)
    starts = range(0, n, step)
    if len(starts) >= 4 and SCORING_THREADS > 1:
        with ThreadPoolExecutor(max_workers=min(SCORING_THREADS, os.cpu_count() or 1)) as pool:
            results = list(pool.map(block, starts))
    else:
        results = [block(a) for a in starts]
    found = [part for part, _ in results if part is not None]
    violating = any(v for _, v in results)
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, False
    mentee, mentor, bound = (np.concatenate(c) for c in zip(*found, strict=True))
    return mentee, mentor, bound, violating


def solve(
    problem: Problem,
    options: Options | None = None,
    progress: Progress | None = None,
    *,
    cache: str | None = "auto",
) -> Solution:
    """The assignment with the highest total score (optionally: most matched first), proven.

    ``cache`` ("auto", "exact", "packed", "uint8" or None) says how the scoring pass
    keeps all pairs for the proof; None proves from each mentee's bound alone and
    scores rows again where that is not enough (what very large runs fall back to).
    """
    options = options or Options()
    if options.mode is Mode.STABLE:
        from core.matching.stable import solve_stable

        return solve_stable(problem, options, progress)
    report = progress or (lambda fraction, stage: None)
    started = perf_counter()
    plan = lock_plan(problem)
    report(0.0, "scoring")
    n, m = len(problem.mentees), len(problem.mentors)
    free = np.flatnonzero(plan.free)
    placed = np.flatnonzero(plan.places > 0)
    places = int(plan.places.sum())
    k = max(1, min(options.candidates_per_mentee or DEFAULT_K, max(m, 1)))
    widen = max(1, min(options.candidates_per_mentee or WIDEN_K, max(m, 1)))
    bypass = SCALE * min(len(free), places) + 1 if options.maximise_matched else 0
    kind = cache_kind(n * m) if cache == "auto" else cache
    store = ScoreCache.empty(n, m, kind) if kind and n and m else None

    # Two blocks at once when there are several: numpy releases the GIL in the heavy
    # work, so a second core scores the next block meanwhile (50k x 15k: 26 s -> 15 s).
    blocks = -(-n // block_rows(m)) if m else 0
    threads = min(SCORING_THREADS, os.cpu_count() or 1) if blocks >= 4 else 1
    found: Candidates = candidates(
        problem,
        k,
        lambda f, stage: report(SCORING_SHARE * f, stage),
        plan=plan,
        cache=store,
        threads=threads,
    )
    scored_at = perf_counter()

    graph = _Graph(found.mentee, found.mentor, found.score, found.parts)
    # Equal totals: the one matching more people. Plain runs value a pair at
    # score * (free + 1) + 1 - no number of extra tandems outweighs one millionth of
    # score - so that a pair scoring 0 is still proposed where a place is free. When
    # the number matched comes first, the bypass's BIG already sees to it.
    scale, bonus = (1, 0) if options.maximise_matched else (len(free) + 1, 1)
    market = _Market.build(
        n, m, free, placed, plan.places[placed], options.seed, scale=scale, bonus=bonus
    )
    proof: dict[str, float | int | bool] = {
        "k": k,
        "cache": kind or "none",
        "candidates": len(found.mentee),
        "pruned": found.pruned,
    }
    if store is not None:
        flow = _prove_with_cache(problem, store, graph, market, bypass, widen, report, proof)
    else:
        flow = _prove_with_bounds(problem, plan, found, graph, market, bypass, widen, report, proof)
    solved_at = perf_counter()
    report(1.0, "checking optimality")
    solution = _solution(problem, plan, found, graph, flow.flow > 0)
    solution.score_seconds = scored_at - started
    solution.solve_seconds = solved_at - scored_at
    proof["bellman_ford_passes"] = flow.passes
    proof["max_violation"] = 0
    proof["proven"] = True  # only reached once the loop above found nothing to add
    solution.proof = proof
    return solution


def _stage(report: Progress, rounds: int, stage: str) -> None:
    report(SCORING_SHARE + (1 - SCORING_SHARE) * (1 - 0.5**rounds), stage)


def _prove_with_cache(
    problem: Problem,
    store: ScoreCache,
    graph: _Graph,
    market: _Market,
    bypass: int,
    widen: int,
    report: Progress,
    proof: dict[str, float | int | bool],
) -> _Flow:
    """Solve, scan every pair against the potentials, add what could improve; repeat.

    Between rounds, pairs far from tight (reduced cost above ``SLACK``) and unused
    leave the graph: the next solve is faster, and the scan still sees them among
    the pairs outside it. A pair that comes back after being dropped stays for good,
    so the rounds cannot cycle.

    A mentor gains at most ``PER_MENTOR`` pairs a round, those that violate most:
    while prices are still far off, nearly every mentee's best pairs go to the same
    few mentors that look cheap, and most of those pairs are dropped again a round
    later. Capped, the rounds are as many and the graphs about half as large
    (50k x 15k: 2.9 M arcs solved in all instead of 5.2 M).
    """
    m = store.shape[1]
    dropped = np.zeros(0, dtype=np.int64)  # mentee * m + mentor, sorted
    rounds = added = removed = drift = 0
    flow_seconds = 0.0
    started = perf_counter()
    while True:
        rounds += 1
        _stage(report, rounds, "solving")
        flow_started = perf_counter()
        flow = _flow(market, graph.mentee, graph.mentor, graph.score, bypass)
        flow_seconds += perf_counter() - flow_started - flow.certify_seconds
        _stage(report, rounds, "checking optimality")
        near = NEAR * market.scale
        mentee, mentor, bound, violating = _scan(store, graph, flow, market, widen, near)
        if not violating:
            break
        slack = flow.gain[graph.mentee] + flow.price[graph.mentor] - market.value(graph.score)
        drop = (slack > SLACK * market.scale) & (flow.flow == 0) & ~graph.sticky
        if drop.any():
            # A pair is dropped at most once (if it comes back it is sticky), so the
            # keys never repeat: a sort keeps them searchable.
            keys = graph.mentee[drop] * m + graph.mentor[drop]
            dropped = np.sort(np.concatenate([dropped, keys]))
            graph.keep(~drop)
            removed += int(drop.sum())
        excess = market.value(bound) - flow.price[mentor] - flow.gain[mentee]
        keep = _best_per_mentor(mentor, excess, PER_MENTOR)
        mentee, mentor, bound = mentee[keep], mentor[keep], bound[keep]
        keys = mentee * m + mentor
        at = np.minimum(np.searchsorted(dropped, keys), max(len(dropped) - 1, 0))
        back = dropped[at] == keys if len(dropped) else np.zeros(len(keys), dtype=bool)
        if store.exact:
            count = len(score_criteria(problem))
            parts = np.full((len(mentee), count), np.nan, dtype=np.float32)
            graph.add(mentee, mentor, bound, parts, back)
        else:
            # Only a bound was kept: score these pairs again. A criterion whose floats
            # depend on the block may answer a millionth differently now; the graph
            # takes the new answer, and the proof counts such pairs.
            scored = score_pairs(problem, mentee, mentor)
            drift += int(np.count_nonzero(~scored.allowed | (scored.score > bound)))
            store.forget(mentee[~scored.allowed], mentor[~scored.allowed])
            ok = scored.allowed
            graph.add(mentee[ok], mentor[ok], scored.score[ok], scored.parts[ok], back[ok])
        added += len(mentee)
    proof.update(
        rounds=rounds,
        pairs_added=added,
        pairs_dropped=removed,
        rows_rechecked=0,
        rescore_drift=drift,
        flow_seconds=round(flow_seconds, 3),  # OR-Tools, the arcs it is given included
        proof_seconds=round(perf_counter() - started - flow_seconds, 3),
    )
    return flow


def _best_per_mentor(mentor: np.ndarray, excess: np.ndarray, cap: int) -> np.ndarray:
    """Which pairs to keep: each mentor's ``cap`` with the largest ``excess`` (bool).

    The pair that violates most for a mentor is always kept, so a round that found a
    violation always adds one.
    """
    order = np.lexsort((-excess, mentor))
    by_mentor = mentor[order]
    first = np.r_[0, np.flatnonzero(by_mentor[1:] != by_mentor[:-1]) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < cap]] = True
    return keep


def _prove_with_bounds(
    problem: Problem,
    plan: LockPlan,
    found: Candidates,
    graph: _Graph,
    market: _Market,
    bypass: int,
    widen: int,
    report: Progress,
    proof: dict[str, float | int | bool],
) -> _Flow:
    """Solve, clear mentees by their bounds, score the rest again in full; repeat."""
    n, m = len(problem.mentees), len(problem.mentors)
    free, placed = market.mentees, market.mentors
    # Each row's bound, and the prices it was taken against (version 0: none).
    bound = np.where(found.pruned_best >= 0, market.value(found.pruned_best), NONE)
    row_best = np.where(found.row_best >= 0, market.value(found.row_best), NONE)
    refs = [np.zeros(m, dtype=np.int64)]
    row_ref = np.zeros(n, dtype=np.int64)
    rounds = rechecked = added = widened = 0
    flow_seconds = 0.0
    started = perf_counter()
    while True:
        rounds += 1
        _stage(report, rounds, "solving")
        flow_started = perf_counter()
        flow = _flow(market, graph.mentee, graph.mentor, graph.score, bypass)
        flow_seconds += perf_counter() - flow_started - flow.certify_seconds
        _stage(report, rounds, "checking optimality")
        suspects = np.concatenate(
            [
                _suspects(flow, free[row_ref[free] == v], placed, bound, row_best, ref)
                for v, ref in enumerate(refs)
            ]
        )
        if not suspects.size:
            break
        suspects.sort()
        rechecked += len(suspects)
        more, rows = _recheck(problem, suspects, graph, plan, flow, bound, widen, market.value)
        row_ref[suspects] = len(refs)
        refs.append(flow.price.copy())
        added += more
        widened += rows
        if not more:
            break  # every pair of the suspects respects the potentials: proven
    proof.update(
        rounds=rounds,
        pairs_added=added,
        rows_rechecked=rechecked,
        rows_widened=widened,
        flow_seconds=round(flow_seconds, 3),  # OR-Tools, the arcs it is given included
        proof_seconds=round(perf_counter() - started - flow_seconds, 3),
    )
    return flow


def _solution(
    problem: Problem, plan: LockPlan, found: Candidates, graph: _Graph, matched: np.ndarray
) -> Solution:
    n, m = len(problem.mentees), len(problem.mentors)
    ids = found.part_ids
    # Pairs the proof took from the exact cache came without parts: score those chosen.
    missing = np.flatnonzero(matched & np.isnan(graph.parts).any(axis=1))
    if missing.size:
        graph.parts[missing] = score_pairs(
            problem, graph.mentee[missing], graph.mentor[missing]
        ).parts
    proposals: list[Proposal] = []
    for at, (mentee, mentor) in enumerate(zip(plan.mentees, plan.mentors, strict=True)):
        proposals.append(
            Proposal(
                mentee=int(mentee),
                mentor=int(mentor),
                score=int(found.locked_score[at]),
                parts=dict(zip(ids, map(float, found.locked_parts[at]), strict=True)),
                locked=True,
            )
        )
    for at in np.flatnonzero(matched):
        proposals.append(
            Proposal(
                mentee=int(graph.mentee[at]),
                mentor=int(graph.mentor[at]),
                score=int(graph.score[at]),
                parts=dict(zip(ids, map(float, graph.parts[at]), strict=True)),
            )
        )
    proposals.sort(key=lambda p: p.mentee)
    has_mentor = np.zeros(n, dtype=bool)
    used = np.zeros(m, dtype=np.int64)
    for proposal in proposals:
        has_mentor[proposal.mentee] = True
        used[proposal.mentor] += 1
    unmatched_mentees = [
        Unmatched(
            int(i),
            UnmatchedReason.CAPACITY_EXHAUSTED
            if found.mentee_allowed[i]
            else UnmatchedReason.NO_ALLOWED_MENTOR,
        )
        for i in np.flatnonzero(~has_mentor)
    ]
    capacity = np.asarray(problem.mentors["capacity"], dtype=np.int64)
    unmatched_mentors = []
    for j in range(m):
        if capacity[j] == 0:
            unmatched_mentors.append(Unmatched(j, UnmatchedReason.NO_PLACES))
        elif used[j] < capacity[j]:
            reason = (
                UnmatchedReason.NOT_CHOSEN
                if found.mentor_allowed[j]
                else UnmatchedReason.NO_ALLOWED_MENTEE
            )
            unmatched_mentors.append(Unmatched(j, reason))
    return Solution(
        proposals=proposals,
        unmatched_mentees=unmatched_mentees,
        unmatched_mentors=unmatched_mentors,
        total_score=sum(p.score for p in proposals),
    )
