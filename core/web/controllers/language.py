"""``POST /language``: remember the visitor's choice of language."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from msgspec import Struct

from core.i18n.negotiation import LOCALE_COOKIE
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
        response.set_cookie(
            LOCALE_COOKIE,
            data.locale,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def _is_local_path(path: str) -> bool:
    """Only same-site paths, so the form cannot be used as an open redirect."""
    return path.startswith("/") and not path.startswith("//") and "\\" not in path
