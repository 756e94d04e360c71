"""Certificate pages, on SQLite and PostgreSQL: participants' list and downloads, and the
public ``/verify`` pages — who may see what, on which host, in German and English.

The world is tests/test_certificates_issue.py's (München with the ``cert_probe``
certificate plugin; Augsburg enables it too, so that its host could show certificates
of its own). Amira and Jonas's tandem is completed and its three certificates rendered
before each test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.certificates import codes, services
from core.certificates.models import Certificate, CertificateStatus
from core.db.sessions import Database
from core.mail import delivery as mail_delivery
from core.pairings.lifecycle import PairingState
from core.settings import Settings
from tests.conftest import make_app
from tests.test_certificates_issue import (
    CertWorld,
    certificates,
    issued,
    pdf_text,
    seed_certificates,
)
from tests.test_pairings import AUGSBURG, as_user, form, make_pairing, page

PLATFORM = "localhost:8000"


@pytest.fixture
async def web(
    synced: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[CertWorld]:
    cw = await seed_certificates(synced)
    development = Settings(**{**settings.model_dump(), "mail_dir": tmp_path / "mail"})
    monkeypatch.setattr(mail_delivery, "_mailer", None)
    async with AsyncTestClient(make_app(development, cw.host), base_url="http://localhost") as c:
        c.follow_redirects = False
        cw.w.web = c
        yield cw


async def _revoke(cw: CertWorld, certificate: Certificate, reason: str = "Wrong name") -> None:
    async with cw.db.tenant_session(cw.w.tenant_id) as session, session.begin():
        row = await session.get(Certificate, certificate.id)
        assert row is not None
        await services.revoke(session, row, reason, cw.w.who("clara"))


def _main(html: str) -> str:
    """The page's <main> only (the header names the signed-in person)."""
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


# --- participants ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_participants_list_and_download_their_certificates(web: CertWorld, lang: str) -> None:
    found = await issued(web)
    amira = found["mentee"]
    await as_user(web.w, "amira")
    response = await page(web.w, "/certificates", lang)
    assert response.status_code == 200
    body = _main(response.text)
    title = {"de": "Ihre Zertifikate", "en": "Your certificates"}[lang]
    assert f'<h1 id="certificates-title">{title}</h1>' in body
    assert f'href="/certificates/{amira.id}.pdf"' in body
    assert codes.display(amira.code) in body
    assert str(found["mentor"].id) not in body and str(found["company"].id) not in body
    # The app bar links to the list.
    assert 'href="/certificates"' in response.text

    download = await page(web.w, f"/certificates/{amira.id}.pdf", lang)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="certificate-mentee-{amira.code}.pdf"'
    )
    assert "no-store" in download.headers["cache-control"]
    assert "Urkunde für Amira" in pdf_text(download.content)


async def test_the_mentor_gets_the_company_certificate_too(web: CertWorld) -> None:
    found = await issued(web)
    await as_user(web.w, "jonas")
    body = _main((await page(web.w, "/certificates")).text)
    assert f"/certificates/{found['mentor'].id}.pdf" in body
    assert f"/certificates/{found['company'].id}.pdf" in body
    assert "Stadtwerke München (Partner company)" in body
    company = await page(web.w, f"/certificates/{found['company'].id}.pdf")
    assert "Stadtwerke München (company)" in pdf_text(company.content)


async def test_the_home_page_of_a_completed_tandem_leads_to_the_certificate(
    web: CertWorld,
) -> None:
    await issued(web)
    await as_user(web.w, "amira")
    home = await page(web.w, "/", "de")
    assert home.status_code == 200
    assert '<a href="/certificates">Ihr Zertifikat herunterladen</a>' in home.text
    # An active tandem has no certificate yet: no link on the home page.
    await make_pairing(web.w, PairingState.ACTIVE, mentee="bilal", mentor="mona")
    await as_user(web.w, "bilal")
    home = await page(web.w, "/", "de")
    assert "Ihr Zertifikat herunterladen" not in home.text


async def test_someone_without_certificates_is_told_when_they_come(web: CertWorld) -> None:
    await as_user(web.w, "bilal")
    response = await page(web.w, "/certificates", "de")
    assert response.status_code == 200
    assert "Sie haben noch keine Zertifikate" in response.text


async def test_only_the_holder_and_coordinators_may_download(web: CertWorld) -> None:
    found = await issued(web)
    path = f"/certificates/{found['mentee'].id}.pdf"
    for name in ("bilal", "jonas", "mona"):
        await as_user(web.w, name)
        assert (await page(web.w, path)).status_code == 404, name
    for name in ("clara", "dora"):
        await as_user(web.w, name)
        response = await page(web.w, path)
        assert response.status_code == 200, name
        assert response.content.startswith(b"%PDF")
    # Omar coordinates Augsburg: on its host, München's certificate does not exist ...
    await as_user(web.w, "omar", AUGSBURG)
    assert (await page(web.w, path, host=AUGSBURG)).status_code == 404
    # ... and on München's host his Augsburg session does not count: sign in first.
    response = await page(web.w, path)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


