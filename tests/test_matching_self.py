"""Self-match mode end to end, on SQLite and PostgreSQL: suggestions, requests, the
mentor's answer, and who may see what.

München runs two programmes: "Selbst" lets mentees choose (``self_matching``), "Begleitet"
does not. In Selbst's cohort Amira (German) and Bilal are accepted mentees; the mentors
are Jonas (an account, English, 30 years, two places), Mona (an account, 25 years, one
place), Petra, Quentin, Rita and Stefan (20, 15, 10 and 5 years, no account yet),
Tina (35 years, but in the district "Nowhere", which a filter excludes) and Uwe (40
years, still in intake). Carl is a mentee of Begleitet; Clara coordinates; Omar
coordinates Augsburg (another tenant), where Amira also has an account.

The tenant's criteria are a probe plugin's, so that the order is known: a score of
years / 40 and the district filter, each explaining itself in German or English.
Every other matching plugin is disabled for München in these tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.sessions import Database
from core.identity.models import AuditEntry, Membership, User
from core.identity.sessions import start_session
from core.jobs.models import OutboxMessage
from core.mail import delivery as mail_delivery
from core.matching import self_match
from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary
from core.matching.models import ConstraintKind, MatchConstraint
from core.matching.tenant_criteria import criteria_for
from core.pairings import services
from core.pairings.lifecycle import Action, PairingState
from core.pairings.models import Pairing
from core.pluginhost import hookimpl
from core.pluginhost.info import PluginInfo
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.programmes.models import Cohort, Programme
from core.settings import Settings
from core.tenancy.models import Tenant
from core.tenancy.snapshot import TenantSnapshot, take_snapshot
from tests.conftest import make_app
from tests.test_identity_sessions import login
from tests.test_jobs_outbox import tenants_without_jobs
from tests.test_pairings import api, form, page

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
BLOCKED_DISTRICT = "Nowhere"
PROBE = "selfmatch_probe"


# --- the tenant's criteria: a probe plugin -----------------------------------------------------


class Experience(Criterion):
    id = "probe.experience"
    kind = CriterionKind.SCORE
    label = "Experience"
    weight = 1.0

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        years = np.clip(np.asarray(mentors["years"], dtype=np.float32) / 40, 0, 1)
        return np.broadcast_to(years[None, :], (len(mentees), len(mentors)))

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        years = round(mentor.years)
        if locale == "de":
            return f"{mentor.name} bringt {years} Jahre Berufserfahrung mit."
        return f"{mentor.name} has {years} years of experience."


class District(Criterion):
    id = "probe.district"
    kind = CriterionKind.FILTER
    label = "District"

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        blocked = [i for i, d in enumerate(vocabulary.districts) if d == BLOCKED_DISTRICT.lower()]
        mask = ~np.isin(np.asarray(mentors["district"]), blocked)
        return np.broadcast_to(mask[None, :], (len(mentees), len(mentors)))

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return "Der Bezirk passt." if locale == "de" else "The district works."


class Probe:
    PLUGIN = PluginInfo(
        id=PROBE, name="Self-match probe", description="test criteria", version="0.1"
    )

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        return [Experience(), District()]


# --- the world ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    id: uuid.UUID
    roles: frozenset[str]


ROLES = {
    "clara": ["admin"],
    "amira": ["mentee"],
    "bilal": ["mentee"],
    "carl": ["mentee"],
    "jonas": ["mentor"],
    "mona": ["mentor"],
}


@dataclass
class World:
    db: Database
    host: PluginHost
    tenant_id: uuid.UUID
    augsburg_id: uuid.UUID
    cohort: Cohort
    users: dict[str, User]
    apps: dict[str, Application]
    omar: User
    web: Client | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def who(self, name: str) -> Who:
        return Who(self.users[name].id, frozenset(ROLES[name]))

    async def tenant(self) -> TenantSnapshot:
        async with self.db.platform_session() as session:
            row = await session.get(Tenant, self.tenant_id)
            assert row is not None
        return await take_snapshot(self.db, row)


def _app(
    cohort: Cohort,
    kind: ApplicationKind,
    name: str,
    user: User | None = None,
    *,
    locale: str = "en",
    years: int = 0,
    capacity: int | None = None,
    district: str = "Schwabing",
    accepted: bool = True,
    **extra: Any,
) -> Application:
    return Application(
        cohort_id=cohort.id,
        kind=kind,
        status=ApplicationStatus.ACCEPTED if accepted else ApplicationStatus.IN_REVIEW,
        user_id=user.id if user else None,
        name=name,
        email=f"{name.lower()}@apply.example",
        locale=locale,
        occupation_code="214",
        years_experience=years,
        district=district,
        languages=[{"code": "de", "level": "C1"}],
        consent_version="1",
        capacity=capacity,
        **extra,
    )


async def _programme(session: Any, slug: str, name: str, self_matching: bool) -> Cohort:
    today = date.today()
    programme = Programme(
        slug=slug, name=name, duration_weeks=16, expected_hours=24, self_matching=self_matching
    )
    session.add(programme)
    await session.flush()
    cohort = Cohort(
        programme_id=programme.id,
        slug=f"{slug}-2027",
        name=f"{name} 2027",
        applications_open_on=today - timedelta(days=60),
        applications_close_on=today - timedelta(days=30),
        starts_on=today - timedelta(days=20),
        ends_on=today + timedelta(days=100),
    )
    session.add(cohort)
    await session.flush()
    return cohort


async def _seed(db: Database) -> World:
    ids = await tenants_without_jobs(db)
    tenant_id, augsburg_id = ids["muenchen"], ids["augsburg"]
    host = PluginHost.load(extra=[Probe()])
    async with db.platform_session() as session, session.begin():
        users = {
            name: User(display_name=name.title(), email=f"{name}@example.org", locale=None)
            for name in [*ROLES, "omar"]
        }
        session.add_all(users.values())
    omar = users.pop("omar")
    async with db.tenant_session(tenant_id) as session, session.begin():
        session.add_all(Membership(user_id=users[n].id, roles=r) for n, r in ROLES.items())
        # The tenant's criteria are the probe's alone.
        for plugin_id in host.infos:
            if plugin_id.startswith("match_"):
                await set_plugin_state(session, host, plugin_id, enabled=False)
        await set_plugin_state(session, host, PROBE, enabled=True, settings={})
    async with db.tenant_session(augsburg_id) as session, session.begin():
        session.add(Membership(user_id=omar.id, roles=["admin"]))
        session.add(Membership(user_id=users["amira"].id, roles=["mentee"]))
    async with db.tenant_session(tenant_id) as session, session.begin():
        cohort = await _programme(session, "selbst", "Selbst", True)
        other = await _programme(session, "begleitet", "Begleitet", False)
        mentee, mentor = ApplicationKind.MENTEE, ApplicationKind.MENTOR
        apps = {
            "amira": _app(cohort, mentee, "Amira", users["amira"], locale="de", years=3),
            "bilal": _app(cohort, mentee, "Bilal", users["bilal"], years=2),
            "jonas": _app(
                cohort,
                mentor,
                "Jonas",
                users["jonas"],
                years=30,
                capacity=2,
                employer="Stadtwerke München",
                position="Teamleiter",
            ),
            "mona": _app(cohort, mentor, "Mona", users["mona"], locale="de", years=25, capacity=1),
            "petra": _app(cohort, mentor, "Petra", years=20),
            "quentin": _app(cohort, mentor, "Quentin", years=15),
            "rita": _app(cohort, mentor, "Rita", years=10),
            "stefan": _app(cohort, mentor, "Stefan", years=5),
            "tina": _app(cohort, mentor, "Tina", years=35, district=BLOCKED_DISTRICT),
            "uwe": _app(cohort, mentor, "Uwe", years=40, accepted=False),
            "carl": _app(other, mentee, "Carl", users["carl"], years=4),
            "vera": _app(other, mentor, "Vera", years=30),
        }
        session.add_all(apps.values())
    return World(db, host, tenant_id, augsburg_id, cohort, users, apps, omar)


@pytest.fixture
async def world(synced: Database) -> World:
    return await _seed(synced)


@pytest.fixture
async def web_world(
    world: World, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    development = Settings(**{**settings.model_dump(), "mail_dir": tmp_path / "mail"})
    monkeypatch.setattr(mail_delivery, "_mailer", None)
    app = make_app(development, world.host)
    async with AsyncTestClient(app, base_url="http://localhost") as web:
        web.follow_redirects = False
        world.web = web
        yield world


# --- helpers -----------------------------------------------------------------------------------


async def as_user(w: World, name: str, host: str = MUENCHEN) -> None:
    assert w.web is not None
    user = w.omar if name == "omar" else w.users[name]
    tenant_id = w.augsburg_id if host == AUGSBURG else w.tenant_id
    key = f"{name}@{host}"
    if key not in w.tokens:
        w.tokens[key] = await start_session(w.db, tenant_id, user)
    login(w.web, w.tokens[key])


def ask(w: World, mentor: str) -> dict[str, str]:
    return {"mentor_application_id": str(w.apps[mentor].id)}


async def suggested(w: World, mentee: str = "amira", locale: str = "en") -> list[str]:
    """Names of the mentors suggested to ``mentee``, best first (through the service)."""
    tenant = await w.tenant()
    async with w.db.tenant_session(w.tenant_id) as session:
        standing = await self_match.require_standing(session, w.who(mentee))
        found = await self_match.suggestions_for(session, w.host, tenant, standing, locale)
    return [s.mentor.name for s in found]


async def request(w: World, mentee: str, mentor: str) -> self_match.Requested:
    tenant = await w.tenant()
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        return await self_match.request_mentor(
            session, w.host, tenant, w.who(mentee), w.apps[mentor].id,
            base_url="https://muenchen.example",
        )  # fmt: skip


async def pairings(w: World) -> list[Pairing]:
    async with w.db.tenant_session(w.tenant_id) as session:
        return list(await session.scalars(select(Pairing).order_by(Pairing.proposed_at)))


async def mails(w: World) -> list[tuple[str, str, str]]:
    """(to, event, locale) of every tandem mail, sorted."""
    async with w.db.platform_session() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "core.send_mail")
        )
        return sorted(
            (r.kwargs["to"], r.kwargs["context"]["event"], r.kwargs["locale"])
            for r in rows
            if r.kwargs["template"] == "pairing_update"
        )


async def make_open(w: World, mentee: str, mentor: str) -> Pairing:
    """A coordinator's proposal, committed (takes a mentor's place, gives a mentee a tandem)."""
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, w.apps[mentee].cohort_id)
        assert cohort is not None
        return await services.propose_by_ids(
            session, cohort, w.apps[mentee].id, w.apps[mentor].id, w.who("clara")
        )


async def act(w: World, pairing_id: uuid.UUID, action: Action, who: str) -> None:
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        row = await session.get(Pairing, pairing_id)
        assert row is not None
        await services.act(session, row, action, w.who(who), row.version)


TOP_FIVE = ["Jonas", "Mona", "Petra", "Quentin", "Rita"]


# --- suggestions ---------------------------------------------------------------------------------


async def test_suggestions_are_the_five_best_allowed_mentors_with_places(world: World) -> None:
    w = world
    # Tina (35 years) is filtered out, Uwe (40) is still in intake, Stefan is sixth.
    assert await suggested(w) == TOP_FIVE
    tenant = await w.tenant()
    async with w.db.tenant_session(w.tenant_id) as session:
        standing = await self_match.require_standing(session, w.who("amira"))
        found = await self_match.suggestions_for(session, w.host, tenant, standing, "de")
    assert [s.rank for s in found] == [1, 2, 3, 4, 5]
    assert [s.score for s in found] == [750_000, 625_000, 500_000, 375_000, 250_000]
    assert found[0].parts == {"probe.experience": pytest.approx(0.75)}
    sentences = [r.sentence for r in found[0].reasons]
    assert "Jonas bringt 30 Jahre Berufserfahrung mit." in sentences
    # Mona's place taken: she drops out and Stefan moves up.
    await make_open(w, "bilal", "mona")
    assert await suggested(w) == ["Jonas", "Petra", "Quentin", "Rita", "Stefan"]
    # A pair the coordinator forbade is never suggested.
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        session.add(
            MatchConstraint(
                cohort_id=w.cohort.id,
                mentee_application_id=w.apps["amira"].id,
                mentor_application_id=w.apps["jonas"].id,
                kind=ConstraintKind.FORBID,
            )
        )
    assert await suggested(w) == ["Petra", "Quentin", "Rita", "Stefan"]
    assert await suggested(w, "bilal") == [], "Bilal has an open tandem"


async def test_with_the_tenants_own_criteria_every_suggestion_is_explained(
    world: World,
) -> None:
    """München's built-in matching plugins, as its tenant file enables them."""
    w = world
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        for plugin_id in w.host.infos:
            if plugin_id.startswith("match_"):
                await set_plugin_state(session, w.host, plugin_id, enabled=True)
        await set_plugin_state(session, w.host, PROBE, enabled=False)
    tenant = await w.tenant()
    criteria = {c.id for c in criteria_for(w.host, tenant)}
    assert "match_occupation" in criteria and PROBE not in criteria
    found: dict[str, list[self_match.Suggestion]] = {}
    async with w.db.tenant_session(w.tenant_id) as session:
        standing = await self_match.require_standing(session, w.who("amira"))
        for locale in ("de", "en"):
            found[locale] = await self_match.suggestions_for(
                session, w.host, tenant, standing, locale
            )
    assert 0 < len(found["de"]) <= self_match.SUGGESTIONS
    scores = [s.score for s in found["de"]]
    assert scores == sorted(scores, reverse=True)
    assert {s.mentor.name for s in found["de"]} <= {*TOP_FIVE, "Stefan", "Tina"}
    for suggestion in found["de"]:
        assert {r.criterion for r in suggestion.reasons} == criteria
        assert all(r.sentence for r in suggestion.reasons)
    occupation = {
        locale: next(r for r in found[locale][0].reasons if r.criterion == "match_occupation")
        for locale in found
    }
    assert "Ingenieurwesen (ohne Elektrotechnik)" in occupation["de"].sentence
    assert "Engineering professionals" in occupation["en"].sentence


