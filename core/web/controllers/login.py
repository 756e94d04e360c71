"""Single sign-on on a tenant's host: ``/login``, ``/login/oidc/<id>`` and its callback.

The flow, with the reasons for its shape:

1. ``GET /login`` lists the tenant's identity providers.
2. ``GET /login/oidc/<id>`` stores a login attempt (state, nonce, PKCE verifier)
   for *this* tenant and sends the browser to the provider. The redirect URI is
   built from the request's own host, so the provider sends the person back to the
   tenant they started on.
3. ``GET /login/oidc/<id>/callback`` spends the attempt, verifies the ID token,
   maps claims to a profile (core's standard claims, then the ``map_claims`` hook),
   links the account by issuer and subject, checks the membership in this tenant and
   only then starts a session.

Every failure renders a page in the visitor's language, is written to the tenant's
audit log as ``login_failed`` and leaves no session behind.

On the platform host the same three URLs sign operators in: the handlers below
hand such requests to :mod:`core.web.controllers.operator_login`, which builds on
the shared steps here (:func:`redirect_to_provider`, :func:`verify_callback`,
:func:`error_page`, :func:`signed_in`).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from sqlalchemy import select

from core.crypto import Keyring
from core.db.sessions import Database
from core.identity import audit
from core.identity.accounts import find_or_create_user_for_identity, membership_of
from core.identity.attempts import AttemptStore, DatabaseLoginAttemptStore, TakenAttempt
from core.identity.guards import CurrentUser
from core.identity.models import IdentityProvider, User
from core.identity.oidc import (
    ErrorCode,
    OIDCError,
    Profile,
    ProviderConfig,
    RelyingParty,
    VerifiedIdentity,
    config_from_record,
    default_profile,
)
from core.identity.sessions import (
    ClientInfo,
    is_https,
    session_token,
    set_session_cookie,
    start_session,
)
from core.pluginhost.manager import PluginHost
from core.tenancy.resolver import PlatformSite
from core.tenancy.snapshot import TenantSnapshot
from core.web.controllers.invitations import (
    Redeemed,
    clear_invite_cookie,
    invitation_gone_page,
    redeem_invitation,
)
from core.web.errors import N_
from core.web.login_methods import login_methods
from core.web.sites import current_tenant, request_context

log = logging.getLogger(__name__)

ERROR_TITLE = N_("Sign-in did not work")
_START_AGAIN = N_("Please start again from the sign-in page.")
_UNVERIFIED = N_(
    "The answer from the sign-in service could not be verified, so we did not sign you "
    "in. Please start again. If this keeps happening, tell the programme's coordinators."
)
_UNREACHABLE = N_("We could not reach the sign-in service. Please try again in a few minutes.")
# What a person is told for each reason a login fails (tests check every code has one).
ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.MISCONFIGURED: N_(
        "Sign-in with this service is not set up correctly. "
        "Please tell the programme's coordinators."
    ),
    ErrorCode.DISCOVERY_FAILED: _UNREACHABLE,
    ErrorCode.JWKS_FAILED: _UNREACHABLE,
    ErrorCode.STATE_MISMATCH: N_(
        "This sign-in does not match one started on this site. It may have been used "
        "already, have expired, or have been started on another site."
    ),
    ErrorCode.LOGIN_EXPIRED: N_("This sign-in took too long and has expired."),
    ErrorCode.REDIRECT_URI_MISMATCH: N_("This sign-in was started at another address."),
    ErrorCode.PROVIDER_ERROR: N_(
        "The sign-in service did not confirm who you are. Perhaps the sign-in was cancelled there."
    ),
    ErrorCode.MISSING_CODE: N_("The sign-in service sent an incomplete answer."),
    ErrorCode.TOKEN_EXCHANGE_FAILED: N_("The sign-in service did not confirm this sign-in."),
    ErrorCode.INVALID_TOKEN: _UNVERIFIED,
    ErrorCode.ALG_NOT_ALLOWED: _UNVERIFIED,
    ErrorCode.UNKNOWN_KEY: _UNVERIFIED,
    ErrorCode.BAD_SIGNATURE: _UNVERIFIED,
    ErrorCode.WRONG_ISSUER: _UNVERIFIED,
    ErrorCode.WRONG_AUDIENCE: _UNVERIFIED,
    ErrorCode.NONCE_MISMATCH: _UNVERIFIED,
    ErrorCode.USERINFO_MISMATCH: _UNVERIFIED,
    ErrorCode.EXPIRED: N_(
        "The confirmation from the sign-in service had expired when it reached us."
    ),
    ErrorCode.NOT_YET_VALID: N_(
        "The confirmation from the sign-in service is dated in the future; a clock may be wrong."
    ),
    ErrorCode.USERINFO_FAILED: N_("We could not read your profile from the sign-in service."),
}
# Profile fields a ``map_claims`` implementation may set.
MAPPABLE_FIELDS = frozenset(f.name for f in dataclasses.fields(Profile))


# --- helpers ---------------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (another site, a scheme) is "/"."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


def callback_uri(request: Request[Any, Any, Any], provider_id: str) -> str:
    """This tenant's own callback URL, from the host the request came to."""
    host = request_context(request).host
    return f"{request.url.scheme}://{host}/login/oidc/{quote(provider_id, safe='')}/callback"


