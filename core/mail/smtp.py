"""``TANDEM_SMTP_URL``: which SMTP server to hand mail to, and handing it over.

``smtp://host[:25]`` plain, ``smtp+starttls://host[:587]`` upgraded with STARTTLS,
``smtps://host[:465]`` TLS from the first byte; ``user:password@`` optional and
percent-decoded. Plain ``smtp://`` never upgrades on its own: a relay on loopback
or inside a private network is the case it is for, and the operator says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiosmtplib

Security = Literal["plain", "starttls", "tls"]
SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
SEND_TIMEOUT_SECONDS = 30.0


class SmtpURLError(ValueError):
    """``TANDEM_SMTP_URL`` is not a URL Tandem can send mail with."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    async def send(self, message: EmailMessage, sender: str) -> None:
        """Hand ``message`` to the server; raises ``aiosmtplib.SMTPException`` or OSError."""
        await aiosmtplib.send(
            message,
            sender=sender,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            timeout=SEND_TIMEOUT_SECONDS,
        )


def parse_smtp_url(url: str) -> SmtpServer:
    """Parse ``TANDEM_SMTP_URL``; errors never repeat the password."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise SmtpURLError(f"TANDEM_SMTP_URL is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise SmtpURLError(
            "TANDEM_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, "
            f"not {scheme + '://' if scheme else repr(_redacted(url))}"
        )
    if not parts.hostname or any(c.isspace() or not c.isprintable() for c in parts.hostname):
        raise SmtpURLError(f"TANDEM_SMTP_URL names no valid host: {_redacted(url)!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpURLError(f"TANDEM_SMTP_URL takes no path, query or fragment: {_redacted(url)!r}")
    if parts.password is not None and not parts.username:
        raise SmtpURLError("TANDEM_SMTP_URL has a password but no user name")
    if port == 0:
        raise SmtpURLError(f"TANDEM_SMTP_URL has port 0: {_redacted(url)!r}")
    security, default_port = SCHEMES[scheme]
    return SmtpServer(
        host=parts.hostname,
        port=default_port if port is None else port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in userinfo else f"{scheme}://{user}@{host}"
