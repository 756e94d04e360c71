"""Issuing certificates, on SQLite and PostgreSQL: completion → jobs → real PDFs, revoking,
re-issuing, failures, and the verification codes.

The world is the tandem world of tests/test_pairings.py (München: Amira, German, mentee;
Jonas, English, mentor; Bilal another mentee; Clara coordinates; Omar coordinates
Augsburg). Jonas works for "Stadtwerke München". Certificate templates come from a test
plugin (``cert_probe``), enabled for München, whose wording prints every fact, so that
the PDFs' text (read with pypdf) shows what was certified. Jobs run through
:func:`core.jobs.actors.run_job`, as a worker runs them; one test goes through the app's
own worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import BaseModel
from pypdf import PdfReader
from sqlalchemy import select, update

from core.applications.models import Application
from core.certificates import catalog, codes, services
from core.certificates.jobs import ISSUE_ACTOR, RENDER_ACTOR
from core.certificates.models import Certificate, CertificateStatus, CertificateWording
from core.certificates.services import READY_MAIL
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.models import AuditEntry
from core.jobs.actors import REGISTRY, TenantActor, run_job
from core.jobs.models import OutboxMessage
from core.mail.delivery import deliver_mail
from core.pairings.lifecycle import Action, PairingState
from core.pairings.models import Meeting, MeetingFormat, Pairing
from core.pluginhost import hookimpl
from core.pluginhost.info import PluginInfo
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.pluginhost.types import CertificateTemplate
from core.programmes.schemas import InvalidInput
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot, load_snapshot
from tests.test_mail import SmtpServer, mail_settings, smtp_server  # noqa: F401 - fixtures
from tests.test_pairings import Who, World, _seed, act, make_pairing, outbox

PROBE = "cert_probe"
EMPLOYER = "Stadtwerke München"
WORDING = {
    "de": (
        "<h1>Urkunde für {{ holder_name }}</h1><p>{{ role_label }} im Programm "
        "{{ programme_name }} ({{ cohort_name }}) von {{ tenant_name }}, mit "
        "{{ partner_name }}, {{ started_on }} bis {{ completed_on }}, {{ meetings }} Treffen, "
        "{{ hours }} Stunden.</p><p>Ausgestellt am {{ issued_on }}. Code {{ code }}</p>"
        '<p>{{ verify_url }}</p><img src="{{ qr_code }}" alt="QR">'
    ),
    "en": (
        "<h1>Certificate for {{ holder_name }}</h1><p>{{ role_label }} in "
        "{{ programme_name }} ({{ cohort_name }}) by {{ tenant_name }}, with "
        "{{ partner_name }}, {{ started_on }} to {{ completed_on }}, {{ meetings }} meetings, "
        "{{ hours }} hours.</p><p>Issued on {{ issued_on }}. Code {{ code }}</p>"
        '<p>{{ verify_url }}</p><img src="{{ qr_code }}" alt="QR">'
    ),
}


class ProbeSettings(BaseModel):
    company: bool = False


class CertificateProbe:
    """A certificate plugin for tests: participants' template, and a company template
    where the tenant's settings ask for one."""

    PLUGIN = PluginInfo(
        id=PROBE, name="Certificate probe", description="test", version="0.1",
        settings=ProbeSettings,
    )  # fmt: skip

    @hookimpl
    def register_certificate_templates(self, tenant: TenantSnapshot) -> list[CertificateTemplate]:
        templates = [
            CertificateTemplate(
                id=PROBE, name="Probe", roles=("mentee", "mentor"), sources=dict(WORDING)
            )
        ]
        if tenant.plugin_settings.get(PROBE, {}).get("company"):
            company = {k: v.replace("{{ holder_name }}", "{{ holder_name }} (company)")
                       for k, v in WORDING.items()}  # fmt: skip
            templates.append(
                CertificateTemplate(
                    id=f"{PROBE}.company",
                    name="Probe company",
                    roles=("company",),
                    sources=company,
                    paper="A4 landscape",
                )
            )
        return templates


@dataclass
class CertWorld:
    w: World
    host: PluginHost

    @property
    def db(self) -> Database:
        return self.w.db

    async def tenant(self, tenant_id: uuid.UUID | None = None) -> TenantSnapshot:
        snapshot = await load_snapshot(self.db, tenant_id or self.w.tenant_id)
        assert snapshot is not None
        return snapshot


