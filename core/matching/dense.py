"""The dense reference: every pair scored, mentors expanded, SciPy's assignment.

Independent of the candidate graph, the flow and the proof, it is what tests and the
benchmark compare :func:`core.matching.solver.solve` with. Each mentor becomes one
column per place left; each free mentee also gets a "stay unmatched" column (there
are as many as mentees, so everyone can take one). Matching costs ``-score``; staying
costs 0, or ``BIG`` when the number matched comes first — ``BIG`` exceeds any total
score, so the lexicographic order is exact in integers, as in the solver. Disallowed
pairs cost infinity, which SciPy reads as "never".

The cost matrix is ``free mentees x (places + free mentees)`` float64: 10k x 3k is
about 1.5 GB, so sizes beyond ``max_cells`` are refused rather than swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from core.matching.criteria import SCALE
from core.matching.problem import Problem
from core.matching.scoring import iter_blocks, lock_plan

MAX_CELLS = 64_000_000  # float64: 512 MB for the cost matrix


class DenseTooLarge(ValueError):
    """The capacity-expanded matrix would not fit; the reference is for small sizes."""


@dataclass(frozen=True)
class DenseResult:
    total: int  # millionths, locked pairs included
    matched: int  # locked pairs included
    pairs: tuple[tuple[int, int], ...]  # (mentee, mentor), locked pairs included


def solve_dense(
    problem: Problem, maximise_matched: bool = False, max_cells: int = MAX_CELLS
) -> DenseResult:
    plan = lock_plan(problem)
    free = np.flatnonzero(plan.free)
    owner = np.repeat(np.arange(len(plan.places)), np.maximum(plan.places, 0))
    cells = len(free) * (len(owner) + len(free))
    if cells > max_cells:
        raise DenseTooLarge(
            f"dense reference needs {len(free)} x {len(owner) + len(free)} = {cells:,} cells "
            f"({cells * 8 / 2**30:.1f} GiB); the limit is {max_cells:,}"
        )
    n, m = len(problem.mentees), len(problem.mentors)
    score = np.zeros((n, m), dtype=np.int64)
    allowed = np.zeros((n, m), dtype=bool)
    for block in iter_blocks(problem, want_parts=False) if n and m else ():
        score[block.rows] = block.score
        allowed[block.rows] = True if block.allowed is None else block.allowed
    # A lock keeps its real score even where a filter would now exclude the pair.
    locked = score[plan.mentees, plan.mentors]
    score, allowed = score[free], allowed[free]
    big = SCALE * min(len(free), len(owner)) + 1 if maximise_matched else 0
    cost = np.empty((len(free), len(owner) + len(free)), dtype=np.float64)
    cost[:, : len(owner)] = np.where(allowed[:, owner], -score[:, owner], np.inf)
    cost[:, len(owner) :] = big
    pairs = [(int(i), int(j)) for i, j in zip(plan.mentees, plan.mentors, strict=True)]
    total = int(locked.sum())
    if len(free):
        rows, cols = linear_sum_assignment(cost)
        chosen = cols < len(owner)
        for r, c in zip(rows[chosen], cols[chosen], strict=True):
            if not allowed[r, owner[c]]:
                raise RuntimeError("dense reference chose a disallowed pair")
            pairs.append((int(free[r]), int(owner[c])))
            total += int(score[r, owner[c]])
    pairs.sort()
    return DenseResult(total=total, matched=len(pairs), pairs=tuple(pairs))
