"""Tandems end to end, on SQLite and PostgreSQL: the lifecycle service, the agreement,
meetings, the pages and the JSON API.

München runs a cohort with an accepted mentee (Amira, German) and mentor (Jonas,
English), a second accepted mentee (Bilal: another participant of the same tenant) and
two coordinators; Augsburg has a coordinator of its own (another tenant). People and
applications are made directly in the database; everything after that goes through
the code under test. Mails are checked in the outbox (who, which event, which
language) and, in the SMTP tests, as received by a real SMTP server on loopback.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.base import utcnow
from core.db.sessions import Database
from core.events import deliver_event
from core.identity.models import AuditEntry, Membership, User
from core.identity.sessions import start_session
from core.jobs.actors import run_job
from core.jobs.broker import build_broker
from core.jobs.models import OutboxMessage
from core.jobs.relay import relay_once
from core.mail import delivery as mail_delivery
from core.mail.delivery import SmtpTransport, deliver_mail
from core.pairings import services
from core.pairings.lifecycle import RULES, Action, Actor, PairingState
from core.pairings.models import Agreement, Meeting, MeetingFormat, Pairing
from core.pluginhost import hookimpl
from core.pluginhost.info import PluginInfo
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.pluginhost.types import Event
from core.programmes.models import Cohort, Programme
from core.programmes.schemas import InvalidInput
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, login
from tests.test_jobs_outbox import drain, running_worker, tenants_without_jobs
from tests.test_mail import SmtpServer, mail_settings, smtp_server  # noqa: F401 - fixtures

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
COHORT = "2027-spring"
CONFLICT_EN = "Someone else changed this tandem meanwhile"
CONFLICT_DE = "Jemand anderes hat dieses Tandem inzwischen geändert"


# --- the world ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """A person as the services see them (what CurrentUser offers)."""

    id: uuid.UUID
    roles: frozenset[str]


@dataclass
class World:
    db: Database
    tenant_id: uuid.UUID
    augsburg_id: uuid.UUID
    cohort: Cohort
    users: dict[str, User]
    apps: dict[str, Application]
    augsburg_admin: User
    web: Client | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def who(self, name: str) -> Who:
        roles = {"clara": {"admin"}, "dora": {"admin"}, "amira": {"mentee"}}
        roles |= {"jonas": {"mentor"}, "bilal": {"mentee"}, "mona": {"mentor"}}
        return Who(self.users[name].id, frozenset(roles[name]))


async def _seed(db: Database) -> World:
    ids = await tenants_without_jobs(db)
    tenant_id = ids["muenchen"]
    roles = {
        "clara": ["admin"],  # coordinator (no locale of her own: the tenant's German)
        "dora": ["admin"],  # second coordinator, English
        "amira": ["mentee"],
        "jonas": ["mentor"],
        "bilal": ["mentee"],  # another mentee, not in Amira's tandem
        "mona": ["mentor"],  # another mentor
    }
    async with db.platform_session() as session, session.begin():
        users = {
            name: User(
                display_name=name.title(),
                email=f"{name}@example.org",
                locale="en" if name == "dora" else None,
            )
            for name in [*roles, "omar"]
        }
        session.add_all(users.values())
    augsburg_admin = users.pop("omar")
    async with db.tenant_session(tenant_id) as session, session.begin():
        session.add_all(Membership(user_id=users[n].id, roles=r) for n, r in roles.items())
    async with db.tenant_session(ids["augsburg"]) as session, session.begin():
        session.add(Membership(user_id=augsburg_admin.id, roles=["admin"]))
    today = date.today()
    async with db.tenant_session(tenant_id) as session, session.begin():
        programme = Programme(
            slug="mentoring", name="Mentoring", duration_weeks=16, expected_hours=24
        )
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug=COHORT,
            name="Frühjahr 2027",
            applications_open_on=today - timedelta(days=60),
            applications_close_on=today - timedelta(days=30),
            starts_on=today - timedelta(days=20),
            ends_on=today + timedelta(days=100),
        )
        session.add(cohort)
        await session.flush()
        apps = {
            "amira": _application(cohort, ApplicationKind.MENTEE, users["amira"], "de"),
            "jonas": _application(cohort, ApplicationKind.MENTOR, users["jonas"], "en", 2),
            "bilal": _application(cohort, ApplicationKind.MENTEE, users["bilal"], "de"),
            "mona": _application(cohort, ApplicationKind.MENTOR, users["mona"], "de", 1),
            # An application without an account yet, and one still in intake.
            "eva": _application(cohort, ApplicationKind.MENTEE, None, "en", name="Eva"),
            "pending": _application(
                cohort, ApplicationKind.MENTOR, None, "en", 1, name="Paul", accepted=False
            ),
        }
        session.add_all(apps.values())
    return World(db, tenant_id, ids["augsburg"], cohort, users, apps, augsburg_admin)


def _application(
    cohort: Cohort,
    kind: ApplicationKind,
    user: User | None,
    locale: str,
    capacity: int | None = None,
    *,
    name: str | None = None,
    accepted: bool = True,
) -> Application:
    name = name or (user.display_name if user else "Someone")
    return Application(
        cohort_id=cohort.id,
        kind=kind,
        status=ApplicationStatus.ACCEPTED if accepted else ApplicationStatus.IN_REVIEW,
        user_id=user.id if user else None,
        name=name,
        email=f"{name.lower()}@apply.example",
        locale=locale,
        occupation_code="2142",
        consent_version="1",
        capacity=capacity,
    )


@pytest.fixture
async def world(synced: Database) -> World:
    return await _seed(synced)


@pytest.fixture
async def web_world(
    world: World,
    settings: Settings,
    plugins: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """The world with an app client; the app's worker writes mails to a temporary folder."""
    development = Settings(**{**settings.model_dump(), "mail_dir": tmp_path / "mail"})
    monkeypatch.setattr(mail_delivery, "_mailer", None)
    async with AsyncTestClient(make_app(development, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        world.web = web
        yield world


# --- helpers ----------------------------------------------------------------------------------


async def make_pairing(
    w: World,
    state: PairingState = PairingState.PROPOSED,
    *,
    mentee: str = "amira",
    mentor: str = "jonas",
    accepted: tuple[Actor, ...] = (),
    proposed_days_ago: int = 14,
) -> Pairing:
    """A pairing put straight into ``state`` (for tests of what follows from there)."""
    now = utcnow()
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        pairing = Pairing(
            cohort_id=w.cohort.id,
            mentee_application_id=w.apps[mentee].id,
            mentor_application_id=w.apps[mentor].id,
            state=state,
            proposed_at=now - timedelta(days=proposed_days_ago),
            mentee_accepted_at=now if Actor.MENTEE in accepted or state != "proposed" else None,
            mentor_accepted_at=now if Actor.MENTOR in accepted or state != "proposed" else None,
            activated_at=None if state == "proposed" else now,
        )
        session.add(pairing)
    return pairing


async def load(w: World, pairing_id: uuid.UUID) -> Pairing:
    async with w.db.tenant_session(w.tenant_id) as session:
        pairing = await session.get(Pairing, pairing_id)
        assert pairing is not None
        return pairing


async def outbox(w: World, actor: str) -> list[OutboxMessage]:
    async with w.db.platform_session() as session:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.actor_name == actor)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
        return list(await session.scalars(query))


async def mails(w: World) -> list[tuple[str, str, str, str]]:
    """(to, role, event, locale) of every pairing mail, sorted."""
    rows = await outbox(w, "core.send_mail")
    return sorted(
        (r.kwargs["to"], r.kwargs["context"]["role"], r.kwargs["context"]["event"],
         r.kwargs["locale"])
        for r in rows
        if r.kwargs["template"] == "pairing_update"
    )  # fmt: skip


async def events(w: World) -> list[tuple[str, dict[str, Any]]]:
    return [(r.kwargs["name"], r.kwargs["payload"]) for r in await outbox(w, "core.deliver_event")]


async def audits(w: World, prefix: str = "") -> list[AuditEntry]:
    async with w.db.tenant_session(w.tenant_id) as session:
        query = select(AuditEntry).order_by(AuditEntry.created_at, AuditEntry.id)
        return [a for a in await session.scalars(query) if a.action.startswith(prefix)]


async def clear_outbox(w: World) -> None:
    await tenants_without_jobs(w.db)


async def meetings(w: World) -> list[Meeting]:
    async with w.db.tenant_session(w.tenant_id) as session:
        return list(await session.scalars(select(Meeting)))


async def as_user(w: World, name: str, host: str = MUENCHEN) -> None:
    """Sign the client in as ``name`` (on ``host``'s tenant)."""
    assert w.web is not None
    user = w.augsburg_admin if name == "omar" else w.users[name]
    tenant_id = w.augsburg_id if host == AUGSBURG else w.tenant_id
    key = f"{name}@{host}"
    if key not in w.tokens:
        w.tokens[key] = await start_session(w.db, tenant_id, user)
    login(w.web, w.tokens[key])


async def page(w: World, path: str, lang: str = "en", host: str = MUENCHEN) -> httpx.Response:
    assert w.web is not None
    return await w.web.get(path, headers={"host": host, "accept-language": lang})


async def form(
    w: World, path: str, data: dict[str, Any], lang: str = "en", host: str = MUENCHEN
) -> httpx.Response:
    assert w.web is not None
    token = csrf_token(await w.web.get("/", headers={"host": host}))
    headers = {"host": host, "accept-language": lang}
    return await w.web.post(path, headers=headers, data={"_csrf_token": token, **data})


async def api(
    w: World, method: str, path: str, body: Any = None, lang: str = "en", host: str = MUENCHEN
) -> httpx.Response:
    assert w.web is not None
    headers = {"host": host, "accept-language": lang}
    if "tandem_csrf" not in w.web.cookies:
        await w.web.get("/api/v1/site", headers={"host": host})
    headers["x-csrftoken"] = w.web.cookies["tandem_csrf"]
    return await w.web.request(method, path, headers=headers, json=body)


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["key"]: e["message"] for e in response.json().get("errors", [])}