async def seed_certificates(db: Database) -> CertWorld:
    w = await _seed(db)
    host = PluginHost.load(extra=[CertificateProbe()])
    for tenant_id in (w.tenant_id, w.augsburg_id):
        async with db.tenant_session(tenant_id) as session, session.begin():
            # Only the probe, whatever certificate plugins tenants/*.toml enables.
            for plugin_id in host.infos:
                if plugin_id.startswith("certificate_"):
                    await set_plugin_state(session, host, plugin_id, enabled=False)
            await set_plugin_state(session, host, PROBE, enabled=True, settings={"company": True})
    async with db.tenant_session(w.tenant_id) as session, session.begin():
        await session.execute(
            update(Application)
            .where(Application.id == w.apps["jonas"].id)
            .values(employer=EMPLOYER)
        )
    return CertWorld(w, host)


@pytest.fixture
async def cw(synced: Database) -> CertWorld:
    return await seed_certificates(synced)


# --- helpers --------------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, whitespace collapsed (WeasyPrint breaks lines where it likes)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


async def run_certificate_jobs(cw: CertWorld, tenant_id: uuid.UUID | None = None) -> int:
    """Run the waiting certificate jobs (and those they enqueue) as a worker would.

    With an app client (``cw.w.web``) the app's own worker runs them: then this waits
    until it has, and returns 0.
    """
    tenant_id = tenant_id or cw.w.tenant_id
    ran = 0
    for _ in range(300):
        async with cw.db.platform_session() as session:
            waiting = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.actor_name.in_([ISSUE_ACTOR, RENDER_ACTOR]),
                        OutboxMessage.completed_at.is_(None),
                        OutboxMessage.tenant_id == tenant_id,
                    )
                    .order_by(OutboxMessage.created_at, OutboxMessage.id)
                )
            )
        if not waiting:
            return ran
        if cw.w.web is not None:
            await asyncio.sleep(0.1)
            continue
        for message in waiting:
            actor = REGISTRY[message.actor_name]
            assert isinstance(actor, TenantActor)
            assert await run_job(cw.db, cw.host, actor, tenant_id, message.id, message.kwargs)
            ran += 1
    raise AssertionError("the certificate jobs did not finish")


async def complete(cw: CertWorld, *, mentee: str = "amira", mentor: str = "jonas") -> Pairing:
    """An active tandem with two meetings, completed by Clara through the service."""
    pairing = await make_pairing(cw.w, PairingState.ACTIVE, mentee=mentee, mentor=mentor)
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        for minutes in (90, 60):
            session.add(
                Meeting(
                    pairing_id=pairing.id,
                    held_on=date.today(),
                    minutes=minutes,
                    format=MeetingFormat.IN_PERSON,
                )
            )
    await act(cw.w, pairing, Action.COMPLETE, "clara")
    return pairing


async def certificates(
    cw: CertWorld, tenant_id: uuid.UUID | None = None, **where: object
) -> list[Certificate]:
    async with cw.db.tenant_session(tenant_id or cw.w.tenant_id) as session:
        query = select(Certificate).order_by(Certificate.created_at, Certificate.role)
        for name, value in where.items():
            query = query.where(getattr(Certificate, name) == value)
        return list(await session.scalars(query))


async def pdf_of(cw: CertWorld, certificate: Certificate) -> bytes:
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        pdf = await services.pdf_of(session, certificate)
    assert pdf is not None and pdf.startswith(b"%PDF")
    return pdf


async def certificate_audits(cw: CertWorld) -> list[AuditEntry]:
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        rows = await session.scalars(
            select(AuditEntry).order_by(AuditEntry.created_at, AuditEntry.id)
        )
        return [a for a in rows if a.action.startswith("certificate_")]


async def issued(cw: CertWorld) -> dict[str, Certificate]:
    """Complete Amira and Jonas's tandem and run the jobs: role → certificate."""
    await complete(cw)
    await run_certificate_jobs(cw)
    return {c.role: c for c in await certificates(cw)}


# --- codes ----------------------------------------------------------------------------------


