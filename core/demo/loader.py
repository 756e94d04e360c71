"""``tandem demo load``: a programme with three cohorts per demo tenant, made through the
services so that every rule and invariant holds as it would for real input.

Per tenant (muenchen, augsburg, toronto; see :mod:`core.demo.data`), relative to today:

* a **previous** cohort, finished: completed tandems with meetings up to the target,
  agreements, check-ins answered, and follow-ups after 3 and 6 months with employment
  outcomes; one tandem dissolved. The first completed tandem has its certificates
  (mentee, mentor and, where the tenant's design includes one, the mentor's company),
  issued on the day it ended and rendered at once; the others wait for a coordinator
  to issue the cohort's certificates in one batch;
* a **running** cohort: tandems in every open and ended state — the demo mentee and
  mentor of ``tenants/<slug>.toml`` active together (midpoint check-in open), the demo
  mentor with a second proposal to accept, one tandem at risk (no meeting for four
  weeks), one paused, one fresh, one declined, one withdrawn, one dissolved;
* a **current** cohort taking applications today: 35 applications in every intake
  state (submitted, in review, accepted, waiting list, rejected, withdrawn); its eight
  accepted mentees and three accepted mentors have no tandem yet, so that a newcomer
  can run matching (``/admin/cohorts/<slug>/matching``), see its proposals and try
  what-if weights.

Paired people and the few who withdraw get accounts (sign-in by e-mail link, the
``email`` provider) because the lifecycle asks each side to act for itself; the demo
coordinator of the tenant's file proposes, completes and decides. The file's members
must exist, so run ``tandem tenants sync`` first.

Deterministic: names, places and figures come from a random generator seeded with the
tenant's slug. Idempotent: a tenant that has the demo programme already is left alone
(``reset=True`` deletes the demo programme with everything in it first). Demo history
notifies nobody: the mails and plugin events the services queue are dropped before they
reach the outbox; audit entries stay, as they would for real work.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.applications import services as applications
from core.applications.consent import CONSENT_VERSION
from core.applications.fields import collect
from core.applications.models import (
    Application,
    ApplicationKind,
    ApplicationStatus,
    IntakeNote,
)
from core.applications.schemas import german_required, validate
from core.certificates import services as certificates
from core.certificates.models import Certificate, CertificateBatch
from core.db.sessions import Database
from core.demo import data
from core.identity.accounts import find_or_create_user_for_identity
from core.identity.invitations import Invitation
from core.identity.models import EMAIL_LOGIN_ISSUER, Membership, User
from core.jobs.models import OutboxMessage
from core.pairings import checkins, services
from core.pairings.at_risk import refresh_at_risk
from core.pairings.lifecycle import Action
from core.pairings.models import (
    Agreement,
    CheckIn,
    CheckInKind,
    EmploymentOutcome,
    Meeting,
    Pairing,
)
from core.pairings.services import PairingAccess
from core.pluginhost.manager import PluginHost
from core.programmes import services as programmes
from core.programmes.models import Cohort, Programme
from core.tenancy.models import Tenant
from core.tenancy.snapshot import TenantSnapshot, take_snapshot

DEMO_TENANTS = tuple(data.CITIES)
CURRENT_APPLICATIONS = {  # status → (mentees, mentors): 35 in all
    ApplicationStatus.SUBMITTED: (6, 2),
    ApplicationStatus.IN_REVIEW: (4, 2),
    ApplicationStatus.ACCEPTED: (8, 3),  # waiting for matching: no tandems made for them
    ApplicationStatus.WAITLISTED: (3, 1),
    ApplicationStatus.REJECTED: (2, 1),
    ApplicationStatus.WITHDRAWN: (2, 1),
}


class DemoError(Exception):
    """The demo cannot be loaded (for example: the tenants were not synced)."""


@dataclass(frozen=True)
class Who:
    """Someone acting through the services (what CurrentUser offers them)."""

    id: uuid.UUID
    roles: frozenset[str]


@dataclass
class Person:
    kind: ApplicationKind
    name: str
    email: str
    locale: str
    occupation: str
    country: str
    language: str
    needs_account: bool = False
    capacity: int | None = None  # mentors: how many mentees (None: a random 1-3)
    user_id: uuid.UUID | None = None
    application: Application | None = field(default=None, repr=False)

    def who(self) -> Who:
        assert self.user_id is not None, self.name
        return Who(self.user_id, frozenset({self.kind.value}))


# --- dropping the notifications of demo history ------------------------------------------------


@contextmanager
def quiet(session: AsyncSession) -> Iterator[None]:
    """While active, jobs queued in ``session`` (mails, plugin events) are not written."""
    sync = session.sync_session

    def drop(target: Session, _context: Any, _instances: Any) -> None:
        for obj in list(target.new):
            if isinstance(obj, OutboxMessage):
                target.expunge(obj)
        target.info.pop("outbox_dirty", None)

    event.listen(sync, "before_flush", drop)
    try:
        yield
    finally:
        event.remove(sync, "before_flush", drop)
        sync.info.pop("outbox_dirty", None)


# --- entry point ---------------------------------------------------------------------------------


async def load_demo(
    db: Database,
    plugins: PluginHost,
    *,
    reset: bool = False,
    today: date | None = None,
    only: tuple[str, ...] = DEMO_TENANTS,
) -> list[str]:
    """Load the demo into each demo tenant that lacks it; one report line per tenant."""
    today = today or programmes.today()
    lines = []
    for slug in only:
        city = data.CITIES[slug]
        async with db.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            lines.append(f"{slug}: no such tenant (run `tandem tenants sync` first), skipped")
            continue
        async with db.tenant_session(tenant.id) as session:
            existing = await programmes.programme_by_slug(session, str(city.programme["slug"]))
        if existing is not None:
            if not reset:
                lines.append(f"{slug}: demo data present, nothing changed")
                continue
            await _reset(db, tenant.id, existing.id)
        snapshot = await take_snapshot(db, tenant)
        counts = await _load_tenant(db, plugins, snapshot, city, today)
        lines.append(
            f"{slug}: loaded {counts['applications']} applications, "
            f"{counts['pairings']} tandems, {counts['meetings']} meetings, "
            f"{counts['checkins']} check-ins, {counts['certificates']} certificates"
        )
    return lines


async def _reset(db: Database, tenant_id: uuid.UUID, programme_id: uuid.UUID) -> None:
    """Delete the demo programme and everything in it (the accounts stay)."""
    async with db.tenant_session(tenant_id) as session, session.begin():
        cohorts = select(Cohort.id).where(Cohort.programme_id == programme_id)
        pairings = select(Pairing.id).where(Pairing.cohort_id.in_(cohorts))
        apps = select(Application.id).where(Application.cohort_id.in_(cohorts))
        invitations = select(Application.invitation_id).where(
            Application.cohort_id.in_(cohorts), Application.invitation_id.is_not(None)
        )
        invitation_ids = list(await session.scalars(invitations))
        await session.execute(delete(Certificate).where(Certificate.pairing_id.in_(pairings)))
        batches = delete(CertificateBatch).where(CertificateBatch.cohort_id.in_(cohorts))
        await session.execute(batches)
        for model in (CheckIn, Meeting, Agreement):
            await session.execute(delete(model).where(model.pairing_id.in_(pairings)))
        await session.execute(delete(Pairing).where(Pairing.cohort_id.in_(cohorts)))
        await session.execute(delete(IntakeNote).where(IntakeNote.application_id.in_(apps)))
        await session.execute(delete(Application).where(Application.cohort_id.in_(cohorts)))
        if invitation_ids:
            await session.execute(delete(Invitation).where(Invitation.id.in_(invitation_ids)))
        await session.execute(delete(Cohort).where(Cohort.programme_id == programme_id))
        await session.execute(delete(Programme).where(Programme.id == programme_id))


# --- people ----------------------------------------------------------------------------------


class _Names:
    """Unique, deterministic names: a community's first name with one of its surnames."""

    def __init__(self, rng: random.Random, city: data.City) -> None:
        self.rng = rng
        self.city = city
        self.used = {city.demo_mentee, city.demo_mentor}

    def _pick(self, firsts: tuple[str, ...], lasts: tuple[str, ...]) -> str:
        for _ in range(1000):
            name = f"{self.rng.choice(firsts)} {self.rng.choice(lasts)}"
            if name not in self.used:
                self.used.add(name)
                return name
        raise DemoError("ran out of demo names")

    def newcomer(self) -> tuple[str, data.Community]:
        community = data.COMMUNITIES[self.rng.choice(self.city.communities)]
        return self._pick(community.first_names, community.surnames), community

    def local(self) -> str:
        return self._pick(self.city.host_first_names, self.city.host_surnames)


