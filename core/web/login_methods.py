"""Sign-in methods from plugins (``extra_login_methods``): on ``/login`` and ``/invite/<token>``."""

from __future__ import annotations

from core.pluginhost.manager import PluginHost
from core.pluginhost.types import InvitationOffer, LoginMethod
from core.tenancy.snapshot import TenantSnapshot


def login_methods(
    plugins: PluginHost,
    tenant: TenantSnapshot,
    locale: str,
    next_path: str,
    invitation: InvitationOffer | None = None,
) -> list[LoginMethod]:
    """Other ways in from the tenant's enabled plugins (``extra_login_methods``), by order."""
    hooks = plugins.hooks_for(tenant)
    batches = hooks.extra_login_methods(
        tenant=tenant, locale=locale, next_path=next_path, invitation=invitation
    )
    methods = [method for batch in batches for method in batch or []]
    methods.sort(key=lambda method: method.order)
    return methods
