"""Stable mode: mentee-proposing deferred acceptance with mentor capacities.

Some tenants prefer a matching nobody wants to break to the best total: no mentee and
mentor who are allowed together would both rather be with each other than with whom
they got. Gale and Shapley's deferred acceptance finds one, and the mentee-proposing
variant finds the one every mentee likes best among all stable matchings.

Preferences come from the pair score (both sides rank their allowed partners by it),
so they are never written out in full: 50,000 x 15,000 pairs would be 750 million
entries. Each mentee gets its best ``K`` mentors from one pass of the block scorer
(:func:`~core.matching.scoring.candidates`); a mentee turned down by all of them has
its row scored again (:func:`~core.matching.scoring.score_rows`) and takes the next
``2K``, and so on, which few ever need. Mentors hold their current mentees in a heap
keyed by how much they like them, so a proposal costs one heap operation.

Ties between equal scores are broken by a seeded order per person from which any
pair's rank can be computed on the fly: mentee ``i`` ranks mentor ``j`` by
``(score, (a_i·j + b_i) mod p)``, ``p`` a prime at least the number of mentors and
``a_i`` ≠ 0 drawn from the seed, which is one-to-one in ``j``, so preferences are
strict; mentors rank mentees the same way with their own numbers. Same input and
seed, same matching.

Locked pairs are fixed before anyone proposes (:func:`~core.matching.scoring.lock_plan`:
the mentor's places shrink by them) and take no part in the market; forbidden pairs
and pairs a filter rejects are unacceptable to both sides. The result is then
checked, not trusted: every allowed pair of the market is scored again, block by
block, and counted as blocking if the mentee would rather have that mentor and the
mentor has a place free or would rather have that mentee than its least preferred
one. The count goes to :attr:`~core.matching.problem.Solution.blocking_pairs` (0
unless something is wrong).
"""

from __future__ import annotations

import heapq
import time
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from core.matching.criteria import SCALE
from core.matching.problem import (
    Options,
    Problem,
    Progress,
    Proposal,
    Solution,
    Unmatched,
    UnmatchedReason,
)
from core.matching.scoring import (
    BLOCK_PAIRS,
    LockPlan,
    ScoredRows,
    candidates,
    iter_blocks,
    lock_plan,
    score_criteria,
    score_rows,
)

DEFAULT_CANDIDATES = 16  # a mentee's first list; most are placed within it
SCORING_SHARE = 0.45  # of the progress bar; the check takes about as long again
_TIE_SALT = 0x57AB1E  # keeps this order apart from other uses of the same seed
_NONE = np.iinfo(np.int64).max


def solve_stable(
    problem: Problem, options: Options | None = None, progress: Progress | None = None
) -> Solution:
    """The mentee-optimal stable matching of ``problem``, its blocking pairs counted."""
    options = options or Options()
    report = progress or _silent
    started = time.perf_counter()
    plan = lock_plan(problem)
    n, m = len(problem.mentees), len(problem.mentors)
    ties = TieOrder.for_problem(options.seed, n, m)
    k = max(1, min(options.candidates_per_mentee or DEFAULT_CANDIDATES, max(m, 1)))
    lists = _Lists(problem, plan, ties)
    if n and m:
        found = candidates(
            problem, k, lambda f, stage: report(SCORING_SHARE * f, stage), plan=plan, threads=2
        )
        lists.add_candidates(found.mentee, found.mentor, found.score, found.pruned_best)
    scored_at = time.perf_counter()

    report(SCORING_SHARE, "proposing")
    held, proposals = _defer(lists, plan, np.flatnonzero(plan.free))
    proposed_at = time.perf_counter()

    matched = np.full(n, -1, dtype=np.int64)
    matched[plan.mentees] = plan.mentors
    matched_score = np.full(n, -1, dtype=np.int64)
    for j, heap in enumerate(held):
        for packed in heap:
            i = packed % n
            matched[i] = j
            matched_score[i] = packed // n // ties.q
    check = _check(problem, plan, matched, ties, report, matched_score)
    checked_at = time.perf_counter()
    report(1.0, "checking stability")

    proof: dict[str, float | int | bool] = {
        "k": k,
        "proposals": proposals,
        "rows_refilled": lists.refilled,
        "refill_rounds": lists.refill_rounds,
        "pairs_checked": check.allowed_pairs,
        "blocking_pairs": check.blocking,
        "candidates_seconds": round(scored_at - started, 6),
        "refill_seconds": round(lists.refill_seconds, 6),
        "propose_seconds": round(proposed_at - scored_at - lists.refill_seconds, 6),
        "check_seconds": round(checked_at - proposed_at, 6),
        "stable": check.blocking == 0,
    }
    return Solution(
        proposals=check.proposals,
        unmatched_mentees=_unmatched_mentees(matched, check.mentee_allowed),
        unmatched_mentors=_unmatched_mentors(problem, matched, check.mentor_allowed),
        total_score=sum(p.score for p in check.proposals),
        # Rows scored again for a refill count as scoring; the check is the solver's proof.
        score_seconds=scored_at - started + lists.refill_seconds,
        solve_seconds=checked_at - scored_at - lists.refill_seconds,
        proof=proof,
        blocking_pairs=check.blocking,
    )


