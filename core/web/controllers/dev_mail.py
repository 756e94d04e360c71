"""``/dev/mail``: the mails development wrote instead of sending, on the tenant's host.

Registered by ``create_app`` only when ``TANDEM_ENV=development``: in any other
environment the routes do not exist. Each tenant's host lists only that tenant's
mails (they are stored per tenant slug).
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from core.mail.mailbox import list_mails, read_mail
from core.settings import Settings
from core.web.sites import current_tenant

SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")


class DevMailViewer(Controller):
    path = "/dev/mail"
    include_in_schema = False

    @get("/", name="dev_mail.index")
    async def index(
        self, request: Request[Any, Any, Any], settings: NamedDependency[Settings]
    ) -> Template:
        tenant = current_tenant(request)
        mails = await asyncio.to_thread(list_mails, _mail_dir(settings), tenant.slug)
        return Template("dev_mail/index.html", context={"mails": mails})

    @get("/{name:str}", name="dev_mail.show")
    async def show(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        name: FromPath[str],
    ) -> Template:
        tenant = current_tenant(request)
        message = await asyncio.to_thread(read_mail, _mail_dir(settings), tenant.slug, name)
        if message is None:
            raise NotFoundException()
        headers = [(h, str(message[h])) for h in SHOWN_HEADERS if message[h] is not None]
        return Template(
            "dev_mail/message.html",
            context={
                "name": name,
                "headers": headers,
                "text": _body(message, "plain"),
                "html": _body(message, "html"),
            },
        )


def _mail_dir(settings: Settings) -> Path:
    return settings.mail_dir or settings.root / "var" / "mail"


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None