def _address(name: str, city: data.City) -> str:
    plain = name.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("\u0131", "i")):
        plain = plain.replace(a, b)
    # Other accents: the letter without its mark (ş → s, é → e).
    plain = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
    plain = "".join(c if c.isascii() and c.isalnum() else "." for c in plain)
    plain = ".".join(part for part in plain.split(".") if part)
    return f"{plain}@demo.{city.slug}.example"


class _People:
    def __init__(self, city: data.City, rng: random.Random) -> None:
        self.city, self.rng = city, rng
        self.names = _Names(rng, city)
        self.mentee_jobs = iter(rng.sample(data.MENTEE_OCCUPATIONS * 6, 60))
        self.mentor_jobs = iter(rng.sample(data.MENTOR_OCCUPATIONS * 6, 60))

    def _locale(self) -> str:
        # Most people use the programme's language; some prefer the other one.
        return self.city.other_locale if self.rng.random() < 0.25 else self.city.locale

    def mentee(self, *, account: bool = False) -> Person:
        name, community = self.names.newcomer()
        return Person(
            ApplicationKind.MENTEE,
            name,
            _address(name, self.city),
            self._locale(),
            next(self.mentee_jobs),
            community.country,
            community.language,
            needs_account=account,
        )

    def mentor(self, *, account: bool = False, occupation: str | None = None) -> Person:
        # About one mentor in six is a former mentee who came back (as in Augsburg).
        if self.rng.random() < 0.17:
            name, community = self.names.newcomer()
            country, language = community.country, community.language
        else:
            name, country, language = self.names.local(), "", ""
        return Person(
            ApplicationKind.MENTOR,
            name,
            _address(name, self.city),
            self._locale(),
            occupation or next(self.mentor_jobs),
            country,
            language,
            needs_account=account,
        )