async def test_the_page_shows_suggestions_in_the_pages_language_without_contact_details(
    web_world: World,
) -> None:
    w = web_world
    await make_open(w, "bilal", "petra")  # another mentee's tandem, not for Amira to see
    await as_user(w, "amira")
    shown = await page(w, "/matching/suggestions", lang="de")
    assert shown.status_code == 200
    text = shown.text
    order = [text.index(f">{name}</h2>") for name in ["Jonas", "Mona", "Quentin", "Rita", "Stefan"]]
    assert order == sorted(order), "best first"
    assert "Tina" not in text and "Uwe" not in text
    assert "Jonas bringt 30 Jahre Berufserfahrung mit." in text
    assert "Der Bezirk passt." in text
    assert "Teamleiter bei Stadtwerke München" in text
    assert "Ingenieurwesen (ohne Elektrotechnik)" in text
    assert "@apply.example" not in text and "@example.org" not in text, "no e-mail addresses"
    assert "Bilal" not in text, "no other mentees"
    assert text.count('action="/matching/requests"') == 5
    assert text.count('name="_csrf_token"') >= 5
    assert f'name="mentor_application_id" value="{w.apps["jonas"].id}"' in text
    english = await page(w, "/matching/suggestions", lang="en")
    assert "Jonas has 30 years of experience." in english.text
    assert "The district works." in english.text
    assert "Your suggested mentors" in english.text

    found = await api(w, "GET", "/api/v1/matching/suggestions", lang="de")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["cohort"] == "selbst-2027" and body["open_pairing"] is None
    assert [s["mentor"]["name"] for s in body["suggestions"]] == [
        "Jonas", "Mona", "Quentin", "Rita", "Stefan",
    ]  # fmt: skip
    first = body["suggestions"][0]
    assert first["rank"] == 1 and first["score"] == pytest.approx(0.75)
    assert first["mentor"]["employer"] == "Stadtwerke München"
    assert first["mentor"]["occupation"] == "214"
    assert first["mentor"]["occupation_title"] == "Ingenieurwesen (ohne Elektrotechnik)"
    assert first["mentor"]["languages"] == [{"code": "de", "name": "Deutsch", "level": "C1"}]
    assert {r["sentence"] for r in first["reasons"]} >= {
        "Jonas bringt 30 Jahre Berufserfahrung mit."
    }
    assert "@" not in found.text and "Bilal" not in found.text
    english_api = await api(w, "GET", "/api/v1/matching/suggestions", lang="en")
    assert "Jonas has 30 years of experience." in english_api.text