async def test_anonymous_visitors_are_sent_to_sign_in(web: CertWorld) -> None:
    found = await issued(web)
    assert web.w.web is not None
    web.w.web.cookies.clear()
    for path in ("/certificates", f"/certificates/{found['mentee'].id}.pdf"):
        response = await page(web.w, path)
        assert response.status_code in (302, 303), path
        assert response.headers["location"].startswith("/login")


async def test_bad_addresses_are_not_found(web: CertWorld) -> None:
    found = await issued(web)
    await as_user(web.w, "clara")
    for path in (
        f"/certificates/{uuid.uuid4()}.pdf",
        f"/certificates/{found['mentee'].id}.txt",
        f"/certificates/{found['mentee'].id}",
        "/certificates/not-an-id.pdf",
        "/certificates/..pdf",
    ):
        response = await page(web.w, path)
        assert response.status_code == 404, path
    # The platform host has no certificates.
    assert (await page(web.w, "/certificates", host=PLATFORM)).status_code in (303, 404)


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_revoked_and_pending_certificates_cannot_be_downloaded(
    web: CertWorld, lang: str
) -> None:
    found = await issued(web)
    await _revoke(web, found["mentee"])
    await as_user(web.w, "amira")
    response = await page(web.w, f"/certificates/{found['mentee'].id}.pdf", lang)
    assert response.status_code == 410
    message = {
        "de": "Dieses Zertifikat wurde widerrufen",
        "en": "This certificate has been revoked and can no longer be downloaded.",
    }[lang]
    assert message in response.text
    assert "application/pdf" not in response.headers["content-type"]
    # Pending: the tandem of Bilal and Mona, completed; its jobs have not run.
    pairing = await make_pairing(web.w, PairingState.ACTIVE, mentee="bilal", mentor="mona")
    async with web.db.tenant_session(web.w.tenant_id) as session, session.begin():
        pending = Certificate(
            pairing_id=pairing.id,
            application_id=web.w.apps["bilal"].id,
            user_id=web.w.users["bilal"].id,
            role="mentee",
            template_id="cert_probe",
            locale="de",
            holder_name="Bilal",
            programme_name="Mentoring",
            cohort_name="Frühjahr 2027",
            issued_on=found["mentee"].issued_on,
            code=codes.new_code(),
        )
        session.add(pending)
    await as_user(web.w, "bilal")
    listing = await page(web.w, "/certificates", lang)
    assert f"/certificates/{pending.id}.pdf" not in listing.text
    response = await page(web.w, f"/certificates/{pending.id}.pdf", lang)
    assert response.status_code == 409
    assert {"de": "wird noch erstellt", "en": "still being prepared"}[lang] in response.text


async def test_completing_on_the_page_issues_certificates_through_the_apps_worker(
    web: CertWorld,
) -> None:
    pairing = await make_pairing(web.w, PairingState.ACTIVE)
    await as_user(web.w, "clara")
    response = await form(
        web.w, f"/tandem/{pairing.id}/actions/complete", {"version": str(pairing.version)}
    )
    assert response.status_code == 303, response.text
    for _ in range(200):
        rows = await certificates(web)
        if len(rows) == 3 and all(r.status == CertificateStatus.ISSUED for r in rows):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"certificates not issued: {[(r.role, r.status) for r in rows]}")
    await as_user(web.w, "amira")
    [amira] = [r for r in rows if r.role == "mentee"]
    download = await page(web.w, f"/certificates/{amira.id}.pdf")
    assert "Urkunde für Amira" in pdf_text(download.content)


# --- /verify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_a_valid_code_shows_name_programme_role_and_date_and_nothing_more(
    web: CertWorld, lang: str
) -> None:
    found = await issued(web)
    amira = found["mentee"]
    assert web.w.web is not None
    web.w.web.cookies.clear()  # anyone may check: an employer, an authority
    response = await page(web.w, f"/verify/{amira.code}", lang)
    assert response.status_code == 200
    body = _main(response.text)
    genuine = {"de": "Dieses Zertifikat ist echt", "en": "This certificate is genuine"}[lang]
    assert genuine in body
    assert "Amira" in body and "Mentoring" in body
    assert codes.display(amira.code) in body
    role = {"de": "Mentee (Teilnehmende)", "en": "Mentee"}[lang]
    assert f"<dd>{role}</dd>" in body
    day = amira.issued_on
    if lang == "en":
        assert f"{day.strftime('%B')} {day.day}, {day.year}" in body
    else:
        assert f"{day.day}. " in body and str(day.year) in body
    # Nothing more: not the partner, the cohort, an e-mail address, the other certificates.
    for secret in ("Jonas", "Frühjahr", "@", "Stadtwerke", str(amira.id), "Treffen"):
        assert secret not in body, secret
    assert '<meta name="robots" content="noindex">' in response.text