def _raw(person: Person, city: data.City, rng: random.Random) -> dict[str, Any]:
    """The application as a client of the API would send it."""
    job = data.OCCUPATIONS[person.occupation]
    de = person.locale == "de"
    host_language = "de" if city.german else "en"
    raw: dict[str, Any] = {
        "name": person.name,
        "email": person.email,
        "occupation": person.occupation,
        "field": job.field_de if de else job.field_en,
        "years_experience": rng.randint(3, 22),
        "district": rng.choice(city.districts),
        "availability": rng.sample(
            ["weekday_daytime", "weekday_evening", "weekend_daytime", "weekend_evening"],
            rng.randint(1, 3),
        ),
        "consent": True,
        "consent_version": CONSENT_VERSION,
        "extra": {},
    }
    languages = [{"code": host_language, "level": rng.choice(["B2", "C1", "C2"])}]
    if person.kind is ApplicationKind.MENTEE:
        languages = [{"code": person.language, "level": "C2"}]
        if person.language != "en":
            languages.append({"code": "en", "level": rng.choice(["B1", "B2", "C1"])})
        status = rng.choice(["not_started", "in_progress", "in_progress", "partial", "full"])
        if not job.authority_de:
            status = "not_required"
        goals = rng.choice(data.GOALS["de" if de else "en"])
        raw |= {
            "qualification": rng.choice(["bachelor", "master", "master", "vocational"])
            if person.occupation != "74"
            else "vocational",
            "qualification_country": person.country,
            "recognition_status": status,
            "recognition_authority": ""
            if status == "not_required"
            else (job.authority_de if city.german else job.authority_en),
            # Toronto's form leaves German optional; its mentees state a CLB level instead.
            "german_level": rng.choice(["B1", "B1", "B2", "B2", "C1"]) if city.german else "",
            "goals": goals.format(field=job.field_de if de else job.field_en),
        }
    else:
        if person.language and person.language != host_language:
            languages.append({"code": person.language, "level": "C2"})
        raw |= {
            "employer": rng.choice(city.employers),
            "position": job.position_de if city.german else job.position_en,
            "capacity": person.capacity or rng.choice([1, 1, 2, 2, 3]),
            "motivation": rng.choice(data.MOTIVATION["de" if de else "en"]),
        }
    raw["languages"] = languages
    return raw