def test_codes_are_random_crockford_and_typed_back_forgivingly() -> None:
    made = {codes.new_code() for _ in range(500)}
    assert len(made) == 500
    assert all(len(c) == 12 and set(c) <= set(codes.ALPHABET) for c in made)
    assert not set("ILOU") & set(codes.ALPHABET)
    assert codes.display("7K3MQ9TZ2B4X") == "7K3M-Q9TZ-2B4X"
    for typed in ("7k3m-q9tz-2b4x", " 7K3M Q9TZ 2B4X ", "7K3M\u2013Q9TZ\u20132B4X", "7k3mq9tz2b4x"):
        assert codes.normalise(typed) == "7K3MQ9TZ2B4X", typed
    assert codes.normalise("IL0O-ABCD-EFGH") == "1100ABCDEFGH"  # I, L → 1; O → 0
    for bad in (
        "",
        "7K3M-Q9TZ",
        "7K3M-Q9TZ-2B4X-1",
        "7K3M-Q9TZ-2B4U",
        "<script>x</script>",
        "x" * 500,
    ):
        assert codes.normalise(bad) is None, bad


def test_the_language_falls_back_to_the_tenants_then_english_then_the_first() -> None:
    def tenant(default: str) -> TenantSnapshot:
        return TenantSnapshot(
            id=uuid.uuid4(), slug="t", name="T", status="active",  # type: ignore[arg-type]
            default_locale=default, locales=(default,), theme="default", revision=1,
        )  # fmt: skip

    both = CertificateTemplate(id="x", name="X", roles=("mentee",), sources=dict(WORDING))
    french = CertificateTemplate(id="y", name="Y", roles=("mentee",), sources={"fr": "<p>x</p>"})
    assert catalog.language_for(both, "de", tenant("en")) == "de"
    assert catalog.language_for(both, "ar", tenant("de")) == "de"
    assert catalog.language_for(both, "ar", tenant("tr")) == "en"
    assert catalog.language_for(both, None, tenant("uk")) == "en"
    assert catalog.language_for(french, "de", tenant("de")) == "fr"


# --- issuing on completion ------------------------------------------------------------------


async def test_completing_a_tandem_issues_real_pdfs_for_mentee_mentor_and_company(
    cw: CertWorld,
) -> None:
    pairing = await complete(cw)
    async with cw.db.platform_session() as session:
        queued = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.actor_name == ISSUE_ACTOR)
            )
        )
    # Queued in the transaction that completed the tandem.
    assert [m.kwargs for m in queued] == [{"pairing_id": str(pairing.id)}]
    assert await certificates(cw) == []
    assert await run_certificate_jobs(cw) == 4  # one issue job, three render jobs

    found = {c.role: c for c in await certificates(cw)}
    assert set(found) == {"mentee", "mentor", "company"}
    amira, jonas, company = found["mentee"], found["mentor"], found["company"]
    assert all(c.status == CertificateStatus.ISSUED for c in found.values())
    assert (amira.holder_name, amira.locale, amira.user_id) == (
        "Amira", "de", cw.w.users["amira"].id,
    )  # fmt: skip
    assert (jonas.holder_name, jonas.locale) == ("Jonas", "en")
    # The company's certificate goes to the mentor, who hands it on.
    assert (company.holder_name, company.user_id) == (EMPLOYER, cw.w.users["jonas"].id)
    assert company.template_id == f"{PROBE}.company"
    assert len({c.code for c in found.values()}) == 3
    assert all(c.programme_name == "Mentoring" and c.cohort_name == "Frühjahr 2027"
               for c in found.values())  # fmt: skip

    text = pdf_text(await pdf_of(cw, amira))
    assert "Urkunde für Amira" in text
    assert f"{gettext('de', 'Mentee')} im Programm Mentoring (Frühjahr 2027)" in text
    assert "mit Jonas" in text and "2 Treffen, 2,5 Stunden" in text
    assert f"Code {codes.display(amira.code)}" in text
    assert f"http://muenchen.localhost:8000/verify/{amira.code}" in text
    text = pdf_text(await pdf_of(cw, jonas))
    assert "Certificate for Jonas" in text and "Mentor in Mentoring" in text
    assert "with Amira" in text and "2 meetings, 2.5 hours" in text
    text = pdf_text(await pdf_of(cw, company))
    assert f"Certificate for {EMPLOYER} (company)" in text and "Partner company" in text
    for certificate in found.values():
        pdf = await pdf_of(cw, certificate)
        assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256

    audits = await certificate_audits(cw)
    assert [a.action for a in audits] == ["certificate_issued"] * 3
    assert {a.details["role"] for a in audits} == {"mentee", "mentor", "company"}
    assert all(a.actor_user_id is None for a in audits)  # the system issued them
    assert all("Amira" not in str(a.details) for a in audits)


