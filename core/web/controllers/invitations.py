"""Inviting coordinators: ``/admin/people`` for a tenant's admins, ``/invite/<token>`` for invitees.

1. An admin fills in "Invite a coordinator". The invitation row, its audit entry and
   the mail (through the outbox) are written in one transaction: no mail without an
   invitation, no invitation without its mail. The link is built from the host the
   admin is on, so it leads back to this tenant.
2. ``GET /invite/<token>`` looks the token up in *this* tenant only. A usable one
   puts its hash in a short-lived signed cookie (bound to this tenant) and shows the
   tenant's sign-in services, and the sign-in methods of its enabled plugins
   (``extra_login_methods`` with the invitation); the raw token never leaves the mail
   and the URL.
3. The SSO callback (:mod:`core.web.controllers.login`), or a plugin's route such as
   email_login's, calls :func:`redeem_invitation`, which spends the invitation and
   gives the person its roles before the session starts.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import select

from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.invitations import (
    DEFAULT_ROLES,
    Invitation,
    InvitationState,
    accept_invitation,
    create_invitation,
    find_by_hash,
    find_by_token,
    pending_invitations,
    revoke_invitation,
    state_of,
)
from core.identity.models import ROLES, IdentityProvider, Membership, User
from core.identity.sessions import ClientInfo, aware, is_https
from core.mail import MailError, send_mail
from core.mail.compose import check_address, format_datetime
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import InvitationOffer
from core.tenancy.snapshot import TenantSnapshot
from core.web.errors import N_
from core.web.forms import form_text
from core.web.login_methods import login_methods
from core.web.sites import current_tenant, request_context

INVITE_COOKIE = "tandem_invite"
INVITE_COOKIE_SECONDS = 30 * 60
MAX_EMAIL_LENGTH = 320
INVALID_EMAIL = N_("Enter an e-mail address like name@example.org.")
NO_ROLE = N_("Choose at least one role.")
GONE_TITLE = N_("This invitation can no longer be used")
GONE_MESSAGES = {
    InvitationState.EXPIRED: N_(
        "This invitation has expired. Please ask the programme's coordinators for a new one."
    ),
    InvitationState.ACCEPTED: N_(
        "This invitation has already been accepted. Each invitation link works once."
    ),
    InvitationState.REVOKED: N_("This invitation was withdrawn by the programme's coordinators."),
}
UNKNOWN_TITLE = N_("Invitation not found")
UNKNOWN_MESSAGE = N_(
    "We do not know this invitation link here. Please check that you opened the whole "
    "link from the e-mail, on the programme's own site."
)


# --- the signed cookie --------------------------------------------------------------------


def _mac(secret: str, tenant_id: uuid.UUID, token_hash: str, expires: int) -> str:
    message = f"{tenant_id}|{token_hash}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_invite_cookie(
    secret: str, tenant_id: uuid.UUID, token_hash: str, *, now: float | None = None
) -> str:
    expires = int((now or time.time()) + INVITE_COOKIE_SECONDS)
    return f"{token_hash}.{expires}.{_mac(secret, tenant_id, token_hash, expires)}"


def read_invite_cookie(
    secret: str, tenant_id: uuid.UUID, value: str | None, *, now: float | None = None
) -> str | None:
    """The invitation's token hash if the cookie is ours, for this tenant and fresh."""
    if not value or len(value) > 200:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    token_hash, expires, mac = parts[0], int(parts[1]), parts[2]
    if not hmac.compare_digest(mac, _mac(secret, tenant_id, token_hash, expires)):
        return None
    return token_hash if expires > (now or time.time()) else None


def _invite_cookie(value: str, *, secure: bool, max_age: int) -> Cookie:
    # Host-only (no Domain): it is read on the host that set it, and only there.
    return Cookie(
        key=INVITE_COOKIE,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )


def clear_invite_cookie(response: Response[Any], request: Request[Any, Any, Any]) -> None:
    response.set_cookie(_invite_cookie("", secure=is_https(request), max_age=0))


