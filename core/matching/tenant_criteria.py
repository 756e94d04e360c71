"""A tenant's matching criteria: what its enabled plugins contribute, in one stable order.

Runs, self-match suggestions, ``tandem match run`` and instance files
(:mod:`core.matching.instance`, through a snapshot whose plugin settings are the
file's ``criteria``) all take their criteria from :func:`criteria_for`, so that a
tenant's disabled plugins have no say anywhere.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable, Mapping

from core.matching.criteria import Criterion, CriterionKind
from core.pluginhost.manager import PluginHost
from core.tenancy.snapshot import TenantSnapshot


def criteria_for(
    plugins: PluginHost,
    tenant: TenantSnapshot,
    weights: Mapping[str, float] | None = None,
) -> tuple[Criterion, ...]:
    """The criteria of ``tenant``'s enabled plugins, sorted by id.

    ``weights`` replaces the weights of score criteria for a what-if run; the
    tenant's settings stay as they are. Raises ValueError for two criteria with one
    id, and for a weight that names no score criterion or is not a positive number.
    """
    answers = plugins.hooks_for(tenant).register_matching_criteria(tenant=tenant)
    criteria = sorted(_flatten(answers), key=lambda criterion: criterion.id)
    duplicates = sorted(id_ for id_, n in Counter(c.id for c in criteria).items() if n > 1)
    if duplicates:
        raise ValueError(
            f"matching criteria with the same id from several plugins: {', '.join(duplicates)}"
        )
    if weights:
        criteria = _reweighted(criteria, weights)
    return tuple(criteria)


def _flatten(answers: Iterable[Iterable[Criterion] | None]) -> list[Criterion]:
    criteria: list[Criterion] = []
    for answer in answers:
        for criterion in answer or ():
            if not isinstance(criterion, Criterion):
                raise TypeError(
                    f"register_matching_criteria returned {criterion!r}, not a Criterion"
                )
            criteria.append(criterion)
    return criteria


def _reweighted(criteria: list[Criterion], weights: Mapping[str, float]) -> list[Criterion]:
    scores = {c.id for c in criteria if c.kind is CriterionKind.SCORE}
    unknown = sorted(set(weights) - scores)
    if unknown:
        known = ", ".join(sorted(scores)) or "none"
        raise ValueError(
            f"no score criterion {', '.join(map(repr, unknown))} to weigh (score criteria: {known})"
        )
    for criterion_id, weight in sorted(weights.items()):
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"weight of {criterion_id!r} must be a number, not {weight!r}")
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"weight of {criterion_id!r} must be greater than 0, not {weight}")
    changed: list[Criterion] = []
    for criterion in criteria:
        if criterion.id in weights:
            # Plugins may hand out the same object to every run: a what-if weight must
            # not leak into the tenant's next ordinary run.
            criterion = copy.copy(criterion)
            criterion.weight = float(weights[criterion.id])
        changed.append(criterion)
    return changed
