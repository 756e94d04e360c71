"""``send_mail``: a mail as a job in the caller's transaction, and the actor that sends it.

The actor sends inside the job's claim transaction: a second delivery of the same
job waits on the claimed row and then finds it completed, so a job sends at most
once per successful run. If the send fails, the claim rolls back, the failure is
recorded on the outbox row and dramatiq retries. (If the commit after a successful
send fails, the retry sends again, with the same Message-ID.)

A mail that can never be sent as asked (a subject that rendered with a line break,
say) is not retried: the job completes unsent and says why in ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs import JobContext, enqueue, tenant_actor
from core.jobs.actors import MAX_ERROR_LENGTH
from core.jobs.models import OutboxMessage
from core.mail.compose import (
    MailError,
    MailRenderer,
    build_message,
    check_address,
    check_context,
    check_locale,
    check_template_name,
)
from core.mail.mailbox import write_mail
from core.mail.smtp import SmtpServer, parse_smtp_url
from core.pluginhost.manager import PluginHost
from core.settings import Settings, get_settings
from core.tenancy.snapshot import TenantSnapshot
from core.web.templating import TemplateRenderer

log = logging.getLogger(__name__)


class MailNotConfiguredError(RuntimeError):
    """Production without ``TANDEM_SMTP_URL``: mails wait in the outbox until it is set."""


class Transport(Protocol):
    async def deliver(
        self, tenant: TenantSnapshot, job_id: uuid.UUID, message: EmailMessage, sender: str
    ) -> None: ...


@dataclass(frozen=True)
class SmtpTransport:
    server: SmtpServer

    async def deliver(
        self, tenant: TenantSnapshot, job_id: uuid.UUID, message: EmailMessage, sender: str
    ) -> None:
        await self.server.send(message, sender)


@dataclass(frozen=True)
class FileTransport:
    """Development: write ``<directory>/<tenant-slug>/….eml`` for the dev mail viewer."""

    directory: Path

    async def deliver(
        self, tenant: TenantSnapshot, job_id: uuid.UUID, message: EmailMessage, sender: str
    ) -> None:
        path = await asyncio.to_thread(write_mail, self.directory, tenant.slug, job_id, message)
        log.info("mail job %s written to %s (not sent: no TANDEM_SMTP_URL)", job_id, path)


class UnconfiguredTransport:
    async def deliver(
        self, tenant: TenantSnapshot, job_id: uuid.UUID, message: EmailMessage, sender: str
    ) -> None:
        raise MailNotConfiguredError(
            "TANDEM_SMTP_URL is not set: the mail stays in the outbox until it is"
        )


class Mailer:
    """How this process sends mail: the transport, the sender address, the templates."""

    def __init__(self, transport: Transport, sender: str, themes_dir: Path) -> None:
        self.transport = transport
        self.sender = sender
        self._themes_dir = themes_dir
        # One renderer per plugin host (there is one per process); the host is kept
        # in the value so that its id cannot be reused while the entry exists.
        self._renderers: dict[int, tuple[PluginHost, MailRenderer]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        transport: Transport
        if settings.smtp_url:
            transport = SmtpTransport(parse_smtp_url(settings.smtp_url))
        elif settings.env == "production":
            log.warning("TANDEM_SMTP_URL is not set: no mail will be sent until it is")
            transport = UnconfiguredTransport()
        else:
            transport = FileTransport(settings.mail_dir or settings.root / "var" / "mail")
        return cls(transport, settings.mail_from, settings.themes_dir)

    def renderer(self, plugins: PluginHost) -> MailRenderer:
        with self._lock:
            entry = self._renderers.get(id(plugins))
            if entry is None:
                renderer = MailRenderer(TemplateRenderer(self._themes_dir, plugins))
                entry = self._renderers[id(plugins)] = (plugins, renderer)
        return entry[1]

    def compose(
        self,
        job: JobContext,
        *,
        to: str,
        template: str,
        context: Mapping[str, Any],
        locale: str,
    ) -> EmailMessage:
        rendered = self.renderer(job.plugins).render(
            job.tenant, check_template_name(template), locale, check_context(context)
        )
        return build_message(
            rendered, job_id=job.job_id, tenant=job.tenant, sender=self.sender, to=to
        )


_mailer: Mailer | None = None
_mailer_lock = threading.Lock()


def configure_mail(settings: Settings) -> Mailer:
    """Set how this process sends mail (the app and the worker call it at start-up)."""
    global _mailer
    mailer = Mailer.from_settings(settings)
    with _mailer_lock:
        _mailer = mailer
    return mailer


def current_mailer() -> Mailer:
    """The configured mailer; a process that configured none uses the environment's."""
    global _mailer
    with _mailer_lock:
        if _mailer is None:
            _mailer = Mailer.from_settings(get_settings())
        return _mailer


def send_mail(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    context: Mapping[str, Any],
    locale: str,
) -> OutboxMessage:
    """Send mail ``template`` to ``to`` once ``session`` (a tenant session) commits.

    Raises :class:`MailError` at once for an address, template name, locale or
    context that could never make a mail; ``context`` must be JSON-serialisable
    (datetimes as ISO strings: templates format them with ``format_datetime``).
    """
    return enqueue(
        session,
        deliver_mail,
        to=check_address(to),
        template=check_template_name(template),
        context=check_context(context),
        locale=check_locale(locale),
    )


@tenant_actor(name="core.send_mail")
async def deliver_mail(
    job: JobContext, *, to: str, template: str, context: dict[str, Any], locale: str
) -> None:
    mailer = current_mailer()
    try:
        message = mailer.compose(job, to=to, template=template, context=context, locale=locale)
    except MailError as exc:
        await _give_up(job, exc)
        return
    await mailer.transport.deliver(job.tenant, job.job_id, message, mailer.sender)
    log.info("mail job %s (%s) handed over", job.job_id, template)


async def _give_up(job: JobContext, exc: MailError) -> None:
    """Complete the job unsent: retrying cannot fix it. Written with the claim."""
    log.error("mail job %s not sent: %s", job.job_id, exc)
    await job.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == job.job_id)
        .values(last_error=f"not sent: {exc}"[:MAX_ERROR_LENGTH])
        .execution_options(synchronize_session=False)
    )
