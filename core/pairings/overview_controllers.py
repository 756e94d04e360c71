"""The cohort overview for coordinators: ``/admin/cohorts/<slug>`` and its JSON twin
``/api/v1/cohorts/<slug>/overview``.

Both show the figures of :func:`core.pairings.overview.cohort_overview` and answer only
the tenant's admins (403 for participants, 404 for a cohort of another tenant or one
that does not exist). The page draws two charts where a table of numbers is hard to
read — the application funnel by kind and the tandems by state — with
:mod:`core.web.charts`, and shows every figure as a table too.
"""

from __future__ import annotations

from typing import Annotated, Any

from babel.numbers import format_decimal, format_percent
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from msgspec import Meta, Struct

from core.applications import labels as application_labels
from core.applications.models import ApplicationKind, ApplicationStatus
from core.applications.services import find_cohort
from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity.guards import require_role
from core.mail.compose import format_date
from core.pairings.api import _spec
from core.pairings.lifecycle import PairingState
from core.pairings.messages import STATE_LABELS
from core.pairings.models import EmploymentOutcome
from core.pairings.overview import CohortOverview, cohort_overview
from core.programmes.controllers import STATUS_LABELS as COHORT_STATUS_LABELS
from core.programmes.services import cohort_status
from core.reference import occupations
from core.web.charts import Row, Series, bar_chart
from core.web.sites import current_tenant, request_context

# The same wording as the check-in pages (checkins/_labels.html, outcome_name).
OUTCOME_LABELS = {
    EmploymentOutcome.EMPLOYED_OWN_FIELD: N_("Employed in own field"),
    EmploymentOutcome.EMPLOYED_RELATED_FIELD: N_("Employed in a related field"),
    EmploymentOutcome.OTHER_WORK: N_("Other work"),
    EmploymentOutcome.IN_TRAINING: N_("In training or studies"),
    EmploymentOutcome.SEARCHING: N_("Still searching"),
}
FUNNEL_TITLE = N_("Applications by status")
FUNNEL_DESC = N_(
    "Applications to %(cohort)s by where they stand now, mentees and mentors side by side: "
    "%(figures)s."
)
PAIRINGS_TITLE = N_("Tandems by state")
PAIRINGS_DESC = N_("The %(count)s tandems of %(cohort)s by their current state: %(figures)s.")


def _number(value: float, locale: str) -> str:
    return format_decimal(round(value, 1), format="#,##0.#", locale=locale)


def funnel_chart(overview: CohortOverview, locale: str) -> Any:
    kinds = list(ApplicationKind)
    rows = [
        Row(
            gettext(locale, application_labels.STATUSES[status]),
            tuple(float(overview.funnel[kind][status]) for kind in kinds),
        )
        for status in ApplicationStatus
    ]
    series = [Series(gettext(locale, application_labels.KINDS[kind])) for kind in kinds]
    figures = "; ".join(
        f"{row.label}: "
        + ", ".join(f"{s.label} {int(v)}" for s, v in zip(series, row.values, strict=True))
        for row in rows
    )
    return bar_chart(
        chart_id="chart-funnel",
        title=gettext(locale, FUNNEL_TITLE),
        description=gettext(locale, FUNNEL_DESC, cohort=overview.cohort.name, figures=figures),
        series=series,
        rows=rows,
        number=lambda value: _number(value, locale),
    )


def pairings_chart(overview: CohortOverview, locale: str) -> Any:
    rows = [
        Row(gettext(locale, STATE_LABELS[state]), (float(overview.pairings[state]),))
        for state in PairingState
    ]
    figures = ", ".join(f"{row.label} {int(row.values[0])}" for row in rows)
    return bar_chart(
        chart_id="chart-pairings",
        title=gettext(locale, PAIRINGS_TITLE),
        description=gettext(
            locale,
            PAIRINGS_DESC,
            count=overview.tandems,
            cohort=overview.cohort.name,
            figures=figures,
        ),
        series=[Series(gettext(locale, PAIRINGS_TITLE))],
        rows=rows,
        number=lambda value: _number(value, locale),
    )