async def act(
    w: World,
    pairing: Pairing | uuid.UUID,
    action: Action,
    who: str,
    version: int | None = None,
    reason: str = "",
    as_actor: Actor | None = None,
) -> None:
    """One lifecycle action through the service, committed."""
    pairing_id = pairing if isinstance(pairing, uuid.UUID) else pairing.id
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        row = await session.get(Pairing, pairing_id)
        assert row is not None
        await services.act(
            session, row, action, w.who(who), row.version if version is None else version,
            reason, as_actor, base_url="https://muenchen.example",
        )  # fmt: skip


async def propose(w: World, mentee: str = "amira", mentor: str = "jonas", by: str = "clara"):
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        return await services.propose_by_ids(
            session, w.cohort, w.apps[mentee].id, w.apps[mentor].id, w.who(by),
            base_url="https://muenchen.example",
        )  # fmt: skip


# --- proposing --------------------------------------------------------------------------------


async def test_a_proposal_tells_both_people_in_their_language_and_plugins(world: World) -> None:
    w = world
    pairing = await propose(w)
    stored = await load(w, pairing.id)
    assert stored.state == PairingState.PROPOSED and stored.version == 1
    assert stored.proposed_by_user_id == w.users["clara"].id
    assert await mails(w) == [
        ("amira@apply.example", "mentee", "proposed", "de"),
        ("jonas@apply.example", "mentor", "proposed", "en"),
    ]
    [(name, payload)] = await events(w)
    assert name == "pairing.proposed"
    assert payload["pairing_id"] == str(pairing.id) and payload["state"] == "proposed"
    assert "amira" not in str(payload).lower(), "no names or addresses leave through plugins"
    [entry] = await audits(w, "pairing_")
    assert entry.action == "pairing_proposed" and entry.actor_user_id == w.users["clara"].id
    # The mail links to the tandem page, and the partner's address is not in it yet.
    [amira_mail] = [r for r in await outbox(w, "core.send_mail") if r.kwargs["locale"] == "de"]
    assert amira_mail.kwargs["context"]["link"] == "https://muenchen.example/tandem"
    assert amira_mail.kwargs["context"]["partner_email"] == ""


@pytest.mark.parametrize(
    ("mentee", "mentor", "problems"),
    [
        ("jonas", "mona", {"mentee_application_id": "not a mentee's application"}),
        ("amira", "bilal", {"mentor_application_id": "not a mentor's application"}),
        ("amira", "pending", {"mentor_application_id": "Only accepted applications"}),
        ("amira", None, {"mentor_application_id": "Choose one of the applications offered"}),
    ],
)
async def test_proposals_that_cannot_be_made_are_refused_per_field(
    world: World, mentee: str, mentor: str | None, problems: dict[str, str]
) -> None:
    w = world
    async with w.db.tenant_session(w.tenant_id) as session:
        with pytest.raises(InvalidInput) as refused:
            await services.propose_by_ids(
                session,
                w.cohort,
                w.apps[mentee].id,
                w.apps[mentor].id if mentor else uuid.uuid4(),
                w.who("clara"),
            )
    messages = refused.value.messages("en")
    assert set(messages) == set(problems)
    for key, text in problems.items():
        assert text in messages[key]
    assert await mails(w) == [] and await events(w) == []


async def test_a_mentee_has_one_open_tandem_and_a_mentor_no_more_than_their_capacity(
    world: World,
) -> None:
    w = world
    await propose(w, "amira", "mona")  # Mona takes one mentee
    with pytest.raises(InvalidInput) as refused:
        await propose(w, "bilal", "mona")
    assert (
        "no capacity left (1 open tandems)" in refused.value.messages("en")["mentor_application_id"]
    )
    with pytest.raises(InvalidInput) as refused:
        await propose(w, "amira", "jonas")
    assert refused.value.messages("de")["mentee_application_id"] == (
        "Diese Person hat als Mentee schon ein offenes Tandem."
    )
    # Once Amira's tandem is declined, she can be proposed again; a final tandem frees Mona.
    [pairing] = [p for p in await _pairings(w) if p.mentor_application_id == w.apps["mona"].id]
    await act(w, pairing, Action.DECLINE, "amira")
    await propose(w, "amira", "jonas")
    await propose(w, "bilal", "mona")
    # Another cohort's application never pairs here.
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        other = Cohort(
            programme_id=w.cohort.programme_id, slug="2027-autumn", name="Herbst",
            applications_open_on=date(2027, 5, 1), applications_close_on=date(2027, 6, 1),
            starts_on=date(2027, 7, 1), ends_on=date(2027, 11, 1),
        )  # fmt: skip
        session.add(other)
        await session.flush()
        with pytest.raises(InvalidInput) as refused:
            await services.propose_by_ids(
                session, other, w.apps["eva"].id, w.apps["jonas"].id, w.who("clara")
            )
    assert set(refused.value.problems) == {"mentee_application_id", "mentor_application_id"}


