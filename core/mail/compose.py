"""Render a mail from its templates and build the ``EmailMessage``.

A mail named ``invitation`` is three templates, looked up like every page (the
tenant's theme, then its enabled plugins, then core):

* ``mail/invitation.subject.txt`` - one line;
* ``mail/invitation.txt`` - the plain-text part;
* ``mail/invitation.html`` - the HTML part.

The ``.txt`` templates are rendered without HTML escaping (an overlay of the page
environment that shares its loader, globals and translations); the ``.html`` one
with it. Templates get the caller's context plus ``tenant``, ``locale``,
``subject`` (in the bodies) and the helpers ``format_date`` and ``format_datetime``.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from jinja2 import Environment

from core.db.base import utcnow
from core.i18n.negotiation import text_direction
from core.tenancy.snapshot import TenantSnapshot
from core.web.templating import TemplateRenderer

TEMPLATE_NAME = re.compile(r"[a-z0-9_]+(/[a-z0-9_]+)*")
# Names the mail machinery itself puts into the template context.
RESERVED_CONTEXT = frozenset(
    {"tenant", "locale", "text_direction", "theme", "subject", "format_date", "format_datetime"}
)
MAX_SUBJECT_LENGTH = 250
# Control characters (line breaks included, Unicode's too) have no place in a header
# value: a line break there would start a header of the attacker's choosing.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class MailError(ValueError):
    """A mail that can never be sent as asked (bad address, template name, subject…)."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    locale: str


def check_address(address: str) -> str:
    """The address as a bare ``local@domain``; MailError for anything else."""
    if not isinstance(address, str) or _CONTROL.search(address):
        raise MailError("an e-mail address may not contain line breaks or control characters")
    address = address.strip()
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as exc:  # "a@b@c" raises the last
        raise MailError(f"{address!r} is not an e-mail address: {exc}") from None
    if not parsed.username or not parsed.domain or parsed.addr_spec != address:
        raise MailError(f"{address!r} is not a single bare e-mail address like a@example.org")
    return address


def check_template_name(template: str) -> str:
    if not isinstance(template, str) or not TEMPLATE_NAME.fullmatch(template):
        raise MailError(f"mail template names are like 'invitation', not {template!r}")
    return template


def check_locale(locale: str) -> str:
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        raise MailError(f"{locale!r} is not a locale") from None
    return locale


def check_context(context: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(context, Mapping):
        raise MailError("the mail context must be a mapping")
    clash = RESERVED_CONTEXT & context.keys()
    if clash:
        raise MailError(f"the mail context may not use the names {sorted(clash)}")
    return dict(context)


class MailRenderer:
    """Renders mails through a :class:`TemplateRenderer` (same loader order as pages)."""

    def __init__(self, pages: TemplateRenderer) -> None:
        self._pages = pages
        self._text_envs: dict[tuple[str, frozenset[str], str], Environment] = {}
        self._lock = threading.Lock()

    def render(
        self, tenant: TenantSnapshot, template: str, locale: str, context: Mapping[str, Any]
    ) -> RenderedMail:
        # A locale the tenant does not offer has no templates or translations there.
        if locale not in tenant.locales:
            locale = tenant.default_locale
        values = {
            **context,
            "tenant": tenant,
            "locale": locale,
            "text_direction": text_direction(locale),
            "theme": tenant.theme,
            "format_date": lambda value: format_date(value, locale),
            "format_datetime": lambda value: format_datetime(value, locale),
        }
        text_env = self._text_environment(tenant.theme, tenant.enabled_plugins, locale)
        subject = text_env.get_template(f"mail/{template}.subject.txt").render(values).strip()
        check_subject(subject, template)
        values["subject"] = subject
        text = text_env.get_template(f"mail/{template}.txt").render(values)
        html_env = self._pages.environment(tenant.theme, tenant.enabled_plugins, locale)
        html = html_env.get_template(f"mail/{template}.html").render(values)
        return RenderedMail(subject=subject, text=text.strip() + "\n", html=html, locale=locale)

    def _text_environment(self, theme: str, plugins: frozenset[str], locale: str) -> Environment:
        key = (theme, plugins, locale)
        with self._lock:
            env = self._text_envs.get(key)
            if env is None:
                # A fresh cache: the page environment compiles ".txt" names with
                # autoescaping, and its cached templates must not leak in here.
                env = self._pages.environment(theme, plugins, locale).overlay(
                    autoescape=False, cache_size=100
                )
                self._text_envs[key] = env
        return env


def check_subject(subject: str, template: str) -> None:
    if _CONTROL.search(subject):
        raise MailError(
            f"the subject of mail/{template} contains a line break or control character"
        )
    if not subject:
        raise MailError(f"the subject of mail/{template} is empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise MailError(f"the subject of mail/{template} is longer than {MAX_SUBJECT_LENGTH}")


def build_message(
    rendered: RenderedMail,
    *,
    job_id: uuid.UUID,
    tenant: TenantSnapshot,
    sender: str,
    to: str,
) -> EmailMessage:
    """The MIME message: multipart/alternative (text, then HTML), from the tenant.

    The Message-ID comes from the job id, so a job delivered again (after an
    SMTP failure, or a crash between sending and committing) yields the same
    Message-ID, which lets receiving systems drop the duplicate.
    """
    message = EmailMessage()
    message["From"] = Address(display_name=_display_name(tenant.name), addr_spec=sender)
    message["To"] = check_address(to)
    message["Subject"] = rendered.subject
    message["Date"] = rfc2822_datetime(utcnow().replace(microsecond=0))
    message["Message-ID"] = f"<{job_id}@{sender.rpartition('@')[2]}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # After the parts: set_content() drops every Content-* header set before it.
    message["Content-Language"] = rendered.locale
    return message


def _display_name(name: str) -> str:
    # Tenant names come from operators' files, but must still stay one header line.
    return " ".join(_CONTROL.sub(" ", name).split())


def _as_datetime(value: str | datetime) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_datetime(value: str | datetime, locale: str) -> str:
    """``14. März 2026, 10:00 UTC``: templates get ISO strings (job arguments are JSON).

    Tenants have no time zone yet, so times are shown in UTC and say so.
    """
    moment = _as_datetime(value).astimezone(UTC)
    day = babel_format_date(moment, format="long", locale=locale)
    time = babel_format_time(moment, format="short", tzinfo=UTC, locale=locale)
    # How a language joins a date and a time ("{1}, {0}"; Arabic uses "،", Turkish a space).
    joined = str(Locale.parse(locale).datetime_formats["medium"]).format(time, day)
    return f"{joined} UTC"


def format_date(value: str | date, locale: str) -> str:
    if isinstance(value, str):
        value = _as_datetime(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return babel_format_date(value, format="long", locale=locale)
