"""A tenant's look outside its web pages: the colours and logo on its certificates.

The colours come from the theme's stylesheet (``themes/<name>/static/theme.css``, the
custom properties ``--color-primary`` and ``--color-accent``), so a certificate looks
like the tenant's pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from core.settings import ROOT
from core.tenancy.snapshot import TenantSnapshot

THEMES_DIR = ROOT / "themes"
FALLBACK_PRIMARY = "#1d4e89"
FALLBACK_ACCENT = "#b3261e"
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_ROOT_BLOCK = re.compile(r":root\s*\{([^}]*)\}")
_DECLARATION = re.compile(r"(--[\w-]+)\s*:\s*([^;]+)")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Look:
    primary: str  # "#rrggbb"
    accent: str
    # A data: URI of the tenant's logo (PNG), or None when it has none.
    logo_data_uri: str | None = None


def look_of(tenant: TenantSnapshot) -> Look:
    primary, accent = theme_colours(tenant.theme)
    return Look(primary=primary, accent=accent)


@cache
def theme_colours(theme: str) -> tuple[str, str]:
    """The theme's primary and accent colours (solid hex values; else the fallbacks)."""
    props: dict[str, str] = {}
    for name in ("default", theme):
        path = THEMES_DIR / name / "static" / "theme.css"
        if path.is_file():
            css = _COMMENT.sub("", path.read_text(encoding="utf-8"))
            for block in _ROOT_BLOCK.findall(css):
                props.update((k, v.strip()) for k, v in _DECLARATION.findall(block))
    primary = props.get("--color-primary", "")
    accent = props.get("--color-accent", "")
    return (
        primary if _HEX.fullmatch(primary) else FALLBACK_PRIMARY,
        accent if _HEX.fullmatch(accent) else FALLBACK_ACCENT,
    )


async def tenant_look(session: object, tenant: TenantSnapshot) -> Look:
    """The look to render ``tenant``'s certificates with (``session``: a tenant or
    platform session, for what the tenant's admin uploaded)."""
    return look_of(tenant)