async def _pairings(w: World) -> list[Pairing]:
    async with w.db.tenant_session(w.tenant_id) as session:
        return list(await session.scalars(select(Pairing).order_by(Pairing.proposed_at)))


async def test_two_proposals_at_once_cannot_overbook_a_mentor(world: World) -> None:
    """Two coordinators propose Mona (capacity 1) at the same moment, each seeing her
    place free: the second write fails instead of giving her two mentees."""
    w = world
    async with w.db.tenant_session(w.tenant_id) as one, w.db.tenant_session(w.tenant_id) as two:
        await one.begin()
        await two.begin()
        cohort_one, cohort_two = (
            await one.get(Cohort, w.cohort.id),
            await two.get(Cohort, w.cohort.id),
        )
        mona_one = await one.get(Application, w.apps["mona"].id)
        mona_two = await two.get(Application, w.apps["mona"].id)
        amira = await one.get(Application, w.apps["amira"].id)
        bilal = await two.get(Application, w.apps["bilal"].id)
        assert cohort_one and cohort_two and mona_one and mona_two and amira and bilal
        # The first is written (not committed): Mona's row is now locked by it.
        await services.propose(one, cohort_one, amira, mona_one, w.who("clara"))
        # The second counts Mona's open tandems (none committed), then waits to write.
        second = asyncio.create_task(
            services.propose(two, cohort_two, bilal, mona_two, w.who("dora"))
        )
        await asyncio.sleep(0.5)
        assert not second.done(), "the second write waits for the first transaction"
        await one.commit()
        with pytest.raises(services.Conflict):
            await second
        await two.rollback()
    pairings = await _pairings(w)
    assert [p.mentee_application_id for p in pairings] == [w.apps["amira"].id]
    assert [name for name, _ in await events(w)] == ["pairing.proposed"]


# --- the lifecycle through the service ----------------------------------------------------------


async def test_a_tandem_from_proposal_to_completion(world: World) -> None:
    w = world
    pairing = await propose(w)
    await clear_outbox(w)

    await act(w, pairing, Action.ACCEPT, "amira")
    p = await load(w, pairing.id)
    assert p.state == PairingState.PROPOSED and p.mentee_accepted_at and not p.mentor_accepted_at
    assert p.version == 2
    # Only Jonas is asked for his answer.
    assert await mails(w) == [("jonas@apply.example", "mentor", "partner_accepted", "en")]
    await clear_outbox(w)

    await act(w, pairing, Action.ACCEPT, "jonas")
    p = await load(w, pairing.id)
    assert p.state == PairingState.ACTIVE and p.activated_at and p.mentor_accepted_at
    # Both, and both coordinators (Clara has no locale of her own: the tenant's German).
    assert await mails(w) == [
        ("amira@apply.example", "mentee", "active", "de"),
        ("clara@example.org", "coordinator", "active", "de"),
        ("dora@example.org", "coordinator", "active", "en"),
        ("jonas@apply.example", "mentor", "active", "en"),
    ]
    contexts = {r.kwargs["to"]: r.kwargs["context"] for r in await outbox(w, "core.send_mail")}
    assert contexts["amira@apply.example"]["partner_email"] == "jonas@apply.example"
    assert contexts["jonas@apply.example"]["partner_email"] == "amira@apply.example"
    assert contexts["clara@example.org"]["link"] == f"https://muenchen.example/tandem/{p.id}"
    await clear_outbox(w)

    await act(w, pairing, Action.PAUSE, "amira", reason="Umzug")
    p = await load(w, pairing.id)
    assert p.state == PairingState.PAUSED and p.paused_at is not None
    # Everyone concerned but Amira herself.
    assert [m[0] for m in await mails(w)] == [
        "clara@example.org",
        "dora@example.org",
        "jonas@apply.example",
    ]
    await clear_outbox(w)

    await act(w, pairing, Action.RESUME, "clara")
    p = await load(w, pairing.id)
    assert p.state == PairingState.ACTIVE and p.paused_at is None
    assert [m[0] for m in await mails(w)] == [
        "amira@apply.example",
        "dora@example.org",
        "jonas@apply.example",
    ]
    await clear_outbox(w)

    await act(w, pairing, Action.COMPLETE, "dora")
    p = await load(w, pairing.id)
    assert p.state == PairingState.COMPLETED and p.ended_at is not None
    assert p.version == 6

    entries = await audits(w, "pairing_")
    assert [e.action for e in entries] == [
        "pairing_proposed",
        "pairing_accept",
        "pairing_accept",
        "pairing_pause",
        "pairing_resume",
        "pairing_complete",
    ]
    assert entries[3].details == {
        "pairing_id": str(p.id), "as": "mentee", "from": "active", "to": "paused",
        "reason": "Umzug",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("state", "action", "who", "told"),
    [
        ("proposed", Action.DECLINE, "jonas", ["amira", "clara", "dora"]),
        ("proposed", Action.WITHDRAW, "clara", ["amira", "dora", "jonas"]),
        ("active", Action.DISSOLVE, "dora", ["amira", "clara", "jonas"]),
        ("paused", Action.DISSOLVE, "clara", ["amira", "dora", "jonas"]),
    ],
)
async def test_ending_a_tandem_keeps_the_reason_and_tells_the_others(
    world: World, state: str, action: Action, who: str, told: list[str]
) -> None:
    w = world
    pairing = await make_pairing(w, PairingState(state))
    await act(w, pairing, action, who, reason="Kein gemeinsamer Termin")
    p = await load(w, pairing.id)
    assert p.state == RULES[action].target and p.ended_at is not None
    assert p.reason == "Kein gemeinsamer Termin"
    sent = await mails(w)
    assert [m[0].split("@")[0] for m in sent] == told
    assert {m[2] for m in sent} == {str(p.state)}
    [(name, payload)] = await events(w)
    assert name == f"pairing.{action}"
    assert payload["previous_state"] == state and payload["state"] == str(p.state)
    assert payload["actor"] == ("mentor" if who == "jonas" else "coordinator")


async def test_every_transition_publishes_its_plugin_event_to_enabled_plugins(
    world: World, settings: Settings
) -> None:
    w = world
    received: list[Event] = []

    class Probe:
        PLUGIN = PluginInfo(id="probe", name="Probe", description="test", version="0.1")

        @hookimpl
        def handle_event(self, tenant: TenantSnapshot, event: Event) -> None:
            received.append(event)

    host = PluginHost.load(entry_points=False, extra=[Probe()])
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        await set_plugin_state(session, host, "probe", enabled=True, settings={})
    await clear_outbox(w)

    pairing = await propose(w)
    for action, who in (
        (Action.ACCEPT, "amira"),
        (Action.ACCEPT, "jonas"),
        (Action.PAUSE, "clara"),
        (Action.RESUME, "jonas"),
        (Action.COMPLETE, "clara"),
    ):
        await act(w, pairing, action, who)
    rows = await outbox(w, "core.deliver_event")
    assert [r.kwargs["name"] for r in rows] == [
        "pairing.proposed",
        "pairing.accept",
        "pairing.accept",
        "pairing.pause",
        "pairing.resume",
        "pairing.complete",
    ]
    for row in rows:
        assert await run_job(w.db, host, deliver_event, w.tenant_id, row.id, dict(row.kwargs))
    assert [e.name for e in received] == [r.kwargs["name"] for r in rows]
    assert [e.payload["state"] for e in received] == [
        "proposed", "proposed", "active", "paused", "active", "completed",
    ]  # fmt: skip
    assert all(e.tenant_id == w.tenant_id for e in received)