def _secret(request: Request[Any, Any, Any]) -> str:
    return request.app.state.settings.secret_key  # type: ignore[no-any-return]


# --- the hand-off from the login callback -------------------------------------------------


class Redeemed(Enum):
    ACCEPTED = "redeemed"  # not "accepted": that value names USED below
    # The browser brought this tenant's invitation, but it can no longer be used.
    EXPIRED = InvitationState.EXPIRED
    USED = InvitationState.ACCEPTED
    REVOKED = InvitationState.REVOKED


async def invitation_in_browser(
    request: Request[Any, Any, Any], db: Database, tenant: TenantSnapshot
) -> Invitation | None:
    """The invitation (in whatever state) whose cookie the browser brought for this tenant."""
    token_hash = read_invite_cookie(_secret(request), tenant.id, request.cookies.get(INVITE_COOKIE))
    if token_hash is None:
        return None
    async with db.tenant_session(tenant.id) as session:
        return await find_by_hash(session, token_hash)


async def redeem_invitation(
    request: Request[Any, Any, Any], db: Database, tenant: TenantSnapshot, user_id: uuid.UUID
) -> Redeemed | None:
    """Spend the invitation the browser brought for ``user_id``.

    None without a cookie signed for this tenant (another tenant's is ignored).
    """
    token_hash = read_invite_cookie(_secret(request), tenant.id, request.cookies.get(INVITE_COOKIE))
    if token_hash is None:
        return None
    ip = ClientInfo.from_request(request).ip
    async with db.tenant_session(tenant.id) as session, session.begin():
        roles = await accept_invitation(session, token_hash, user_id, ip=ip)
        invitation = None if roles is not None else await find_by_hash(session, token_hash)
    if roles is not None:
        return Redeemed.ACCEPTED
    state = state_of(invitation) if invitation is not None else InvitationState.REVOKED
    # A pending state here means it expired between the two reads: say so.
    return Redeemed(state if state is not InvitationState.PENDING else InvitationState.EXPIRED)


def invitation_gone_page(request: Request[Any, Any, Any], outcome: Redeemed) -> Template:
    state = InvitationState(outcome.value)
    context = {"title": GONE_TITLE, "message": GONE_MESSAGES[state]}
    response = Template("invitations/gone.html", context=context, status_code=410)
    clear_invite_cookie(response, request)
    return response


# --- /invite/<token> ----------------------------------------------------------------------


@get("/invite/{token:str}", name="invitation.open", include_in_schema=False)
async def open_invitation(
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    plugins: NamedDependency[PluginHost],
    token: FromPath[str],
) -> Template:
    tenant = current_tenant(request)  # 404 on the platform host
    async with db.tenant_session(tenant.id) as session:
        invitation = await find_by_token(session, token)
        providers = list(await session.scalars(select(IdentityProvider).order_by("name")))
    if invitation is None:
        context = {"title": UNKNOWN_TITLE, "message": UNKNOWN_MESSAGE}
        return Template("invitations/gone.html", context=context, status_code=404)
    state = state_of(invitation)
    if state is not InvitationState.PENDING:
        context = {"title": GONE_TITLE, "message": GONE_MESSAGES[state]}
        return Template("invitations/gone.html", context=context, status_code=410)
    links = [
        {"name": row.name, "url": f"/login/oidc/{quote(row.provider_id, safe='')}"}
        for row in providers
    ]
    offer = InvitationOffer(email=invitation.email, roles=tuple(invitation.roles))
    methods = login_methods(plugins, tenant, request_context(request).locale, "/", offer)
    value = sign_invite_cookie(_secret(request), tenant.id, invitation.token_hash)
    return Template(
        "invitations/accept.html",
        context={
            "providers": links,
            "methods": methods,
            "roles": invitation.roles,
            "email": invitation.email,
        },
        cookies=[_invite_cookie(value, secure=is_https(request), max_age=INVITE_COOKIE_SECONDS)],
    )


# --- /admin/people ------------------------------------------------------------------------