# --- loading one tenant ------------------------------------------------------------------------


@dataclass
class _Ctx:
    session: AsyncSession
    snapshot: TenantSnapshot
    plugins: PluginHost
    city: data.City
    rng: random.Random
    today: date
    coordinator: Who
    programme: Programme = field(init=False)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("applications", "pairings", "meetings", "checkins", "certificates"), 0
        )
    )
    # Completed tandems and the day each ended, in the order they were completed.
    completed: list[tuple[Pairing, date]] = field(default_factory=list)

    def at(self, days_ago: int, hour: int = 10) -> datetime:
        return datetime.combine(self.today - timedelta(days=days_ago), time(hour), tzinfo=UTC)


async def _member(db: Database, tenant_id: uuid.UUID, email: str) -> uuid.UUID | None:
    """The account of a member of the tenant's file, by the address the file gives it."""
    async with db.tenant_session(tenant_id) as session:
        return await session.scalar(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(User.email == email)
        )


async def _load_tenant(
    db: Database, plugins: PluginHost, snapshot: TenantSnapshot, city: data.City, today: date
) -> dict[str, int]:
    rng = random.Random(f"tandem-demo-{city.slug}")
    coordinator_id = await _member(db, snapshot.id, f"coordinator@{city.slug}.example")
    if coordinator_id is None:
        raise DemoError(
            f"{city.slug}: the coordinator of tenants/{city.slug}.toml has no account; "
            "run `tandem tenants sync` first"
        )
    people = _People(city, rng)
    cast = _cast(people, city)
    cast.demo_mentee.user_id = await _member(db, snapshot.id, f"mentee@{city.slug}.example")
    cast.demo_mentor.user_id = await _member(db, snapshot.id, f"mentor@{city.slug}.example")
    await _accounts(db, [p for p in cast.everyone() if p.needs_account and p.user_id is None])
    coordinator = Who(coordinator_id, frozenset({"admin"}))
    async with db.tenant_session(snapshot.id) as session:
        with quiet(session):
            async with session.begin():
                ctx = _Ctx(session, snapshot, plugins, city, rng, today, coordinator)
                await _programme(ctx, cast)
    await _certificates(db, ctx)
    return ctx.counts


async def _certificates(db: Database, ctx: _Ctx) -> None:
    """The first completed tandem's certificates, issued the day it ended and rendered
    here, so that they exist without a worker; the other completed tandems are left for
    the coordinator's batch (``/admin/cohorts/<slug>/certificates``).

    Completing a tandem queued a job to issue them, which the demo dropped with the rest
    of its history's jobs; the render jobs :func:`~core.certificates.services.issue_for_pairing`
    queues are dropped too, as each certificate is rendered right away.
    """
    if not ctx.completed:
        return
    pairing, ended_on = ctx.completed[0]
    async with db.tenant_session(ctx.snapshot.id) as session:
        with quiet(session):
            async with session.begin():
                pairing = await session.get_one(Pairing, pairing.id)
                issued = await certificates.issue_for_pairing(
                    session, ctx.snapshot, ctx.plugins, pairing, by=ctx.coordinator, today=ended_on
                )
                for certificate in issued:
                    await certificates.render_certificate(
                        session, ctx.snapshot, ctx.plugins, certificate
                    )
    ctx.counts["certificates"] += len(issued)


async def _accounts(db: Database, people: list[Person]) -> None:
    """Accounts for the people who act in the demo: they sign in with an e-mail link."""
    if not people:
        return
    async with db.platform_session() as session, session.begin():
        for person in people:
            user = await find_or_create_user_for_identity(
                session,
                EMAIL_LOGIN_ISSUER,
                person.email,
                {"display_name": person.name, "email": person.email, "locale": person.locale},
            )
            person.user_id = user.id


@dataclass
class _Cast:
    demo_mentee: Person
    demo_mentor: Person
    running_mentees: list[Person]
    running_mentors: list[Person]
    previous_mentees: list[Person]
    previous_mentors: list[Person]
    current: list[tuple[Person, ApplicationStatus]]

    def everyone(self) -> list[Person]:
        return [
            *self.running_mentees,
            *self.running_mentors,
            *self.previous_mentees,
            *self.previous_mentors,
            *(p for p, _ in self.current),
        ]