async def test_two_coordinators_acting_at_once_one_wins_and_nothing_is_lost(world: World) -> None:
    w = world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await clear_outbox(w)
    async with w.db.tenant_session(w.tenant_id) as one, w.db.tenant_session(w.tenant_id) as two:
        await one.begin()
        await two.begin()
        seen_one = await one.get(Pairing, pairing.id)
        seen_two = await two.get(Pairing, pairing.id)
        assert seen_one and seen_two and seen_one.version == seen_two.version == 1
        await services.act(one, seen_one, Action.PAUSE, w.who("clara"), 1, "Urlaub")
        await one.commit()
        # Dora saw version 1 as well; her write finds version 2 stored.
        with pytest.raises(services.Conflict):
            await services.act(two, seen_two, Action.DISSOLVE, w.who("dora"), 1, "Abbruch")
        await two.rollback()
    p = await load(w, pairing.id)
    assert p.state == PairingState.PAUSED and p.version == 2 and p.reason == ""
    assert [e.action for e in await audits(w, "pairing_")] == ["pairing_pause"]
    assert [name for name, _ in await events(w)] == ["pairing.pause"]
    assert {m[2] for m in await mails(w)} == {"paused"}
    # With the version she now sees, Dora's dissolve goes through.
    await act(w, pairing, Action.DISSOLVE, "dora", version=2, reason="Abbruch")
    assert (await load(w, pairing.id)).state == PairingState.DISSOLVED


async def test_a_stale_version_is_a_conflict_before_anything_is_checked(world: World) -> None:
    w = world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    with pytest.raises(services.Conflict):
        await act(w, pairing, Action.PAUSE, "clara", version=7)
    assert (await load(w, pairing.id)).version == 1
    assert await audits(w, "pairing_") == []


async def test_someone_outside_the_tandem_cannot_find_it(world: World) -> None:
    w = world
    pairing = await make_pairing(w)
    async with w.db.tenant_session(w.tenant_id) as session:
        for name in ("bilal", "mona"):
            with pytest.raises(services.PairingNotFound):
                await services.access_pairing_by_id(session, w.who(name), pairing.id)
        access = await services.access_pairing_by_id(session, w.who("amira"), pairing.id)
        assert access.actors == {Actor.MENTEE}
        access = await services.access_pairing_by_id(session, w.who("clara"), pairing.id)
        assert access.actors == {Actor.COORDINATOR}
    async with w.db.tenant_session(w.augsburg_id) as session:
        with pytest.raises(services.PairingNotFound):  # another tenant: not even its row
            await services.access_pairing_by_id(
                session, Who(w.augsburg_admin.id, frozenset({"admin"})), pairing.id
            )


# --- mail through a real SMTP server ---------------------------------------------------------