async def test_codes_are_read_as_people_type_them(web: CertWorld) -> None:
    found = await issued(web)
    code = found["mentor"].code
    typed = codes.display(code).lower()
    response = await page(web.w, f"/verify/{typed}")
    assert response.status_code == 200 and "This certificate is genuine" in response.text
    # The form sends the typed code to the code's page.
    response = await page(web.w, f"/verify?code=%20{typed}%20")
    assert response.status_code == 303
    assert response.headers["location"] == f"/verify/{code}"


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_unknown_and_malformed_codes_are_said_to_be_unknown(
    web: CertWorld, lang: str
) -> None:
    await issued(web)
    unknown = codes.new_code()
    response = await page(web.w, f"/verify/{unknown}", lang)
    assert response.status_code == 404
    heading = {"de": "Unbekannter Code", "en": "Unknown code"}[lang]
    assert heading in response.text
    assert 'name="code"' in response.text  # and the form to try again
    for path in ("/verify/nonsense", "/verify/" + "A" * 300, "/verify/%3Cscript%3E"):
        response = await page(web.w, path, lang)
        assert response.status_code == 404, path
        assert heading in response.text
        assert "<script>" not in _main(response.text)


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_the_verify_form_explains_what_is_wrong(web: CertWorld, lang: str) -> None:
    response = await page(web.w, "/verify", lang)
    assert response.status_code == 200
    assert 'for="verify-code"' in response.text and 'id="verify-code"' in response.text
    response = await page(web.w, "/verify?code=12345", lang)
    assert response.status_code == 422
    message = {
        "de": "Das ist kein Prüfcode",
        "en": "This is not a verification code. A code has 12 letters and digits",
    }[lang]
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="12345"' in response.text
    response = await page(web.w, "/verify?code=++", lang)
    assert response.status_code == 422
    required = {
        "de": "Geben Sie den Code ein",
        "en": "Enter the code printed on the certificate.",
    }[lang]
    assert required in response.text


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_a_revoked_certificate_says_so_and_when(web: CertWorld, lang: str) -> None:
    found = await issued(web)
    await _revoke(web, found["mentee"], "Secret internal reason")
    response = await page(web.w, f"/verify/{found['mentee'].code}", lang)
    assert response.status_code == 200
    body = _main(response.text)
    revoked = {
        "de": "Dieses Zertifikat wurde widerrufen",
        "en": "This certificate has been revoked",
    }[lang]
    assert revoked in body
    assert {"de": "ist nicht mehr gültig", "en": "It is no longer valid"}[lang] in body
    assert "genuine" not in body and "echt" not in body
    assert "Secret internal reason" not in body
    [row] = await certificates(web, role="mentee")
    assert row.revoked_at is not None and str(row.revoked_at.year) in body


async def test_codes_of_another_tenant_and_unissued_codes_are_unknown(web: CertWorld) -> None:
    found = await issued(web)
    code = found["mentee"].code
    response = await page(web.w, f"/verify/{code}", host=AUGSBURG)
    assert response.status_code == 404
    assert "Amira" not in response.text
    assert (await page(web.w, f"/verify?code={code}", host=AUGSBURG)).status_code == 303
    # A certificate whose job has not rendered it yet is on no paper: unknown.
    async with web.db.tenant_session(web.w.tenant_id) as session, session.begin():
        row = (await session.scalars(select(Certificate).where(Certificate.role == "mentor"))).one()
        row.status = CertificateStatus.PENDING
    response = await page(web.w, f"/verify/{found['mentor'].code}")
    assert response.status_code == 404
    assert "Jonas" not in _main(response.text)
    # The platform host verifies nothing.
    assert (await page(web.w, f"/verify/{code}", host=PLATFORM)).status_code == 404


async def test_the_verify_page_needs_no_javascript_and_no_sign_in(web: CertWorld) -> None:
    found = await issued(web)
    assert web.w.web is not None
    web.w.web.cookies.clear()
    response = await page(web.w, f"/verify/{found['company'].code}")
    assert response.status_code == 200
    assert "<script" not in response.text
    assert "Stadtwerke München" in _main(response.text)