def _cast(people: _People, city: data.City) -> _Cast:
    community = data.COMMUNITIES[city.demo_mentee_community]
    demo_mentee = Person(
        ApplicationKind.MENTEE,
        city.demo_mentee,
        f"mentee@{city.slug}.example",
        city.locale,
        city.demo_mentee_occupation,
        community.country,
        community.language,
    )
    demo_mentor = Person(
        ApplicationKind.MENTOR,
        city.demo_mentor,
        f"mentor@{city.slug}.example",
        city.locale,
        city.demo_mentor_occupation,
        "",
        "",
    )
    running_mentees = [demo_mentee] + [people.mentee(account=True) for _ in range(8)]
    running_mentors = [demo_mentor] + [people.mentor(account=True) for _ in range(5)]
    previous_mentees = [people.mentee(account=True) for _ in range(5)]
    previous_mentors = [people.mentor(account=True) for _ in range(4)]
    # Both have two mentees at a time in the demo.
    demo_mentor.capacity = previous_mentors[0].capacity = 2
    current: list[tuple[Person, ApplicationStatus]] = []
    for status, (mentees, mentors) in CURRENT_APPLICATIONS.items():
        withdrawing = status is ApplicationStatus.WITHDRAWN
        current += [(people.mentee(account=withdrawing), status) for _ in range(mentees)]
        current += [(people.mentor(account=withdrawing), status) for _ in range(mentors)]
    return _Cast(
        demo_mentee,
        demo_mentor,
        running_mentees,
        running_mentors,
        previous_mentees,
        previous_mentors,
        current,
    )


async def _programme(ctx: _Ctx, cast: _Cast) -> None:
    session, today = ctx.session, ctx.today
    ctx.programme = await programmes.create_programme(
        session, ctx.city.programme, actor=ctx.coordinator.id
    )
    weeks = ctx.programme.duration_weeks
    de = ctx.city.locale == "de"

    def cohort_raw(kind: str, opens: int, closes: int, starts: int) -> dict[str, Any]:
        start = today + timedelta(days=starts)
        end = start + timedelta(weeks=weeks)
        season = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3, 12: 0}
        names = (
            ("Winter", "Frühjahr", "Sommer", "Herbst")
            if de
            else ("Winter", "Spring", "Summer", "Fall")
        )
        label = f"{names[season[start.month]]} {start.year}"
        return {
            "slug": f"{start.year}-{start.month:02d}-{kind}",
            "name": f"{'Durchgang' if de else 'Cohort'} {label}",
            "applications_open_on": (today + timedelta(days=opens)).isoformat(),
            "applications_close_on": (today + timedelta(days=closes)).isoformat(),
            "starts_on": start.isoformat(),
            "ends_on": end.isoformat(),
        }

    actor = ctx.coordinator.id
    previous = await programmes.create_cohort(
        session, ctx.programme, cohort_raw("a", -420, -385, -370), actor=actor
    )
    # Far enough into its mentoring window that the midpoint check-ins have come.
    started = weeks * 7 // 2 + 8
    running = await programmes.create_cohort(
        session, ctx.programme, cohort_raw("b", -started - 50, -started - 15, -started), actor=actor
    )
    current = await programmes.create_cohort(
        session, ctx.programme, cohort_raw("c", -14, 30, 50), actor=actor
    )
    await _previous(ctx, previous, cast)
    await _running(ctx, running, cast)
    await _current(ctx, current, cast)
    # The daily job's work, done once now: check-ins that are due, tandems at risk.
    await checkins.create_due_checkins(session, today)
    await _answer_checkins(ctx, cast)
    await refresh_at_risk(session, today, base_url="")
    ctx.counts["checkins"] = len(list(await session.scalars(select(CheckIn.id))))


