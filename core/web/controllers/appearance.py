"""``/admin/appearance``: a tenant's admins pick the theme, an accent colour and a logo;
``/branding/…`` serves the result on the tenant's own host.

* The accent colour must be readable as text on the theme's page background and
  cards (WCAG 2.1 AA, 4.5:1); a colour that is not is refused with its ratio. Text
  drawn *on* the accent (buttons, step numbers) is white or the theme's dark text,
  whichever reads better — chosen here, not by the admin.
* The logo is checked by its content (:mod:`core.tenancy.logos`): a PNG is decoded
  and re-encoded, an SVG cleaned of everything that could run or fetch.
* Every change bumps the tenant's revision; this process forgets its cached sites at
  once, the others within their cache's TTL, and the stylesheet and logo URLs carry
  the new version so that no browser keeps the old ones.

The accent reaches the pages as a stylesheet (``/branding/accent.css``), not inline:
the Content-Security-Policy allows styles from the site only.
"""

from __future__ import annotations

import math
from typing import Any

from babel.numbers import format_decimal
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response, Template

from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity.guards import CurrentUser, require_role
from core.identity.sessions import client_ip
from core.settings import Settings
from core.tenancy.appearance import (
    LOGO_VERSION_LENGTH,
    Appearance,
    accent_css,
    available_themes,
    load_appearance,
    load_logo,
    reset_appearance,
    save_logo,
    save_look,
)
from core.tenancy.colours import AA_TEXT, accent_problems, normalise_hex, theme_colour
from core.tenancy.logos import MAX_BYTES, LogoRejected, check_logo
from core.tenancy.snapshot import TenantSnapshot
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

PATH = "/admin/appearance"
LOGO_PATH = "/branding/logo"
ACCENT_PATH = "/branding/accent.css"
# Room for the form's other fields around the largest logo; a bigger body is a 413.
MAX_UPLOAD_BODY = MAX_BYTES * 4
# A versioned URL never changes content; an unversioned one is checked every time.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The logo is an image, never a document: even opened on its own, nothing in it runs.
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

THEME_INVALID = N_("Choose one of the themes offered.")
ACCENT_INVALID = N_("Enter a colour as # followed by six hexadecimal digits, such as #c5003e.")
ACCENT_CONTRAST = N_(
    "The colour %(colour)s has a contrast ratio of %(ratio)s:1 with %(background)s "
    "(%(background_colour)s). Text needs at least %(minimum)s:1 (WCAG 2.1 AA): choose "
    "a darker colour."
)
BACKGROUNDS = {
    "background": N_("the page background"),
    "surface": N_("cards and forms"),
    "hero-background": N_("the banner on the home page"),
}
NOTICES = {
    "saved": N_("The new look is in effect on every page of this programme."),
    "unchanged": N_("Nothing was changed."),
    "logo": N_("The new logo is in effect on every page of this programme."),
    "logo_removed": N_("The logo was removed."),
    "reset": N_("The programme looks as its theme has it again: no own colour, no logo."),
}
CONFIRM_MISSING = N_("Tick the box to confirm.")


def _settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _done(kind: str) -> Redirect:
    # This process shows the change at once; the others within their cache's TTL.
    return Redirect(path=PATH, query_params={"done": kind}, status_code=303)


def format_ratio(ratio: float, locale: str) -> str:
    """Two decimals, rounded down: 4.499 must never read as the passing "4.50"."""
    return format_decimal(math.floor(ratio * 100) / 100, format="0.00", locale=locale)


def check_accent(value: str, theme: str, settings: Settings, locale: str) -> tuple[str | None, str]:
    """The accent to store (None: the theme's) and the problem with it ("": none)."""
    if not value:
        return None, ""
    accent = normalise_hex(value)
    if accent is None:
        return None, gettext(locale, ACCENT_INVALID)
    problems = accent_problems(accent, theme, settings.themes_dir)
    if problems:
        worst = problems[0]
        message = gettext(
            locale,
            ACCENT_CONTRAST,
            colour=accent,
            ratio=format_ratio(worst.ratio, locale),
            background=gettext(locale, BACKGROUNDS[worst.background]),
            background_colour=worst.background_colour,
            minimum=format_decimal(AA_TEXT, locale=locale),
        )
        return None, message
    return accent, ""


