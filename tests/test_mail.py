"""E-mail end to end: ``send_mail`` in a transaction → outbox → relay → actor → a REAL
SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL.

Also: the dev file backend and its viewer (development only, per tenant), SMTP URL
parsing, header injection, theme overrides of mail templates.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from dramatiq.brokers.stub import StubBroker
from jinja2 import TemplateNotFound
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import ValidationError
from sqlalchemy import select

from core.db.sessions import Database
from core.jobs.actors import run_job
from core.jobs.broker import build_broker
from core.jobs.models import OutboxMessage
from core.jobs.relay import relay_once
from core.mail import MailError, SmtpURLError, parse_smtp_url, send_mail
from core.mail import delivery as mail_delivery
from core.mail.compose import RenderedMail, build_message
from core.mail.delivery import Mailer, MailNotConfiguredError, deliver_mail
from core.mail.mailbox import list_mails
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.models import TenantStatus
from core.tenancy.snapshot import TenantSnapshot
from tests.conftest import make_app
from tests.test_jobs_outbox import (
    completed,
    drain,
    outbox_row,
    running_worker,
    take_message,
    tenants_without_jobs,
    wait_until,
)

SENDER = "programmes@tandem.example"
LINK = "https://muenchen.localhost:8000/invitations/accept?token=abc&x=1"
EXPIRES = "2026-03-14T10:00:00+00:00"
MUENCHEN_NAME = "Landeshauptstadt München \N{EN DASH} Mentoring-Partnerschaft"
TORONTO_NAME = "Toronto Mentoring Partnership"


# --- a real SMTP server on loopback ---------------------------------------------------------


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


class SmtpServer:
    """aiosmtpd on 127.0.0.1 (its own thread and loop); can be stopped and restarted."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_settings(
    settings: Settings, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings that send to the test server; this process's mailer uses them."""
    configured = Settings(
        **{**settings.model_dump(), "smtp_url": smtp_server.url, "mail_from": SENDER}
    )
    monkeypatch.setattr(mail_delivery, "_mailer", Mailer.from_settings(configured))
    return configured


@pytest.fixture
async def tenants(synced: Database) -> dict[str, uuid.UUID]:
    return await tenants_without_jobs(synced)


def invitation(programme: str = "Kunst & Kultur <Team>") -> dict[str, str]:
    return {"programme": programme, "link": LINK, "expires_at": EXPIRES}


async def send_committed(
    db: Database, tenant_id: uuid.UUID, *, to: str, locale: str, **context: Any
) -> uuid.UUID:
    async with db.tenant_session(tenant_id) as session, session.begin():
        job = send_mail(
            session, to=to, template="invitation", context=context or invitation(), locale=locale
        )
    return job.id


