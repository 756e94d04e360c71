"""E-mail login links: a way in for participants who have no account at any provider.

Enabled per tenant::

    [plugins.email_login]
    link_minutes = 15        # how long a link works (5-15)
    per_address_limit = 3    # links per e-mail address …
    per_ip_limit = 10        # … and per IP address (IPv6: per /64) …
    window_minutes = 60      # … within this window

The tenant's ``/login`` page then shows an e-mail field (``extra_login_methods``).
A link is mailed only to an address that is an e-mail login identity (issuer
``urn:tandem:email-login``, subject the lower-cased address; in tenant files a
``[[members]]`` entry with ``provider = "email"``) of someone with roles in this
tenant; every other address gets the same answer and no mail. Such an identity is
never joined to an SSO account with the same address. The link is random (256
bits), stored only as its SHA-256, works once, expires after ``link_minutes`` and
only on the tenant that sent it. Its pages live under ``/p/email_login``
(``register_routes``); see :mod:`plugins.email_login.routes`.

On an invitation page (``/invite/<token>``: a coordinator's invitation, or an accepted
application's) the method is a button instead: "continue with <invited address>". It
creates the e-mail login identity for the address the invitation was sent to and spends
the invitation for it, so an applicant without an account anywhere gets in, and signs
in with links to that address afterwards.
"""

from __future__ import annotations

from pathlib import Path

from litestar.types import ControllerRouterHandler

from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.types import InvitationOffer, LoginMethod
from core.tenancy.snapshot import TenantSnapshot
from plugins.email_login.routes import EmailLoginPages, form_context, invitation_context
from plugins.email_login.settings import N_, PLUGIN_ID, EmailLoginSettings

PLUGIN = PluginInfo(
    id=PLUGIN_ID,
    name=N_("E-mail login links"),
    description=N_(
        "Lets participants without an account at any sign-in service sign in "
        "with a single-use link sent by e-mail."
    ),
    version="1.0.0",
    settings=EmailLoginSettings,
)


@hookimpl
def register_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def register_routes() -> list[ControllerRouterHandler]:
    return [EmailLoginPages]


@hookimpl
def extra_login_methods(
    tenant: TenantSnapshot, locale: str, next_path: str, invitation: InvitationOffer | None
) -> list[LoginMethod]:
    if invitation is not None:
        context = invitation_context(invitation)
        return [LoginMethod(template="email_login/invitation_method.html", context=context)]
    context = form_context(tenant, next_path)
    return [LoginMethod(template="email_login/login_method.html", context=context, order=50)]
