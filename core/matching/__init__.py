"""Matching: the best set of tandems for a cohort, under each tenant's own criteria.

A map of the package:

* :mod:`~core.matching.features` — people as :class:`Person` records and as numpy columns;
* :mod:`~core.matching.criteria` — the :class:`Criterion` that plugins contribute
  (``register_matching_criteria``): filters and weighted scores over whole arrays;
* :mod:`~core.matching.scoring` — criteria over all pairs, block by block, keeping
  each mentee's best candidates;
* :mod:`~core.matching.solver` — the provably optimal assignment (min-cost flow on the
  candidate graph, with a dual check that no pruned pair could improve it);
* :mod:`~core.matching.stable` — the stable mode (mentee-proposing deferred acceptance);
* :mod:`~core.matching.instance` — the instance file format of ``tandem match solve``;
* :mod:`~core.matching.candidates` — a cohort's accepted applications as people;
* models, services, jobs, controllers and api — runs, proposals, locks and pages.
"""