async def run(db: Database, plugins: PluginHost, tenant_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """One delivery of the job, as a worker would run it (kwargs from the outbox row)."""
    row = await outbox_row(db, job_id)
    assert row is not None
    return await run_job(db, plugins, deliver_mail, tenant_id, job_id, dict(row.kwargs))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


# --- end to end through the relay and a dramatiq worker -------------------------------------


async def test_committed_mails_reach_the_smtp_server_in_each_tenants_language(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,
):
    muenchen_job = await send_committed(
        db, tenants["muenchen"], to="koordination@muenchen.example", locale="de"
    )
    # Toronto offers only English: a German request falls back to its default.
    toronto_job = await send_committed(
        db, tenants["toronto"], to="coordinator@toronto.example", locale="de"
    )
    broker = build_broker("")
    assert await relay_once(db, broker) == 2
    with running_worker(broker, mail_settings, plugins) as worker:
        drain(broker, worker)

    received = {r.recipients[0]: r for r in smtp_server.messages()}
    assert sorted(received) == ["coordinator@toronto.example", "koordination@muenchen.example"]

    german = received["koordination@muenchen.example"]
    assert german.sender == SENDER
    message = german.message
    assert message["To"] == "koordination@muenchen.example"
    assert message["From"].addresses[0].display_name == MUENCHEN_NAME
    assert message["From"].addresses[0].addr_spec == SENDER
    # .strip(): Python folds a long subject onto a continuation line ("Subject:\r\n Sie…"),
    # valid RFC 5322 whose unfolded value keeps the leading space; mail clients drop it.
    assert message["Subject"].strip() == (
        "Sie wurden eingeladen, Kunst & Kultur <Team> auf Tandem zu koordinieren"
    )
    assert message["Message-ID"] == f"<{muenchen_job}@tandem.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "de"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = parts(message)
    assert LINK in text, "plain text is not HTML-escaped"
    assert "Kunst & Kultur <Team>" in text
    assert "läuft am 14. März 2026, 10:00 UTC ab" in text
    assert f'href="{LINK.replace("&", "&amp;")}"' in html
    assert "Kunst &amp; Kultur &lt;Team&gt;" in html and "<Team>" not in html
    assert '<html lang="de"' in html and "Einladung annehmen" in html

    english = received["coordinator@toronto.example"].message
    assert english["From"].addresses[0].display_name == TORONTO_NAME
    assert (
        english["Subject"] == "You have been invited to coordinate Kunst & Kultur <Team> on Tandem"
    )
    assert english["Message-ID"] == f"<{toronto_job}@tandem.example>"
    assert english["Content-Language"] == "en"
    text, html = parts(english)
    assert LINK in text and "expires on March 14, 2026" in text
    assert "Accept the invitation" in html and "Einladung" not in html

    for job_id in (muenchen_job, toronto_job):
        row = await outbox_row(db, job_id)
        assert row is not None and row.completed_at is not None and row.last_error is None


async def test_a_rolled_back_mail_is_never_sent(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,
):
    with pytest.raises(RuntimeError, match="change failed"):
        async with db.tenant_session(tenants["muenchen"]) as session, session.begin():
            send_mail(
                session, to="a@muenchen.example", template="invitation",
                context=invitation(), locale="de",
            )  # fmt: skip
            await session.flush()
            raise RuntimeError("change failed")
    broker = build_broker("")
    assert await relay_once(db, broker) == 0
    async with db.platform_session() as session:
        assert list(await session.scalars(select(OutboxMessage))) == []
    assert smtp_server.messages() == []


async def test_the_same_job_delivered_twice_sends_one_mail(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,
):
    job_id = await send_committed(db, tenants["augsburg"], to="a@augsburg.example", locale="de")
    broker = build_broker("")
    assert isinstance(broker, StubBroker)
    assert await relay_once(db, broker) == 1
    message = take_message(broker)
    broker.queues["default"].task_done()  # taken by hand: let drain()'s join count it done
    broker.enqueue(message)
    broker.enqueue(message)  # a broker's redelivery: the same job, twice, maybe at once
    with running_worker(broker, mail_settings, plugins, threads=2) as worker:
        drain(broker, worker)
    assert [r.recipients for r in smtp_server.messages()] == [["a@augsburg.example"]]
    # Run once more by hand, as a third delivery would: the claim says it is done.
    assert await run(db, plugins, tenants["augsburg"], job_id) is False
    # The job cannot be run as another tenant's either.
    row = await outbox_row(db, job_id)
    assert row is not None
    assert not await run_job(
        db, plugins, deliver_mail, tenants["toronto"], job_id, dict(row.kwargs)
    )
    assert len(smtp_server.messages()) == 1
    assert row.attempts == 1


async def test_smtp_down_fails_the_job_and_a_redelivery_sends_exactly_once(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,
):
    job_id = await send_committed(db, tenants["toronto"], to="c@toronto.example", locale="en")
    smtp_server.stop()
    with pytest.raises(OSError):  # aiosmtplib's connect errors are OSErrors
        await run(db, plugins, tenants["toronto"], job_id)
    row = await outbox_row(db, job_id)
    assert row is not None
    assert row.completed_at is None and row.attempts == 1
    assert row.last_error and "127.0.0.1" in row.last_error

    smtp_server.start()
    assert await run(db, plugins, tenants["toronto"], job_id) is True
    assert await run(db, plugins, tenants["toronto"], job_id) is False
    assert [r.recipients for r in smtp_server.messages()] == [["c@toronto.example"]]
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None and row.attempts == 2


# --- what can never be sent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "victim@example.org\r\nBcc: everyone@example.org"),
        ("to", "victim@example.org\nSubject: hi"),
        ("to", "victim@example.org\u2028Subject: hi"),
        ("to", "a@example.org, b@example.org"),
        ("to", "Eve <eve@example.org>"),
        ("to", "not an address"),
        ("to", ""),
        ("template", "../base"),
        ("template", "invitation\n"),
        ("template", "Invitation"),
        ("locale", "xx-\n"),
        ("context", {"tenant": "another"}),
    ],
)
async def test_send_mail_rejects_what_could_never_make_a_clean_mail(
    db: Database, tenants: dict[str, uuid.UUID], field: str, value: Any
):
    arguments: dict[str, Any] = {
        "to": "a@example.org",
        "template": "invitation",
        "context": invitation(),
        "locale": "de",
    }
    arguments[field] = value
    async with db.tenant_session(tenants["muenchen"]) as session, session.begin():
        with pytest.raises(MailError):
            send_mail(session, **arguments)
    async with db.platform_session() as session:
        assert list(await session.scalars(select(OutboxMessage))) == []


