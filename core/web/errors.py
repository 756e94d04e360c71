"""Errors as pages for people and as problem documents (RFC 9457) for the API."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.tenancy.resolver import TenantSuspendedError, UnknownHostError
from core.web.sites import SCOPE_KEY

log = logging.getLogger(__name__)


TITLES = {
    400: N_("The request could not be understood"),
    403: N_("You may not see this page"),
    404: N_("Page not found"),
    405: N_("This action is not possible here"),
    409: N_("Someone else changed this in the meantime"),
    410: N_("This programme is no longer available"),
    413: N_("What you sent is too large"),
    422: N_("Please check what you entered"),
    429: N_("Too many requests"),
    500: N_("Something went wrong on our side"),
    503: N_("The service is temporarily unavailable"),
}
EXPLANATIONS = {
    404: N_("We could not find the page you asked for. Check the address, or go to the home page."),
    410: N_(
        "The organisation that ran this programme has paused it. Please contact them directly."
    ),
    500: N_("We have been told and are looking into it. Please try again in a few minutes."),
    "unknown_host": N_(
        "No mentoring programme answers at this address. Check the address you typed."
    ),
    "csrf": N_(
        "Your form could not be sent because it was open too long or came from "
        "another site. Please reload the page and try again."
    ),
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _locale(request: Request[Any, Any, Any]) -> str:
    ctx = request.scope.get(SCOPE_KEY)  # type: ignore[call-overload]
    return ctx.locale if ctx else "en"


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    explanation: str | None = None,
    detail: Any = None,
) -> Response[Any]:
    locale = _locale(request)
    title = gettext(locale, TITLES.get(status, TITLES[500 if status >= 500 else 400]))
    message = gettext(locale, explanation) if explanation else ""
    if wants_json(request):
        problem: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if message:
            problem["detail"] = message
        if detail:
            problem["errors"] = detail
        return Response(problem, status_code=status, media_type="application/problem+json")
    return Template(
        "error.html",
        context={"status": status, "title": title, "message": message, "errors": detail},
        status_code=status,
        media_type=MediaType.HTML,
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 403 and "CSRF" in str(exc.detail):
        return error_response(request, status, EXPLANATIONS["csrf"])
    detail = exc.extra if isinstance(exc, ValidationException) else None
    return error_response(request, status, EXPLANATIONS.get(status), detail)


def handle_unknown_host(request: Request[Any, Any, Any], exc: UnknownHostError) -> Response[Any]:
    return error_response(request, 404, EXPLANATIONS["unknown_host"])


def handle_suspended(request: Request[Any, Any, Any], exc: TenantSuspendedError) -> Response[Any]:
    return error_response(request, 410, EXPLANATIONS[410])


def handle_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, EXPLANATIONS[500])


EXCEPTION_HANDLERS = {
    HTTPException: handle_http_exception,
    UnknownHostError: handle_unknown_host,
    TenantSuspendedError: handle_suspended,
    Exception: handle_internal_error,
}