# --- requesting ----------------------------------------------------------------------------------


async def test_a_request_is_a_proposal_the_mentee_accepted_and_the_mentor_is_told(
    world: World,
) -> None:
    w = world
    requested = await request(w, "amira", "jonas")
    assert requested.created
    [pairing] = await pairings(w)
    assert pairing.id == requested.pairing.id
    assert pairing.state == PairingState.PROPOSED
    assert pairing.mentee_accepted_at is not None and pairing.mentor_accepted_at is None
    assert pairing.mentor_application_id == w.apps["jonas"].id
    assert pairing.proposed_by_user_id == w.users["amira"].id
    assert pairing.score == pytest.approx(0.75)
    assert pairing.explanation["source"] == "self_match"
    assert pairing.explanation["parts"] == {"probe.experience": pytest.approx(0.75)}
    # The usual mails: both hear of the proposal, and Jonas that Amira accepted.
    assert await mails(w) == [
        ("amira@apply.example", "proposed", "de"),
        ("jonas@apply.example", "partner_accepted", "en"),
        ("jonas@apply.example", "proposed", "en"),
    ]
    async with w.db.tenant_session(w.tenant_id) as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at)))
    assert [(a.action, a.actor_user_id) for a in entries if a.action.startswith("pairing_")] == [
        ("pairing_proposed", w.users["amira"].id),
        ("pairing_accept", w.users["amira"].id),
    ]
    # The mentor accepts: the tandem starts.
    await act(w, pairing.id, Action.ACCEPT, "jonas")
    [pairing] = await pairings(w)
    assert pairing.state == PairingState.ACTIVE