async def test_a_line_break_reaching_the_subject_completes_the_job_unsent(
    db: Database,
    tenants: dict[str, uuid.UUID],
    mail_settings: Settings,
    plugins: PluginHost,
    smtp_server: SmtpServer,
):
    evil = invitation("Tandem\r\nBcc: everyone@example.org")
    job_id = await send_committed(
        db, tenants["muenchen"], to="a@muenchen.example", locale="de", **evil
    )
    # Retrying cannot help: the job completes at once, unsent, and says why.
    assert await run(db, plugins, tenants["muenchen"], job_id) is True
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is not None
    assert row.last_error == (
        "not sent: the subject of mail/invitation contains a line break or control character"
    )
    assert smtp_server.messages() == []
    # Another tenant's mails are unaffected.
    ok = await send_committed(db, tenants["toronto"], to="c@toronto.example", locale="en")
    assert await run(db, plugins, tenants["toronto"], ok) is True
    assert [r.recipients for r in smtp_server.messages()] == [["c@toronto.example"]]


async def test_a_missing_template_fails_the_job_with_its_name(
    db: Database, tenants: dict[str, uuid.UUID], mail_settings: Settings, plugins: PluginHost
):
    async with db.tenant_session(tenants["muenchen"]) as session, session.begin():
        job = send_mail(
            session, to="a@example.org", template="no_such_mail", context={}, locale="de"
        )
    with pytest.raises(TemplateNotFound):
        await run(db, plugins, tenants["muenchen"], job.id)
    row = await outbox_row(db, job.id)
    assert row is not None and row.completed_at is None
    assert row.last_error and "mail/no_such_mail.subject.txt" in row.last_error