async def test_the_qr_code_and_printed_address_lead_to_the_tenants_host(cw: CertWorld) -> None:
    found = await issued(cw)
    tenant = await cw.tenant()
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        facts = await services.facts_of(session, tenant, found["mentee"])
    assert facts.verify_url == f"http://muenchen.localhost:8000/verify/{found['mentee'].code}"
    assert facts.code == codes.display(found["mentee"].code)
    # The renderer puts this address into the QR code (placeholder ``qr_code``).
    from core.certificates.render import placeholder_values, qr_data_uri
    from core.tenancy.look import look_of

    values = placeholder_values(facts, "de", look_of(tenant))
    assert values["qr_code"] == qr_data_uri(facts.verify_url)
    assert values["qr_code"].startswith("data:image/svg+xml")


async def test_issuing_twice_gives_nobody_a_second_certificate(cw: CertWorld) -> None:
    found = await issued(cw)
    tenant = await cw.tenant()
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        pairing = await session.get(Pairing, found["mentee"].pairing_id)
        assert pairing is not None
        again = await services.issue_for_pairing(session, tenant, cw.host, pairing)
    assert again == []
    assert len(await certificates(cw)) == 3
    assert await run_certificate_jobs(cw) == 0


async def test_only_completed_tandems_get_certificates(cw: CertWorld) -> None:
    tenant = await cw.tenant()
    for state in (PairingState.ACTIVE, PairingState.DISSOLVED):
        pairing = await make_pairing(cw.w, state, mentee="bilal", mentor="mona")
        async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
            row = await session.get(Pairing, pairing.id)
            assert row is not None
            with pytest.raises(services.Refused) as refused:
                await services.issue_for_pairing(session, tenant, cw.host, row)
            assert refused.value.text("de") == (
                "Zertifikate werden nur für abgeschlossene Tandems ausgestellt."
            )
        async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
            await session.delete(await session.get(Pairing, pairing.id))
    assert await certificates(cw) == []


async def test_a_dissolved_tandem_issues_nothing_and_a_reopened_job_finds_nothing(
    cw: CertWorld,
) -> None:
    pairing = await make_pairing(cw.w, PairingState.ACTIVE)
    await act(cw.w, pairing, Action.DISSOLVE, "clara", reason="Moved away")
    async with cw.db.platform_session() as session:
        jobs = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == ISSUE_ACTOR)
        )
        assert list(jobs) == []
    # An issue job for a tandem that is not completed (a hand-made message) does nothing.
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        from core.certificates.jobs import issue_certificates_job
        from core.jobs import enqueue

        enqueue(session, issue_certificates_job, pairing_id=str(pairing.id))
    assert await run_certificate_jobs(cw) == 1
    assert await certificates(cw) == []


async def test_no_company_certificate_without_an_employer_or_the_tenants_wish(
    cw: CertWorld,
) -> None:
    # Mona names no employer.
    await complete(cw, mentee="bilal", mentor="mona")
    await run_certificate_jobs(cw)
    assert sorted(c.role for c in await certificates(cw)) == ["mentee", "mentor"]
    # The tenant does not want company certificates.
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        await set_plugin_state(session, cw.host, PROBE, enabled=True, settings={"company": False})
    await complete(cw)
    await run_certificate_jobs(cw)
    assert sorted(c.role for c in await certificates(cw)) == [
        "mentee",
        "mentee",
        "mentor",
        "mentor",
    ]