def overview_view(overview: CohortOverview, locale: str) -> dict[str, Any]:
    """What ``pairings/overview.html`` shows, every label in ``locale``."""
    cohort, hours, figures = overview.cohort, overview.hours, overview.outcomes
    share = figures.share_employed_in_field
    status = cohort_status(cohort)
    return {
        "cohort": {
            "slug": cohort.slug,
            "name": cohort.name,
            "programme": overview.programme.name,
            "status": gettext(locale, COHORT_STATUS_LABELS[status]),
            "starts_on": format_date(cohort.starts_on, locale),
            "ends_on": format_date(cohort.ends_on, locale),
        },
        "applications": overview.applications,
        "funnel": {
            "kinds": [
                {"kind": k.value, "label": gettext(locale, application_labels.KINDS[k])}
                for k in ApplicationKind
            ],
            "rows": [
                {
                    "status": s.value,
                    "label": gettext(locale, application_labels.STATUSES[s]),
                    "counts": [overview.funnel[k][s] for k in ApplicationKind],
                }
                for s in ApplicationStatus
            ],
            "totals": [sum(overview.funnel[k].values()) for k in ApplicationKind],
            "chart": funnel_chart(overview, locale),
        },
        "pairings": {
            "total": overview.tandems,
            "rows": [
                {
                    "state": s.value,
                    "label": gettext(locale, STATE_LABELS[s]),
                    "count": overview.pairings[s],
                }
                for s in PairingState
            ],
            "chart": pairings_chart(overview, locale),
        },
        "at_risk": [
            {
                "path": f"/tandem/{t.pairing_id}",
                "mentee": t.mentee_name,
                "mentor": t.mentor_name,
                "since": format_date(t.since, locale),
            }
            for t in overview.at_risk
        ],
        "hours": {
            "logged": _number(hours.logged, locale),
            "expected": hours.expected,
            "per_tandem": hours.expected_per_tandem,
            "tandems": hours.tandems,
            "on_target": hours.on_target,
            "value": f"{min(hours.logged, hours.expected):.2f}" if hours.expected else "",
            "percent": round(100 * hours.share) if hours.share is not None else None,
        },
        "outcomes": {
            "answered": figures.answered,
            "rows": [
                {"label": gettext(locale, OUTCOME_LABELS[o]), "count": n}
                for o, n in figures.counts.items()
            ],
            "employed_in_field": figures.employed_in_field,
            "share": format_percent(share, locale=locale) if share is not None else None,
        },
        "scarcity": [
            {
                "group": row.group,
                "label": occupations.title(row.group, locale),
                "mentees": row.mentees,
                "mentors": row.mentors,
                "places": row.places,
                "gap": row.gap,
            }
            for row in overview.scarcity
        ],
    }


async def _overview(request: Request[Any, Any, Any], db: Database, slug: str) -> CohortOverview:
    tenant = current_tenant(request)
    async with db.tenant_session(tenant.id) as session:
        found = await find_cohort(session, slug)
        if found is None:
            raise NotFoundException()
        return await cohort_overview(session, *found)


class CohortOverviewPage(Controller):
    path = "/admin/cohorts/{cohort_slug:str}"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.cohort_overview")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> Template:
        locale = request_context(request).locale
        overview = await _overview(request, db, cohort_slug)
        return Template("pairings/overview.html", context={"o": overview_view(overview, locale)})


# --- the JSON API -----------------------------------------------------------------------------


class StatusCountOut(Struct, kw_only=True):
    status: ApplicationStatus
    mentees: int
    mentors: int


class StateCountOut(Struct, kw_only=True):
    state: PairingState
    count: int


class AtRiskOut(Struct, kw_only=True):
    pairing_id: str
    mentee_name: str
    mentor_name: str
    since: Annotated[str, Meta(description="The day the tandem counted as at risk (ISO date).")]


