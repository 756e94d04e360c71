"""The cohort overview (/admin/cohorts/<slug>, /api/v1/cohorts/<slug>/overview) and the SVG
charts, on SQLite and PostgreSQL.

München gets a small cohort built row by row, so that every figure below is counted by
hand from the table in :func:`_seed` rather than read back from the code under test:

mentees (occupation, status): A1 222 accepted, A2 214 accepted, A3 222 submitted,
A4 222 in review, A5 251 rejected, A6 251 waiting list, A7 222 withdrawn;
mentors (occupation, capacity, status): B1 214/2 accepted, B2 222/1 accepted,
B3 251/3 submitted, B4 222/1 rejected.

tandems: P1 A1-B2 active, at risk (meetings 60 + 90 min); P2 A2-B1 completed (600 min,
follow-ups 3 months "related field", 6 months "own field"); P3 A3-B1 declined; P4 A4-B1
paused (30 min); P5 A5-B3 dissolved (120 min, not counted); P6 A7-B3 completed (no
meetings; 3 months "searching", 6 months unanswered). The programme expects 10 hours.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.sessions import Database
from core.identity.models import User
from core.identity.sessions import start_session
from core.pairings.lifecycle import PairingState
from core.pairings.models import (
    CheckIn,
    CheckInKind,
    EmploymentOutcome,
    Meeting,
    MeetingFormat,
    Pairing,
    Respondent,
)
from core.pairings.overview import cohort_overview
from core.programmes.models import Cohort, Programme
from core.web.charts import Row, Series, bar_chart
from tests.test_identity_sessions import grant, login, make_user, tenant_ids

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
SLUG = "2026-herbst"
SVG = "{http://www.w3.org/2000/svg}"
AT_RISK_SINCE = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass
class Seeded:
    tenant_id: uuid.UUID
    augsburg_id: uuid.UUID
    programme: Programme
    cohort: Cohort
    apps: dict[str, Application]
    pairings: dict[str, Pairing]


def _app(cohort: Cohort, key: str, kind: ApplicationKind, code: str, status: str, cap=None):
    return Application(
        cohort_id=cohort.id,
        kind=kind,
        status=ApplicationStatus(status),
        name=f"Person {key}",
        email=f"{key.lower()}@apply.example",
        locale="de",
        occupation_code=code,
        consent_version="1",
        capacity=cap,
    )


async def _seed(db: Database) -> Seeded:
    ids = await tenant_ids(db)
    today = date.today()
    async with db.tenant_session(ids["muenchen"]) as session, session.begin():
        programme = Programme(slug="mp", name="Mentoring", duration_weeks=17, expected_hours=10)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug=SLUG,
            name="Herbst 2026",
            applications_open_on=today - timedelta(days=120),
            applications_close_on=today - timedelta(days=90),
            starts_on=today - timedelta(days=80),
            ends_on=today + timedelta(days=40),
        )
        session.add(cohort)
        await session.flush()
        mentee, mentor = ApplicationKind.MENTEE, ApplicationKind.MENTOR
        apps = {
            "A1": _app(cohort, "A1", mentee, "222", "accepted"),
            "A2": _app(cohort, "A2", mentee, "214", "accepted"),
            "A3": _app(cohort, "A3", mentee, "222", "submitted"),
            "A4": _app(cohort, "A4", mentee, "222", "in_review"),
            "A5": _app(cohort, "A5", mentee, "251", "rejected"),
            "A6": _app(cohort, "A6", mentee, "251", "waitlisted"),
            "A7": _app(cohort, "A7", mentee, "222", "withdrawn"),
            "B1": _app(cohort, "B1", mentor, "214", "accepted", 2),
            "B2": _app(cohort, "B2", mentor, "222", "accepted", 1),
            "B3": _app(cohort, "B3", mentor, "251", "submitted", 3),
            "B4": _app(cohort, "B4", mentor, "222", "rejected", 1),
        }
        session.add_all(apps.values())
        await session.flush()
        now = datetime.now(UTC)

        def pairing(mentee_key: str, mentor_key: str, state: PairingState) -> Pairing:
            return Pairing(
                cohort_id=cohort.id,
                mentee_application_id=apps[mentee_key].id,
                mentor_application_id=apps[mentor_key].id,
                state=state,
                proposed_at=now - timedelta(days=70),
                activated_at=None if state is PairingState.DECLINED else now - timedelta(days=60),
            )

        pairings = {
            "P1": pairing("A1", "B2", PairingState.ACTIVE),
            "P2": pairing("A2", "B1", PairingState.COMPLETED),
            "P3": pairing("A3", "B1", PairingState.DECLINED),
            "P4": pairing("A4", "B1", PairingState.PAUSED),
            "P5": pairing("A5", "B3", PairingState.DISSOLVED),
            "P6": pairing("A7", "B3", PairingState.COMPLETED),
        }
        pairings["P1"].at_risk_since = AT_RISK_SINCE
        session.add_all(pairings.values())
        await session.flush()
        for key, minutes in (("P1", 60), ("P1", 90), ("P2", 600), ("P4", 30), ("P5", 120)):
            session.add(
                Meeting(
                    pairing_id=pairings[key].id,
                    held_on=today - timedelta(days=30),
                    minutes=minutes,
                    format=MeetingFormat.ONLINE,
                    topic="Lebenslauf",
                )
            )
        for key, kind, outcome, days in (
            ("P2", CheckInKind.FOLLOWUP_3M, EmploymentOutcome.EMPLOYED_RELATED_FIELD, 20),
            ("P2", CheckInKind.FOLLOWUP_6M, EmploymentOutcome.EMPLOYED_OWN_FIELD, 2),
            ("P6", CheckInKind.FOLLOWUP_3M, EmploymentOutcome.SEARCHING, 5),
            ("P6", CheckInKind.FOLLOWUP_6M, None, None),
        ):
            session.add(
                CheckIn(
                    pairing_id=pairings[key].id,
                    kind=kind,
                    respondent=Respondent.MENTEE,
                    due_on=today - timedelta(days=30),
                    completed_at=now - timedelta(days=days) if days is not None else None,
                    employment_outcome=outcome,
                )
            )
    return Seeded(ids["muenchen"], ids["augsburg"], programme, cohort, apps, pairings)


@pytest.fixture
async def seeded(synced: Database) -> Seeded:
    return await _seed(synced)


async def _signed_in(db: Database, tenant_id: uuid.UUID, web: Client, roles: list[str]) -> User:
    user = await make_user(db, f"u{uuid.uuid4().hex[:8]}")
    await grant(db, tenant_id, user, roles)
    login(web, await start_session(db, tenant_id, user))
    return user


# --- the figures -----------------------------------------------------------------------------


async def test_figures_of_a_hand_built_cohort(synced: Database, seeded: Seeded) -> None:
    async with synced.tenant_session(seeded.tenant_id) as session:
        o = await cohort_overview(session, seeded.programme, seeded.cohort)
    mentees = o.funnel[ApplicationKind.MENTEE]
    mentors = o.funnel[ApplicationKind.MENTOR]
    assert [mentees[s] for s in ApplicationStatus] == [1, 1, 2, 1, 1, 1]
    assert [mentors[s] for s in ApplicationStatus] == [1, 0, 2, 0, 1, 0]
    assert o.applications == 11
    assert o.pairings == {
        PairingState.PROPOSED: 0,
        PairingState.ACTIVE: 1,
        PairingState.PAUSED: 1,
        PairingState.COMPLETED: 2,
        PairingState.DECLINED: 1,
        PairingState.WITHDRAWN: 0,
        PairingState.DISSOLVED: 1,
    }
    assert o.tandems == 6
    [risk] = o.at_risk
    assert (risk.pairing_id, risk.mentee_name, risk.mentor_name) == (
        seeded.pairings["P1"].id,
        "Person A1",
        "Person B2",
    )
    assert risk.since == AT_RISK_SINCE.date()
    # Active P1 (150 min), paused P4 (30), completed P2 (600) and P6 (0): 780 minutes.
    assert o.hours.logged_minutes == 780
    assert o.hours.tandems == 4
    assert o.hours.expected == 40
    assert o.hours.on_target == 1
    assert o.hours.share == pytest.approx(13 / 40)
    # A2's latest answer (6 months) is "own field"; A7's "searching"; the open one is not.
    assert o.outcomes.answered == 2
    assert o.outcomes.counts[EmploymentOutcome.EMPLOYED_OWN_FIELD] == 1
    assert o.outcomes.counts[EmploymentOutcome.SEARCHING] == 1
    assert o.outcomes.counts[EmploymentOutcome.EMPLOYED_RELATED_FIELD] == 0
    assert o.outcomes.share_employed_in_field == 0.5
    # In play only: nursing lacks mentors (3 mentees, 1 place), the others do not.
    assert [(r.group, r.mentees, r.mentors, r.places, r.gap) for r in o.scarcity] == [
        ("22", 3, 1, 1, 2),
        ("21", 1, 1, 2, 0),
        ("25", 1, 1, 3, 0),
    ]


async def test_an_empty_cohort_has_zeros(synced: Database) -> None:
    ids = await tenant_ids(synced)
    async with synced.tenant_session(ids["augsburg"]) as session, session.begin():
        programme = Programme(slug="m", name="M", duration_weeks=26)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug="leer",
            name="Leer",
            applications_open_on=date(2026, 1, 1),
            applications_close_on=date(2026, 2, 1),
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 9, 1),
        )
        session.add(cohort)
        await session.flush()
        o = await cohort_overview(session, programme, cohort)
    assert o.applications == 0 and o.tandems == 0 and o.at_risk == [] and o.scarcity == []
    assert o.hours.expected is None and o.hours.share is None
    assert o.outcomes.share_employed_in_field is None


# --- the API ---------------------------------------------------------------------------------


async def test_api_gives_the_figures_to_coordinators(
    synced: Database, client: Client, seeded: Seeded
) -> None:
    await _signed_in(synced, seeded.tenant_id, client, ["admin"])
    response = await client.get(
        f"/api/v1/cohorts/{SLUG}/overview", headers={"host": MUENCHEN, "accept-language": "en"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cohort"] == SLUG and body["applications"] == 11
    funnel = {row["status"]: (row["mentees"], row["mentors"]) for row in body["funnel"]}
    assert funnel["accepted"] == (2, 2) and funnel["withdrawn"] == (1, 0)
    assert {r["state"]: r["count"] for r in body["pairings"]}["completed"] == 2
    assert body["at_risk"][0]["since"] == "2026-03-02"
    assert body["hours"] == {
        "logged": 13.0,
        "expected": 40,
        "expected_per_tandem": 10,
        "tandems": 4,
        "on_target": 1,
    }
    assert body["outcomes"]["share_employed_in_field"] == 0.5
    assert body["mentor_scarcity"][0] == {
        "occupation_group": "22",
        "title": "Health professionals",
        "mentees": 3,
        "mentors": 1,
        "mentor_places": 1,
        "gap": 2,
    }


@pytest.mark.parametrize("role", ["mentor", "mentee"])
async def test_participants_get_403(
    synced: Database, client: Client, seeded: Seeded, role: str
) -> None:
    await _signed_in(synced, seeded.tenant_id, client, [role])
    for path in (f"/api/v1/cohorts/{SLUG}/overview", f"/admin/cohorts/{SLUG}"):
        response = await client.get(path, headers={"host": MUENCHEN})
        assert response.status_code == 403, path


async def test_another_tenant_gets_404(synced: Database, client: Client, seeded: Seeded) -> None:
    await _signed_in(synced, seeded.augsburg_id, client, ["admin"])
    for path in (f"/api/v1/cohorts/{SLUG}/overview", f"/admin/cohorts/{SLUG}"):
        response = await client.get(path, headers={"host": AUGSBURG})
        assert response.status_code == 404, path
    api = await client.get(f"/api/v1/cohorts/{SLUG}/overview", headers={"host": AUGSBURG})
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_unknown_cohort_and_anonymous(
    synced: Database, client: Client, seeded: Seeded
) -> None:
    anonymous = await client.get(f"/api/v1/cohorts/{SLUG}/overview", headers={"host": MUENCHEN})
    assert anonymous.status_code in (401, 303, 302)
    await _signed_in(synced, seeded.tenant_id, client, ["admin"])
    missing = await client.get("/admin/cohorts/no-such-cohort", headers={"host": MUENCHEN})
    assert missing.status_code == 404


# --- the page --------------------------------------------------------------------------------


def _svgs(html: str) -> list[ET.Element]:
    """The page's charts (the theme's logo is an SVG too)."""
    found = []
    start = 0
    while (begin := html.find('<svg class="chart"', start)) != -1:
        end = html.index("</svg>", begin) + len("</svg>")
        found.append(ET.fromstring(html[begin:end]))
        start = end
    return found


@pytest.mark.parametrize(
    ("lang", "title", "state", "outcome", "scarce"),
    [
        ("en", "Tandems by state", "Completed", "Employed in own field", "Health professionals"),
        ("de", "Tandems nach Stand", "Abgeschlossen", "Im eigenen Beruf beschäftigt", None),
    ],
)
async def test_page_shows_figures_and_accessible_charts(
    synced: Database,
    client: Client,
    seeded: Seeded,
    lang: str,
    title: str,
    state: str,
    outcome: str,
    scarce: str | None,
) -> None:
    await _signed_in(synced, seeded.tenant_id, client, ["admin"])
    response = await client.get(
        f"/admin/cohorts/{SLUG}", headers={"host": MUENCHEN, "accept-language": lang}
    )
    assert response.status_code == 200, response.text
    html = response.text
    charts = _svgs(html)
    assert len(charts) == 2
    for chart in charts:
        assert chart.get("role") == "img"
        labelled = chart.get("aria-labelledby", "").split()
        assert [chart.find(f"{SVG}title").get("id"), chart.find(f"{SVG}desc").get("id")] == labelled
        assert chart.find(f"{SVG}desc").text
    pairings_chart = charts[1]
    assert pairings_chart.find(f"{SVG}title").text == title
    assert state in pairings_chart.find(f"{SVG}desc").text
    values = [t.text for t in pairings_chart.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["0", "1", "1", "2", "1", "0", "1"]
    assert f'href="/tandem/{seeded.pairings["P1"].id}"' in html
    assert outcome in html
    assert "50" in html  # the share employed in their field, as a percentage
    if scarce:
        assert scarce in html
    assert 'data-group="22" class="lacking"' in html


async def test_programmes_list_links_the_overview(
    synced: Database, client: Client, seeded: Seeded
) -> None:
    await _signed_in(synced, seeded.tenant_id, client, ["admin"])
    response = await client.get("/admin/programmes", headers={"host": MUENCHEN})
    assert f'href="/admin/cohorts/{SLUG}"' in response.text


# --- the chart module ------------------------------------------------------------------------


def test_chart_escapes_text_and_scales_bars() -> None:
    svg = bar_chart(
        chart_id="c",
        title="A <b> & c",
        description='"quoted"',
        series=[Series("x"), Series("y")],
        rows=[Row("<one>", (2, 4)), Row("two", (0, 1))],
    )
    root = ET.fromstring(str(svg))
    assert root.find(f"{SVG}title").text == "A <b> & c"
    bars = [r for r in root.iter(f"{SVG}rect") if "bar" in (r.get("class") or "")]
    widths = [float(r.get("width")) for r in bars]
    assert widths[1] == max(widths) and widths[2] == 0
    assert widths[0] == pytest.approx(widths[1] / 2)
    legend = root.find(f"{SVG}g[@class='legend']")
    assert [t.text for t in legend.iter(f"{SVG}text")] == ["x", "y"]


def test_chart_needs_one_value_per_series() -> None:
    with pytest.raises(ValueError):
        bar_chart(
            chart_id="c", title="t", description="d", series=[Series("x")], rows=[Row("a", (1, 2))]
        )


def test_chart_of_zeros_draws_empty_bars() -> None:
    root = ET.fromstring(
        str(
            bar_chart(
                chart_id="z",
                title="t",
                description="d",
                series=[Series("x")],
                rows=[Row("a", (0,))],
            )
        )
    )
    assert [r.get("width") for r in root.iter(f"{SVG}rect")] == ["0"]
