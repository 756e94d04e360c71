"""The optimal mode: scorer, min-cost flow and its proof, held against brute force and SciPy.

The criteria here are the test's own (a score matrix, a filter matrix), so that what is
tested is the solver, not the built-in plugins.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.matching import duals, scoring, solver
from core.matching.criteria import SCALE, Criterion, CriterionError, CriterionKind, Factored
from core.matching.dense import DenseTooLarge, solve_dense
from core.matching.features import Person, Side, Vocabulary, encode
from core.matching.problem import Mode, Options, Pair, Problem, Solution, UnmatchedReason
from core.matching.scoring import ScoreCache, row_top, score_pairs, score_rows

CACHES = ("exact", "packed", "uint8", None)


def _row(side: Side) -> np.ndarray:
    # Test people are called "e<row>" / "r<row>": criteria find their matrix rows by id.
    return np.array([int(i[1:]) for i in side.ids], dtype=np.int64)


class MatrixScore(Criterion):
    kind = CriterionKind.SCORE

    def __init__(self, id_: str, values: np.ndarray, weight: float = 1.0) -> None:
        self.id, self.label, self.weight, self.values = id_, id_, weight, values

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return self.values[np.ix_(_row(mentees), _row(mentors))]

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return self.id


class MatrixFilter(Criterion):
    kind = CriterionKind.FILTER

    def __init__(self, values: np.ndarray, id_: str = "filter") -> None:
        self.id, self.label, self.values = id_, id_, values

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return self.values[np.ix_(_row(mentees), _row(mentors))]

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return self.id


@dataclass
class Instance:
    problem: Problem
    raw: np.ndarray  # int millionths whatever the filters say (what a lock keeps)
    allowed: np.ndarray  # filters passed and not forbidden


def make(
    quarters_a: np.ndarray,
    quarters_b: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    capacity: list[int] | None = None,
    locked: set[tuple[int, int]] = frozenset(),
    forbidden: set[tuple[int, int]] = frozenset(),
) -> Instance:
    """Scores ``(a + 3b) / 4`` from two criteria in quarters: exact in float32 and in millionths."""
    n, m = quarters_a.shape
    quarters_b = quarters_a if quarters_b is None else quarters_b
    mask = np.ones((n, m), dtype=bool) if mask is None else mask
    capacity = [1] * m if capacity is None else capacity
    mentees = [Person(id=f"e{i}") for i in range(n)]
    mentors = [Person(id=f"r{j}", capacity=c) for j, c in enumerate(capacity)]
    mentee_side, mentor_side, vocabulary = encode(mentees, mentors)
    a = (quarters_a / 4).astype(np.float32)
    b = (quarters_b / 4).astype(np.float32)
    problem = Problem(
        mentee_side,
        mentor_side,
        vocabulary,
        (MatrixScore("a", a, 1.0), MatrixScore("b", b, 3.0), MatrixFilter(mask)),
        locked=frozenset(Pair(i, j) for i, j in locked),
        forbidden=frozenset(Pair(i, j) for i, j in forbidden),
    )
    raw = (quarters_a.astype(np.int64) + 3 * quarters_b.astype(np.int64)) * (SCALE // 16)
    allowed = mask.copy()
    for i, j in forbidden:
        allowed[i, j] = False
    return Instance(problem, raw, allowed)


def brute_force(inst: Instance, maximise_matched: bool) -> tuple[int, int]:
    """(total, matched) of the best assignment, by trying them all."""
    problem = inst.problem
    n, m = len(problem.mentees), len(problem.mentors)
    if not m:
        return 0, 0
    capacity = np.asarray(problem.mentors["capacity"])
    locks = {p.mentee: p.mentor for p in problem.locked}
    choices = [[locks[i]] if i in locks else [-1, *range(m)] for i in range(n)]
    every = list(itertools.product(*choices))
    combos = np.array(every, dtype=np.int64).reshape(len(every), n)
    ok = np.ones(len(combos), dtype=bool)
    total = np.zeros(len(combos), dtype=np.int64)
    counts = np.zeros((len(combos), m), dtype=np.int64)
    for i in range(n):
        j = combos[:, i]
        chosen = j >= 0
        if i not in locks:
            ok &= ~chosen | inst.allowed[i, np.maximum(j, 0)]
        total += np.where(chosen, inst.raw[i, np.maximum(j, 0)], 0)
        counts[chosen, j[chosen]] += 1
    ok &= (counts <= capacity[None, :]).all(axis=1)
    matched = (combos >= 0).sum(axis=1)
    key = matched * (SCALE * (n + 1)) + total if maximise_matched else total
    best = int(np.argmax(np.where(ok, key, -1)))
    return int(total[best]), int(matched[best])


def check_valid(inst: Instance, solution: Solution) -> None:
    """Capacities, filters, forbids, locks, reasons and the totals, whatever the optimum."""
    problem = inst.problem
    n, m = len(problem.mentees), len(problem.mentors)
    capacity = np.asarray(problem.mentors["capacity"])
    used = np.zeros(m, dtype=np.int64)
    mentees = [p.mentee for p in solution.proposals]
    assert len(mentees) == len(set(mentees)), "a mentee matched twice"
    for p in solution.proposals:
        used[p.mentor] += 1
        assert p.score == inst.raw[p.mentee, p.mentor]
        assert p.locked == (Pair(p.mentee, p.mentor) in problem.locked)
        if not p.locked:
            assert inst.allowed[p.mentee, p.mentor], "a filter or a forbid was ignored"
        assert set(p.parts) == {"a", "b"}
    assert (used <= capacity).all(), "a capacity was exceeded"
    chosen = {(p.mentee, p.mentor) for p in solution.proposals}
    assert {(p.mentee, p.mentor) for p in problem.locked} <= chosen, "a lock was dropped"
    assert solution.total_score == sum(p.score for p in solution.proposals)
    unmatched = {u.index for u in solution.unmatched_mentees}
    assert unmatched == set(range(n)) - set(mentees)
    for u in solution.unmatched_mentees:
        expect = (
            UnmatchedReason.CAPACITY_EXHAUSTED
            if inst.allowed[u.index].any()
            else UnmatchedReason.NO_ALLOWED_MENTOR
        )
        assert u.reason is expect
    assert solution.proof["proven"] is True


@st.composite
def instances(draw: st.DrawFn, max_n: int = 6, max_m: int = 4) -> Instance:
    n = draw(st.integers(0, max_n))
    m = draw(st.integers(0, max_m))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, (n, m))
    b = rng.integers(0, 5, (n, m))
    mask = rng.random((n, m)) < draw(st.sampled_from([0.5, 0.8, 1.0]))
    capacity = [int(c) for c in rng.integers(0, 4, m)]
    pairs = [(i, j) for i in range(n) for j in range(m)]
    forbidden = {p for p in pairs if rng.random() < 0.1}
    locked: set[tuple[int, int]] = set()
    room = list(capacity)
    for i, j in pairs:
        if (i, j) in forbidden or any(x == i for x, _ in locked) or not room[j]:
            continue
        if rng.random() < 0.08:
            locked.add((i, j))
            room[j] -= 1
    return make(a, b, mask, capacity, locked, forbidden)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inst=instances(),
    maximise=st.booleans(),
    k=st.sampled_from([0, 1, 2]),
    cache=st.sampled_from(CACHES),
    seed=st.integers(0, 1000),
)
def test_optimal_equals_brute_force_and_dense(
    inst: Instance, maximise: bool, k: int, cache: str | None, seed: int
) -> None:
    options = Options(maximise_matched=maximise, candidates_per_mentee=k, seed=seed)
    solution = solver.solve(inst.problem, options, cache=cache)
    check_valid(inst, solution)
    total, matched = brute_force(inst, maximise)
    dense = solve_dense(inst.problem, maximise_matched=maximise)
    assert solution.total_score == total == dense.total
    if maximise:
        assert solution.matched == matched == dense.matched


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), maximise=st.booleans(), cache=st.sampled_from(CACHES))
def test_larger_instances_equal_dense(seed: int, maximise: bool, cache: str | None) -> None:
    # Enough mentees per mentor that a small K must be widened by the proof.
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(20, 70)), int(rng.integers(5, 20))
    a, b = rng.integers(0, 5, (n, m)), rng.integers(0, 5, (n, m))
    inst = make(a, b, rng.random((n, m)) < 0.7, [int(c) for c in rng.integers(0, 4, m)])
    options = Options(maximise_matched=maximise, candidates_per_mentee=2)
    solution = solver.solve(inst.problem, options, cache=cache)
    check_valid(inst, solution)
    dense = solve_dense(inst.problem, maximise_matched=maximise)
    assert solution.total_score == dense.total
    if maximise:
        assert solution.matched == dense.matched


def _contested(n: int = 40, m: int = 8) -> Instance:
    # Everyone's favourite is mentor 0 (one place); their second choices differ.
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, (n, m))
    a[:, 0] = 4
    return make(a, a, capacity=[1] + [2] * (m - 1))


@pytest.mark.parametrize("cache", CACHES)
def test_small_k_forces_pairs_back_and_the_proof_adds_them(cache: str | None) -> None:
    inst = _contested()
    solution = solver.solve(inst.problem, Options(candidates_per_mentee=1), cache=cache)
    proof = solution.proof
    assert proof["proven"] is True
    assert proof["rounds"] > 1 and proof["pairs_added"] > 0
    assert proof["pruned"] > 0 and proof["k"] == 1
    if cache is None:
        assert proof["rows_rechecked"] > 0
    assert solution.total_score == solve_dense(inst.problem).total
    check_valid(inst, solution)


def test_proof_records_what_it_did() -> None:
    solution = solver.solve(_contested().problem)
    assert {
        "k",
        "cache",
        "candidates",
        "pruned",
        "rounds",
        "pairs_added",
        "bellman_ford_passes",
        "proven",
    } <= set(solution.proof)
    assert solution.proof["max_violation"] == 0


def test_wrong_potentials_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_potentials(nodes: int, *arcs: np.ndarray) -> tuple[np.ndarray, int]:
        return np.zeros(nodes, dtype=np.int64), 1

    monkeypatch.setattr(duals, "potentials", no_potentials)
    with pytest.raises(duals.ProofError, match="reduced cost"):
        solver.solve(_contested().problem)


def test_potentials_detect_a_negative_cycle_and_verify_checks_every_arc() -> None:
    tails, heads = np.array([0, 1, 2]), np.array([1, 2, 0])
    with pytest.raises(duals.ProofError, match="negative cycle"):
        duals.potentials(3, tails, heads, np.array([1, -3, 1]), np.array([0]))
    pi, passes = duals.potentials(3, tails, heads, np.array([1, -1, 1]), np.array([0]))
    assert pi.tolist() == [0, 1, 0] and passes >= 1
    duals.verify(pi, tails, heads, np.array([1, -1, 1]))
    with pytest.raises(duals.ProofError):
        duals.verify(pi, tails, heads, np.array([1, -2, 1]))
    with pytest.raises(duals.ProofError, match="no potential"):
        duals.verify(np.array([0, duals.INFINITE, 0]), tails, heads, np.array([0, 0, 0]))


def test_same_input_and_seed_give_the_same_proposals() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, (80, 20))  # few values: ties everywhere
    inst = make(a, a, capacity=[int(c) for c in rng.integers(1, 4, 20)])
    for seed in (0, 5):
        options = Options(seed=seed, candidates_per_mentee=3)
        first = solver.solve(inst.problem, options).proposals
        assert all(solver.solve(inst.problem, options).proposals == first for _ in range(2))
    # All scores equal: every assignment is optimal, and still the same one each time.
    flat = np.full((12, 6), 2)
    inst = make(flat, flat, capacity=[1] * 6)
    runs = {
        tuple((p.mentee, p.mentor) for p in solver.solve(inst.problem).proposals) for _ in "xyz"
    }
    assert len(runs) == 1
    by_seed = {
        tuple((p.mentee, p.mentor) for p in solver.solve(inst.problem, Options(seed=s)).proposals)
        for s in range(8)
    }
    assert len(by_seed) > 1  # the seed, not the data order, decides among equal optima


def test_maximise_matched_trades_score_for_more_tandems() -> None:
    # Mentee 0 fits mentor 0 best; mentee 1 fits only mentor 0. Both matched means
    # mentee 0 takes mentor 1, at a lower total.
    a = np.array([[4, 1], [1, 0]])
    mask = np.array([[True, True], [True, False]])
    inst = make(a, a, mask, capacity=[1, 1])
    plain = solver.solve(inst.problem)
    most = solver.solve(inst.problem, Options(maximise_matched=True))
    assert (plain.matched, plain.total_score) == (1, SCALE)
    assert (most.matched, most.total_score) == (2, SCALE // 2)
    assert solve_dense(inst.problem, maximise_matched=True).total == SCALE // 2


def test_unmatched_reasons() -> None:
    a = np.array(
        [
            [4, 4, 4, 4, 4],  # mentee 0: allowed with nobody
            [3, 0, 0, 0, 0],  # mentee 1: only mentor 0, taken by mentee 2
            [4, 0, 0, 0, 0],  # mentee 2: mentor 0
            [0, 4, 0, 0, 0],  # mentee 3: only mentor 1, who has no places
            [0, 0, 0, 4, 1],  # mentee 4: mentor 3
        ]
    )
    mask = np.array(
        [
            [False] * 5,
            [True, False, False, False, False],
            [True, False, False, False, False],
            [False, True, False, False, False],
            [False, False, False, True, True],
        ]
    )
    inst = make(a, a, mask, capacity=[1, 0, 2, 2, 1])
    solution = solver.solve(inst.problem)
    check_valid(inst, solution)
    assert {(u.index, u.reason) for u in solution.unmatched_mentees} == {
        (0, UnmatchedReason.NO_ALLOWED_MENTOR),
        (1, UnmatchedReason.CAPACITY_EXHAUSTED),
        (3, UnmatchedReason.CAPACITY_EXHAUSTED),
    }
    assert {(u.index, u.reason) for u in solution.unmatched_mentors} == {
        (1, UnmatchedReason.NO_PLACES),
        (2, UnmatchedReason.NO_ALLOWED_MENTEE),
        (3, UnmatchedReason.NOT_CHOSEN),  # one of two places left
        (4, UnmatchedReason.NOT_CHOSEN),
    }


def test_locks_stay_even_against_a_filter_and_use_up_places() -> None:
    a = np.array([[4, 0], [0, 4], [4, 4]])
    mask = np.array([[True, True], [False, True], [True, True]])
    inst = make(a, a, mask, capacity=[1, 1], locked={(1, 0)})
    solution = solver.solve(inst.problem)
    check_valid(inst, solution)
    locked = [p for p in solution.proposals if p.locked]
    assert [(p.mentee, p.mentor, p.score) for p in locked] == [(1, 0, 0)]
    assert all(p.mentor != 0 for p in solution.proposals if not p.locked)
    assert solution.total_score == solve_dense(inst.problem).total == 0 + SCALE


@pytest.mark.parametrize(
    ("locked", "forbidden", "capacity", "message"),
    [
        ({(0, 0), (0, 1)}, set(), [1, 1], "locked to two mentors"),
        ({(0, 0), (1, 0)}, set(), [1, 1], "2 locked mentees but capacity 1"),
        ({(0, 0)}, {(0, 0)}, [1, 1], "both locked and forbidden"),
        ({(0, 5)}, set(), [1, 1], "names no mentee/mentor"),
        (set(), set(), [1, -1], "negative capacity"),
    ],
)
def test_contradictory_locks_are_refused(
    locked: set, forbidden: set, capacity: list[int], message: str
) -> None:
    a = np.full((2, 2), 2)
    inst = make(a, a, capacity=capacity, locked=locked, forbidden=forbidden)
    with pytest.raises(ValueError, match=message):
        solver.solve(inst.problem)


class BadShape(Criterion):
    id, label, kind = "bad_shape", "bad_shape", CriterionKind.SCORE

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return np.zeros((len(mentees) + 1, len(mentors)), dtype=np.float32)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return ""


class OutOfRange(BadShape):
    id = "out_of_range"

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return np.full((len(mentees), len(mentors)), 1.5, dtype=np.float32)


class NotANumber(BadShape):
    id = "nan"

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return np.full((len(mentees), len(mentors)), np.nan, dtype=np.float32)


class OneNotANumber(BadShape):
    id = "one_nan"  # among valid scores: the check must not skip it

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        scores = np.full((len(mentees), len(mentors)), 0.5, dtype=np.float32)
        scores[-1, -1] = np.nan
        return scores


class FactoredPastItsTable(BadShape):
    id = "factored_past_table"

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        rows = np.zeros(len(mentees), dtype=np.intp)
        cols = np.arange(len(mentors), dtype=np.intp)  # the table has one column only
        return Factored(np.full((1, 1), 0.5, dtype=np.float32), rows, cols)


class FactoredOutOfRange(BadShape):
    id = "factored_out_of_range"

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        zeros = np.zeros(len(mentees), dtype=np.intp), np.zeros(len(mentors), dtype=np.intp)
        return Factored(np.full((1, 1), np.nan, dtype=np.float32), *zeros)


class FactoredFilter(BadShape):
    id, kind = "factored_filter", CriterionKind.FILTER

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> Factored:
        zeros = np.zeros(len(mentees), dtype=np.intp), np.zeros(len(mentors), dtype=np.intp)
        return Factored(np.ones((1, 1), dtype=np.float32), *zeros)


class ZeroWeight(BadShape):
    id, weight = "zero_weight", 0.0

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return np.zeros((len(mentees), len(mentors)), dtype=np.float32)


@pytest.mark.parametrize(
    "criterion",
    [
        BadShape(),
        OutOfRange(),
        NotANumber(),
        OneNotANumber(),
        FactoredPastItsTable(),
        FactoredOutOfRange(),
        FactoredFilter(),
        ZeroWeight(),
    ],
)
def test_a_broken_criterion_is_named(criterion: Criterion) -> None:
    problem = make(np.full((3, 2), 2)).problem
    broken = Problem(
        problem.mentees, problem.mentors, problem.vocabulary, (*problem.criteria, criterion)
    )
    with pytest.raises(CriterionError, match=criterion.id) as caught:
        solver.solve(broken)
    assert caught.value.criterion_id == criterion.id


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 3), (3, 0)])
def test_empty_sides(n: int, m: int) -> None:
    inst = make(np.zeros((n, m), dtype=np.int64), capacity=[2] * m)
    solution = solver.solve(inst.problem, Options(maximise_matched=True))
    assert solution.proposals == [] and solution.total_score == 0
    assert [u.reason for u in solution.unmatched_mentees] == [UnmatchedReason.NO_ALLOWED_MENTOR] * n
    assert [u.reason for u in solution.unmatched_mentors] == [UnmatchedReason.NO_ALLOWED_MENTEE] * m
    assert solution.proof["proven"] is True
    assert solve_dense(inst.problem).total == 0


def test_no_score_criteria_scores_every_allowed_pair_zero() -> None:
    inst = make(np.full((3, 2), 2))
    only_filter = Problem(
        inst.problem.mentees,
        inst.problem.mentors,
        inst.problem.vocabulary,
        (inst.problem.criteria[2],),
    )
    solution = solver.solve(only_filter)
    assert solution.matched == 2 and solution.total_score == 0
    assert all(p.parts == {} for p in solution.proposals)


def test_progress_goes_from_scoring_to_checking() -> None:
    seen: list[tuple[float, str]] = []
    solver.solve(
        _contested().problem,
        Options(candidates_per_mentee=1),
        lambda fraction, stage: seen.append((fraction, stage)),
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(f <= solver.SCORING_SHARE for f, stage in seen if stage == "scoring")
    assert {stage for _, stage in seen} == {"scoring", "solving", "checking optimality"}


def test_stable_mode_is_delegated() -> None:
    solution = solver.solve(_contested().problem, Options(mode=Mode.STABLE))
    assert solution.blocking_pairs == 0


def test_score_rows_and_score_pairs_agree_with_the_weighted_mean() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.integers(0, 5, (7, 5)), rng.integers(0, 5, (7, 5))
    inst = make(a, b, rng.random((7, 5)) < 0.6, forbidden={(2, 3)})
    scored = score_rows(inst.problem, [4, 2])
    assert scored.rows.tolist() == [4, 2]
    assert (scored.allowed == inst.allowed[[4, 2]]).all()
    assert (scored.score == np.where(inst.allowed[[4, 2]], inst.raw[[4, 2]], 0)).all()
    assert set(scored.parts) == {"a", "b"}
    assert np.allclose(scored.parts["b"], b[[4, 2]] / 4)
    mentee, mentor = np.array([6, 0, 2, 6]), np.array([1, 4, 3, 0])
    pairs = score_pairs(inst.problem, mentee, mentor)
    assert (pairs.score == inst.raw[mentee, mentor]).all()
    assert (pairs.allowed == inst.allowed[mentee, mentor]).all()
    assert np.allclose(pairs.parts[:, 0], a[mentee, mentor] / 4)
    with pytest.raises(ValueError, match="out of range"):
        score_rows(inst.problem, [7])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.sampled_from([5, 40, 1100, 3000]),
    k=st.integers(1, 12),
    levels=st.sampled_from([3, 1000, SCALE]),
)
def test_row_top_keeps_every_pair_above_its_bound(seed: int, m: int, k: int, levels: int) -> None:
    rng = np.random.default_rng(seed)
    key = rng.integers(-1, levels, (6, m)).astype(np.int32)
    key[rng.random((6, m)) < 0.3] = -1
    rows, cols, values, bound = row_top(key, k, -1)
    kept = np.zeros_like(key, dtype=bool)
    kept[rows, cols] = True
    assert (values == key[rows, cols]).all()
    for r in range(6):
        usable = key[r] >= 0
        count = kept[r].sum()
        assert count == min(usable.sum(), count) and count <= 2 * k
        assert count >= min(k, usable.sum())
        left = usable & ~kept[r]
        assert (key[r][left] <= bound[r]).all()  # the bound covers everything left out
        assert (key[r][kept[r]] >= (key[r][left].max() if left.any() else -1)).all()
        if not left.any():
            assert bound[r] == -1 or bound[r] < key[r][kept[r]].min()


@pytest.mark.parametrize("kind", ["exact", "packed", "uint8"])
def test_score_cache_bounds_every_score(kind: str) -> None:
    rng = np.random.default_rng(2)
    key = rng.integers(-1, SCALE + 1, (50, 41)).astype(np.int32)
    key[0, :3] = [0, SCALE, -1]
    cache = ScoreCache.empty(50, 41, kind)
    cache.store(0, key)
    bound = cache.bounds(0, 50)
    assert ((bound < 0) == (key < 0)).all()
    assert (bound >= key).all()
    assert (bound - key).max() < max(cache.step, 1)
    if cache.exact:
        assert (bound == key).all()
    rows, cols = np.nonzero(key >= 0)
    assert (cache.values_at(rows, cols) == bound[rows, cols]).all()


@pytest.mark.parametrize("kind", ["exact", "packed", "uint8"])
def test_score_cache_coarse_codes_bound_every_score(kind: str) -> None:
    # The proof's scan relies on score <= code * step - 1 (code: stored, plus 1 if exact)
    # and on unusable pairs holding cache.unusable.
    rng = np.random.default_rng(3)
    key = rng.integers(-1, SCALE + 1, (40, 37)).astype(np.int32)
    key[0, :4] = [0, SCALE, -1, 15]
    cache = ScoreCache.empty(40, 37, kind)
    cache.store(0, key)
    codes = cache.coarse(0, 40).astype(np.int64) + (1 if kind == "exact" else 0)
    usable = key >= 0
    assert ((cache.coarse(0, 40) <= cache.unusable) == ~usable).all()
    assert (key[usable] <= codes[usable] * cache.step - 1).all()


def test_dense_refuses_what_does_not_fit() -> None:
    inst = make(np.full((30, 10), 2), capacity=[3] * 10)
    with pytest.raises(DenseTooLarge, match="limit"):
        solve_dense(inst.problem, max_cells=100)
    assert solve_dense(inst.problem).matched == 30


def test_candidates_bound_what_they_leave_out() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 5, (30, 12))
    inst = make(a, a, rng.random((30, 12)) < 0.8, capacity=[2] * 11 + [0], locked={(3, 4)})
    found = scoring.candidates(inst.problem, 3)
    usable = inst.allowed.copy()
    usable[:, 11] = False  # no places
    usable[3] = False  # locked
    kept = np.zeros_like(usable)
    kept[found.mentee, found.mentor] = True
    assert not (kept & ~usable).any()
    for i in range(30):
        left = usable[i] & ~kept[i]
        assert (inst.raw[i][left] <= found.pruned_best[i]).all()
    assert found.pruned == int(usable.sum() - kept.sum())
    assert (found.score == inst.raw[found.mentee, found.mentor]).all()
    assert found.locked_score.tolist() == [inst.raw[3, 4]]


class BlockDependent(MatrixScore):
    """Answers a few millionths differently depending on the block it is given, as
    float32 maths on differently shaped arrays may: the proof must not trip on it."""

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        wobble = np.float32(3e-6 * (len(mentees) % 3 + len(mentors) % 2))
        return super().evaluate(mentees, mentors, vocabulary) + wobble


@pytest.mark.parametrize("cache", CACHES)
def test_a_block_dependent_criterion_does_not_break_the_proof(cache: str | None) -> None:
    rng = np.random.default_rng(4)
    n, m = 60, 12
    values = (rng.integers(1, 4, (n, m)) / 4).astype(np.float32)
    inst = make(np.zeros((n, m), dtype=np.int64), capacity=[2] * m)
    problem = inst.problem
    wobbly = Problem(
        problem.mentees,
        problem.mentors,
        problem.vocabulary,
        (BlockDependent("wobbly", values), problem.criteria[2]),
    )
    solution = solver.solve(wobbly, Options(candidates_per_mentee=1), cache=cache)
    assert solution.proof["proven"] is True
    assert abs(solution.total_score - solve_dense(wobbly).total) <= 10 * n
    if cache in ("exact", "packed"):
        assert solution.total_score == solve_dense(wobbly).total  # no second opinions


def test_two_threads_score_the_same_candidates() -> None:
    rng = np.random.default_rng(8)
    a = rng.integers(0, 5, (90, 30))
    inst = make(a, a, rng.random((90, 30)) < 0.8)
    one = scoring.candidates(inst.problem, 4, pairs=300)
    two = scoring.candidates(inst.problem, 4, pairs=300, threads=2)
    for name in ("mentee", "mentor", "score", "parts", "pruned_best", "row_best"):
        assert np.array_equal(getattr(one, name), getattr(two, name))


def test_cache_kind_follows_memory() -> None:
    assert solver.cache_kind(10_000 * 3_000) == "exact"
    assert solver.cache_kind(50_000 * 15_000) == "packed"
    assert solver.cache_kind(2 * 10**9) == "uint8"
    assert solver.cache_kind(4 * 10**9) is None
