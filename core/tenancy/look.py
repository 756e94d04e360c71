"""A tenant's look outside its web pages: the colours and logo on its certificates.

The colours come from the theme's stylesheet (``themes/<name>/static/theme.css``, the
custom properties ``--color-primary`` and ``--color-accent``), so a certificate looks
like the tenant's pages; the accent colour and logo a tenant's admin set on
``/admin/appearance`` take the theme's place (:func:`tenant_look`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

from core.tenancy.appearance import logo_row
from core.tenancy.colours import theme_colour
from core.tenancy.snapshot import TenantSnapshot

FALLBACK_PRIMARY = "#1d4e89"
FALLBACK_ACCENT = "#b3261e"


@dataclass(frozen=True)
class Look:
    primary: str  # "#rrggbb"
    accent: str
    # A data: URI of the tenant's logo (PNG or cleaned SVG), or None when it has none.
    logo_data_uri: str | None = None


def look_of(tenant: TenantSnapshot) -> Look:
    """The theme's colours, with the admin's accent where one is set (no logo: that
    needs the database, see :func:`tenant_look`)."""
    primary, accent = theme_colours(tenant.theme)
    return Look(primary=primary, accent=tenant.accent or accent)


@cache
def theme_colours(theme: str) -> tuple[str, str]:
    """The theme's primary and accent colours (solid hex values; else the fallbacks)."""
    return (
        theme_colour(theme, "primary") or FALLBACK_PRIMARY,
        theme_colour(theme, "accent") or FALLBACK_ACCENT,
    )


async def tenant_look(session: object, tenant: TenantSnapshot) -> Look:
    """The look to render ``tenant``'s certificates with (``session``: a tenant or
    platform session, for what the tenant's admin uploaded)."""
    look = look_of(tenant)
    if tenant.logo_version is None:
        return look
    logo = await logo_row(session, tenant.id)
    if logo is None:  # removed since the snapshot was taken
        return look
    data, content_type, _ = logo
    uri = f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
    return Look(primary=look.primary, accent=look.accent, logo_data_uri=uri)