async def test_notifications_reach_the_smtp_server_once_each_in_each_language(
    world: World,
    mail_settings: Settings,  # noqa: F811
    plugins: PluginHost,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    w = world
    pairing = await propose(w)
    await act(w, pairing, Action.ACCEPT, "amira")
    await act(w, pairing, Action.ACCEPT, "jonas")
    jobs = await outbox(w, "core.send_mail")
    assert len(jobs) == 2 + 1 + 4
    broker = build_broker("")
    assert await relay_once(w.db, broker) == len(jobs) + 3  # and three plugin events
    # A broker's redelivery of every message: the claim lets each job send once.
    for message in list(broker.queues["default"].queue):
        broker.queues["default"].put(message)
    with running_worker(broker, mail_settings, plugins, threads=3) as worker:
        drain(broker, worker)
    received = smtp_server.messages()
    assert sorted(r.recipients[0] for r in received) == sorted(j.kwargs["to"] for j in jobs)
    assert len({r.message["Message-ID"] for r in received}) == len(jobs)
    started = [r.message for r in received if r.recipients == ["amira@apply.example"]]
    subjects = sorted(m["Subject"] for m in started)
    assert subjects == [
        "Für Sie wurde ein Tandem vorgeschlagen",
        "Ihr Tandem mit Jonas hat begonnen",
    ]
    jonas = sorted(
        r.message["Subject"] for r in received if r.recipients == ["jonas@apply.example"]
    )
    assert jonas == [
        "A tandem partner has been proposed for you",
        "Amira has accepted your tandem",
        "Your tandem with Amira has started",
    ]
    [active_de] = [m for m in started if "begonnen" in m["Subject"]]
    text = active_de.get_body(preferencelist=("plain",)).get_content()
    assert "jonas@apply.example" in text and "https://muenchen.example/tandem" in text
    for job in jobs:
        async with w.db.platform_session() as session:
            row = await session.get(OutboxMessage, job.id)
        assert row is not None and row.completed_at is not None and row.attempts == 1


class Crash(BaseException):
    """The worker process dies: not an Exception, so nothing records or rolls forward."""


async def test_a_crash_between_sending_and_acknowledging_sends_the_same_message_again(
    world: World,
    mail_settings: Settings,  # noqa: F811
    plugins: PluginHost,
    smtp_server: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the outbox guarantees: at least once, and a redelivery is the *same* message.

    The SMTP hand-over cannot be part of the database transaction that marks the job
    done. If the worker dies after the server accepted the mail and before that
    transaction commits, the job is still open and is sent again — with the same
    Message-ID (made from the job id), by which receiving systems drop the copy. Once
    a delivery has committed, no further delivery sends anything.
    """
    w = world
    pairing = await propose(w)
    [amira_job, jonas_job] = sorted(await outbox(w, "core.send_mail"), key=lambda r: r.kwargs["to"])
    mailer = mail_delivery.current_mailer()
    real = mailer.transport
    assert isinstance(real, SmtpTransport)

    class SendThenCrash:
        async def deliver(self, *args: Any) -> None:
            await real.deliver(*args)
            raise Crash()

    monkeypatch.setattr(mailer, "transport", SendThenCrash())
    with pytest.raises(Crash):
        await run_job(w.db, plugins, deliver_mail, w.tenant_id, amira_job.id, amira_job.kwargs)
    monkeypatch.setattr(mailer, "transport", real)
    [first] = smtp_server.messages()
    async with w.db.platform_session() as session:
        row = await session.get(OutboxMessage, amira_job.id)
        assert row is not None and row.completed_at is None, "the claim rolled back"

    # The broker (or the relay, after REDELIVER_AFTER) delivers the open jobs again.
    broker = build_broker("")
    assert await relay_once(w.db, broker) == 3  # both mails and the plugin event
    with running_worker(broker, mail_settings, plugins) as worker:
        drain(broker, worker)
    received = smtp_server.messages()
    to_amira = [r.message for r in received if r.recipients == ["amira@apply.example"]]
    assert len(to_amira) == 2, "sent again after the crash (at least once)"
    assert to_amira[0]["Message-ID"] == to_amira[1]["Message-ID"] == first.message["Message-ID"]
    assert to_amira[0]["Message-ID"] == f"<{amira_job.id}@tandem.example>"
    assert [r.recipients for r in received].count(["jonas@apply.example"]) == 1
    # Told apart by Message-ID, each notification arrived exactly once.
    assert len({r.message["Message-ID"] for r in received}) == 2
    # Done now: further deliveries send nothing.
    assert not await run_job(
        w.db, plugins, deliver_mail, w.tenant_id, amira_job.id, amira_job.kwargs
    )
    assert not await run_job(
        w.db, plugins, deliver_mail, w.tenant_id, jonas_job.id, jonas_job.kwargs
    )
    assert len(smtp_server.messages()) == 3
    assert pairing.id


# --- the API: every action by every role -------------------------------------------------------

ROLE_USERS = {Actor.MENTEE: "amira", Actor.MENTOR: "jonas", Actor.COORDINATOR: "clara"}


def _source(action: Action) -> PairingState:
    return min(RULES[action].source)  # a state the action starts from


@pytest.mark.parametrize("action", list(Action))
async def test_every_action_by_every_role_over_the_api(web_world: World, action: Action) -> None:
    w = web_world
    body = {"version": 1, "reason": "Abschluss nach Plan"}
    for role in Actor:
        pairing = await make_pairing(w, _source(action))
        await clear_outbox(w)
        path = f"/api/v1/pairings/{pairing.id}/actions/{action}"
        await as_user(w, ROLE_USERS[role])
        response = await api(w, "POST", path, body)
        entries = [
            a for a in await audits(w, "pairing_") if a.details["pairing_id"] == str(pairing.id)
        ]
        if role in RULES[action].actors:
            assert response.status_code == 200, (role, response.text)
            out = response.json()
            target = RULES[action].target if action is not Action.ACCEPT else PairingState.PROPOSED
            assert out["state"] == target and out["version"] == 2
            assert [a.action for a in entries] == [f"pairing_{action}"]
            assert [n for n, _ in await events(w)] == [f"pairing.{action}"]
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["detail"] == "You may not do this in this tandem."
            assert (await load(w, pairing.id)).version == 1
            assert entries == [] and await events(w) == [] and await mails(w) == []
        # Another participant of the same tenant does not even find it.
        await as_user(w, "bilal")
        assert (await api(w, "POST", path, body)).status_code == 404
        # Out of the way (a final state), so that the next role gets a fresh tandem.
        async with w.db.tenant_session(w.tenant_id) as session, session.begin():
            await session.execute(
                update(Pairing).where(Pairing.id == pairing.id).values(state="withdrawn")
            )


async def test_actions_in_the_wrong_state_or_without_a_reason_change_nothing(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await clear_outbox(w)
    await as_user(w, "clara")
    path = f"/api/v1/pairings/{pairing.id}/actions"
    response = await api(w, "POST", f"{path}/withdraw", {"version": 1})
    assert response.status_code == 409
    assert response.json()["detail"] == "This is not possible in the tandem's current state."
    response = await api(w, "POST", f"{path}/dissolve", {"version": 1, "reason": "  "}, lang="de")
    assert response.status_code == 422
    assert errors_of(response) == {"reason": "Geben Sie einen Grund für die Auflösung an."}
    response = await api(w, "POST", f"{path}/dissolve", {"version": 1, "reason": "x" * 2001})
    assert response.status_code == 422 and "2000" in errors_of(response)["reason"]
    response = await api(w, "POST", f"{path}/explode", {"version": 1})
    assert response.status_code == 404
    response = await api(w, "POST", f"{path}/pause", {"version": "one"})
    assert response.status_code == 400
    assert (await load(w, pairing.id)).version == 1
    assert await audits(w, "pairing_") == [] and await events(w) == []


async def test_the_second_of_two_coordinators_gets_409_with_the_current_state(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await clear_outbox(w)
    await as_user(w, "clara")
    path = f"/api/v1/pairings/{pairing.id}/actions"
    first = await api(w, "POST", f"{path}/pause", {"version": 1})
    assert first.status_code == 200 and first.json()["state"] == "paused"
    await as_user(w, "dora")
    second = await api(w, "POST", f"{path}/complete", {"version": 1}, lang="de")
    assert second.status_code == 409
    problem = second.json()
    # Dora's saved language (English) wins over her browser's German.
    assert problem["detail"].startswith(CONFLICT_EN)
    assert problem["pairing"]["state"] == "paused" and problem["pairing"]["version"] == 2
    assert problem["pairing"]["available_actions"] == ["resume", "dissolve"]
    # Nothing of Dora's was written, nothing of Clara's lost.
    assert [a.action for a in await audits(w, "pairing_")] == ["pairing_pause"]
    assert [n for n, _ in await events(w)] == ["pairing.pause"]
    # The same on the coordinator's page: 409 and the page as it is now.
    response = await form(
        w, f"/admin/cohorts/{COHORT}/pairings/{pairing.id}/actions/resume", {"version": "1"}
    )
    assert response.status_code == 409
    assert CONFLICT_EN in response.text and "Paused" in response.text
    assert (await load(w, pairing.id)).state == PairingState.PAUSED


# --- the API: reading ---------------------------------------------------------------------------


async def test_the_api_lists_what_each_person_may_see(web_world: World) -> None:
    w = web_world
    mine = await make_pairing(w, PairingState.ACTIVE)
    other = await make_pairing(w, PairingState.PROPOSED, mentee="bilal", mentor="mona")
    await as_user(w, "clara")
    listed = (await api(w, "GET", "/api/v1/pairings")).json()
    assert {p["id"] for p in listed} == {str(mine.id), str(other.id)}
    listed = (await api(w, "GET", f"/api/v1/pairings?cohort={COHORT}&state=proposed")).json()
    assert [p["id"] for p in listed] == [str(other.id)]
    assert (await api(w, "GET", "/api/v1/pairings?cohort=nope")).status_code == 404
    assert (await api(w, "GET", "/api/v1/pairings?state=nope")).status_code == 400

    await as_user(w, "amira")
    [own] = (await api(w, "GET", "/api/v1/pairings")).json()
    assert own["id"] == str(mine.id) and own["your_roles"] == ["mentee"]
    assert own["mentor"] == {
        "application_id": str(w.apps["jonas"].id), "name": "Jonas",
        "email": "jonas@apply.example",
    }  # fmt: skip
    assert own["expected_hours"] == 24 and own["minutes_logged"] == 0 and own["score"] is None
    assert own["available_actions"] == ["pause"]
    assert (await api(w, "GET", f"/api/v1/pairings/{other.id}")).status_code == 404

    await as_user(w, "bilal")
    [proposed] = (await api(w, "GET", "/api/v1/pairings")).json()
    # While proposed, the partner's name is shown, the address is not.
    assert proposed["mentor"]["name"] == "Mona" and proposed["mentor"]["email"] is None
    assert proposed["mentee"]["email"] == "bilal@apply.example"
    assert proposed["available_actions"] == ["accept", "decline"]


async def test_proposing_over_the_api(web_world: World) -> None:
    w = web_world
    body = {
        "cohort": COHORT,
        "mentee_application_id": str(w.apps["amira"].id),
        "mentor_application_id": str(w.apps["jonas"].id),
    }
    await as_user(w, "jonas")
    assert (await api(w, "POST", "/api/v1/pairings", body)).status_code == 403
    await as_user(w, "clara")
    created = await api(w, "POST", "/api/v1/pairings", body)
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "proposed" and created.json()["your_roles"] == ["coordinator"]
    again = await api(w, "POST", "/api/v1/pairings", body, lang="de")
    assert again.status_code == 422
    assert errors_of(again) == {
        "mentee_application_id": "Diese Person hat als Mentee schon ein offenes Tandem."
    }
    unknown = await api(w, "POST", "/api/v1/pairings", {**body, "cohort": "nope"})
    assert unknown.status_code == 404
    assert len(await _pairings(w)) == 1


# --- pages: the participant -----------------------------------------------------------------


async def test_participants_accept_on_their_page_and_then_see_each_other(
    web_world: World,
) -> None:
    w = web_world
    pairing = await propose(w)
    await as_user(w, "amira")
    mine = await page(w, "/tandem", lang="de")
    assert mine.status_code == 200
    assert "Ihr Tandem mit Jonas" in mine.text
    assert "jonas@apply.example" not in mine.text, "no address before both accepted"
    assert f'action="/tandem/{pairing.id}/actions/accept"' in mine.text
    assert f'action="/tandem/{pairing.id}/actions/decline"' in mine.text
    assert 'name="version" value="1"' in mine.text
    assert "actions/withdraw" not in mine.text, "only what she may do"
    accepted = await form(w, f"/tandem/{pairing.id}/actions/accept", {"version": "1"})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/tandem/{pairing.id}?done=action-accept"
    shown = await page(w, accepted.headers["location"])
    assert "You have accepted the tandem." in shown.text
    assert "actions/accept" not in shown.text and "actions/decline" in shown.text

    await as_user(w, "jonas")
    accepted = await form(w, f"/tandem/{pairing.id}/actions/accept", {"version": "2"})
    assert accepted.status_code == 303
    shown = await page(w, f"/tandem/{pairing.id}")
    assert "Your tandem with Amira" in shown.text
    assert 'href="mailto:amira@apply.example"' in shown.text
    assert f'<progress id="hours-{pairing.id}" max="24" value="0.00">' in shown.text
    assert 'name="goals"' in shown.text and 'name="held_on"' in shown.text
    assert (await load(w, pairing.id)).state == PairingState.ACTIVE
    # A second click with the old version: 409 and the page as it is now.
    again = await form(w, f"/tandem/{pairing.id}/actions/pause", {"version": "2"}, lang="de")
    assert again.status_code == 409 and CONFLICT_DE in again.text
    assert "Aktiv" in again.text


async def test_a_participant_with_no_tandem_and_other_participants_find_nothing(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "bilal")
    mine = await page(w, "/tandem")
    assert mine.status_code == 200 and "You are not in a tandem yet" in mine.text
    meeting = {"held_on": date.today().isoformat(), "minutes": "60", "format": "online",
               "topic": "Bewerbung"}  # fmt: skip
    for method, path, data in [
        ("GET", f"/tandem/{pairing.id}", None),
        ("POST", f"/tandem/{pairing.id}/actions/pause", {"version": "1"}),
        ("POST", f"/tandem/{pairing.id}/agreement", {"version": "0", "goals": "x"}),
        ("POST", f"/tandem/{pairing.id}/agreement/accept", {"version": "1"}),
        ("POST", f"/tandem/{pairing.id}/meetings", meeting),
    ]:
        response = await (page(w, path) if method == "GET" else form(w, path, data or {}))
        assert response.status_code == 404, path
    for method, path, body in [
        ("GET", f"/api/v1/pairings/{pairing.id}", None),
        ("GET", f"/api/v1/pairings/{pairing.id}/agreement", None),
        ("GET", f"/api/v1/pairings/{pairing.id}/meetings", None),
        ("PUT", f"/api/v1/pairings/{pairing.id}/agreement", {"goals": "x", "version": 0}),
        ("POST", f"/api/v1/pairings/{pairing.id}/meetings", {**meeting, "minutes": 60}),
    ]:
        assert (await api(w, method, path, body)).status_code == 404, path
    # Participants have no coordinator pages.
    assert (await page(w, f"/admin/cohorts/{COHORT}/pairings")).status_code == 403
    assert await meetings(w) == []


async def test_another_tenant_finds_nothing_on_any_page_or_route(web_world: World) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "omar", host=AUGSBURG)
    meeting = {"held_on": date.today().isoformat(), "minutes": 60, "format": "online",
               "topic": "x"}  # fmt: skip
    for path in (
        f"/tandem/{pairing.id}",
        f"/admin/cohorts/{COHORT}/pairings",
        f"/api/v1/pairings/{pairing.id}",
        f"/api/v1/pairings/{pairing.id}/agreement",
        f"/api/v1/pairings/{pairing.id}/meetings",
        f"/api/v1/pairings?cohort={COHORT}",
    ):
        assert (await page(w, path, host=AUGSBURG)).status_code == 404, path
    assert (await api(w, "GET", "/api/v1/pairings", host=AUGSBURG)).json() == []
    for method, path, body in [
        ("POST", f"/api/v1/pairings/{pairing.id}/actions/pause", {"version": 1}),
        ("PUT", f"/api/v1/pairings/{pairing.id}/agreement", {"goals": "x", "version": 0}),
        ("POST", f"/api/v1/pairings/{pairing.id}/meetings", meeting),
        ("POST", "/api/v1/pairings", {
            "cohort": COHORT, "mentee_application_id": str(w.apps["bilal"].id),
            "mentor_application_id": str(w.apps["mona"].id),
        }),
    ]:  # fmt: skip
        assert (await api(w, method, path, body, host=AUGSBURG)).status_code == 404, path
    for path, data in [
        (f"/tandem/{pairing.id}/actions/pause", {"version": "1"}),
        (f"/admin/cohorts/{COHORT}/pairings/{pairing.id}/actions/pause", {"version": "1"}),
        (f"/tandem/{pairing.id}/meetings", {k: str(v) for k, v in meeting.items()}),
    ]:
        assert (await form(w, path, data, host=AUGSBURG)).status_code == 404, path
    # München's session means nothing on Augsburg's host (and the other way round).
    await as_user(w, "clara")
    response = await page(w, f"/tandem/{pairing.id}", host=AUGSBURG)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    p = await load(w, pairing.id)
    assert p.state == PairingState.ACTIVE and p.version == 1
    assert await meetings(w) == [] and len(await _pairings(w)) == 1


# --- pages: the coordinator ---------------------------------------------------------------------


async def test_coordinators_list_filter_propose_and_act_on_their_page(web_world: World) -> None:
    w = web_world
    active = await make_pairing(w, PairingState.ACTIVE, mentee="bilal", mentor="jonas")
    await as_user(w, "clara")
    listing = await page(w, f"/admin/cohorts/{COHORT}/pairings")
    assert listing.status_code == 200
    text = listing.text
    # Amira and Eva are free; Bilal is paired. Jonas has room for one more, Mona for one.
    assert f'<option value="{w.apps["amira"].id}">Amira</option>' in text
    assert f'value="{w.apps["eva"].id}"' in text and f'value="{w.apps["bilal"].id}"' not in text
    assert "Jonas (room for 1)" in text and "Mona (room for 1)" in text
    assert "Paul" not in text, "not accepted yet"
    assert f"/admin/cohorts/{COHORT}/pairings/{active.id}/actions/pause" in text
    assert f"/admin/cohorts/{COHORT}/pairings/{active.id}/actions/dissolve" in text
    assert "actions/accept" not in text

    proposed = await form(w, f"/admin/cohorts/{COHORT}/pairings", {
        "mentee_application_id": str(w.apps["amira"].id),
        "mentor_application_id": str(w.apps["mona"].id),
    })  # fmt: skip
    assert proposed.status_code == 303
    assert proposed.headers["location"] == f"/admin/cohorts/{COHORT}/pairings?done=proposed"
    filtered = await page(w, f"/admin/cohorts/{COHORT}/pairings?state=proposed", lang="de")
    assert "Amira" in filtered.text and "Bilal" not in filtered.text
    assert '<option value="proposed" selected>' in filtered.text

    # Dissolving needs a reason: inline error, in both languages, nothing changed.
    path = f"/admin/cohorts/{COHORT}/pairings/{active.id}/actions/dissolve"
    for lang, message in (
        ("en", "Give a reason for dissolving the tandem."),
        ("de", "Geben Sie einen Grund für die Auflösung an."),
    ):
        refused = await form(w, path, {"version": "1", "reason": ""}, lang=lang)
        assert refused.status_code == 422
        assert f'id="reason-{active.id}-dissolve-error"' in refused.text
        assert message in refused.text
    assert (await load(w, active.id)).state == PairingState.ACTIVE
    done = await form(w, path, {"version": "1", "reason": "Umzug nach Hamburg"})
    assert done.status_code == 303
    assert (await load(w, active.id)).reason == "Umzug nach Hamburg"
    # A pairing of this tenant, but asked for under another cohort's address: not found.
    assert (await page(w, "/admin/cohorts/nope/pairings")).status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "en", "de"),
    [
        ({"mentee_application_id": ""}, "mentee", "Choose one of the applications offered.",
         "Wählen Sie eine der angebotenen Bewerbungen."),
        ({"mentor_application_id": "not-a-uuid"}, "mentor",
         "Choose one of the applications offered.", "Wählen Sie eine der angebotenen Bewerbungen."),
    ],
)  # fmt: skip
async def test_an_invalid_proposal_is_shown_inline_in_both_languages(
    web_world: World, data: dict[str, str], field: str, en: str, de: str
) -> None:
    w = web_world
    await as_user(w, "clara")
    valid = {
        "mentee_application_id": str(w.apps["amira"].id),
        "mentor_application_id": str(w.apps["jonas"].id),
    }
    for lang, message in (("en", en), ("de", de)):
        response = await form(w, f"/admin/cohorts/{COHORT}/pairings", {**valid, **data}, lang)
        assert response.status_code == 422
        assert f'id="propose-{field}-error"' in response.text and message in response.text
    assert await _pairings(w) == [] and await mails(w) == []


# --- meetings -----------------------------------------------------------------------------------

TODAY = date.today()


def meeting_form(**changes: str) -> dict[str, str]:
    values = {
        "held_on": (TODAY - timedelta(days=2)).isoformat(),
        "minutes": "90",
        "format": "in_person",
        "topic": "Lebenslauf durchgehen",
        "notes": "Vertraulich: Gehaltsvorstellung 52k",
    }
    return {**values, **changes}


INVALID_MEETINGS = [
        ({"held_on": (TODAY + timedelta(days=1)).isoformat()}, "held_on",
         "The meeting cannot be in the future.", "Das Treffen kann nicht in der Zukunft liegen."),
        ({"held_on": (TODAY - timedelta(days=30)).isoformat()}, "held_on",
         "before the tandem was proposed", "bevor das Tandem vorgeschlagen wurde"),
        ({"held_on": "2026-02-30"}, "held_on", "Enter a date such as", "Geben Sie ein Datum"),
        ({"minutes": "10"}, "minutes", "from 15 minutes to 12 hours",
         "von 15 Minuten bis 12 Stunden"),
        ({"minutes": "721"}, "minutes", "from 15 minutes to 12 hours",
         "von 15 Minuten bis 12 Stunden"),
        ({"minutes": "1.5"}, "minutes", "Enter a whole number.", "Geben Sie eine ganze Zahl ein."),
        ({"format": ""}, "format", "Choose one of the options offered.",
         "Wählen Sie eine der angebotenen Möglichkeiten."),
        ({"format": "carrier_pigeon"}, "format", "Choose one of the options offered.",
         "Wählen Sie eine der angebotenen Möglichkeiten."),
        ({"topic": "  "}, "topic", "Enter what the meeting was about.",
         "Geben Sie an, worum es beim Treffen ging."),
        ({"topic": "x" * 201}, "topic", "Use at most 200 characters.",
         "Verwenden Sie höchstens 200 Zeichen."),
]  # fmt: skip


async def test_invalid_meetings_are_shown_inline_in_both_languages_and_not_stored(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    await as_user(w, "amira")
    for change, name, en, de in INVALID_MEETINGS:
        for lang, message in (("en", en), ("de", de)):
            data = meeting_form(**change)
            response = await form(w, f"/tandem/{pairing.id}/meetings", data, lang)
            assert response.status_code == 422, change
            assert f'id="meeting-{pairing.id}-{name}-error"' in response.text, change
            assert message in response.text, change
            assert 'aria-invalid="true"' in response.text
            assert "Lebenslauf durchgehen" in response.text or name == "topic", "input kept"
        body: dict[str, Any] = meeting_form(**change)
        if body["minutes"].isdigit():
            body["minutes"] = int(body["minutes"])
        response = await api(w, "POST", f"/api/v1/pairings/{pairing.id}/meetings", body, "de")
        # Types the JSON decoder refuses are 400; rules broken by valid types are 422.
        assert response.status_code in (400, 422), change
        if response.status_code == 422:
            assert de in errors_of(response)[name], change
    assert await meetings(w) == []


async def test_meetings_add_up_clear_the_risk_flag_and_keep_notes_from_coordinators(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        await session.execute(
            update(Pairing).where(Pairing.id == pairing.id).values(at_risk_since=utcnow())
        )
    await as_user(w, "amira")
    logged = await form(w, f"/tandem/{pairing.id}/meetings", meeting_form())
    assert logged.status_code == 303, logged.text
    assert (await load(w, pairing.id)).at_risk_since is None
    created = await api(w, "POST", f"/api/v1/pairings/{pairing.id}/meetings", {
        "held_on": TODAY.isoformat(), "minutes": 630, "format": "phone",
        "topic": "Netzwerk", "notes": "Nur für uns",
    })  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["notes"] == "Nur für uns"
    shown = await page(w, f"/tandem/{pairing.id}", lang="de")
    assert "Vertraulich: Gehaltsvorstellung 52k" in shown.text and "Nur für uns" in shown.text
    assert f'<progress id="hours-{pairing.id}" max="24" value="12.00">' in shown.text
    assert "Gemeinsame Stunden: 12 von 24" in shown.text

    # Coordinators: date, duration, format, topic — never the notes, on pages or in the API.
    await as_user(w, "clara")
    shown = await page(w, f"/tandem/{pairing.id}")
    assert shown.status_code == 200
    assert "Lebenslauf durchgehen" in shown.text and "Netzwerk" in shown.text
    assert "Gehaltsvorstellung" not in shown.text and "Nur für uns" not in shown.text
    assert 'name="held_on"' not in shown.text, "coordinators do not log meetings"
    listed = (await api(w, "GET", f"/api/v1/pairings/{pairing.id}/meetings")).json()
    assert {m["topic"] for m in listed} == {"Lebenslauf durchgehen", "Netzwerk"}
    assert all(m["notes"] is None for m in listed)
    assert "Gehaltsvorstellung" not in str([a.details for a in await audits(w)])
    refused = await api(w, "POST", f"/api/v1/pairings/{pairing.id}/meetings", {
        "held_on": TODAY.isoformat(), "minutes": 60, "format": "phone", "topic": "x",
    })  # fmt: skip
    assert refused.status_code == 403
    cohort_page = await page(w, f"/admin/cohorts/{COHORT}/pairings")
    assert "12 of 24" in cohort_page.text and "Gehaltsvorstellung" not in cohort_page.text
    [out] = (await api(w, "GET", "/api/v1/pairings")).json()
    assert out["minutes_logged"] == 720


async def test_the_pair_edits_and_deletes_its_meetings(web_world: World) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    other = await make_pairing(w, PairingState.ACTIVE, mentee="bilal", mentor="mona")
    await as_user(w, "amira")
    assert (await form(w, f"/tandem/{pairing.id}/meetings", meeting_form())).status_code == 303
    [meeting] = await meetings(w)
    # Jonas (the partner) edits it: the form shows it, invalid input is kept and explained.
    await as_user(w, "jonas")
    edit = await page(w, f"/tandem/{pairing.id}/meetings/{meeting.id}")
    assert edit.status_code == 200 and 'value="90"' in edit.text
    wrong = await form(
        w, f"/tandem/{pairing.id}/meetings/{meeting.id}", meeting_form(minutes="5"), lang="de"
    )
    assert wrong.status_code == 422 and "von 15 Minuten bis 12 Stunden" in wrong.text
    assert 'value="5"' in wrong.text
    changed = await form(
        w, f"/tandem/{pairing.id}/meetings/{meeting.id}", meeting_form(minutes="45")
    )
    assert changed.status_code == 303
    [meeting] = await meetings(w)
    assert meeting.minutes == 45 and meeting.format == MeetingFormat.IN_PERSON
    # Not through another tandem's address, not by a coordinator, not from another tandem.
    await as_user(w, "bilal")
    assert (await page(w, f"/tandem/{other.id}/meetings/{meeting.id}")).status_code == 404
    response = await form(w, f"/tandem/{other.id}/meetings/{meeting.id}/delete", {})
    assert response.status_code == 404
    response = await api(w, "DELETE", f"/api/v1/pairings/{pairing.id}/meetings/{meeting.id}")
    assert response.status_code == 404
    await as_user(w, "clara")
    assert (await page(w, f"/tandem/{pairing.id}/meetings/{meeting.id}")).status_code == 404
    response = await api(w, "DELETE", f"/api/v1/pairings/{pairing.id}/meetings/{meeting.id}")
    assert response.status_code == 403
    assert len(await meetings(w)) == 1
    await as_user(w, "amira")
    deleted = await form(w, f"/tandem/{pairing.id}/meetings/{meeting.id}/delete", {})
    assert deleted.status_code == 303
    assert await meetings(w) == []
    assert [a.action for a in await audits(w, "meeting_")] == [
        "meeting_logged", "meeting_changed", "meeting_deleted",
    ]  # fmt: skip


async def test_meetings_wait_for_the_tandem_to_start(web_world: World) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.PROPOSED)
    await as_user(w, "amira")
    response = await form(w, f"/tandem/{pairing.id}/meetings", meeting_form())
    assert response.status_code == 409
    assert "Meetings can be logged once the tandem has started." in response.text
    assert await meetings(w) == []


# --- the agreement ------------------------------------------------------------------------------


async def test_the_agreement_is_written_accepted_by_both_and_a_change_asks_again(
    web_world: World,
) -> None:
    w = web_world
    pairing = await make_pairing(w, PairingState.ACTIVE)
    path = f"/tandem/{pairing.id}/agreement"
    await as_user(w, "amira")
    empty = await form(w, path, {"version": "0", "goals": "   "}, lang="de")
    assert empty.status_code == 422 and "Schreiben Sie mindestens ein Ziel auf." in empty.text
    saved = await form(w, path, {"version": "0", "goals": "Anerkennung beantragen"})
    assert saved.status_code == 303
    accepted = await form(w, f"{path}/accept", {"version": "1"})
    assert accepted.status_code == 303
    # Accepting is a change too (version 2); accepting again is refused.
    twice = await api(w, "POST", f"/api/v1/pairings/{pairing.id}/agreement/accept", {"version": 2})
    assert twice.status_code == 409 and "already accepted these goals" in twice.json()["detail"]

    await as_user(w, "jonas")
    stale = await api(w, "PUT", f"/api/v1/pairings/{pairing.id}/agreement", {
        "goals": "Netzwerk", "version": 0,
    })  # fmt: skip
    assert stale.status_code == 409
    assert stale.json()["agreement"]["goals"] == "Anerkennung beantragen"
    out = await api(w, "POST", f"/api/v1/pairings/{pairing.id}/agreement/accept", {"version": 2})
    assert out.status_code == 200
    assert out.json()["mentee_accepted_at"] and out.json()["mentor_accepted_at"]
    changed = await api(w, "PUT", f"/api/v1/pairings/{pairing.id}/agreement", {
        "goals": "Anerkennung beantragen\nNetzwerk aufbauen", "version": 3,
    })  # fmt: skip
    assert changed.status_code == 200
    assert changed.json()["version"] == 4
    assert changed.json()["mentee_accepted_at"] is None is changed.json()["mentor_accepted_at"]

    # Coordinators read it, and may not write or accept.
    await as_user(w, "clara")
    read = await api(w, "GET", f"/api/v1/pairings/{pairing.id}/agreement")
    assert read.status_code == 200 and "Netzwerk aufbauen" in read.json()["goals"]
    shown = await page(w, f"/tandem/{pairing.id}")
    assert "Netzwerk aufbauen" in shown.text and 'name="goals"' not in shown.text
    refused = await api(w, "PUT", f"/api/v1/pairings/{pairing.id}/agreement", {
        "goals": "Etwas anderes", "version": 4,
    })  # fmt: skip
    assert refused.status_code == 403
    async with w.db.tenant_session(w.tenant_id) as session:
        [agreement] = list(await session.scalars(select(Agreement)))
        assert agreement.version == 4 and "Etwas anderes" not in agreement.goals
        count = await session.scalar(select(func.count()).select_from(Agreement))
    assert count == 1
    assert [a.action for a in await audits(w, "agreement_")] == [
        "agreement_saved", "agreement_accepted", "agreement_accepted", "agreement_saved",
    ]  # fmt: skip


async def test_the_api_is_documented(web_world: World) -> None:
    w = web_world
    schema = (await page(w, "/api/docs/openapi.json")).json()
    paths = schema["paths"]
    assert "/api/v1/pairings/{pairing_id}/actions/{action}" in paths
    operation = paths["/api/v1/pairings/{pairing_id}/actions/{action}"]["post"]
    assert {"403", "404", "409", "422"} <= set(operation["responses"])
    assert "/api/v1/pairings/{pairing_id}/meetings/{meeting_id}" in paths
    assert "MeetingOut" in str(schema["components"])