def _page(
    request: Request[Any, Any, Any],
    appearance: Appearance,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    settings = _settings(request)
    locale = request_context(request).locale
    done = request.query_params.get("done")
    themes = [
        {
            "name": name,
            "primary": theme_colour(name, "primary", settings.themes_dir),
            "accent": theme_colour(name, "accent", settings.themes_dir),
        }
        for name in available_themes(settings.themes_dir)
    ]
    return Template(
        "admin/appearance.html",
        context={
            "appearance": appearance,
            "themes": themes,
            "form": form
            or {"theme": appearance.chosen_theme or "", "accent": appearance.accent or ""},
            "errors": errors or {},
            "notice": gettext(locale, NOTICES[done]) if done in NOTICES and not errors else None,
            "max_kb": MAX_BYTES // 1024,
            "logo_url": _logo_url(appearance),
        },
        status_code=status_code,
    )


def _logo_url(appearance: Appearance) -> str | None:
    if not appearance.logo_sha256:
        return None
    return f"{LOGO_PATH}?v={appearance.logo_sha256[:LOGO_VERSION_LENGTH]}"


class AppearanceAdmin(Controller):
    path = PATH
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.appearance")
    async def page(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        return _page(request, await load_appearance(db, tenant.id))

    @post("", name="admin.save_appearance")
    async def save(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        settings = _settings(request)
        locale = request_context(request).locale
        data = await request.form()
        form = {"theme": form_text(data, "theme", 64), "accent": form_text(data, "accent", 32)}
        appearance = await load_appearance(db, tenant.id)
        errors: dict[str, str] = {}
        themes = available_themes(settings.themes_dir)
        if form["theme"] and form["theme"] not in themes:
            errors["theme"] = gettext(locale, THEME_INVALID)
        theme = form["theme"] or appearance.file_theme
        accent, problem = check_accent(form["accent"], theme, settings, locale)
        if problem:
            errors["accent"] = problem
        if errors:
            return _page(request, appearance, form=form, errors=errors, status_code=422)
        changes = await save_look(
            db,
            tenant.id,
            theme=form["theme"] or None,
            accent=accent,
            by=current_user.id if current_user else None,
            ip=client_ip(request),
        )
        request.app.state.resolver.invalidate()
        return _done("saved" if changes else "unchanged")

    @post("/logo", name="admin.save_logo", request_max_body_size=MAX_UPLOAD_BODY)
    async def upload_logo(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        upload = (await request.form()).get("logo")
        # One byte over the limit is enough to know that it is too large.
        data = await upload.read(MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
        try:
            logo = check_logo(data)
        except LogoRejected as exc:
            appearance = await load_appearance(db, tenant.id)
            errors = {"logo": gettext(locale, exc.message, **exc.values)}
            return _page(request, appearance, errors=errors, status_code=422)
        changes = await save_logo(
            db, tenant.id, logo, by=current_user.id if current_user else None, ip=client_ip(request)
        )
        request.app.state.resolver.invalidate()
        return _done("logo" if changes else "unchanged")

    @post("/logo/delete", name="admin.delete_logo")
    async def delete_logo(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        changes = await save_logo(
            db, tenant.id, None, by=current_user.id if current_user else None, ip=client_ip(request)
        )
        request.app.state.resolver.invalidate()
        return _done("logo_removed" if changes else "unchanged")

    @post("/reset", name="admin.reset_appearance")
    async def reset(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        if (await request.form()).get("confirm") != "yes":
            appearance = await load_appearance(db, tenant.id)
            errors = {"confirm": gettext(locale, CONFIRM_MISSING)}
            return _page(request, appearance, errors=errors, status_code=422)
        changes = await reset_appearance(
            db, tenant.id, by=current_user.id if current_user else None, ip=client_ip(request)
        )
        request.app.state.resolver.invalidate()
        return _done("reset" if changes else "unchanged")


def accent_version(theme: str, accent: str) -> str:
    # The text colour on the accent depends on the theme too.
    return f"{theme}-{accent.lstrip('#')}"


def branding(tenant: TenantSnapshot | None) -> dict[str, str | None]:
    """For the page head and header (a template global): the versioned URLs of the
    tenant's accent stylesheet and logo, None where the admin set none."""
    if tenant is None:
        return {"accent_css": None, "logo": None}
    return {
        "accent_css": (
            f"{ACCENT_PATH}?v={accent_version(tenant.theme, tenant.accent)}"
            if tenant.accent
            else None
        ),
        "logo": f"{LOGO_PATH}?v={tenant.logo_version}" if tenant.logo_version else None,
    }


def _cache_control(request: Request[Any, Any, Any], version: str) -> str:
    return IMMUTABLE if request.query_params.get("v") == version else REVALIDATE


def _not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    return etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]


@get(LOGO_PATH, name="branding.logo", include_in_schema=False)
async def tenant_logo(
    request: Request[Any, Any, Any], db: NamedDependency[Database]
) -> Response[Any]:
    """The logo of this host's tenant (no other's), as the upload check typed it."""
    tenant = current_tenant(request)
    logo = await load_logo(db, tenant.id)
    if logo is None:
        raise NotFoundException()
    data, content_type, sha256 = logo
    version = sha256[:LOGO_VERSION_LENGTH]
    etag = f'"{version}"'
    headers = {
        "Cache-Control": _cache_control(request, version),
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": LOGO_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if _not_modified(request, etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(data, media_type=content_type, headers=headers)


@get(ACCENT_PATH, name="branding.accent", include_in_schema=False)
async def tenant_accent(request: Request[Any, Any, Any]) -> Response[Any]:
    """``:root { --color-accent: … }`` for this host's tenant (empty without one)."""
    tenant = current_tenant(request)
    settings = _settings(request)
    css = accent_css(tenant.accent, tenant.theme, settings.themes_dir) if tenant.accent else ""
    version = accent_version(tenant.theme, tenant.accent or "")
    etag = f'"{version}"'
    headers = {"Cache-Control": _cache_control(request, version), "ETag": etag}
    if _not_modified(request, etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(css, media_type="text/css; charset=utf-8", headers=headers)