async def _providers(db: Database, tenant: TenantSnapshot) -> list[IdentityProvider]:
    async with db.tenant_session(tenant.id) as session:
        query = select(IdentityProvider).order_by(IdentityProvider.name)
        return list(await session.scalars(query))


async def _provider(db: Database, tenant: TenantSnapshot, provider_id: str) -> IdentityProvider:
    async with db.tenant_session(tenant.id) as session:
        row = await session.scalar(
            select(IdentityProvider).where(IdentityProvider.provider_id == provider_id)
        )
    if row is None:
        raise NotFoundException()
    return row


def _relying_party(request: Request[Any, Any, Any]) -> RelyingParty:
    return request.app.state.relying_party  # type: ignore[no-any-return]


def _keyring(request: Request[Any, Any, Any]) -> Keyring:
    # Built per sign-in: parsing a few keys costs nothing, and there is no state to share.
    return Keyring.from_settings(request.app.state.settings)


async def _audit_failure(
    db: Database,
    tenant: TenantSnapshot,
    client: ClientInfo,
    details: dict[str, Any],
    user_id: uuid.UUID | None = None,
) -> None:
    async with db.tenant_session(tenant.id) as session, session.begin():
        audit.record(session, audit.LOGIN_FAILED, user_id, details, client.ip)


async def _failed(
    request: Request[Any, Any, Any],
    db: Database,
    tenant: TenantSnapshot,
    provider_id: FromPath[str],
    error: OIDCError,
) -> Template:
    # The message is for logs (it may name what was wrong with a token); the
    # person sees only the translated explanation for its code.
    log.info("login failed on %s via %s: %s", tenant.slug, provider_id, error)
    client = ClientInfo.from_request(request)
    await _audit_failure(db, tenant, client, {"provider": provider_id, "reason": error.code})
    return error_page(error.code)


# --- the steps a tenant's and the platform's sign-in share ------------------------------


def on_platform_host(request: Request[Any, Any, Any]) -> bool:
    return isinstance(request_context(request).site, PlatformSite)


def error_page(code: ErrorCode) -> Template:
    """The translated explanation of a failed sign-in (400); the code is its reference."""
    return Template(
        "login/error.html",
        context={
            "title": ERROR_TITLE,
            "message": ERROR_MESSAGES.get(code, _START_AGAIN),
            "start_again": _START_AGAIN,
            "reference": str(code),
        },
        status_code=400,
    )


async def redirect_to_provider(
    request: Request[Any, Any, Any], config: ProviderConfig, store: AttemptStore, provider_id: str
) -> Redirect:
    """Remember a new attempt in ``store`` and send the browser to the provider."""
    url, attempt = await _relying_party(request).begin_login(
        config,
        callback_uri(request, provider_id),
        extra_params={"ui_locales": request_context(request).locale},
    )
    await store.put(attempt)
    return Redirect(path=url, status_code=303)


async def verify_callback(
    request: Request[Any, Any, Any], config: ProviderConfig, store: AttemptStore, provider_id: str
) -> tuple[VerifiedIdentity, TakenAttempt]:
    """Spend the attempt of this callback (from ``store`` only) and verify the identity.

    Raises :class:`OIDCError` for anything that must not sign someone in.
    """
    params = {key: request.query_params.get(key) for key in request.query_params}
    identity = await _relying_party(request).complete_login(
        config, store, callback_uri(request, provider_id), params
    )
    if store.taken is None or store.taken.provider_id != provider_id:
        # The relying party compared issuer and client; two of a tenant's
        # providers could share both, so the provider id is checked as well.
        raise OIDCError(ErrorCode.STATE_MISMATCH, "the login was started with another provider")
    return identity, store.taken


def signed_in(request: Request[Any, Any, Any], token: str, next_path: str) -> Redirect:
    """The answer to a successful sign-in: the new session's cookie, then ``next_path``."""
    response = Redirect(path=next_path, status_code=303)
    set_session_cookie(response, token, secure=is_https(request))
    return response


def map_profile(
    plugins: PluginHost, tenant: TenantSnapshot, provider_id: str, claims: Mapping[str, Any]
) -> Profile:
    """Standard claims first; the first enabled plugin's ``map_claims`` result overrides them."""
    profile = default_profile(claims)
    mapped = plugins.hooks_for(tenant).map_claims(
        tenant=tenant, provider_id=provider_id, claims=claims
    )
    if mapped is None:
        return profile
    if not isinstance(mapped, Mapping):
        log.warning("map_claims returned %s, not a dict: ignored", type(mapped).__name__)
        return profile
    changes = {key: value for key, value in mapped.items() if key in MAPPABLE_FIELDS}
    ignored = set(mapped) - MAPPABLE_FIELDS
    if ignored:
        log.warning("map_claims returned unknown fields %s: ignored", sorted(ignored))
    for key, value in list(changes.items()):
        wanted = bool if key == "email_verified" else str
        if value is not None and not isinstance(value, wanted):
            log.warning("map_claims returned a %s for %s: ignored", type(value).__name__, key)
            del changes[key]
    return dataclasses.replace(profile, **changes)


