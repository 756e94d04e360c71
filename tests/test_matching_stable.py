"""The stable mode: deferred acceptance held against brute force on small random instances."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.matching.criteria import SCALE, Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary, encode
from core.matching.problem import Mode, Options, Pair, Problem, UnmatchedReason
from core.matching.scoring import lock_plan
from core.matching.solver import solve
from core.matching.stable import TieOrder, count_blocking_pairs, solve_stable


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

    def __init__(self, values: np.ndarray) -> None:
        self.id, self.label, self.values = "filter", "filter", values

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return self.values[np.ix_(_row(mentees), _row(mentors))]

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return "filter"


@dataclass
class Instance:
    problem: Problem
    score: np.ndarray  # int millionths, as the scorer must compute them
    allowed: np.ndarray  # filter and not forbidden
    raw: np.ndarray  # scores whatever the filters say: what a locked pair keeps


def make_instance(
    quarters: np.ndarray,
    mask: np.ndarray,
    capacity: list[int],
    locked: set[tuple[int, int]] = frozenset(),
    forbidden: set[tuple[int, int]] = frozenset(),
) -> Instance:
    n, _m = quarters.shape
    values = (quarters / 4).astype(np.float32)  # quarters are exact in float32
    mentees = [Person(id=f"e{i}") for i in range(n)]
    mentors = [Person(id=f"r{j}", capacity=c) for j, c in enumerate(capacity)]
    mentee_side, mentor_side, vocabulary = encode(mentees, mentors)
    problem = Problem(
        mentee_side,
        mentor_side,
        vocabulary,
        (MatrixScore("fit", values), MatrixFilter(mask)),
        locked=frozenset(Pair(i, j) for i, j in locked),
        forbidden=frozenset(Pair(i, j) for i, j in forbidden),
    )
    allowed = mask.copy()
    for i, j in forbidden:
        allowed[i, j] = False
    raw = (quarters * (SCALE // 4)).astype(np.int64)
    return Instance(problem, np.where(allowed, raw, 0), allowed, raw)


# -- brute force -------------------------------------------------------------------


def keys(inst: Instance, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' preference keys for every pair, the slow way (one pair at a time)."""
    n, m = inst.score.shape
    ties = TieOrder.for_problem(seed, n, m)
    mentee = np.zeros((n, m), dtype=np.int64)
    mentor = np.zeros((n, m), dtype=np.int64)
    for i, j in itertools.product(range(n), range(m)):
        s = int(inst.score[i, j])
        mentee[i, j] = s * ties.p + (int(ties.a[i]) * j + int(ties.b[i])) % ties.p
        mentor[i, j] = s * ties.q + (int(ties.c[j]) * i + int(ties.d[j])) % ties.q
    return mentee, mentor