async def _apply(ctx: _Ctx, cohort: Cohort, person: Person, days_ago: int) -> Application:
    kind = person.kind.value
    fields = collect(ctx.plugins, ctx.snapshot, kind, person.locale)
    raw = _raw(person, ctx.city, ctx.rng)
    for item in fields:  # the TRIEC plugin's CLB level, for Toronto's mentees
        if item.field.type == "number":
            raw["extra"][item.key] = str(ctx.rng.randint(7, 10))
    on = cohort.applications_open_on + timedelta(days=min(days_ago, 20))
    data_, errors = validate(
        person.kind,
        raw,
        fields,
        person.locale,
        german_level_required=german_required(ctx.programme.min_german_level, ctx.snapshot.locales),
    )
    if data_ is None:
        raise DemoError(f"{ctx.city.slug}: invalid demo application {person.name}: {errors}")
    application = await applications.submit_application(
        ctx.session,
        programme=ctx.programme,
        cohort=cohort,
        data=data_,
        locale=person.locale,
        user_id=person.user_id,
        on=on,
        send_confirmation=False,
    )
    # Submitted on that day, not today: lists and the funnel read in order.
    application.created_at = datetime.combine(on, time(8 + ctx.rng.randint(0, 10)), tzinfo=UTC)
    person.application = application
    ctx.counts["applications"] += 1
    return application


async def _decide(ctx: _Ctx, cohort: Cohort, person: Person, status: ApplicationStatus) -> None:
    assert person.application is not None
    target = applications.IntakeTarget(ctx.programme, cohort, person.application)
    actor = ctx.coordinator.id
    if status is ApplicationStatus.SUBMITTED:
        return
    await applications.start_review(ctx.session, target, actor, seen_version=None)
    de = person.locale == "de"
    if status in (ApplicationStatus.IN_REVIEW, ApplicationStatus.WITHDRAWN):
        note = (
            "Erstgespräch geführt: motiviert, Unterlagen vollständig."
            if de
            else "Intake talk held: motivated, documents complete."
        )
        applications.add_note(ctx.session, person.application, note, actor)
    if status in applications.DECISIONS:
        reason = (
            data.REJECT_REASON["de" if de else "en"] if status is ApplicationStatus.REJECTED else ""
        )
        await applications.decide(
            ctx.session, target, status, reason, actor, seen_version=None, base_url=""
        )
    if status is ApplicationStatus.WITHDRAWN:
        assert person.user_id is not None
        own = applications.OwnApplication(person.application, cohort, ctx.programme)
        await applications.withdraw(ctx.session, own, person.user_id)


async def _accepted(ctx: _Ctx, cohort: Cohort, people: list[Person]) -> None:
    for index, person in enumerate(people):
        await _apply(ctx, cohort, person, index)
        await _decide(ctx, cohort, person, ApplicationStatus.ACCEPTED)


async def _access(ctx: _Ctx, pairing: Pairing, who: Who) -> PairingAccess:
    return await services.access_pairing_by_id(ctx.session, who, pairing.id)


async def _propose(
    ctx: _Ctx, cohort: Cohort, mentee: Person, mentor: Person, days_ago: int
) -> Pairing:
    assert mentee.application is not None and mentor.application is not None
    pairing = await services.propose(
        ctx.session,
        cohort,
        mentee.application,
        mentor.application,
        ctx.coordinator,
        score=round(ctx.rng.uniform(0.62, 0.93), 2),
        now=ctx.at(days_ago, 9),
    )
    ctx.counts["pairings"] += 1
    return pairing


async def _act(
    ctx: _Ctx, pairing: Pairing, action: Action, who: Who, days_ago: int, reason: str = ""
) -> None:
    await services.act(
        ctx.session, pairing, action, who, pairing.version, reason, now=ctx.at(days_ago, 11)
    )


async def _start(
    ctx: _Ctx, cohort: Cohort, mentee: Person, mentor: Person, days_ago: int
) -> Pairing:
    """Propose and have both accept: an active tandem since ``days_ago``."""
    pairing = await _propose(ctx, cohort, mentee, mentor, days_ago + 5)
    await _act(ctx, pairing, Action.ACCEPT, mentor.who(), days_ago + 2)
    await _act(ctx, pairing, Action.ACCEPT, mentee.who(), days_ago)
    return pairing


async def _agree(
    ctx: _Ctx, pairing: Pairing, mentee: Person, mentor: Person, days_ago: int, *, both: bool
) -> None:
    access = await _access(ctx, pairing, mentee.who())
    goals = data.AGREED_GOALS[mentee.locale if mentee.locale in data.AGREED_GOALS else "en"]
    agreement = await services.save_goals(ctx.session, access, goals, 0)
    await services.accept_agreement(ctx.session, access, agreement.version, now=ctx.at(days_ago))
    if both:
        mentor_access = await _access(ctx, pairing, mentor.who())
        await services.accept_agreement(
            ctx.session, mentor_access, agreement.version, now=ctx.at(days_ago - 1)
        )