def _account_fields(profile: Profile) -> dict[str, Any]:
    return {"display_name": profile.name, "email": profile.email, "locale": profile.locale}


# --- routes ----------------------------------------------------------------------------


@get("/login", name="login", include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    plugins: NamedDependency[PluginHost],
    current_user: NamedDependency[CurrentUser | None],
    next: FromQuery[str | None] = None,
) -> Template:
    if on_platform_host(request):
        # Imported here: operator_login builds on this module.
        from core.web.controllers import operator_login

        return operator_login.login_page(request, current_user, next)
    tenant = current_tenant(request)
    target = safe_next(next)
    methods = login_methods(plugins, tenant, request_context(request).locale, target)
    providers = [
        {
            "name": row.name,
            "url": f"/login/oidc/{quote(row.provider_id, safe='')}"
            + (f"?next={quote(target, safe='/')}" if target != "/" else ""),
        }
        for row in await _providers(db, tenant)
    ]
    return Template(
        "login/index.html",
        context={"providers": providers, "methods": methods, "user": current_user},
    )


@get("/login/oidc/{provider_id:str}", name="login.oidc", include_in_schema=False)
async def login_start(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    provider_id: FromPath[str],
    next: FromQuery[str | None] = None,
) -> Response[Any]:
    if on_platform_host(request):
        from core.web.controllers import operator_login  # builds on this module

        return await operator_login.login_start(request, db, provider_id, next)
    tenant = current_tenant(request)
    record = await _provider(db, tenant, provider_id)
    store = DatabaseLoginAttemptStore(
        db, tenant.id, provider_id=provider_id, next_path=safe_next(next)
    )
    try:
        config = config_from_record(record, keyring=_keyring(request))
        return await redirect_to_provider(request, config, store, provider_id)
    except OIDCError as error:
        return await _failed(request, db, tenant, provider_id, error)


@get("/login/oidc/{provider_id:str}/callback", name="login.callback", include_in_schema=False)
async def login_callback(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    plugins: NamedDependency[PluginHost],
    provider_id: FromPath[str],
) -> Response[Any]:
    if on_platform_host(request):
        from core.web.controllers import operator_login  # builds on this module

        return await operator_login.login_callback(request, db, provider_id)
    tenant = current_tenant(request)
    record = await _provider(db, tenant, provider_id)
    store = DatabaseLoginAttemptStore(db, tenant.id, provider_id=provider_id)
    try:
        config = config_from_record(record, keyring=_keyring(request))
        identity, taken = await verify_callback(request, config, store, provider_id)
    except OIDCError as error:
        return await _failed(request, db, tenant, provider_id, error)
    profile = map_profile(plugins, tenant, provider_id, identity.claims)
    return await _sign_in(request, db, tenant, provider_id, identity, profile, taken)


async def _sign_in(
    request: Request[Any, Any, Any],
    db: Database,
    tenant: TenantSnapshot,
    provider_id: FromPath[str],
    identity: VerifiedIdentity,
    profile: Profile,
    taken: TakenAttempt,
) -> Response[Any]:
    client = ClientInfo.from_request(request)
    async with db.platform_session() as platform, platform.begin():
        user = await find_or_create_user_for_identity(
            platform, identity.issuer, identity.subject, _account_fields(profile)
        )
    # An invitation the browser brought from /invite/<token> is spent first, so
    # that the membership it grants is there for the check below.
    invited = await redeem_invitation(request, db, tenant, user.id)
    async with db.tenant_session(tenant.id) as session:
        membership = await membership_of(session, user.id)
    if membership is None or not membership.roles:
        if invited is not None and invited is not Redeemed.ACCEPTED:
            return invitation_gone_page(request, invited)
        # Signed in at the provider, but not (or no longer) part of this programme:
        # say so plainly, and how to join, rather than pretend the login broke.
        details = {"provider": provider_id, "reason": "no_membership"}
        await _audit_failure(db, tenant, client, details, user.id)
        return _not_a_member(user, identity, profile)
    token = await start_session(
        db,
        tenant,
        user,
        client,
        replaces=session_token(request),
        audit_details={"provider": provider_id},
    )
    response = signed_in(request, token, taken.next_path)
    if invited is not None:
        clear_invite_cookie(response, request)
    return response


def _not_a_member(user: User, identity: VerifiedIdentity, profile: Profile) -> Template:
    name = user.display_name or user.email or profile.email or identity.subject
    return Template("login/not_member.html", context={"signed_in_as": name}, status_code=403)