class HoursOut(Struct, kw_only=True):
    logged: Annotated[float, Meta(description="Hours of meetings logged (to 0.01).")]
    expected: Annotated[
        int | None, Meta(description="Expected hours per tandem times `tandems`; null: no target.")
    ]
    expected_per_tandem: int | None
    tandems: Annotated[int, Meta(description="Active, paused and completed tandems.")]
    on_target: Annotated[int, Meta(description="Tandems that logged at least the target.")]


class OutcomeOut(Struct, kw_only=True):
    outcome: EmploymentOutcome
    count: int


class OutcomeFiguresOut(Struct, kw_only=True):
    answered: int
    counts: list[OutcomeOut]
    employed_in_field: int
    share_employed_in_field: float | None


class ScarcityOut(Struct, kw_only=True):
    occupation_group: Annotated[str, Meta(description="ISCO-08 sub-major group (2 digits).")]
    title: str
    mentees: int
    mentors: int
    mentor_places: Annotated[int, Meta(description="The mentors' capacity, added up.")]
    gap: Annotated[int, Meta(description="Mentees beyond the mentor places (0 if none).")]


class CohortOverviewOut(Struct, kw_only=True):
    cohort: str
    name: str
    programme: str
    applications: int
    funnel: list[StatusCountOut]
    pairings: list[StateCountOut]
    at_risk: list[AtRiskOut]
    hours: HoursOut
    outcomes: OutcomeFiguresOut
    mentor_scarcity: list[ScarcityOut]


def overview_out(overview: CohortOverview, locale: str) -> CohortOverviewOut:
    hours, figures = overview.hours, overview.outcomes
    return CohortOverviewOut(
        cohort=overview.cohort.slug,
        name=overview.cohort.name,
        programme=overview.programme.name,
        applications=overview.applications,
        funnel=[
            StatusCountOut(
                status=s,
                mentees=overview.funnel[ApplicationKind.MENTEE][s],
                mentors=overview.funnel[ApplicationKind.MENTOR][s],
            )
            for s in ApplicationStatus
        ],
        pairings=[StateCountOut(state=s, count=n) for s, n in overview.pairings.items()],
        at_risk=[
            AtRiskOut(
                pairing_id=str(t.pairing_id),
                mentee_name=t.mentee_name,
                mentor_name=t.mentor_name,
                since=t.since.isoformat(),
            )
            for t in overview.at_risk
        ],
        hours=HoursOut(
            logged=round(hours.logged, 2),
            expected=hours.expected,
            expected_per_tandem=hours.expected_per_tandem,
            tandems=hours.tandems,
            on_target=hours.on_target,
        ),
        outcomes=OutcomeFiguresOut(
            answered=figures.answered,
            counts=[OutcomeOut(outcome=o, count=n) for o, n in figures.counts.items()],
            employed_in_field=figures.employed_in_field,
            share_employed_in_field=figures.share_employed_in_field,
        ),
        mentor_scarcity=[
            ScarcityOut(
                occupation_group=row.group,
                title=occupations.title(row.group, locale),
                mentees=row.mentees,
                mentors=row.mentors,
                mentor_places=row.places,
                gap=row.gap,
            )
            for row in overview.scarcity
        ],
    )


class CohortOverviewApi(Controller):
    path = "/api/v1/cohorts/{cohort_slug:str}/overview"
    tags = ["cohorts"]
    guards = [require_role("admin")]

    @get(
        "",
        name="api.cohort_overview",
        responses={
            403: _spec("Only the tenant's coordinators see a cohort's figures."),
            404: _spec("No such cohort here."),
        },
    )
    async def overview(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        cohort_slug: FromPath[str],
    ) -> CohortOverviewOut:
        """A cohort's figures for its coordinators: the application funnel by kind, tandems
        by state, tandems at risk, hours against the target, employment outcomes of the
        follow-ups and, per occupation group, mentees against mentors."""
        locale = request_context(request).locale
        return overview_out(await _overview(request, db, cohort_slug), locale)


__all__ = ["CohortOverviewApi", "CohortOverviewPage", "overview_out", "overview_view"]
