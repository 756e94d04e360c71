"""Operator sign-in on the platform host: ``/login``, ``/login/oidc/operator`` and its callback.

The URLs and the OpenID Connect flow are a tenant's (:mod:`core.web.controllers.login`,
whose route handlers pass platform-host requests to the functions here, and whose
shared steps these build on). What differs:

* The one provider comes from the settings (``TANDEM_OPERATOR_OIDC_*``), not from a
  tenant; without them ``/login`` explains that operator sign-in is not configured
  and the other two URLs are 404.
* Attempts are kept in the platform table (:class:`PlatformLoginAttemptStore`). A
  tenant host's callback never reads it and this one reads nothing else, so a login
  started on a tenant's host cannot complete here, nor one started here on a
  tenant's host.
* Nobody is created here. The verified ``(issuer, subject)`` must already belong to
  an account with ``is_operator`` (``tandem operators add EMAIL --subject SUBJECT``
  links it; an e-mail address never does). Anyone else — a stranger, a tenant's
  participant — gets a 403 page and no session.

Operators have no tenant audit log: refusals and failures are logged with
:mod:`logging` at WARNING (with the client's address), successful sign-ins at INFO.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.response import Response, Template

from core.db.sessions import Database
from core.identity.accounts import user_for_identity
from core.identity.attempts import PlatformLoginAttemptStore
from core.identity.guards import CurrentUser
from core.identity.models import User
from core.identity.oidc import OIDCError, ProviderConfig, VerifiedIdentity, default_profile
from core.identity.sessions import ClientInfo, session_token, start_session
from core.settings import Settings
from core.web.controllers.login import (
    error_page,
    redirect_to_provider,
    safe_next,
    signed_in,
    verify_callback,
)

log = logging.getLogger(__name__)

PROVIDER_ID = "operator"  # /login/oidc/operator: the same URL shape as a tenant's providers
CONSOLE_PATH = "/operator"


def _settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _next_path(next: str | None) -> str:
    """Where to go once signed in: a local path, the operator console by default."""
    return safe_next(next) if next else CONSOLE_PATH


def _provider(request: Request[Any, Any, Any], provider_id: str) -> ProviderConfig:
    """The operators' provider; 404 for any other id, or when none is configured."""
    config = _settings(request).operator_provider() if provider_id == PROVIDER_ID else None
    if config is None:
        raise NotFoundException()
    return config


def login_page(
    request: Request[Any, Any, Any], current_user: CurrentUser | None, next: str | None
) -> Template:
    settings = _settings(request)
    target = _next_path(next)
    url = f"/login/oidc/{PROVIDER_ID}"
    if target != CONSOLE_PATH:
        url += f"?next={quote(target, safe='/')}"
    return Template(
        "login/operator.html",
        context={
            "configured": settings.operator_sign_in_configured,
            "provider_name": settings.operator_oidc_name,
            "url": url,
            "user": current_user,
            "dev_login": settings.is_development,
        },
    )


async def login_start(
    request: Request[Any, Any, Any], db: Database, provider_id: str, next: str | None
) -> Response[Any]:
    config = _provider(request, provider_id)
    store = PlatformLoginAttemptStore(db, provider_id=PROVIDER_ID, next_path=_next_path(next))
    try:
        return await redirect_to_provider(request, config, store, PROVIDER_ID)
    except OIDCError as error:
        return _failed(request, error)


async def login_callback(
    request: Request[Any, Any, Any], db: Database, provider_id: str
) -> Response[Any]:
    config = _provider(request, provider_id)
    store = PlatformLoginAttemptStore(db, provider_id=PROVIDER_ID)
    try:
        identity, taken = await verify_callback(request, config, store, PROVIDER_ID)
    except OIDCError as error:
        return _failed(request, error)
    async with db.platform_session() as platform:
        user = await user_for_identity(platform, identity.issuer, identity.subject)
    client = ClientInfo.from_request(request)
    if user is None or not user.is_operator:
        who = "no account" if user is None else f"account {user.id}, not an operator"
        log.warning(
            "operator sign-in refused from %s: subject %r at %s is %s",
            client.ip,
            identity.subject,
            identity.issuer,
            who,
        )
        return _not_an_operator(user, identity)
    token = await start_session(db, None, user, client, replaces=session_token(request))
    log.info("operator %s signed in from %s", user.id, client.ip)
    return signed_in(request, token, taken.next_path)


def _failed(request: Request[Any, Any, Any], error: OIDCError) -> Template:
    # The error's message is for this log only; the page shows the translated reason.
    log.warning("operator sign-in failed from %s: %s", ClientInfo.from_request(request).ip, error)
    return error_page(error.code)


def _not_an_operator(user: User | None, identity: VerifiedIdentity) -> Template:
    profile = default_profile(identity.claims)
    known = (user.display_name or user.email) if user is not None else None
    name = known or profile.name or profile.email or identity.subject
    return Template(
        "login/not_operator.html",
        context={"signed_in_as": name, "subject": identity.subject},
        status_code=403,
    )