def count_blocking_pairs(problem: Problem, matched: Sequence[int] | np.ndarray, seed: int) -> int:
    """Blocking pairs of any matching (``matched[i]``: mentee ``i``'s mentor, -1 none).

    Locked mentees and the places their locks take are out of the market, as in
    :func:`solve_stable`. Public so that tests can hold a brute force against it.
    """
    plan = lock_plan(problem)
    ties = TieOrder.for_problem(seed, len(problem.mentees), len(problem.mentors))
    matched = np.asarray(matched, dtype=np.int64)
    return _check(problem, plan, matched, ties, _silent).blocking


@dataclass(frozen=True)
class TieOrder:
    """The seeded strict order behind both sides' preferences (see the module docstring)."""

    p: int  # prime >= number of mentors
    q: int  # prime >= number of mentees
    a: np.ndarray  # per mentee, in [1, p)
    b: np.ndarray  # per mentee, in [0, p)
    c: np.ndarray  # per mentor, in [1, q)
    d: np.ndarray  # per mentor, in [0, q)

    @classmethod
    def for_problem(cls, seed: int, n: int, m: int) -> TieOrder:
        rng = np.random.default_rng([_TIE_SALT, seed])
        p, q = _prime_at_least(max(m, 2)), _prime_at_least(max(n, 2))
        if (SCALE + 1) * q * max(n, 1) >= _NONE:
            raise ValueError(f"stable mode handles up to about 3 million mentees, not {n}")
        return cls(
            p,
            q,
            rng.integers(1, p, n, dtype=np.int64),
            rng.integers(0, p, n, dtype=np.int64),
            rng.integers(1, q, m, dtype=np.int64),
            rng.integers(0, q, m, dtype=np.int64),
        )

    def mentee_key(self, rows: np.ndarray, cols: np.ndarray, score: np.ndarray) -> np.ndarray:
        """How much mentee ``rows`` likes mentor ``cols`` (broadcast): higher is better."""
        return score.astype(np.int64) * self.p + self.mentee_tie(rows, cols)

    def mentor_key(self, rows: np.ndarray, cols: np.ndarray, score: np.ndarray) -> np.ndarray:
        """How much mentor ``cols`` likes mentee ``rows`` (broadcast): higher is better."""
        return score.astype(np.int64) * self.q + self.mentor_tie(rows, cols)

    def mentee_tie(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Between equal scores, how much mentee ``rows`` likes mentor ``cols``: in [0, p)."""
        return (self.a[rows] * cols + self.b[rows]) % self.p

    def mentor_tie(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Between equal scores, how much mentor ``cols`` likes mentee ``rows``: in [0, q)."""
        return (self.c[cols] * rows + self.d[cols]) % self.q


class _Lists:
    """Each free mentee's candidates, best first, packed for the proposal loop.

    Flat ``array`` buffers rather than numpy: the loop reads one entry at a time, and
    an ``array`` hands out plain ints without numpy's per-item cost. A mentor's heap
    holds ``bid = mentor key * n + mentee``, so one int compares and names the mentee.
    """

    def __init__(self, problem: Problem, plan: LockPlan, ties: TieOrder) -> None:
        n = len(problem.mentees)
        self.problem, self.plan, self.ties, self.n = problem, plan, ties, n
        self.mentor = array("q")
        self.bid = array("q")
        self.start = [0] * n
        self.stop = [0] * n
        self.size = [0] * n  # length of the mentee's last list: the next is twice that
        # Mentees whose list may not be all: the mentee key the next list must stay below.
        self.floor: dict[int, int] = {}
        self.refilled = self.refill_rounds = 0
        self.refill_seconds = 0.0

    def add_candidates(
        self, mentee: np.ndarray, mentor: np.ndarray, score: np.ndarray, pruned_best: np.ndarray
    ) -> None:
        """Take the block scorer's best ``K``, re-ordered by the seeded preferences.

        The scorer breaks ties by mentor row; a tie at its cut-off may have left out a
        mentor this order puts first. So a list keeps only scores above the best one
        left out — every such pair was kept — and the rest come from a refill.
        """
        keep = score > pruned_best[mentee]
        mentee, mentor, score = mentee[keep], mentor[keep], score[keep]
        key = self.ties.mentee_key(mentee, mentor, score)
        order = np.lexsort((-key, mentee))
        mentee, mentor, score, key = mentee[order], mentor[order], score[order], key[order]
        counts = np.bincount(mentee, minlength=self.n)
        ends = np.cumsum(counts)
        self._append(mentor, self._bids(mentee, mentor, score))
        self.start = (ends - counts).tolist()
        self.stop = ends.tolist()
        self.size = np.maximum(counts, 1).tolist()
        lowest = np.full(self.n, _NONE, dtype=np.int64)
        np.minimum.at(lowest, mentee, key)
        more = np.flatnonzero(pruned_best >= 0)
        self.floor = dict(zip(more.tolist(), lowest[more].tolist(), strict=True))

    def refill(self, rows: list[int], bar: np.ndarray) -> None:
        """The next ``2K`` mentors of mentees who were turned down by their whole list.

        ``bar`` is the bid each mentor would have to beat now (-1: a place is free).
        Bars only rise, so a mentor who would turn the mentee down now always will:
        such proposals are skipped, which is what keeps a mentee who ends up
        unmatched from proposing to every mentor allowed with them, one by one.
        """
        started = time.perf_counter()
        self.refill_rounds += 1
        self.refilled += len(rows)
        ties, m = self.ties, len(self.problem.mentors)
        placed = (self.plan.places > 0)[None, :]
        # Keys split into score and tie-break, so that the whole rows are compared
        # by score alone and the tie-break is worked out only where scores are equal.
        wanted = np.full(m, -1, dtype=np.int64)  # -1: a place is free, any score does
        wanted_tie = np.full(m, -1, dtype=np.int64)
        full = bar >= 0
        wanted[full], wanted_tie[full] = np.divmod(bar[full] // self.n, ties.q)
        for block, scored in _scored(self.problem, np.array(sorted(rows), dtype=np.int64)):
            score = scored.score
            floor = np.array([self.floor[i] for i in block.tolist()], dtype=np.int64)
            below, below_tie = np.divmod(floor, ties.p)  # no floor: _NONE, above every key
            usable = scored.allowed & placed
            usable &= score <= below[:, None]
            usable &= score >= wanted[None, :]
            # A score equal to the floor or to a mentor's bar: the tie-break decides.
            edge = usable & ((score == below[:, None]) | (score == wanted[None, :]))
            r, c = np.nonzero(edge)
            ok = (score[r, c] < below[r]) | (ties.mentee_tie(block[r], c) < below_tie[r])
            ok &= (score[r, c] > wanted[c]) | (ties.mentor_tie(block[r], c) > wanted_tie[c])
            usable[r[~ok], c[~ok]] = False
            want = np.minimum(m, 2 * np.array([self.size[i] for i in block.tolist()]))
            # Few pairs are left by now (mentors' bars rule most out): sort just those.
            r, c = np.nonzero(usable)
            score = score[r, c]
            key = ties.mentee_key(block[r], c, score)
            order = np.lexsort((-key, r))
            r, c, score, key = r[order], c[order], score[order], key[order]
            counts = np.bincount(r, minlength=len(block))
            first = np.cumsum(counts) - counts
            keep = np.arange(len(r)) - first[r] < want[r]
            kept = np.minimum(counts, want)
            offset = len(self.mentor)
            self._append(c[keep], self._bids(block[r[keep]], c[keep], score[keep]))
            ends = offset + np.cumsum(kept)
            last = key[np.maximum(first + kept - 1, 0)] if len(key) else np.zeros_like(kept)
            for local, i in enumerate(block.tolist()):
                self.start[i], self.stop[i] = int(ends[local] - kept[local]), int(ends[local])
                self.size[i] = int(want[local])
                if counts[local] > want[local]:
                    self.floor[i] = int(last[local])
                else:
                    self.floor.pop(i, None)
        self.refill_seconds += time.perf_counter() - started

    def _bids(self, mentee: np.ndarray, mentor: np.ndarray, score: np.ndarray) -> np.ndarray:
        return self.ties.mentor_key(mentee, mentor, score) * self.n + mentee

    def _append(self, mentor: np.ndarray, bid: np.ndarray) -> None:
        self.mentor.frombytes(np.ascontiguousarray(mentor, dtype=np.int64).tobytes())
        self.bid.frombytes(np.ascontiguousarray(bid, dtype=np.int64).tobytes())


def _defer(lists: _Lists, plan: LockPlan, free_rows: np.ndarray) -> tuple[list[list[int]], int]:
    """Deferred acceptance; returns each mentor's heap of bids and the proposals made.

    Proposals certain to be turned down (see :meth:`_Lists.refill`) are not made.
    """
    capacity = plan.places.tolist()
    held: list[list[int]] = [[] for _ in capacity]
    n = lists.n
    mentor, bid, start, stop, floor = lists.mentor, lists.bid, lists.start, lists.stop, lists.floor
    heappush, heapreplace = heapq.heappush, heapq.heapreplace
    # Lowest row proposes first. The outcome does not depend on the order (it is the
    # mentee-optimal stable matching); only the number of proposals does.
    free = free_rows[::-1].tolist()
    proposals = 0
    while True:
        waiting: list[int] = []
        while free:
            i = free.pop()
            at = start[i]
            if at == stop[i]:
                if i in floor:
                    waiting.append(i)
                continue
            start[i] = at + 1
            j = mentor[at]
            offer = bid[at]
            heap = held[j]
            proposals += 1
            if len(heap) < capacity[j]:
                heappush(heap, offer)
            elif offer > heap[0]:
                free.append(heapreplace(heap, offer) % n)
            else:
                free.append(i)
        if not waiting:
            return held, proposals
        # Lists were read from ``start`` on; a refill replaces them, so nothing read is lost.
        bar = np.full(len(capacity), -1, dtype=np.int64)
        for j, heap in enumerate(held):
            if heap and len(heap) >= capacity[j]:
                bar[j] = heap[0]
        lists.refill(waiting, bar)
        free = sorted(waiting, reverse=True)


@dataclass
class _Checked:
    blocking: int
    allowed_pairs: int
    proposals: list[Proposal]
    mentee_allowed: np.ndarray  # any allowed mentor, places or not
    mentor_allowed: np.ndarray  # any allowed mentee


def _check(
    problem: Problem,
    plan: LockPlan,
    matched: np.ndarray,
    ties: TieOrder,
    report: Progress,
    matched_score: np.ndarray | None = None,
) -> _Checked:
    """Score every pair again: blocking pairs, the proposals' parts, who had any partner.

    ``matched_score`` (each mentee's pair score as the proposals saw it) lets one pass
    do it all; the pass makes sure the scorer still agrees with it.
    """
    n, m = len(problem.mentees), len(problem.mentors)
    if matched_score is None:
        matched_score = _matched_scores(problem, matched)
    locked = np.zeros(n, dtype=bool)
    locked[plan.mentees] = True
    in_market = np.flatnonzero(~locked & (matched >= 0))
    js = matched[in_market]
    # Keys split into score and tie-break: whole blocks are compared by score, the
    # tie-break is worked out only for the few pairs whose scores are equal.
    own = np.full(n, -1, dtype=np.int64)  # unmatched: any allowed mentor is better
    own_tie = np.full(n, -1, dtype=np.int64)
    own[in_market] = matched_score[in_market]
    own_tie[in_market] = ties.mentee_tie(in_market, js)
    worst_key = np.full(m, _NONE, dtype=np.int64)
    np.minimum.at(worst_key, js, ties.mentor_key(in_market, js, matched_score[in_market]))
    worst, worst_tie = np.divmod(worst_key, ties.q)
    has_place = np.bincount(js, minlength=m) < plan.places
    worst[has_place] = -1  # a free place takes anyone
    placed = plan.places > 0
    ids = [c.id for c in score_criteria(problem)]

    mentee_allowed = np.zeros(n, dtype=bool)
    mentor_allowed = np.zeros(m, dtype=bool)
    proposals: list[Proposal] = []
    blocking = allowed_pairs = 0
    blocks = iter_blocks(problem, want_parts=True, threads=2) if n and m else iter(())
    for block in blocks:
        rows, score = block.rows, block.score
        allowed = np.ones((len(rows), m), dtype=bool) if block.allowed is None else block.allowed
        mentee_allowed[rows] = allowed.any(axis=1)
        mentor_allowed |= allowed.any(axis=0)
        proposals.extend(_proposals(rows, score, block.parts, ids, matched, locked, matched_score))
        allowed &= placed[None, :]
        allowed[locked[rows]] = False
        allowed_pairs += int(np.count_nonzero(allowed))
        rather = score > own[rows][:, None]  # the mentee would rather: sure
        takes = score > worst[None, :]  # the mentor would take them: sure
        blocking += int(np.count_nonzero(allowed & rather & takes))
        tied = allowed & (rather | (score == own[rows][:, None]))
        tied &= takes | (score == worst[None, :])
        tied &= ~(rather & takes)
        r, c = np.nonzero(tied)
        if len(r):
            i = rows[r]
            ok = rather[r, c] | (ties.mentee_tie(i, c) > own_tie[i])
            ok &= takes[r, c] | (ties.mentor_tie(i, c) > worst_tie[c])
            blocking += int(np.count_nonzero(ok))
        report(SCORING_SHARE + (1 - SCORING_SHARE) * (rows[-1] + 1) / n, "checking stability")
    return _Checked(blocking, allowed_pairs, proposals, mentee_allowed, mentor_allowed)


def _proposals(
    rows: np.ndarray,
    score: np.ndarray,
    parts: list[np.ndarray],
    ids: list[str],
    matched: np.ndarray,
    locked: np.ndarray,
    matched_score: np.ndarray,
) -> list[Proposal]:
    partner = matched[rows]
    have = np.flatnonzero(partner >= 0)
    cols = partner[have]
    got = score[have, cols].astype(np.int64)
    market = ~locked[rows[have]]
    if not np.array_equal(got[market], matched_score[rows[have]][market]):
        # Scores are a pure function of the problem: if the scorer disagreed with the
        # pass the proposals came from, counting blocking pairs would mean nothing.
        raise RuntimeError("the scorer gave different scores for the same pairs")
    values = [part[have, cols].tolist() for part in parts]
    return [
        Proposal(
            mentee=int(rows[at]),
            mentor=int(cols[x]),
            # A locked pair keeps its score even if a filter now rejects it.
            score=int(got[x]),
            parts={cid: float(v[x]) for cid, v in zip(ids, values, strict=True)},
            locked=bool(locked[rows[at]]),
        )
        for x, at in enumerate(have.tolist())
    ]


def _matched_scores(problem: Problem, matched: np.ndarray) -> np.ndarray:
    """Each matched mentee's pair score (-1 unmatched), for a matching made elsewhere."""
    out = np.full(len(matched), -1, dtype=np.int64)
    rows = np.flatnonzero(matched >= 0)
    for block, scored in _scored(problem, rows):
        out[block] = scored.score[np.arange(len(block)), matched[block]]
    return out


def _unmatched_mentees(matched: np.ndarray, mentee_allowed: np.ndarray) -> list[Unmatched]:
    return [
        Unmatched(
            i,
            UnmatchedReason.CAPACITY_EXHAUSTED
            if mentee_allowed[i]
            else UnmatchedReason.NO_ALLOWED_MENTOR,
        )
        for i in np.flatnonzero(matched < 0).tolist()
    ]


def _unmatched_mentors(
    problem: Problem, matched: np.ndarray, mentor_allowed: np.ndarray
) -> list[Unmatched]:
    """Mentors with places left, and why (as the optimal mode says it)."""
    capacity = np.asarray(problem.mentors["capacity"], dtype=np.int64)
    used = np.bincount(matched[matched >= 0], minlength=len(capacity))
    out: list[Unmatched] = []
    for j in range(len(capacity)):
        if capacity[j] == 0:
            out.append(Unmatched(j, UnmatchedReason.NO_PLACES))
        elif used[j] < capacity[j]:
            reason = (
                UnmatchedReason.NOT_CHOSEN
                if mentor_allowed[j]
                else UnmatchedReason.NO_ALLOWED_MENTEE
            )
            out.append(Unmatched(j, reason))
    return out


def _scored(problem: Problem, rows: np.ndarray) -> Iterator[tuple[np.ndarray, ScoredRows]]:
    """``rows`` scored in pieces of the block scorer's size, the next one while this is used.

    numpy releases the GIL in the heavy operations, so on two cores the next piece is
    scored while the caller works on this one (as :func:`~core.matching.scoring.iter_blocks`
    does); at most two pieces are in memory at a time.
    """
    step = max(1, BLOCK_PAIRS // max(len(problem.mentors), 1))
    pieces = [rows[start : start + step] for start in range(0, len(rows), step)]
    if len(pieces) <= 1:
        yield from ((piece, score_rows(problem, piece)) for piece in pieces)
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = pool.submit(score_rows, problem, pieces[0])
        for at, piece in enumerate(pieces):
            scored = ahead.result()
            if at + 1 < len(pieces):
                ahead = pool.submit(score_rows, problem, pieces[at + 1])
            yield piece, scored


def _prime_at_least(n: int) -> int:
    candidate = max(2, n)
    while any(candidate % d == 0 for d in range(2, int(candidate**0.5) + 1)):
        candidate += 1
    return candidate


def _silent(_fraction: float, _stage: str) -> None:
    return None