async def test_production_without_an_smtp_url_keeps_mails_in_the_outbox(
    db: Database,
    tenants: dict[str, uuid.UUID],
    settings: Settings,
    plugins: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    production = Settings(
        **{
            **settings.model_dump(),
            "env": "production",
            "secret_key": "x" * 40,
            "smtp_url": "",
            "mail_dir": tmp_path,
        }
    )
    monkeypatch.setattr(mail_delivery, "_mailer", Mailer.from_settings(production))
    job_id = await send_committed(db, tenants["toronto"], to="c@toronto.example", locale="en")
    with pytest.raises(MailNotConfiguredError):
        await run(db, plugins, tenants["toronto"], job_id)
    row = await outbox_row(db, job_id)
    assert row is not None and row.completed_at is None
    assert row.last_error and "TANDEM_SMTP_URL is not set" in row.last_error
    assert not any(tmp_path.iterdir()), "production never writes mails to files"  # noqa: ASYNC240


def _snapshot(slug: str, name: str, theme: str, locales: tuple[str, ...]) -> TenantSnapshot:
    return TenantSnapshot(
        id=uuid.uuid4(),
        slug=slug,
        name=name,
        status=TenantStatus.ACTIVE,
        default_locale=locales[0],
        locales=locales,
        theme=theme,
        revision=1,
    )


def test_a_tenant_name_with_a_line_break_stays_one_from_header() -> None:
    tenant = _snapshot("evil", "Evil\r\nBcc: everyone@example.org", "default", ("en",))
    rendered = RenderedMail(subject="Hello", text="Hi\n", html="<p>Hi</p>", locale="en")
    message = build_message(
        rendered, job_id=uuid.uuid4(), tenant=tenant, sender=SENDER, to="a@example.org"
    )
    data = message.as_bytes(policy=policy.SMTP)
    assert b"\r\nBcc:" not in data
    reparsed = BytesParser(policy=policy.default).parsebytes(data)
    assert reparsed["From"].addresses[0].display_name == "Evil Bcc: everyone@example.org"
    assert reparsed["Bcc"] is None


def test_a_theme_overrides_a_mail_template_for_its_tenants_only(
    tmp_path: Path, plugins: PluginHost
) -> None:
    override = tmp_path / "themed" / "templates" / "mail"
    override.mkdir(parents=True)
    (override / "invitation.subject.txt").write_text(
        "{{ _('Hello,') }} {{ programme }} & {{ tenant.name }}\n", encoding="utf-8"
    )
    (tmp_path / "default" / "templates").mkdir(parents=True)
    mailer = Mailer(mail_delivery.UnconfiguredTransport(), SENDER, tmp_path)
    renderer = mailer.renderer(plugins)
    themed = _snapshot("themed", "Themed & Co", "themed", ("de", "en"))
    plain = _snapshot("plain", "Plain", "default", ("de", "en"))
    mail = renderer.render(themed, "invitation", "de", invitation("A&B"))
    assert mail.subject == "Guten Tag, A&B & Themed & Co", "gettext works and nothing is escaped"
    assert "A&amp;B" in mail.html, "the parts the theme leaves alone come from core"
    assert renderer.render(plain, "invitation", "de", invitation("A&B")).subject == (
        "Sie wurden eingeladen, A&B auf Tandem zu koordinieren"
    )


# --- settings: TANDEM_SMTP_URL and TANDEM_MAIL_FROM -----------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "security", "username", "password"),
    [
        ("smtp://mail.example.org", "mail.example.org", 25, "plain", None, None),
        ("smtp://127.0.0.1:2525", "127.0.0.1", 2525, "plain", None, None),
        ("smtp+starttls://u:p@mail.example.org", "mail.example.org", 587, "starttls", "u", "p"),
        ("smtps://a%40b.org:p%3Aw%40rd@mail.example.org:4650/", "mail.example.org", 4650,
         "tls", "a@b.org", "p:w@rd"),
        ("SMTPS://[::1]", "::1", 465, "tls", None, None),
    ],
)  # fmt: skip
def test_smtp_urls_are_parsed(
    url: str, host: str, port: int, security: str, username: str | None, password: str | None
) -> None:
    server = parse_smtp_url(url)
    assert (server.host, server.port, server.security) == (host, port, security)
    assert (server.username, server.password) == (username, password)
    assert "p:w@rd" not in repr(server)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://mail.example.org", "must start with smtp://"),
        ("mail.example.org:25", "must start with smtp://"),
        ("smtp://", "no valid host"),
        ("smtp://mail.example.org:99999", "not a valid URL"),
        ("smtp://mail.example.org:0", "port 0"),
        ("smtp://mail.example.org:x", "not a valid URL"),
        ("smtp://user:s3cret@mail.example.org/inbox", "no path"),
        ("smtp://mail.example.org?tls=1", "no path"),
        ("smtp://:s3cret@mail.example.org", "no user name"),
    ],
)
def test_an_invalid_smtp_url_stops_start_up_with_a_clear_error(url: str, complaint: str) -> None:
    with pytest.raises(SmtpURLError, match=complaint) as direct:
        parse_smtp_url(url)
    assert "s3cret" not in str(direct.value)
    with pytest.raises(ValidationError, match="TANDEM_SMTP_URL") as at_start:
        Settings(env="test", smtp_url=url)
    assert "s3cret" not in str(at_start.value)


def test_mail_from_defaults_to_the_base_domain_and_must_be_a_bare_address() -> None:
    settings = Settings(env="test", base_domain="tandem.example.org")
    assert settings.mail_from == "noreply@tandem.example.org"
    assert "s3cret" not in repr(Settings(env="test", smtp_url="smtp://u:s3cret@h"))
    for bad in ("Tandem <noreply@tandem.example.org>", "noreply", "a@b.org\nBcc: c@d.org"):
        with pytest.raises(ValidationError, match="TANDEM_MAIL_FROM"):
            Settings(env="test", mail_from=bad)


# --- development: .eml files and the viewer --------------------------------------------------