async def test_a_tenant_without_certificate_templates_issues_nothing(cw: CertWorld) -> None:
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        await set_plugin_state(session, cw.host, PROBE, enabled=False)
    await complete(cw)
    assert await run_certificate_jobs(cw) == 1  # the issue job, which finds no template
    assert await certificates(cw) == []
    assert await certificate_audits(cw) == []


async def test_a_broken_wording_fails_the_certificate_and_a_fixed_one_issues_it(
    cw: CertWorld,
) -> None:
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        # Saved behind the editor's back: the editor never saves what does not render.
        session.add(
            CertificateWording(
                template_id=PROBE, locale="de", source="<p>{{ holder_name.__class__ }}</p>"
            )
        )
    await complete(cw)
    await run_certificate_jobs(cw)  # ends normally: no retry loop for a broken template
    found = {c.role: c for c in await certificates(cw)}
    amira = found["mentee"]
    assert amira.status == CertificateStatus.FAILED
    assert "__class__" in amira.error
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        assert await services.pdf_of(session, amira) is None
    assert found["mentor"].status == CertificateStatus.ISSUED  # English: not affected
    async with cw.db.platform_session() as session:
        failed = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.last_error.is_not(None))
        )
        assert list(failed) == []

    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        wording = await catalog.tenant_wording(session, PROBE, "de")
        assert wording is not None
        wording.source = "<p>Für {{ holder_name }}</p>"
        pairing = await session.get(Pairing, amira.pairing_id)
        assert pairing is not None
        again = await services.issue_for_pairing(session, await cw.tenant(), cw.host, pairing)
    assert [c.id for c in again] == [amira.id]  # the failed one, with its code
    await run_certificate_jobs(cw)
    [amira] = await certificates(cw, role="mentee")
    assert amira.status == CertificateStatus.ISSUED and amira.error == ""
    assert pdf_text(await pdf_of(cw, amira)) == "Für Amira"


async def test_a_template_that_is_gone_when_the_job_runs_fails_readably(cw: CertWorld) -> None:
    await complete(cw)
    await run_certificate_jobs(cw)
    tenant = await cw.tenant()
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = (await session.scalars(select(Certificate).where(Certificate.role == "mentee"))).one()
        row.status = CertificateStatus.PENDING
        row.template_id = "cert_probe.gone"
        await services.render_certificate(session, tenant, cw.host, row)
        assert row.status == CertificateStatus.FAILED
        assert "no longer enabled" in row.error


# --- revoking and re-issuing ----------------------------------------------------------------


async def test_revoking_needs_a_reason_and_happens_once(cw: CertWorld) -> None:
    found = await issued(cw)
    clara = cw.w.who("clara")
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["mentee"].id)
        assert row is not None
        for reason, message in (
            ("", "Say why the certificate is revoked."),
            ("   ", "Say why the certificate is revoked."),
            ("x" * 501, "Use at most 500 characters."),
            ("line\nbreak", "Use one line without control characters."),
            (None, "Say why the certificate is revoked."),
        ):
            with pytest.raises(InvalidInput) as invalid:
                await services.revoke(session, row, reason, clara)
            assert invalid.value.messages("en") == {"reason": message}
        assert row.status == CertificateStatus.ISSUED
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["mentee"].id)
        assert row is not None
        await services.revoke(session, row, "  Name misspelt  ", clara, ip="203.0.113.9")
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["mentee"].id)
        assert row is not None
        assert row.status == CertificateStatus.REVOKED and row.revoked_at is not None
        assert row.revoked_reason == "Name misspelt"
        with pytest.raises(services.Refused) as refused:
            await services.revoke(session, row, "again", clara)
        assert refused.value.message == services.ALREADY_REVOKED
    [entry] = [a for a in await certificate_audits(cw) if a.action == "certificate_revoked"]
    assert entry.actor_user_id == clara.id and entry.ip == "203.0.113.9"
    assert entry.details["reason"] == "Name misspelt"
    assert entry.details["certificate_id"] == str(found["mentee"].id)
    # Issuing the tandem's certificates again (a cohort's batch) does not undo it.
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        pairing = await session.get(Pairing, found["mentee"].pairing_id)
        assert pairing is not None
        again = await services.issue_for_pairing(session, await cw.tenant(), cw.host, pairing)
    assert again == []
    assert [c.status for c in await certificates(cw, role="mentee")] == ["revoked"]


