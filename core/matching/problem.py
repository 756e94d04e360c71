"""A matching problem and its solution, as every solver, page and command sees them.

Indices, not ids: ``mentee`` and ``mentor`` are row numbers of ``Problem.mentees`` and
``Problem.mentors``; callers map them back through ``Side.ids``. Scores are integers
in millionths (:data:`~core.matching.criteria.SCALE`) so that totals compare exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from core.matching.criteria import Criterion
from core.matching.features import Side, Vocabulary

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


class Mode(StrEnum):
    OPTIMAL = "optimal"  # maximise the total score (optionally the matched count first)
    STABLE = "stable"  # mentee-proposing deferred acceptance: no blocking pair


class UnmatchedReason(StrEnum):
    NO_ALLOWED_MENTOR = "no_allowed_mentor"  # every mentor is excluded by a filter or forbidden
    CAPACITY_EXHAUSTED = "capacity_exhausted"  # allowed mentors exist, but their places went
    NOT_CHOSEN = "not_chosen"  # a mentor with places left whom no better total needed
    NO_ALLOWED_MENTEE = "no_allowed_mentee"  # a mentor no mentee is allowed with
    NO_PLACES = "no_places"  # a mentor with no capacity left


@dataclass(frozen=True)
class Pair:
    mentee: int
    mentor: int


@dataclass(frozen=True)
class Problem:
    mentees: Side
    mentors: Side  # the ``capacity`` column: places left in this run
    vocabulary: Vocabulary
    criteria: tuple[Criterion, ...]
    locked: frozenset[Pair] = frozenset()  # stay matched, whatever the scores
    forbidden: frozenset[Pair] = frozenset()  # never matched


@dataclass(frozen=True)
class Options:
    mode: Mode = Mode.OPTIMAL
    maximise_matched: bool = False  # first the number of mentees matched, then the score
    seed: int = 0  # breaks ties between equal scores; same input and seed, same result
    # Candidates kept per mentee before the optimality check adds any back; 0: automatic.
    candidates_per_mentee: int = 0


@dataclass(frozen=True)
class Proposal:
    mentee: int
    mentor: int
    score: int  # millionths
    parts: dict[str, float]  # criterion id -> its score in [0, 1] (score criteria only)
    locked: bool = False


@dataclass(frozen=True)
class Unmatched:
    index: int
    reason: UnmatchedReason


@dataclass
class Solution:
    proposals: list[Proposal]
    unmatched_mentees: list[Unmatched]
    unmatched_mentors: list[Unmatched]  # mentors with places left, and why
    total_score: int  # sum of the proposals' scores, millionths
    score_seconds: float = 0.0
    solve_seconds: float = 0.0
    # How optimality was shown (optimal mode): pairs kept and pruned, rounds of
    # adding pairs back, the largest reduced-cost violation left (0 when proven).
    proof: dict[str, float | int | bool] = field(default_factory=dict)
    blocking_pairs: int | None = None  # stable mode: pairs that would rather be together

    @property
    def matched(self) -> int:
        return len(self.proposals)