@dataclass
class InviteForm:
    email: str = ""
    roles: tuple[str, ...] = DEFAULT_ROLES
    errors: dict[str, str] | None = None


def _read_form(form: Any, locale: str) -> InviteForm:
    email = form_text(form, "email", MAX_EMAIL_LENGTH)
    roles = tuple(role for role in ROLES if role in form.getall("roles", []))
    errors: dict[str, str] = {}
    try:
        check_address(email)
    except MailError:
        errors["email"] = gettext(locale, INVALID_EMAIL)
    if not roles:
        errors["roles"] = gettext(locale, NO_ROLE)
    return InviteForm(email, roles, errors)


async def _people_context(db: Database, tenant: TenantSnapshot, locale: str) -> dict[str, Any]:
    async with db.tenant_session(tenant.id) as session:
        memberships = list(await session.scalars(select(Membership)))
        pending = list(await pending_invitations(session))
    ids = {m.user_id for m in memberships}
    users: dict[uuid.UUID, User] = {}
    if ids:
        async with db.platform_session() as platform:
            users = {u.id: u for u in await platform.scalars(select(User).where(User.id.in_(ids)))}
    members = sorted(
        (
            {
                "name": (users[m.user_id].display_name or users[m.user_id].email or "")
                if m.user_id in users
                else "",
                "email": users[m.user_id].email if m.user_id in users else None,
                "roles": list(m.roles),
            }
            for m in memberships
            if m.roles
        ),
        key=lambda member: str(member["name"]).casefold(),
    )
    invitations = [
        {
            "id": str(i.id),
            "email": i.email,
            "roles": list(i.roles),
            "expires": format_datetime(aware(i.expires_at), locale),
        }
        for i in pending
    ]
    return {"members": members, "invitations": invitations, "all_roles": ROLES}


def _invitation_link(request: Request[Any, Any, Any], token: str) -> str:
    host = request_context(request).host
    return f"{request.url.scheme}://{host}/invite/{token}"


class TenantPeople(Controller):
    path = "/admin/people"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.people")
    async def people_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        context = await _people_context(db, tenant, request_context(request).locale)
        done = request.query_params.get("done")
        notice = done if done in ("sent", "revoked") else None
        return Template(
            "invitations/people.html", context={**context, "form": InviteForm(), "notice": notice}
        )

    @post("", name="admin.invite")
    async def invite(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        form = _read_form(await request.form(), locale)
        if form.errors:
            context = await _people_context(db, tenant, locale)
            return Template(
                "invitations/people.html",
                context={**context, "form": form, "notice": None},
                status_code=422,
            )
        actor = current_user.id if current_user else None
        async with db.tenant_session(tenant.id) as session, session.begin():
            invitation, token = create_invitation(
                session, form.email, form.roles, actor, ip=ClientInfo.from_request(request).ip
            )
            send_mail(
                session,
                to=invitation.email,
                template="invitation",
                context={
                    "programme": tenant.name,
                    "link": _invitation_link(request, token),
                    "expires_at": invitation.expires_at.isoformat(),
                },
                locale=tenant.default_locale,
            )
        return Redirect(path="/admin/people", query_params={"done": "sent"}, status_code=303)

    @post("/invitations/{invitation_id:uuid}/revoke", name="admin.revoke_invitation")
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        invitation_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        actor = current_user.id if current_user else None
        ip = ClientInfo.from_request(request).ip
        async with db.tenant_session(tenant.id) as session, session.begin():
            # Another tenant's id is simply not found through this tenant's session.
            revoked = await revoke_invitation(session, invitation_id, actor, ip=ip)
        if not revoked:
            raise NotFoundException()
        return Redirect(path="/admin/people", query_params={"done": "revoked"}, status_code=303)


__all__ = [
    "INVITE_COOKIE",
    "Invitation",
    "Redeemed",
    "TenantPeople",
    "clear_invite_cookie",
    "invitation_gone_page",
    "invitation_in_browser",
    "open_invitation",
    "redeem_invitation",
]
