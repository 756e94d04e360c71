"""A cohort's certificates for its coordinators (``/admin/cohorts/<cohort>/certificates``),
on SQLite and PostgreSQL: issuing for the whole cohort in one batch with its progress
(page without JavaScript, JSON for the script), failed certificates shown and rendered
again, revoking with a reason, re-issuing, downloading, and who may do all this.

The world is :mod:`tests.test_certificates_issue`'s (München's cohort with Amira and
Jonas — whose employer gets a company certificate — Bilal and Mona; the probe
templates). The app runs no jobs itself: the tests run the render jobs when they want
the batch to move on, so that its progress can be seen at every step.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from html import unescape

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select

from core.certificates import services
from core.certificates.models import (
    Certificate,
    CertificateBatch,
    CertificateStatus,
    CertificateWording,
)
from core.i18n.catalogs import gettext
from core.identity.models import AuditEntry
from core.jobs.actors import REGISTRY, TenantActor, run_job
from core.jobs.models import OutboxMessage
from core.programmes.models import Cohort, Programme
from core.settings import Settings
from core.web.app import create_app
from tests.test_certificates_issue import (
    PROBE,
    CertWorld,
    certificates,
    complete,
    pdf_text,
    seed_certificates,
)
from tests.test_certificates_issue import run_certificate_jobs as _run_jobs
from tests.test_pairings import AUGSBURG, COHORT, MUENCHEN, as_user, form, page

BASE = f"/admin/cohorts/{COHORT}/certificates"


@pytest.fixture
async def aw(synced: object, settings: Settings) -> AsyncIterator[CertWorld]:
    cw = await seed_certificates(synced)  # type: ignore[arg-type]
    app = create_app(settings, plugins=cw.host, run_jobs_in_process=False)
    async with AsyncTestClient(app, base_url="http://localhost") as web:
        web.follow_redirects = False
        cw.w.web = web
        yield cw


# --- helpers ----------------------------------------------------------------------------------


async def run_certificate_jobs(aw: CertWorld) -> int:
    """Run the waiting certificate jobs here (this app has no worker of its own)."""
    return await _run_jobs(CertWorld(replace(aw.w, web=None), aw.host))


async def batches(aw: CertWorld) -> list[CertificateBatch]:
    async with aw.db.tenant_session(aw.w.tenant_id) as session:
        return list(await session.scalars(select(CertificateBatch)))


async def start(aw: CertWorld, lang: str = "en") -> httpx.Response:
    return await form(aw.w, f"{BASE}/batches", {}, lang)


def batch_path(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(rf"{BASE}/batches/[0-9a-f-]{{36}}", location), location
    return location


async def render_one(aw: CertWorld) -> None:
    """Run the oldest waiting render job only (the batch is then part-way)."""
    async with aw.db.platform_session() as session:
        message = await session.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.actor_name == "core.certificates.render",
                OutboxMessage.completed_at.is_(None),
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(1)
        )
    assert message is not None
    actor = REGISTRY[message.actor_name]
    assert isinstance(actor, TenantActor)
    assert await run_job(aw.db, aw.host, actor, aw.w.tenant_id, message.id, message.kwargs)


async def other_cohort(aw: CertWorld, tenant_id: uuid.UUID, slug: str) -> Cohort:
    today = date.today()
    async with aw.db.tenant_session(tenant_id) as session, session.begin():
        programme = Programme(slug=f"p-{slug}", name="Other", duration_weeks=10)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug=slug,
            name="Other cohort",
            applications_open_on=today - timedelta(days=60),
            applications_close_on=today - timedelta(days=30),
            starts_on=today - timedelta(days=20),
            ends_on=today + timedelta(days=100),
        )
        session.add(cohort)
    return cohort


def row_of(html: str, certificate: Certificate) -> str:
    match = re.search(rf'<tr id="certificate-{certificate.id}".*?</tr>', html, re.S)
    assert match, html
    return unescape(match.group(0))


# --- the cohort page and its batch ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Certificates for Frühjahr 2027", "No tandem of this cohort is completed yet"]),
        (
            "de",
            ["Zertifikate für Frühjahr 2027", "Noch kein Tandem dieser Kohorte ist abgeschlossen"],
        ),
    ],
)
async def test_a_cohort_without_completed_tandems_offers_nothing_to_issue(
    aw: CertWorld, lang: str, words: list[str]
) -> None:
    await as_user(aw.w, "clara")
    response = await page(aw.w, BASE, lang)
    assert response.status_code == 200, response.text
    for word in words:
        assert word in response.text
    assert f'action="{BASE}/batches"' not in response.text
    # The cohort's overview links here.
    overview = await page(aw.w, f"/admin/cohorts/{COHORT}", lang)
    assert f'href="{BASE}"' in overview.text


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_a_batch_issues_the_cohort_with_a_progress_bar(aw: CertWorld, lang: str) -> None:
    w = aw.w
    await complete(aw)
    await complete(aw, mentee="bilal", mentor="mona")
    await as_user(w, "clara")
    before = await page(w, BASE, lang)
    assert f'action="{BASE}/batches"' in before.text
    assert {"en": "No certificate yet.", "de": "Noch kein Zertifikat."}[lang] in before.text

    path = batch_path(await start(aw, lang))
    rows = await certificates(aw)
    # Amira, Jonas and his employer; Bilal and Mona (no employer).
    assert sorted(c.role for c in rows) == ["company", "mentee", "mentee", "mentor", "mentor"]
    (batch,) = await batches(aw)
    assert batch.total == 5 and batch.created_by_user_id == w.users["clara"].id
    assert {c.batch_id for c in rows} == {batch.id}
    assert {c.status for c in rows} == {CertificateStatus.PENDING}

    html = (await page(w, path, lang)).text
    assert '<progress id="run-progress" max="1" value="0.000">' in html
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    assert '<script src="/static/core/matching-progress.js" defer></script>' in html
    assert f'data-run-api="{path}/progress"' in html
    assert 'aria-live="polite"' in html
    progress = await page(w, f"{path}/progress", lang)
    assert progress.status_code == 200
    assert progress.json() | {"stage": ""} == {
        "status": "running", "progress": 0.0, "stage": "", "total": 5, "pending": 5,
        "issued": 0, "failed": 0, "revoked": 0,
    }  # fmt: skip
    assert (
        progress.json()["stage"]
        == {
            "en": "Rendering the certificates",
            "de": "Die Zertifikate werden erstellt",
        }[lang]
    )

    await render_one(aw)
    progress = (await page(w, f"{path}/progress")).json()
    assert progress["progress"] == 0.2 and progress["issued"] == 1 and progress["pending"] == 4
    assert '<progress id="run-progress" max="1" value="0.200">' in (await page(w, path)).text

    await run_certificate_jobs(aw)
    progress = (await page(w, f"{path}/progress")).json()
    assert progress["status"] == "done" and progress["progress"] == 1.0 and progress["issued"] == 5
    done = (await page(w, path, lang)).text
    assert "<progress" not in done and "http-equiv" not in done
    issued = {"en": "5 of 5 certificates issued", "de": "5 von 5 Zertifikaten ausgestellt"}
    assert issued[lang] in done

    listed = (await page(w, BASE, lang)).text
    for certificate in await certificates(aw):
        row = row_of(listed, certificate)
        assert certificate.holder_name in row
        assert f'href="/certificates/{certificate.id}.pdf"' in row
        assert services.download_name(certificate)  # the download route names it
        assert {"en": "Issued", "de": "Ausgestellt"}[lang] in row


async def test_issuing_again_queues_nothing_new(aw: CertWorld) -> None:
    await complete(aw)
    await run_certificate_jobs(aw)  # the completion's own job issued them already
    await as_user(aw.w, "clara")
    response = await start(aw)
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}?done=nothing"
    assert await batches(aw) == []
    shown = await page(aw.w, response.headers["location"], "de")
    assert "Nichts auszustellen" in shown.text
    assert len(await certificates(aw)) == 3


async def test_failed_certificates_are_shown_and_rendered_again_by_the_next_batch(
    aw: CertWorld,
) -> None:
    w = aw.w
    await complete(aw)
    async with aw.db.tenant_session(w.tenant_id) as session, session.begin():
        # A broken wording that got in before saving checked it (say, an older version).
        session.add(CertificateWording(template_id=PROBE, locale="de", source="{{ nope }}"))
    await as_user(w, "clara")
    path = batch_path(await start(aw))
    await run_certificate_jobs(aw)
    failed = await certificates(aw, status=CertificateStatus.FAILED)
    assert [c.holder_name for c in failed] == ["Amira"]  # German; Jonas's are English
    html = unescape((await page(w, path)).text)
    assert "1 failed" in html and "Certificates that failed" in html
    assert f'href="{BASE}#certificate-{failed[0].id}"' in html and "nope" in html
    row = row_of((await page(w, BASE)).text, failed[0])
    assert "Failed" in row and "Why:" in row and "nope" in row
    assert f"/certificates/{failed[0].id}.pdf" not in row  # nothing to download

    async with aw.db.tenant_session(w.tenant_id) as session, session.begin():
        await session.execute(delete(CertificateWording))
    again = batch_path(await start(aw))
    assert again != path
    await run_certificate_jobs(aw)
    (amira,) = await certificates(aw, id=failed[0].id)
    assert amira.status == CertificateStatus.ISSUED and amira.code == failed[0].code
    assert "Amira" in pdf_text(await _pdf(aw, amira))
    assert (await page(w, f"{again}/progress")).json()["issued"] == 1


async def _pdf(aw: CertWorld, certificate: Certificate) -> bytes:
    response = await page(aw.w, f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


# --- revoking and re-issuing ------------------------------------------------------------------


async def _issued(aw: CertWorld) -> dict[str, Certificate]:
    await complete(aw)
    await run_certificate_jobs(aw)
    return {c.role: c for c in await certificates(aw)}


@pytest.mark.parametrize(
    ("lang", "reason", "message"),
    [
        ("en", "", "Say why the certificate is revoked."),
        ("de", "   ", gettext("de", services.REASON_REQUIRED)),
        ("en", "x" * 501, "500"),
    ],
)
async def test_revoking_needs_a_reason_shown_at_the_field(
    aw: CertWorld, lang: str, reason: str, message: str
) -> None:
    if lang == "de":
        assert message != services.REASON_REQUIRED  # really German
    certificate = (await _issued(aw))["mentee"]
    await as_user(aw.w, "clara")
    response = await form(aw.w, f"{BASE}/{certificate.id}/revoke", {"reason": reason}, lang)
    assert response.status_code == 422, response.text
    error = re.search(
        rf'<p class="field-error" id="reason-{certificate.id}-error">(.*?)</p>', response.text, re.S
    )
    assert error and message in unescape(error.group(1))
    assert re.search(rf'id="reason-{certificate.id}"[^>]*aria-invalid="true"', response.text)
    assert "<details open>" in response.text  # the form stays open
    (unchanged,) = await certificates(aw, id=certificate.id)
    assert unchanged.status == CertificateStatus.ISSUED


async def test_revoke_then_reissue_then_nothing_more(aw: CertWorld) -> None:
    w = aw.w
    mentee = (await _issued(aw))["mentee"]
    await as_user(w, "clara")
    response = await form(
        w, f"{BASE}/{mentee.id}/revoke", {"reason": "Name falsch geschrieben"}, "de"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{BASE}?done=revoked#certificate-{mentee.id}"
    (revoked,) = await certificates(aw, id=mentee.id)
    assert revoked.status == CertificateStatus.REVOKED
    assert revoked.revoked_reason == "Name falsch geschrieben"
    shown = await page(w, f"{BASE}?done=revoked", "de")
    assert "widerrufen" in shown.text
    row = row_of(shown.text, revoked)
    assert "Name falsch geschrieben" in row and f"/certificates/{mentee.id}.pdf" not in row
    # The public page says so.
    verify = await w.web.get(f"/verify/{revoked.code}", headers={"host": MUENCHEN})  # type: ignore[union-attr]
    assert "revoked" in verify.text.lower() or "widerrufen" in verify.text.lower()

    again = await form(w, f"{BASE}/{mentee.id}/revoke", {"reason": "noch einmal"}, "en")
    assert again.status_code == 409
    assert "revoked already" in unescape(again.text)

    reissued = await form(w, f"{BASE}/{mentee.id}/reissue", {})
    assert reissued.status_code == 303, reissued.text
    (old,) = await certificates(aw, id=mentee.id)
    assert old.replaced_by_id is not None
    assert reissued.headers["location"] == f"{BASE}?done=reissued#certificate-{old.replaced_by_id}"
    (new,) = await certificates(aw, id=old.replaced_by_id)
    assert new.status == CertificateStatus.PENDING and new.code != old.code
    await run_certificate_jobs(aw)
    assert "Amira" in pdf_text(await _pdf(aw, new))
    html = (await page(w, BASE)).text
    assert "re-issued" in row_of(html, old)
    assert f"{BASE}/{old.id}/reissue" not in html  # once only
    twice = await form(w, f"{BASE}/{old.id}/reissue", {})
    assert twice.status_code == 409 and "re-issued already" in unescape(twice.text)

    async with aw.db.tenant_session(w.tenant_id) as session:
        actions = [
            a.action
            for a in await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at))
            if a.action in (services.CERTIFICATE_REVOKED, services.CERTIFICATE_REISSUED)
        ]
    assert actions == [services.CERTIFICATE_REVOKED, services.CERTIFICATE_REISSUED]


async def test_reissuing_an_issued_certificate_revokes_it_with_the_reason_given(
    aw: CertWorld,
) -> None:
    mentor = (await _issued(aw))["mentor"]
    await as_user(aw.w, "clara")
    response = await form(aw.w, f"{BASE}/{mentor.id}/reissue", {"reason": "New surname"})
    assert response.status_code == 303
    (old,) = await certificates(aw, id=mentor.id)
    assert old.status == CertificateStatus.REVOKED and old.revoked_reason == "New surname"


# --- who may -----------------------------------------------------------------------------------


async def test_only_the_tenants_coordinators_may(aw: CertWorld) -> None:
    w = aw.w
    certificate = (await _issued(aw))["mentee"]
    async with aw.db.tenant_session(w.tenant_id) as session, session.begin():
        row = CertificateBatch(cohort_id=w.cohort.id, total=0)
        session.add(row)
    routes = [
        ("GET", BASE),
        ("POST", f"{BASE}/batches"),
        ("GET", f"{BASE}/batches/{row.id}"),
        ("GET", f"{BASE}/batches/{row.id}/progress"),
        ("POST", f"{BASE}/{certificate.id}/revoke"),
        ("POST", f"{BASE}/{certificate.id}/reissue"),
    ]
    w.web.cookies.clear()  # type: ignore[union-attr]
    for method, path in routes:
        response = await _call(aw, method, path)
        assert response.status_code in (302, 303, 401), (method, path, response.status_code)
    await as_user(w, "amira")
    for method, path in routes:
        assert (await _call(aw, method, path)).status_code == 403, (method, path)
    (unchanged,) = await certificates(aw, id=certificate.id)
    assert unchanged.status == CertificateStatus.ISSUED
    assert len(await batches(aw)) == 1


async def _call(aw: CertWorld, method: str, path: str, host: str = MUENCHEN) -> httpx.Response:
    if method == "GET":
        return await page(aw.w, path, host=host)
    return await form(aw.w, path, {"reason": "Test"}, host=host)


async def test_another_cohorts_or_tenants_certificates_and_batches_are_not_found(
    aw: CertWorld,
) -> None:
    w = aw.w
    certificate = (await _issued(aw))["mentee"]
    async with aw.db.tenant_session(w.tenant_id) as session, session.begin():
        batch = CertificateBatch(cohort_id=w.cohort.id, total=0)
        session.add(batch)
    await other_cohort(aw, w.tenant_id, "other")
    await other_cohort(aw, w.augsburg_id, COHORT)  # the same slug in Augsburg
    other = "/admin/cohorts/other/certificates"
    await as_user(w, "clara")
    for method, path in [
        ("POST", f"{other}/{certificate.id}/revoke"),
        ("POST", f"{other}/{certificate.id}/reissue"),
        ("GET", f"{other}/batches/{batch.id}"),
        ("GET", f"{other}/batches/{batch.id}/progress"),
        ("POST", f"{BASE}/{uuid.uuid4()}/revoke"),
        ("GET", f"{BASE}/batches/{uuid.uuid4()}"),
        ("GET", "/admin/cohorts/nonesuch/certificates"),
    ]:
        assert (await _call(aw, method, path)).status_code == 404, (method, path)
    # Augsburg's coordinator, on Augsburg's host, with München's ids.
    await as_user(w, "omar", AUGSBURG)
    augsburg_page = await page(w, BASE, host=AUGSBURG)
    assert augsburg_page.status_code == 200
    assert "Amira" not in augsburg_page.text
    for method, path in [
        ("POST", f"{BASE}/{certificate.id}/revoke"),
        ("POST", f"{BASE}/{certificate.id}/reissue"),
        ("GET", f"{BASE}/batches/{batch.id}"),
        ("GET", f"{BASE}/batches/{batch.id}/progress"),
        ("GET", f"/certificates/{certificate.id}.pdf"),
    ]:
        assert (await _call(aw, method, path, AUGSBURG)).status_code == 404, (method, path)
    (unchanged,) = await certificates(aw, id=certificate.id)
    assert unchanged.status == CertificateStatus.ISSUED and unchanged.replaced_by_id is None
