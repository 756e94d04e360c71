"""``tandem demo load`` on SQLite and PostgreSQL: every intake state and every tandem state
per demo tenant, made through the services; idempotent; nothing crosses tenants; demo
history sends no mail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.applications.models import Application, ApplicationStatus
from core.certificates.models import Certificate, CertificateStatus
from core.certificates.services import pdf_of
from core.db.sessions import Database
from core.demo.loader import DEMO_TENANTS, DemoError, load_demo
from core.identity.models import AuditEntry, User
from core.jobs.models import OutboxMessage
from core.pairings.lifecycle import PairingState
from core.pairings.models import Agreement, CheckIn, CheckInKind, Meeting, Pairing
from core.pluginhost.manager import PluginHost
from core.programmes.models import Cohort, Programme
from core.programmes.services import cohort_status
from core.settings import Settings
from core.tenancy.sync import sync_tenants
from tests.test_identity_sessions import tenant_ids


@pytest.fixture
async def with_members(db: Database, plugins: PluginHost, settings: Settings) -> Database:
    """The tenants of tenants/ with their demo members (coordinator, mentor, mentee)."""
    await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir)
    return db


async def _counts(db: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    async with db.tenant_session(tenant_id) as session:
        counts = {}
        for name, model in (
            ("programmes", Programme),
            ("cohorts", Cohort),
            ("applications", Application),
            ("pairings", Pairing),
            ("agreements", Agreement),
            ("meetings", Meeting),
            ("checkins", CheckIn),
            ("certificates", Certificate),
            ("audit", AuditEntry),
        ):
            counts[name] = await session.scalar(select(func.count()).select_from(model))
        return counts


async def _outbox(db: Database) -> int:
    async with db.platform_session() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_demo_load_covers_every_state_once(
    with_members: Database, plugins: PluginHost
) -> None:
    db = with_members
    ids = await tenant_ids(db)
    queued = await _outbox(db)
    lines = await load_demo(db, plugins)
    assert [line.split(":")[0] for line in lines] == list(DEMO_TENANTS)
    assert all("loaded" in line for line in lines), lines
    assert await _outbox(db) == queued  # demo history mails nobody
    before = {slug: await _counts(db, ids[slug]) for slug in DEMO_TENANTS}

    for slug in DEMO_TENANTS:
        async with db.tenant_session(ids[slug]) as session:
            cohorts = list(await session.scalars(select(Cohort)))
            statuses = {c: cohort_status(c).value for c in cohorts}
            assert sorted(statuses.values()) == ["applications_open", "finished", "running"]
            current = next(c for c, s in statuses.items() if s == "applications_open")
            apps = list(await session.scalars(select(Application)))
            in_current = [a for a in apps if a.cohort_id == current.id]
            assert len(in_current) == 35
            # Accepted and without a tandem: what a newcomer matches (test_matching_runs).
            accepted = [a for a in in_current if a.status == ApplicationStatus.ACCEPTED]
            assert sorted(a.kind for a in accepted).count("mentee") == 8
            assert {a.status for a in in_current} == set(ApplicationStatus)
            pairings = list(await session.scalars(select(Pairing)))
            assert {p.state for p in pairings} == set(PairingState)
            at_risk = [p for p in pairings if p.at_risk_since is not None]
            assert len(at_risk) == 1 and at_risk[0].state == PairingState.ACTIVE
            checkins = list(await session.scalars(select(CheckIn)))
            answered = [c for c in checkins if c.completed_at is not None]
            assert [c for c in checkins if c.completed_at is None], "some check-ins are open"
            outcomes = {c.employment_outcome for c in answered if c.employment_outcome}
            assert len(outcomes) >= 3
            assert {c.kind for c in answered} >= {CheckInKind.START, CheckInKind.FOLLOWUP_3M}
            assert await session.scalar(select(func.count()).select_from(Meeting)) > 20
            # Everything points inside the tenant: pairings at this tenant's applications.
            own_apps = {a.id for a in apps}
            assert all(
                {p.mentee_application_id, p.mentor_application_id} <= own_apps for p in pairings
            )
            assert all(a.tenant_id == ids[slug] for a in apps)
            # The file's demo mentee and mentor are linked, and in one active tandem.
            users = {
                u.email: u.id
                for u in await session.scalars(
                    select(User).where(
                        User.email.in_([f"mentee@{slug}.example", f"mentor@{slug}.example"])
                    )
                )
            }
            mentee = next(a for a in apps if a.user_id == users[f"mentee@{slug}.example"])
            mentor = next(a for a in apps if a.user_id == users[f"mentor@{slug}.example"])
            [together] = [
                p
                for p in pairings
                if p.mentee_application_id == mentee.id and p.mentor_application_id == mentor.id
            ]
            assert together.state == PairingState.ACTIVE
        assert "@demo." + slug + ".example" in "".join(a.email for a in apps)

    # Toronto asks for a CLB level (its plugin), not for German.
    async with db.tenant_session(ids["toronto"]) as session:
        mentees = list(
            await session.scalars(select(Application).where(Application.kind == "mentee"))
        )
        assert all(a.german_level is None for a in mentees)
        assert all(6 <= a.extra["triec_fields"]["clb_level"] <= 12 for a in mentees)

    # One completed tandem per tenant has its certificates, rendered: its mentee's, its
    # mentor's and, in München (whose design includes partner companies), the company's.
    for slug, roles in (
        ("muenchen", ["company", "mentee", "mentor"]),
        ("augsburg", ["mentee", "mentor"]),
        ("toronto", ["mentee", "mentor"]),
    ):
        assert f", {len(roles)} certificates" in next(x for x in lines if x.startswith(slug))
        async with db.tenant_session(ids[slug]) as session:
            certificates = list(await session.scalars(select(Certificate)))
            assert sorted(c.role for c in certificates) == roles
            assert {c.status for c in certificates} == {CertificateStatus.ISSUED}
            [pairing] = {c.pairing_id for c in certificates}
            tandem = await session.get_one(Pairing, pairing)
            assert tandem.state == PairingState.COMPLETED
            assert tandem.ended_at is not None
            assert {c.issued_on for c in certificates} == {tandem.ended_at.date()}
            for certificate in certificates:
                pdf = await pdf_of(session, certificate)
                assert pdf is not None and pdf.startswith(b"%PDF-")
                assert certificate.template_id == f"certificate_{slug}"

    again = await load_demo(db, plugins)
    assert all("nothing changed" in line for line in again), again
    assert {slug: await _counts(db, ids[slug]) for slug in DEMO_TENANTS} == before


async def test_demo_is_deterministic_and_reset_reloads(
    with_members: Database, plugins: PluginHost
) -> None:
    db = with_members
    ids = await tenant_ids(db)
    await load_demo(db, plugins, only=("toronto",))
    async with db.tenant_session(ids["toronto"]) as session:
        first = sorted(await session.scalars(select(Application.email)))
    counts = await _counts(db, ids["toronto"])
    [line] = await load_demo(db, plugins, reset=True, only=("toronto",))
    assert "loaded" in line
    async with db.tenant_session(ids["toronto"]) as session:
        assert sorted(await session.scalars(select(Application.email))) == first
    after = await _counts(db, ids["toronto"])
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in counts.items() if k != "audit"
    }
    # The other tenants were not touched.
    assert (await _counts(db, ids["muenchen"]))["applications"] == 0


async def test_demo_needs_the_members(synced: Database, plugins: PluginHost) -> None:
    with pytest.raises(DemoError, match="tenants sync"):
        await load_demo(synced, plugins, only=("muenchen",))
    ids = await tenant_ids(synced)
    assert (await _counts(synced, ids["muenchen"]))["programmes"] == 0


def test_cli_reports_a_missing_sync(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cli import main

    monkeypatch.setenv("TANDEM_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["demo", "load"])
    # The database has no tenants yet: each is reported and skipped, nothing fails.
    assert result.exit_code == 0, result.output
    assert "muenchen: no such tenant" in result.output