MUENCHEN_HOST = "muenchen.localhost:8000"
AUGSBURG_HOST = "augsburg.localhost:8000"


@contextlib.asynccontextmanager
async def app_client(settings: Settings, plugins: PluginHost) -> AsyncIterator[Any]:
    app: Litestar = make_app(settings, plugins)
    async with AsyncTestClient(app, base_url="http://localhost") as client:
        yield client


async def test_development_writes_eml_files_that_only_their_tenants_viewer_shows(
    synced: Database,
    settings: Settings,
    plugins: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    tenants = await tenants_without_jobs(synced)
    development = Settings(
        **{**settings.model_dump(), "env": "development", "smtp_url": "", "mail_dir": tmp_path}
    )
    monkeypatch.setattr(mail_delivery, "_mailer", None)  # restored after the test
    async with app_client(development, plugins) as client:
        # The app's relay and in-process worker write them; one after the other, so
        # that "newest first" has an answer.
        first = await send_committed(synced, tenants["muenchen"], to="a@muenchen.example",
                                     locale="de")  # fmt: skip
        await wait_until(lambda: completed(synced, first), "the first mail")
        second = await send_committed(synced, tenants["muenchen"], to="b@muenchen.example",
                                      locale="en", **invitation("Zweites Programm"))  # fmt: skip
        await wait_until(lambda: completed(synced, second), "the second mail")
        assert len(await _stored_files(tmp_path)) == 2

        mails = list_mails(tmp_path, "muenchen")
        assert [m.to for m in mails] == ["b@muenchen.example", "a@muenchen.example"]
        assert not (tmp_path / "augsburg").exists()

        page = await client.get("/dev/mail/", headers={"host": MUENCHEN_HOST})
        assert page.status_code == 200
        body = page.text
        assert body.index("b@muenchen.example") < body.index("a@muenchen.example"), "newest first"
        assert f"/dev/mail/{mails[0].name}" in body

        shown = await client.get(f"/dev/mail/{mails[1].name}", headers={"host": MUENCHEN_HOST})
        assert shown.status_code == 200
        assert f"&lt;{first}@localhost&gt;" in shown.text  # the Message-ID header
        assert "Sie wurden eingeladen, Kunst &amp; Kultur &lt;Team&gt; auf Tandem" in shown.text
        assert '<iframe class="mail-html" sandbox=""' in shown.text
        assert 'srcdoc="&lt;!doctype html&gt;' in shown.text, "the HTML part is escaped"

        # Augsburg's host lists none of München's mails and cannot open one by name.
        other = await client.get("/dev/mail/", headers={"host": AUGSBURG_HOST})
        assert other.status_code == 200
        assert "muenchen.example" not in other.text
        stolen = await client.get(f"/dev/mail/{mails[0].name}", headers={"host": AUGSBURG_HOST})
        assert stolen.status_code == 404
        # Nor does anything outside the tenant's directory open, nor on the platform host.
        for path in ("/dev/mail/..%2Fmuenchen%2F" + mails[0].name, "/dev/mail/x.eml"):
            response = await client.get(path, headers={"host": MUENCHEN_HOST})
            assert response.status_code == 404, path
        platform = await client.get("/dev/mail/", headers={"host": "localhost:8000"})
        assert platform.status_code == 404


@pytest.mark.parametrize("env", ["production", "test"])
async def test_the_mail_viewer_does_not_exist_outside_development(
    synced: Database, settings: Settings, plugins: PluginHost, tmp_path: Path, env: str
):
    stored = tmp_path / "muenchen"
    stored.mkdir()
    name = f"20260101T000000000000Z-{uuid.uuid4()}.eml"
    (stored / name).write_bytes(b"Subject: secret\r\n\r\nbody\r\n")
    other = Settings(
        **{**settings.model_dump(), "env": env, "secret_key": "x" * 40, "mail_dir": tmp_path}
    )
    async with app_client(other, plugins) as client:
        for path in ("/dev/mail/", "/dev/mail", f"/dev/mail/{name}"):
            response = await client.get(path, headers={"host": MUENCHEN_HOST})
            assert response.status_code == 404, path
            assert "secret" not in response.text


async def _stored_files(directory: Path) -> list[Path]:
    return await asyncio.to_thread(lambda: sorted(directory.rglob("*.eml")))
