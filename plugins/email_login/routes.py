"""The plugin's pages, mounted by core at ``/p/email_login`` on tenants that enabled it.

* ``GET /request`` — the form on a page of its own (the ``/login`` page shows it too);
* ``POST /request`` — an address that is not one: the form again, with the error (400).
  Otherwise, always the same page ("if this address belongs to a participant, we
  have sent a link"), whether or not a mail goes out; over a rate limit, always the
  same 429 page. The link and its mail job are written in one transaction; the mail
  itself is sent by the job, so the answer does not wait for the mail server;
* ``GET /link/<token>`` — a page with one button. A GET never signs in: mail
  scanners open links to look at them, and that must not spend them;
* ``POST /link/<token>`` (CSRF-protected like every form) — spends the link, starts
  the session and goes on to the page the person first asked for;
* ``POST /invitation`` — the button on an invitation page: the invitation the browser
  brought (core's signed cookie, this tenant's only) is spent for the e-mail login
  identity of the address it was sent to, created if need be, and the session starts.
  The invitation link itself came by mail to that address, which is what a sign-in
  link proves too; it works once, like every invitation.

A link that is unknown here (another tenant's included), used or expired gets a page
saying so in the visitor's language, a ``login_failed`` audit entry and no session.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from sqlalchemy import select

from core.applications.models import Application
from core.db.base import utcnow
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.accounts import find_or_create_user_for_identity, membership_of
from core.identity.invitations import InvitationState, state_of
from core.identity.models import EMAIL_LOGIN_ISSUER, email_login_subject
from core.identity.sessions import (
    ClientInfo,
    is_https,
    session_token,
    set_session_cookie,
    start_session,
)
from core.jobs import enqueue
from core.mail import MailError
from core.mail.compose import check_address
from core.pluginhost.types import InvitationOffer
from core.tenancy.snapshot import TenantSnapshot
from core.web.controllers.invitations import (
    Redeemed,
    clear_invite_cookie,
    invitation_gone_page,
    invitation_in_browser,
    redeem_invitation,
)
from core.web.controllers.login import safe_next
from core.web.errors import N_
from core.web.forms import form_text
from core.web.plugin_routes import plugin_path
from core.web.sites import current_tenant, request_context
from plugins.email_login.links import (
    LinkState,
    count_request,
    create_link,
    find_member,
    is_limited,
    link_state,
    prune,
    spend_link,
)
from plugins.email_login.mail import send_link
from plugins.email_login.models import NEXT_PATH_LENGTH
from plugins.email_login.settings import PLUGIN_ID, settings_for

MAX_EMAIL_LENGTH = 320
AUDIT_METHOD = "email_link"
INVITATION_AUDIT_METHOD = "email_invitation"
NO_INVITATION_TITLE = N_("Please open your invitation again")
NO_INVITATION = N_(
    "This browser no longer holds your invitation (it is kept for 30 minutes after you "
    "open the link). Please open the link from the invitation e-mail again."
)
INVALID_EMAIL = N_("Enter an e-mail address like name@example.org.")
FAILED_TITLE = N_("This sign-in link does not work")
FAILURES: dict[str, tuple[int, str]] = {
    LinkState.UNKNOWN: (
        404,
        N_(
            "We do not know this sign-in link here. Please check that you opened the whole "
            "link from the e-mail, on the programme's own site."
        ),
    ),
    LinkState.USED: (410, N_("This sign-in link has already been used. Each link works once.")),
    LinkState.EXPIRED: (410, N_("This sign-in link has expired.")),
    "no_membership": (
        403,
        N_("You are not, or no longer, taking part in this programme, so we did not sign you in."),
    ),
}
# Pages that carry a token in their URL: never cached, never sent on as a referrer.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def request_path() -> str:
    return f"{plugin_path(PLUGIN_ID)}/request"


def invitation_context(invitation: InvitationOffer) -> dict[str, Any]:
    return {"action": f"{plugin_path(PLUGIN_ID)}/invitation", "email": invitation.email}


def form_context(
    tenant: TenantSnapshot, next_path: str, email: str = "", error: str | None = None
) -> dict[str, Any]:
    return {
        "action": request_path(),
        "next": next_path,
        "email": email,
        "error": error,
        "minutes": settings_for(tenant).link_minutes,
    }


class EmailLoginPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/request", name=f"{PLUGIN_ID}.form")
    async def form(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Template:
        tenant = current_tenant(request)
        return Template("email_login/request.html", context=form_context(tenant, safe_next(next)))

    @post("/request", name=f"{PLUGIN_ID}.request")
    async def request_link(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        settings = settings_for(tenant)
        form = await request.form()
        email = form_text(form, "email", MAX_EMAIL_LENGTH)
        next_path = safe_next(form_text(form, "next", NEXT_PATH_LENGTH))
        try:
            address = email_login_subject(check_address(email))
        except MailError:
            error = gettext(locale, INVALID_EMAIL)
            context = form_context(tenant, next_path, email, error)
            return Template("email_login/request.html", context=context, status_code=400)

        limited = await _count_and_send(
            db,
            tenant,
            address,
            next_path,
            ip=ClientInfo.from_request(request).ip,
            locale=locale,
            base_url=f"{request.url.scheme}://{request_context(request).host}",
        )
        if limited:
            seconds = str(settings.window_minutes * 60)
            return Template(
                "email_login/limited.html",
                context={"minutes": settings.window_minutes},
                status_code=429,
                headers={"Retry-After": seconds},
            )
        return Template(
            "email_login/sent.html",
            context={"email": address, "minutes": settings.link_minutes},
        )

    @get("/link/{token:str}", name=f"{PLUGIN_ID}.open")
    async def open_link(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], token: FromPath[str]
    ) -> Template:
        tenant = current_tenant(request)
        async with db.tenant_session(tenant.id) as session:
            state = await link_state(session, token, utcnow())
        if state is not LinkState.PENDING:
            return await _failed(request, db, tenant, state)
        return Template(
            "email_login/confirm.html",
            context={"action": request.url.path},
            headers=PRIVATE_HEADERS,
        )

    @post("/link/{token:str}", name=f"{PLUGIN_ID}.sign_in")
    async def sign_in(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database], token: FromPath[str]
    ) -> Response[Any]:
        tenant = current_tenant(request)
        now = utcnow()
        async with db.tenant_session(tenant.id) as session, session.begin():
            spent = await spend_link(session, token, now)
            state = None if spent else await link_state(session, token, now)
            # Roles can be taken away between the mail and the click.
            membership = await membership_of(session, spent.user_id) if spent else None
        if spent is None:
            return await _failed(request, db, tenant, state or LinkState.UNKNOWN)
        if membership is None or not membership.roles:
            return await _failed(request, db, tenant, "no_membership", spent.user_id)
        client = ClientInfo.from_request(request)
        session_value = await start_session(
            db,
            tenant,
            spent.user_id,
            client,
            replaces=session_token(request),
            audit_details={"method": AUDIT_METHOD},
        )
        response = Redirect(path=spent.next_path, status_code=303)
        set_session_cookie(response, session_value, secure=is_https(request))
        return response

    @post("/invitation", name=f"{PLUGIN_ID}.accept_invitation")
    async def accept_invitation(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Response[Any]:
        tenant = current_tenant(request)
        invitation = await invitation_in_browser(request, db, tenant)
        if invitation is None:
            context = {"title": NO_INVITATION_TITLE, "message": NO_INVITATION}
            return Template("email_login/failed.html", context=context, status_code=400)
        state = state_of(invitation)
        if state is not InvitationState.PENDING:
            return invitation_gone_page(request, Redeemed(state))
        name = await _applicant_name(db, tenant, invitation.id)
        address = email_login_subject(invitation.email)
        async with db.platform_session() as platform, platform.begin():
            profile = {"email": address, "display_name": name}
            user = await find_or_create_user_for_identity(
                platform, EMAIL_LOGIN_ISSUER, address, profile
            )
        # Spent in one conditional UPDATE: of two tabs racing, one gets the roles.
        outcome = await redeem_invitation(request, db, tenant, user.id)
        if outcome is not Redeemed.ACCEPTED:
            return invitation_gone_page(request, outcome or Redeemed.EXPIRED)
        session_value = await start_session(
            db,
            tenant,
            user.id,
            ClientInfo.from_request(request),
            replaces=session_token(request),
            audit_details={"method": INVITATION_AUDIT_METHOD},
        )
        response = Redirect(path="/", status_code=303)
        set_session_cookie(response, session_value, secure=is_https(request))
        clear_invite_cookie(response, request)
        return response


async def _applicant_name(db: Database, tenant: TenantSnapshot, invitation_id: uuid.UUID) -> str:
    """The name on the application this invitation answers ("" for a coordinator's)."""
    async with db.tenant_session(tenant.id) as session:
        name = await session.scalar(
            select(Application.name).where(Application.invitation_id == invitation_id).limit(1)
        )
    return name or ""


async def _count_and_send(
    db: Database,
    tenant: TenantSnapshot,
    address: str,
    next_path: str,
    *,
    ip: str | None,
    locale: str,
    base_url: str,
) -> bool:
    """Count the request and, for a member, write the link and its mail job; True if
    a limit refused it. The same queries run for every address; only the mail job
    (written in the same transaction) tells a member from a stranger."""
    settings = settings_for(tenant)
    now = utcnow()
    async with (
        db.platform_session() as platform,
        db.tenant_session(tenant.id) as session,
        session.begin(),
    ):
        await prune(session, now)
        limited = await is_limited(session, address, ip, settings, now)
        user_id = await find_member(platform, session, address)
        if limited:
            return True
        count_request(session, address, ip, now)
        if user_id is not None:
            link = create_link(session, user_id, next_path, settings.link_lifetime, now)
            await session.flush()
            enqueue(
                session,
                send_link,
                link_id=str(link.id),
                to=address,
                locale=locale,
                base_url=base_url,
                minutes=settings.link_minutes,
                expires_at=link.expires_at.isoformat(),
            )
    return False


async def _failed(
    request: Request[Any, Any, Any],
    db: Database,
    tenant: TenantSnapshot,
    reason: str,
    user_id: uuid.UUID | None = None,
) -> Template:
    status, message = FAILURES[reason]
    ip = ClientInfo.from_request(request).ip
    async with db.tenant_session(tenant.id) as session, session.begin():
        details = {"method": AUDIT_METHOD, "reason": str(reason)}
        audit.record(session, audit.LOGIN_FAILED, user_id, details, ip)
    return Template(
        "email_login/failed.html",
        context={"title": FAILED_TITLE, "message": message},
        status_code=status,
        headers=PRIVATE_HEADERS,
    )
