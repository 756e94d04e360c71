"""The development mailbox: mails written as ``.eml`` files instead of being sent.

``<mail_dir>/<tenant-slug>/<UTC timestamp>-<job id>.eml``: one directory per
tenant, so a tenant's viewer lists only its own mails, and names that sort
oldest first. A job written again (its transaction failed after the write)
replaces its earlier file rather than adding a second one.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

from core.db.base import utcnow
from core.tenancy.hosts import SLUG_PATTERN

FILE_NAME = re.compile(
    r"\d{8}T\d{12}Z-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.eml"
)


@dataclass(frozen=True)
class StoredMail:
    name: str
    subject: str
    to: str
    date: str


def tenant_dir(mail_dir: Path, slug: str) -> Path:
    if not SLUG_PATTERN.fullmatch(slug):  # slugs are validated on sync; never trust a path part
        raise ValueError(f"not a tenant slug: {slug!r}")
    return mail_dir / slug


def write_mail(mail_dir: Path, slug: str, job_id: uuid.UUID, message: EmailMessage) -> Path:
    """Write ``message`` atomically; return its path."""
    directory = tenant_dir(mail_dir, slug)
    directory.mkdir(parents=True, exist_ok=True)
    for earlier in directory.glob(f"*-{job_id}.eml"):
        earlier.unlink(missing_ok=True)
    path = directory / f"{utcnow():%Y%m%dT%H%M%S%f}Z-{job_id}.eml"
    data = message.as_bytes(policy=policy.SMTP)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def list_mails(mail_dir: Path, slug: str) -> list[StoredMail]:
    """The tenant's mails, newest first."""
    directory = tenant_dir(mail_dir, slug)
    if not directory.is_dir():
        return []
    names = sorted(
        (p.name for p in directory.iterdir() if FILE_NAME.fullmatch(p.name)), reverse=True
    )
    mails = []
    parser = BytesHeaderParser(policy=policy.default)
    for name in names:
        with (directory / name).open("rb") as handle:
            headers = parser.parse(handle)
        mails.append(
            StoredMail(
                name=name,
                subject=str(headers.get("Subject", "")),
                to=str(headers.get("To", "")),
                date=str(headers.get("Date", "")),
            )
        )
    return mails


def read_mail(mail_dir: Path, slug: str, name: str) -> EmailMessage | None:
    """One of the tenant's mails, or None (unknown name, or not a mail file name)."""
    if not FILE_NAME.fullmatch(name):
        return None
    path = tenant_dir(mail_dir, slug) / name
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(message, EmailMessage)
    return message