async def test_a_declined_request_gives_the_suggestions_back_without_that_mentor(
    web_world: World,
) -> None:
    w = web_world
    await as_user(w, "amira")
    sent = await form(w, "/matching/requests", ask(w, "mona"), lang="de")
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/matching/suggestions?done=requested"
    shown = await page(w, sent.headers["location"], lang="de")
    assert "Ihre Anfrage ist an Mona gegangen." in shown.text
    assert "Sie haben Mona angefragt." in shown.text
    assert 'action="/matching/requests"' not in shown.text, "no more requests while it waits"
    [pairing] = await pairings(w)
    assert f'href="/tandem/{pairing.id}"' in shown.text

    # Mona declines on her tandem page.
    await as_user(w, "mona")
    declined = await form(
        w, f"/tandem/{pairing.id}/actions/decline", {"version": str(pairing.version)}
    )
    assert declined.status_code == 303, declined.text
    [pairing] = await pairings(w)
    assert pairing.state == PairingState.DECLINED

    await as_user(w, "amira")
    again = await page(w, "/matching/suggestions")
    assert again.status_code == 200
    assert again.text.count('action="/matching/requests"') == 5
    assert ">Mona</h2>" not in again.text, "who declined is not suggested again"
    assert ">Stefan</h2>" in again.text
    # And the mentor's acceptance over the API starts the tandem.
    made = await api(w, "POST", "/api/v1/matching/requests", ask(w, "jonas"))
    assert made.status_code == 201, made.text
    assert made.json()["state"] == "proposed"
    assert made.json()["mentee_accepted_at"] is not None
    assert made.json()["mentor"]["email"] is None
    await as_user(w, "jonas")
    accepted = await api(
        w, "POST", f"/api/v1/pairings/{made.json()['id']}/actions/accept", {"version": 2}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "active"


@pytest.mark.parametrize(
    "mentor", ["stefan", "tina", "uwe", "vera", "mona-full", "jonas-forbidden", "amira"]
)
async def test_a_mentor_who_is_not_suggested_cannot_be_requested(
    web_world: World, mentor: str
) -> None:
    """Sixth best, filtered, in intake, another programme's, full, forbidden, or not a
    mentor at all: 409 with the reason, and nothing stored or sent."""
    w = web_world
    name = mentor.split("-")[0]
    if mentor == "mona-full":
        await make_open(w, "bilal", "mona")
    if mentor == "jonas-forbidden":
        async with w.db.tenant_session(w.tenant_id) as session, session.begin():
            session.add(
                MatchConstraint(
                    cohort_id=w.cohort.id,
                    mentee_application_id=w.apps["amira"].id,
                    mentor_application_id=w.apps["jonas"].id,
                    kind=ConstraintKind.FORBID,
                )
            )
    before = [(p.id, p.state) for p in await pairings(w)]
    mails_before = await mails(w)
    await as_user(w, "amira")
    refused = await form(w, "/matching/requests", ask(w, name), lang="de")
    assert refused.status_code == 409
    assert "nicht mehr unter Ihren Vorschlägen" in refused.text
    assert 'action="/matching/requests"' in refused.text, "the current suggestions again"
    by_api = await api(w, "POST", "/api/v1/matching/requests", ask(w, name))
    assert by_api.status_code == 409
    assert by_api.headers["content-type"].startswith("application/problem+json")
    assert "not among your suggestions" in by_api.json()["detail"]
    unknown = await api(
        w, "POST", "/api/v1/matching/requests", {"mentor_application_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 409
    garbled = await form(w, "/matching/requests", {"mentor_application_id": "x"})
    assert garbled.status_code == 422
    assert (await api(w, "POST", "/api/v1/matching/requests", {"x": 1})).status_code == 400
    assert [(p.id, p.state) for p in await pairings(w)] == before
    assert await mails(w) == mails_before


async def test_one_open_tandem_at_a_time_and_a_double_click_makes_one(web_world: World) -> None:
    w = web_world
    await as_user(w, "amira")
    first, second = [await form(w, "/matching/requests", ask(w, "jonas")) for _ in range(2)]
    assert first.status_code == 303 and second.status_code == 303
    [pairing] = await pairings(w)
    again = await api(w, "POST", "/api/v1/matching/requests", ask(w, "jonas"))
    assert again.status_code == 200 and again.json()["id"] == str(pairing.id)
    other = await api(w, "POST", "/api/v1/matching/requests", ask(w, "mona"), lang="de")
    assert other.status_code == 409
    assert other.json()["pairing_id"] == str(pairing.id)
    assert "schon ein offenes Tandem" in other.json()["detail"]
    page_other = await form(w, "/matching/requests", ask(w, "mona"))
    assert page_other.status_code == 409 and "already have an open tandem" in page_other.text
    listed = (await api(w, "GET", "/api/v1/matching/suggestions")).json()
    assert listed["suggestions"] == [] and listed["open_pairing"]["id"] == str(pairing.id)
    assert len(await pairings(w)) == 1
    # A coordinator's proposal is an open tandem too.
    await as_user(w, "bilal")
    await make_open(w, "bilal", "petra")
    assert (await api(w, "POST", "/api/v1/matching/requests", ask(w, "mona"))).status_code == 409


async def test_two_requests_at_the_same_moment_make_one_tandem(world: World) -> None:
    w = world
    outcomes = await asyncio.gather(
        request(w, "amira", "jonas"), request(w, "amira", "mona"), return_exceptions=True
    )
    made = [o for o in outcomes if isinstance(o, self_match.Requested)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(made) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], (self_match.RequestRefused, services.Conflict))
    assert len(await pairings(w)) == 1


# --- who may see it ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["carl", "jonas", "clara"])
async def test_anyone_but_a_self_matching_mentee_finds_nothing(web_world: World, who: str) -> None:
    """Carl's programme is coordinated; Jonas mentors; Clara coordinates."""
    w = web_world
    await as_user(w, who)
    assert (await page(w, "/matching/suggestions")).status_code == 404
    assert (await form(w, "/matching/requests", ask(w, "jonas"))).status_code == 404
    listed = await api(w, "GET", "/api/v1/matching/suggestions")
    assert listed.status_code == 404
    assert listed.headers["content-type"].startswith("application/problem+json")
    assert (await api(w, "POST", "/api/v1/matching/requests", ask(w, "jonas"))).status_code == 404
    home = await page(w, "/")
    assert "/matching/suggestions" not in home.text
    assert await pairings(w) == []


async def test_each_mentee_sees_only_their_own_and_another_tenant_nothing(
    web_world: World,
) -> None:
    w = web_world
    await as_user(w, "amira")
    assert (await form(w, "/matching/requests", ask(w, "jonas"))).status_code == 303
    # Bilal (same cohort) sees his own suggestions, not Amira's request.
    await as_user(w, "bilal")
    his = await api(w, "GET", "/api/v1/matching/suggestions")
    assert his.status_code == 200 and his.json()["open_pairing"] is None
    assert [s["mentor"]["name"] for s in his.json()["suggestions"]] == TOP_FIVE
    assert "Amira" not in his.text
    # Amira on Augsburg's host, where she has an account but no application: nothing.
    for name in ("amira", "omar"):
        await as_user(w, name, AUGSBURG)
        assert (await page(w, "/matching/suggestions", host=AUGSBURG)).status_code == 404
        assert (
            await api(w, "GET", "/api/v1/matching/suggestions", host=AUGSBURG)
        ).status_code == 404
        posted = await api(w, "POST", "/api/v1/matching/requests", ask(w, "mona"), host=AUGSBURG)
        assert posted.status_code == 404
    assert len(await pairings(w)) == 1
    # Signed out: the page asks to sign in, the API says 401.
    assert w.web is not None
    w.web.cookies.clear()
    assert (await page(w, "/matching/suggestions")).status_code in (302, 303, 401)


async def test_the_home_page_leads_a_self_matching_mentee_to_their_suggestions(
    web_world: World,
) -> None:
    w = web_world
    await as_user(w, "amira")
    home = await page(w, "/", lang="de")
    assert 'href="/matching/suggestions"' in home.text
    home = await page(w, "/", lang="en")
    assert 'href="/matching/suggestions"' in home.text
    await form(w, "/matching/requests", ask(w, "jonas"))
    home = await page(w, "/")
    assert 'href="/matching/suggestions"' not in home.text, "a tandem waits for the mentor"
    assert "Your tandem with Jonas" in home.text


async def test_the_api_is_documented(web_world: World) -> None:
    w = web_world
    schema = (await page(w, "/api/docs/openapi.json")).json()
    assert "/api/v1/matching/suggestions" in schema["paths"]
    post = schema["paths"]["/api/v1/matching/requests"]["post"]
    assert {"404", "409"} <= set(post["responses"])