async def _meet(
    ctx: _Ctx, pairing: Pairing, person: Person, days_ago: list[int], minutes: int = 90
) -> None:
    access = await _access(ctx, pairing, person.who())
    topics = data.TOPICS["de" if person.locale == "de" else "en"]
    for index, ago in enumerate(sorted(days_ago, reverse=True)):
        raw = {
            "held_on": (ctx.today - timedelta(days=ago)).isoformat(),
            "minutes": str(minutes + ctx.rng.choice([-30, 0, 0, 30])),
            "format": ctx.rng.choice(["in_person", "in_person", "online", "phone"]),
            "topic": topics[index % len(topics)],
            "notes": "",
        }
        await services.log_meeting(ctx.session, access, raw, today=ctx.today)
        ctx.counts["meetings"] += 1


async def _previous(ctx: _Ctx, cohort: Cohort, cast: _Cast) -> None:
    mentees, mentors = cast.previous_mentees, cast.previous_mentors
    await _accepted(ctx, cohort, mentees + mentors)
    expected = ctx.programme.expected_hours or 12
    every = max(7, (ctx.programme.duration_weeks * 7 - 14) // 8)
    for index, (mentee, mentor) in enumerate(zip(mentees[:4], mentors, strict=True)):
        started = 365 - index
        pairing = await _start(ctx, cohort, mentee, mentor, started)
        await _agree(ctx, pairing, mentee, mentor, started - 7, both=True)
        count = max(8, -(-expected * 60 // 120))
        await _meet(ctx, pairing, mentee, [started - 7 - i * every // 2 for i in range(count)], 120)
        ended = 370 - ctx.programme.duration_weeks * 7
        await _act(ctx, pairing, Action.COMPLETE, ctx.coordinator, ended)
        ctx.completed.append((pairing, ctx.today - timedelta(days=ended)))
    # One tandem ended early: the mentee took a job elsewhere.
    pairing = await _start(ctx, cohort, mentees[4], mentors[0], 360)
    await _meet(ctx, pairing, mentees[4], [350, 330])
    reason = data.DISSOLVE_REASON["de" if ctx.city.locale == "de" else "en"]
    await _act(ctx, pairing, Action.DISSOLVE, ctx.coordinator, 320, reason)


def _spread(first: int, last: int, count: int) -> list[int]:
    """``count`` days ago, evenly from ``first`` down to ``last``."""
    if count == 1:
        return [first]
    return [first - (first - last) * i // (count - 1) for i in range(count)]


async def _running(ctx: _Ctx, cohort: Cohort, cast: _Cast) -> None:
    mentees, mentors = cast.running_mentees, cast.running_mentors
    s = (ctx.today - cohort.starts_on).days  # days since the mentoring window opened
    await _accepted(ctx, cohort, mentees + mentors)
    lang = "de" if ctx.city.locale == "de" else "en"
    # The demo tandem: active, agreement accepted, meeting regularly; midpoint open.
    demo = await _start(ctx, cohort, mentees[0], mentors[0], s - 4)
    await _agree(ctx, demo, mentees[0], mentors[0], s - 10, both=True)
    await _meet(ctx, demo, mentees[0], _spread(s - 10, 8, 4))
    # The demo mentor's second proposal: the mentee accepted, the mentor has yet to.
    second = await _propose(ctx, cohort, mentees[1], mentors[0], 3)
    await _act(ctx, second, Action.ACCEPT, mentees[1].who(), 2)
    # At risk: one meeting at the start, then silence; the mentor has not accepted the goals.
    at_risk = await _start(ctx, cohort, mentees[2], mentors[1], s - 5)
    await _agree(ctx, at_risk, mentees[2], mentors[1], s - 10, both=False)
    await _meet(ctx, at_risk, mentees[2], [s - 10])
    # Paused by the mentee (a language course), after two meetings.
    paused = await _start(ctx, cohort, mentees[3], mentors[2], s - 6)
    await _agree(ctx, paused, mentees[3], mentors[2], s - 12, both=True)
    await _meet(ctx, paused, mentees[3], [s - 12, s - 26])
    await _act(ctx, paused, Action.PAUSE, mentees[3].who(), 20)
    # Declined by the mentor; the mentee then got another mentor and is active.
    declined = await _propose(ctx, cohort, mentees[4], mentors[3], s - 2)
    await _act(ctx, declined, Action.DECLINE, mentors[3].who(), s - 5, data.DECLINE_REASON[lang])
    rematched = await _start(ctx, cohort, mentees[4], mentors[5], s - 15)
    await _agree(ctx, rematched, mentees[4], mentors[5], s - 20, both=True)
    await _meet(ctx, rematched, mentors[5], _spread(s - 20, 5, 4))
    # Withdrawn by the coordinator before anyone answered.
    withdrawn = await _propose(ctx, cohort, mentees[5], mentors[4], s - 3)
    await _act(ctx, withdrawn, Action.WITHDRAW, ctx.coordinator, s - 4, data.WITHDRAW_REASON[lang])
    # Dissolved after one meeting.
    dissolved = await _start(ctx, cohort, mentees[6], mentors[4], s - 10)
    await _meet(ctx, dissolved, mentees[6], [s - 16])
    await _act(ctx, dissolved, Action.DISSOLVE, ctx.coordinator, 25, data.DISSOLVE_REASON[lang])
    # Just started: no goals, no meeting yet.
    await _start(ctx, cohort, mentees[7], mentors[3], 6)
    # mentees[5] and mentees[8] wait for a (new) match.


async def _current(ctx: _Ctx, cohort: Cohort, cast: _Cast) -> None:
    for index, (person, status) in enumerate(cast.current):
        await _apply(ctx, cohort, person, index % 14)
        await _decide(ctx, cohort, person, status)


async def _answer_checkins(ctx: _Ctx, cast: _Cast) -> None:
    """Answer the check-ins people have answered by now; leave the recent ones open."""
    by_app: dict[uuid.UUID, Person] = {
        p.application.id: p
        for p in [cast.demo_mentee, cast.demo_mentor, *cast.everyone()]
        if p.application is not None and p.user_id is not None
    }
    rows = await ctx.session.execute(
        select(CheckIn, Pairing)
        .join(Pairing, Pairing.id == CheckIn.pairing_id)
        .order_by(CheckIn.due_on, CheckIn.id)
    )
    outcomes = [
        EmploymentOutcome.EMPLOYED_OWN_FIELD,
        EmploymentOutcome.EMPLOYED_RELATED_FIELD,
        EmploymentOutcome.EMPLOYED_OWN_FIELD,
        EmploymentOutcome.SEARCHING,
        EmploymentOutcome.IN_TRAINING,
    ]
    follow_ups = 0
    for checkin, pairing in list(rows):
        kind = CheckInKind(checkin.kind)
        # Open on purpose: anything due in the last ten days, and the demo tandem's midpoint.
        if checkin.due_on > ctx.today - timedelta(days=10):
            continue
        app_id = (
            pairing.mentee_application_id
            if checkin.respondent == "mentee"
            else pairing.mentor_application_id
        )
        person = by_app.get(app_id)
        demo = person is not None and person.email.split("@")[0] in ("mentee", "mentor")
        if person is None or (not demo and ctx.rng.random() < 0.12):
            continue  # some people never answer
        access = await checkins.access_checkin_by_id(
            ctx.session, person.who(), checkin.id, to_answer=True
        )
        lang = "de" if person.locale == "de" else "en"
        if kind in (CheckInKind.FOLLOWUP_3M, CheckInKind.FOLLOWUP_6M):
            outcome = outcomes[follow_ups % len(outcomes)]
            follow_ups += 1
            raw: dict[str, Any] = {"employment_outcome": outcome.value}
            if outcome in (
                EmploymentOutcome.EMPLOYED_OWN_FIELD,
                EmploymentOutcome.EMPLOYED_RELATED_FIELD,
            ):
                raw["job_title"] = ctx.rng.choice(data.JOB_TITLES[lang])
        else:
            raw = {
                "satisfaction": ctx.rng.choice([3, 4, 4, 5, 5]),
                "meeting_frequency": ctx.rng.choice(["weekly", "fortnightly", "fortnightly"]),
            }
        answered = datetime.combine(checkin.due_on + timedelta(days=3), time(18), tzinfo=UTC)
        await checkins.answer_checkin(ctx.session, access, raw, now=answered)


__all__ = ["DEMO_TENANTS", "DemoError", "load_demo", "quiet"]