async def test_reissuing_revokes_the_old_and_renders_a_new_one_with_the_current_name(
    cw: CertWorld,
) -> None:
    found = await issued(cw)
    old = found["mentee"]
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        await session.execute(
            update(Application)
            .where(Application.id == cw.w.apps["amira"].id)
            .values(name="Amira Haddad")
        )
    tenant = await cw.tenant()
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, old.id)
        assert row is not None
        new = await services.reissue(
            session, tenant, cw.host, row, cw.w.who("clara"), reason="Surname added"
        )
    assert await run_certificate_jobs(cw) == 1
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        old_row = await session.get(Certificate, old.id)
        new_row = await session.get(Certificate, new.id)
        assert old_row is not None and new_row is not None
        assert old_row.status == CertificateStatus.REVOKED
        assert old_row.replaced_by_id == new_row.id
        assert old_row.revoked_reason == "Surname added"
        assert new_row.status == CertificateStatus.ISSUED and new_row.code != old_row.code
        assert new_row.holder_name == "Amira Haddad" and new_row.user_id == old_row.user_id
        assert new_row.issued_by_user_id == cw.w.users["clara"].id
    assert "Urkunde für Amira Haddad" in pdf_text(await pdf_of(cw, new_row))
    # Amira's list shows the new one only; the old one still verifies as revoked.
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        mine = await services.certificates_of(session, cw.w.who("amira"))
        assert [c.id for c in mine] == [new_row.id]
        assert (await services.find_by_code(session, old_row.code)) is not None
    [entry] = [a for a in await certificate_audits(cw) if a.action == "certificate_reissued"]
    assert entry.details["replaces"] == str(old.id)
    assert entry.details["certificate_id"] == str(new.id)
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, old.id)
        assert row is not None
        with pytest.raises(services.Refused) as refused:
            await services.reissue(session, tenant, cw.host, row, cw.w.who("clara"))
        assert refused.value.message == services.ALREADY_REPLACED


async def test_reissuing_a_revoked_certificate_and_refusals(cw: CertWorld) -> None:
    found = await issued(cw)
    tenant = await cw.tenant()
    clara = cw.w.who("clara")
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["mentor"].id)
        assert row is not None
        await services.revoke(session, row, "Printed on the wrong paper", clara)
        new = await services.reissue(session, tenant, cw.host, row, clara)
        assert row.revoked_reason == "Printed on the wrong paper"  # kept
        assert new.role == "mentor"
    # The employer is gone: no company certificate to re-issue.
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        await session.execute(
            update(Application).where(Application.id == cw.w.apps["jonas"].id).values(employer="")
        )
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["company"].id)
        assert row is not None
        with pytest.raises(services.Refused) as refused:
            await services.reissue(session, tenant, cw.host, row, clara)
        assert refused.value.message == services.NO_EMPLOYER
    # No template enabled any more.
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        await set_plugin_state(session, cw.host, PROBE, enabled=False)
    tenant = await cw.tenant()
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, found["mentee"].id)
        assert row is not None
        with pytest.raises(services.Refused) as refused:
            await services.reissue(session, tenant, cw.host, row, clara)
        assert refused.value.text("en").startswith("No certificate template for this role")
    assert found["mentee"].status == CertificateStatus.ISSUED


async def test_a_certificate_revoked_before_its_job_ran_stays_revoked(cw: CertWorld) -> None:
    await complete(cw)
    # Run only the issue job: the render jobs wait.
    async with cw.db.platform_session() as session:
        message = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.actor_name == ISSUE_ACTOR)
            )
        ).one()
    actor = REGISTRY[ISSUE_ACTOR]
    assert isinstance(actor, TenantActor)
    await run_job(cw.db, cw.host, actor, cw.w.tenant_id, message.id, message.kwargs)
    [pending] = await certificates(cw, role="mentee")
    assert pending.status == CertificateStatus.PENDING
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, pending.id)
        assert row is not None
        await services.revoke(session, row, "Issued by mistake", cw.w.who("clara"))
    await run_certificate_jobs(cw)
    [row] = await certificates(cw, role="mentee")
    assert row.status == CertificateStatus.REVOKED
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        assert await services.pdf_of(session, row) is None