def market(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Each mentee's locked mentor (-1: none), and each mentor's places the locks leave."""
    plan = lock_plan(problem)
    locked = np.full(len(problem.mentees), -1, dtype=np.int64)
    locked[plan.mentees] = plan.mentors
    return locked, plan.places


def brute_blocking(inst: Instance, matched: list[int], seed: int) -> int:
    n, m = inst.score.shape
    mentee_key, mentor_key = keys(inst, seed)
    locked, places = market(inst.problem)
    count = 0
    for i, j in itertools.product(range(n), range(m)):
        if locked[i] >= 0 or not inst.allowed[i, j] or places[j] <= 0 or matched[i] == j:
            continue
        mine = matched[i]
        if mine >= 0 and mentee_key[i, j] < mentee_key[i, mine]:
            continue
        held = [k for k in range(n) if matched[k] == j and locked[k] < 0]
        if len(held) < places[j] or any(mentor_key[i, j] > mentor_key[k, j] for k in held):
            count += 1
    return count


def all_market_matchings(inst: Instance):
    """Every matching of the market that respects filters, exclusions and places."""
    n, _m = inst.score.shape
    locked, places = market(inst.problem)
    options = [
        [int(locked[i])]
        if locked[i] >= 0
        else [-1, *(j for j in np.flatnonzero(inst.allowed[i]).tolist() if places[j] > 0)]
        for i in range(n)
    ]
    for choice in itertools.product(*options):
        taken = [j for i, j in enumerate(choice) if j >= 0 and locked[i] < 0]
        if all(taken.count(j) <= places[j] for j in set(taken)):
            yield list(choice)


def as_list(solution, n: int) -> list[int]:
    matched = [-1] * n
    for p in solution.proposals:
        matched[p.mentee] = p.mentor
    return matched


# -- strategies ----------------------------------------------------------------------


@st.composite
def instances(draw, max_n: int = 6, max_m: int = 4) -> Instance:
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    flat = st.lists(st.integers(0, 4), min_size=n * m, max_size=n * m)
    quarters = np.array(draw(flat), dtype=np.int64).reshape(n, m)
    bits = st.lists(st.booleans(), min_size=n * m, max_size=n * m)
    mask = np.array(draw(bits), dtype=bool).reshape(n, m) | draw(st.booleans())
    capacity = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, m - 1))
    forbidden = draw(st.sets(pairs, max_size=3))
    locked: dict[int, int] = {}
    for i, j in draw(st.lists(pairs, max_size=2)):
        # Locks within capacity: contradictory locks are refused (their own test).
        if i not in locked and list(locked.values()).count(j) < capacity[j]:
            locked[i] = j
    return make_instance(quarters, mask, capacity, set(locked.items()), forbidden - locked.items())


FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- properties ----------------------------------------------------------------------


@FAST
@given(inst=instances(), seed=st.integers(0, 2**31), k=st.integers(0, 3))
def test_no_blocking_pair_and_every_rule_kept(inst: Instance, seed: int, k: int) -> None:
    problem = inst.problem
    n, m = inst.score.shape
    solution = solve_stable(problem, Options(mode=Mode.STABLE, seed=seed, candidates_per_mentee=k))
    matched = as_list(solution, n)

    assert solution.blocking_pairs == 0
    assert brute_blocking(inst, matched, seed) == 0
    assert solution.proof["stable"] is True

    capacity = problem.mentors["capacity"]
    for j in range(m):
        assert matched.count(j) <= capacity[j]
    locks = {(p.mentee, p.mentor) for p in problem.locked}
    for p in solution.proposals:
        if (p.mentee, p.mentor) in locks:
            assert p.locked
            assert p.score == inst.raw[p.mentee, p.mentor]
        else:
            assert not p.locked
            assert inst.allowed[p.mentee, p.mentor], "a filter or exclusion was ignored"
            assert p.score == inst.score[p.mentee, p.mentor]
        assert set(p.parts) == {"fit"}
    assert locks <= {(p.mentee, p.mentor) for p in solution.proposals}
    assert solution.total_score == sum(p.score for p in solution.proposals)


@FAST
@given(inst=instances(max_n=5, max_m=3), seed=st.integers(0, 2**31))
def test_mentee_optimal_among_all_stable_matchings(inst: Instance, seed: int) -> None:
    n, _m = inst.score.shape
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed))
    got = as_list(solution, n)
    mentee_key, _ = keys(inst, seed)

    def rank(i: int, j: int) -> int:
        return -1 if j < 0 else int(mentee_key[i, j])

    stable = [mt for mt in all_market_matchings(inst) if brute_blocking(inst, mt, seed) == 0]
    assert got in stable
    for other in stable:
        assert all(rank(i, got[i]) >= rank(i, other[i]) for i in range(n))


@FAST
@given(inst=instances(), seed=st.integers(0, 2**31), data=st.data())
def test_blocking_count_agrees_with_brute_force_on_any_matching(
    inst: Instance, seed: int, data: st.DataObject
) -> None:
    matchings = list(itertools.islice(all_market_matchings(inst), 200))
    assume(matchings)
    matched = data.draw(st.sampled_from(matchings))
    assert count_blocking_pairs(inst.problem, matched, seed) == brute_blocking(inst, matched, seed)


@FAST
@given(inst=instances(), seed=st.integers(0, 2**31))
def test_same_seed_same_matching_whatever_the_list_length(inst: Instance, seed: int) -> None:
    runs = [
        solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed, candidates_per_mentee=k))
        for k in (1, 1, 2, 50)
    ]
    first = [(p.mentee, p.mentor, p.score) for p in runs[0].proposals]
    for run in runs[1:]:
        assert [(p.mentee, p.mentor, p.score) for p in run.proposals] == first
        assert run.unmatched_mentees == runs[0].unmatched_mentees
        assert run.unmatched_mentors == runs[0].unmatched_mentors


@FAST
@given(inst=instances(), seed=st.integers(0, 2**31))
def test_stability_costs_score_never_gains_it(inst: Instance, seed: int) -> None:
    stable = solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed))
    best = solve(inst.problem, Options(seed=seed))
    most = solve(inst.problem, Options(seed=seed, maximise_matched=True))
    assert stable.total_score <= best.total_score
    assert stable.matched <= most.matched


# -- examples ------------------------------------------------------------------------


def test_ties_are_broken_by_the_seed_and_only_by_it() -> None:
    # Everyone scores the same with everyone: who gets whom is up to the seed alone.
    inst = make_instance(np.full((6, 3), 2), np.ones((6, 3), bool), [1, 1, 1])
    outcomes = set()
    for seed in range(12):
        once = as_list(solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed)), 6)
        again = as_list(solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed)), 6)
        assert once == again
        assert sum(j >= 0 for j in once) == 3
        assert brute_blocking(inst, once, seed) == 0
        outcomes.add(tuple(once))
    assert len(outcomes) > 1, "the seed should decide between equal scores"


def test_scores_beat_the_seed() -> None:
    # Mentee 0 is everyone's favourite and likes mentor 1 best: no seed changes that.
    quarters = np.array([[3, 4], [1, 1], [2, 2]])
    inst = make_instance(quarters, np.ones((3, 2), bool), [1, 1])
    for seed in range(8):
        got = as_list(solve_stable(inst.problem, Options(mode=Mode.STABLE, seed=seed)), 3)
        assert got == [1, -1, 0]


def test_mentee_proposing_differs_from_the_best_total() -> None:
    # Stability, not the total: 0->1, 1->0 would sum higher, but (0, 0) would block it.
    quarters = np.array([[4, 3], [2, 0]])
    inst = make_instance(quarters, np.ones((2, 2), bool), [1, 1])
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
    assert as_list(solution, 2) == [0, 1]
    assert solution.total_score == SCALE
    assert solution.blocking_pairs == 0


def test_capacity_several_mentees_and_reasons() -> None:
    quarters = np.array([[4, 1, 0], [3, 1, 0], [2, 1, 0], [1, 4, 0]])
    mask = np.ones((4, 3), bool)
    mask[:, 2] = False  # nobody may meet mentor 2
    mask[3, :] = False  # mentee 3 may meet nobody
    inst = make_instance(quarters, mask, [2, 0, 1])
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
    assert as_list(solution, 4) == [0, 0, -1, -1]
    reasons = {u.index: u.reason for u in solution.unmatched_mentees}
    assert reasons == {
        2: UnmatchedReason.CAPACITY_EXHAUSTED,
        3: UnmatchedReason.NO_ALLOWED_MENTOR,
    }
    mentors = {u.index: u.reason for u in solution.unmatched_mentors}
    assert mentors == {1: UnmatchedReason.NO_PLACES, 2: UnmatchedReason.NO_ALLOWED_MENTEE}


def test_unused_place_of_a_mentor_someone_may_meet_is_not_chosen() -> None:
    inst = make_instance(np.array([[4, 1]]), np.ones((1, 2), bool), [1, 1])
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
    assert [(u.index, u.reason) for u in solution.unmatched_mentors] == [
        (1, UnmatchedReason.NOT_CHOSEN)
    ]


def test_locks_stay_against_filters_and_take_places() -> None:
    quarters = np.array([[4, 0], [4, 0], [4, 3]])
    mask = np.ones((3, 2), bool)
    mask[0, 0] = False  # a lock outranks a filter: the coordinator decided
    inst = make_instance(quarters, mask, [2, 1], locked={(0, 0), (1, 0)})
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
    assert as_list(solution, 3) == [0, 0, 1]
    assert [p.locked for p in solution.proposals] == [True, True, False]
    assert solution.proposals[0].score == SCALE  # its score, though the filter says no
    assert solution.blocking_pairs == 0


@pytest.mark.parametrize(
    ("locked", "forbidden", "message"),
    [
        ({(0, 0), (0, 1)}, set(), "locked to two mentors"),
        ({(0, 0), (1, 0)}, set(), "capacity"),
        ({(0, 0)}, {(0, 0)}, "both locked and forbidden"),
    ],
)
def test_contradictory_locks_are_refused(locked, forbidden, message) -> None:
    inst = make_instance(np.ones((2, 2)), np.ones((2, 2), bool), [1, 1], locked, forbidden)
    with pytest.raises(ValueError, match=message):
        solve_stable(inst.problem, Options(mode=Mode.STABLE))


def test_forbidden_pair_is_never_proposed() -> None:
    inst = make_instance(np.array([[4, 1]]), np.ones((1, 2), bool), [1, 1], forbidden={(0, 0)})
    solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
    assert as_list(solution, 1) == [1]


def test_only_filters_every_allowed_pair_scores_zero() -> None:
    inst = make_instance(np.zeros((5, 3)), np.ones((5, 3), bool), [2, 1, 1])
    problem = Problem(
        inst.problem.mentees, inst.problem.mentors, inst.problem.vocabulary,
        (MatrixFilter(np.ones((5, 3), bool)),),
    )  # fmt: skip
    solution = solve_stable(problem, Options(mode=Mode.STABLE, seed=4))
    assert solution.matched == 4 and solution.total_score == 0
    assert all(p.parts == {} for p in solution.proposals)
    assert brute_blocking(inst, as_list(solution, 5), 4) == 0


def test_empty_sides() -> None:
    for n, m in ((0, 2), (2, 0), (0, 0)):
        inst = make_instance(np.zeros((n, m)), np.ones((n, m), bool), [1] * m)
        solution = solve_stable(inst.problem, Options(mode=Mode.STABLE))
        assert solution.proposals == [] and solution.blocking_pairs == 0
        assert [u.reason for u in solution.unmatched_mentees] == [
            UnmatchedReason.NO_ALLOWED_MENTOR
        ] * n


def test_larger_instance_refilled_lists_still_stable() -> None:
    # Strongly correlated scores (everyone wants the same few mentors) make most
    # mentees run through short lists and be scored again.
    rng = np.random.default_rng(7)
    n, m = 300, 60
    quarters = np.clip((rng.random(m)[None, :] * 4 + rng.random((n, m))).round(), 0, 4)
    mask = rng.random((n, m)) < 0.8
    capacity = rng.integers(0, 4, m).tolist()
    inst = make_instance(quarters, mask, capacity)
    progress: list[tuple[float, str]] = []
    solution = solve_stable(
        inst.problem,
        Options(mode=Mode.STABLE, seed=3, candidates_per_mentee=2),
        lambda fraction, stage: progress.append((fraction, stage)),
    )
    assert solution.proof["rows_refilled"] > 0
    assert solution.blocking_pairs == 0
    assert solution.matched == min(sum(capacity), n) or solution.unmatched_mentees
    # An independent count, vectorised over all pairs.
    matched = np.array(as_list(solution, n))
    mentee_key, mentor_key = _vector_keys(inst, 3)
    assert _vector_blocking(inst, matched, mentee_key, mentor_key) == 0
    fractions = [f for f, _stage in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def _vector_keys(inst: Instance, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n, m = inst.score.shape
    ties = TieOrder.for_problem(seed, n, m)
    i, j = np.arange(n)[:, None], np.arange(m)[None, :]
    return ties.mentee_key(i, j, inst.score), ties.mentor_key(i, j, inst.score)


def _vector_blocking(inst, matched, mentee_key, mentor_key) -> int:
    n, m = inst.score.shape
    places = inst.problem.mentors["capacity"]
    own = np.where(matched >= 0, mentee_key[np.arange(n), np.maximum(matched, 0)], -1)
    worst = np.array(
        [mentor_key[matched == j, j].min() if (matched == j).any() else np.inf for j in range(m)]
    )
    has_place = np.bincount(matched[matched >= 0], minlength=m) < places
    allowed = inst.allowed & (places > 0)[None, :]
    rather = allowed & (mentee_key > own[:, None])
    return int((rather & ((mentor_key > worst[None, :]) | has_place[None, :])).sum())


def test_the_solver_hands_the_stable_mode_over() -> None:
    rng = np.random.default_rng(11)
    inst = make_instance(rng.integers(0, 5, (8, 4)), rng.random((8, 4)) < 0.8, [2, 1, 0, 3])
    options = Options(mode=Mode.STABLE, seed=5)
    via_solver, direct = solve(inst.problem, options), solve_stable(inst.problem, options)
    assert via_solver.proposals == direct.proposals
    assert via_solver.blocking_pairs == 0


# -- the benchmark's own interface (bench/matching.py) -----------------------------------

BENCH = Path(__file__).resolve().parent.parent / "bench" / "matching.py"


def test_bench_prints_one_json_object_per_size_with_the_dense_check() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "80x30,40x12", "--json", "--seed", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["size"] for line in lines] == ["80x30", "40x12"]
    for line in lines:
        keys = {"score_seconds", "solve_seconds", "peak_mb", "total_score", "matched"}
        assert keys <= set(line)
        assert line["peak_mb"] > 0 and line["matched"] > 0
        assert line["optimal_equal"] is True and line["dense_total"] == line["total_score"]
        assert len(line["criteria"]) >= 8  # the eight built-in plugins (one brings two)


def test_bench_cohort_is_seeded_and_stable_mode_has_no_blocking_pair() -> None:
    spec = importlib.util.spec_from_file_location("bench_matching", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    assert bench.cohort(50, 20, 7) == bench.cohort(50, 20, 7)
    assert bench.cohort(50, 20, 7) != bench.cohort(50, 20, 8)
    result = bench.run_size(150, 50, 2, Mode.STABLE, maximise_matched=False)
    assert result["blocking_pairs"] == 0 and result["proof"]["stable"] is True
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "10by3"])
