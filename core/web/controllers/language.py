"""``POST /language``: remember the visitor's choice of language.

A cookie remembers it in this browser; for a signed-in user it is saved as
``User.locale`` too, which wins over the cookie and Accept-Language on any device
(see core.identity.guards), and their applications in this tenant take it on, so
that the programme's mails to them come in that language as well.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from msgspec import Struct
from sqlalchemy import update

from core.applications.models import Application
from core.db.sessions import Database
from core.i18n.negotiation import LOCALE_COOKIE
from core.identity.guards import resolve_current_user
from core.identity.models import User
from core.tenancy.snapshot import TenantSnapshot
from core.web.sites import request_context

ONE_YEAR = 365 * 24 * 3600


class LanguageForm(Struct):
    locale: str
    next: str = "/"


@post("/language", name="language", include_in_schema=False)
async def choose_language(
    request: Request[Any, Any, Any],
    data: Annotated[LanguageForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    ctx = request_context(request)
    target = data.next if _is_local_path(data.next) else "/"
    response = Redirect(path=target, status_code=303)
    if data.locale in ctx.offered_locales:
        user = await resolve_current_user(request)
        if user is not None:
            await _save_locale(request.app.state.db, user.id, ctx.tenant, data.locale)
        response.set_cookie(
            LOCALE_COOKIE,
            data.locale,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


async def _save_locale(
    db: Database, user_id: uuid.UUID, tenant: TenantSnapshot | None, locale: str
) -> None:
    async with db.platform_session() as platform, platform.begin():
        user = await platform.get(User, user_id)
        if user is not None:
            user.locale = locale
    if tenant is not None:
        # The programme's mails to this person follow their applications' language;
        # the choice made here is the newer word on it (this tenant's applications only).
        async with db.tenant_session(tenant.id) as session, session.begin():
            await session.execute(
                update(Application).where(Application.user_id == user_id).values(locale=locale)
            )


def _is_local_path(path: str) -> bool:
    """Only same-site paths, so the form cannot be used as an open redirect."""
    return path.startswith("/") and not path.startswith("//") and "\\" not in path