# --- who may read one -----------------------------------------------------------------------


async def test_holders_and_coordinators_may_read_a_certificate_nobody_else(
    cw: CertWorld,
) -> None:
    found = await issued(cw)
    amira_id = found["mentee"].id
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        for name in ("amira", "clara", "dora"):
            row = await services.access_certificate_by_id(session, cw.w.who(name), amira_id)
            assert row.id == amira_id
        for name in ("jonas", "bilal", "mona"):
            with pytest.raises(services.CertificateNotFound):
                await services.access_certificate_by_id(session, cw.w.who(name), amira_id)
        with pytest.raises(services.CertificateNotFound):
            await services.access_certificate_by_id(session, cw.w.who("clara"), uuid.uuid4())
        jonas = await services.certificates_of(session, cw.w.who("jonas"))
        assert sorted(c.role for c in jonas) == ["company", "mentor"]
        assert await services.certificates_of(session, cw.w.who("bilal")) == []
    # Another tenant's session finds nothing: not by id, not by code, not in lists.
    async with cw.db.tenant_session(cw.w.augsburg_id) as session:
        admin = Who(cw.w.augsburg_admin.id, frozenset({"admin"}))
        with pytest.raises(services.CertificateNotFound):
            await services.access_certificate_by_id(session, admin, amira_id)
        assert await services.find_by_code(session, found["mentee"].code) is None
        by_pairing = await services.certificates_by_pairing(session, [found["mentee"].pairing_id])
        assert by_pairing == {found["mentee"].pairing_id: []}


async def test_certificates_by_pairing_lists_every_certificate_of_each_tandem(
    cw: CertWorld,
) -> None:
    found = await issued(cw)
    pairing_id = found["mentee"].pairing_id
    other = uuid.uuid4()
    async with cw.db.tenant_session(cw.w.tenant_id) as session:
        listed = await services.certificates_by_pairing(session, [pairing_id, other])
    assert sorted(c.role for c in listed[pairing_id]) == ["company", "mentee", "mentor"]
    assert listed[other] == []
    assert (
        services.download_name(found["mentee"]) == f"certificate-mentee-{found['mentee'].code}.pdf"
    )


# --- telling the holders ----------------------------------------------------------------------


async def test_mentee_and_mentor_are_mailed_in_their_language_when_theirs_is_ready(
    cw: CertWorld,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    found = await issued(cw)
    jobs = [j for j in await outbox(cw.w, "core.send_mail") if j.kwargs["template"] == READY_MAIL]
    # The company's certificate is the mentor's to hand on: no mail of its own.
    assert sorted((j.kwargs["to"], j.kwargs["locale"]) for j in jobs) == [
        ("amira@apply.example", "de"),
        ("jonas@apply.example", "en"),
    ]
    for job in jobs:
        assert await run_job(cw.db, cw.host, deliver_mail, cw.w.tenant_id, job.id, job.kwargs)
    received = {r.recipients[0]: r.message for r in smtp_server.messages()}
    amira = received["amira@apply.example"]
    assert amira["Subject"] == "Ihr Zertifikat von Mentoring"
    text = amira.get_body(preferencelist=("plain",)).get_content()
    assert "Ihr Tandem in Mentoring, Frühjahr 2027, ist fertig" in text
    assert "http://muenchen.localhost:8000/certificates" in text
    assert codes.display(found["mentee"].code) in text
    jonas = received["jonas@apply.example"]
    assert jonas["Subject"] == "Your certificate from Mentoring"
    assert codes.display(found["mentor"].code) in jonas.get_body(("plain",)).get_content()


async def test_a_failed_certificate_mails_nobody(cw: CertWorld) -> None:
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        session.add(CertificateWording(template_id=PROBE, locale="de", source="{{ nope }}"))
    await complete(cw)
    await run_certificate_jobs(cw)
    failed = [c for c in await certificates(cw) if c.status == CertificateStatus.FAILED]
    assert [c.role for c in failed] == ["mentee"]  # Amira's wording is German
    mailed = [j.kwargs["to"] for j in await outbox(cw.w, "core.send_mail")
              if j.kwargs["template"] == READY_MAIL]  # fmt: skip
    assert mailed == ["jonas@apply.example"]
