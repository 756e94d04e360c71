"""Certificate pages for coordinators (role ``admin`` of the tenant).

* ``/admin/certificates`` — the tenant's templates (from its enabled plugins): which one
  each role gets, and per language whether the wording is the tenant's own.
* ``/admin/certificates/<template>/<language>`` — the template editor: the source in a
  text area, the placeholders with what they hold, a PDF preview with made-up facts.
  ``/static/core/certificate-editor.js`` checks the source as it is typed
  (``…/check``) and then refreshes the preview; without JavaScript the Preview button
  sends the form to the preview frame. Saving renders the wording first: one that
  fails (syntax, an unknown placeholder, anything the sandbox refuses) is not saved
  and comes back (422) with the error, its line and the source as typed.
* ``/admin/cohorts/<cohort>/certificates`` — the cohort's completed tandems with each
  holder's certificate: issue for the whole cohort in one batch (a progress bar while
  the jobs render), revoke with a reason, issue again, download.

Anyone else signed in gets 403; a template, cohort or certificate of another tenant
(or of a plugin the tenant has not enabled) is 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from core.certificates import editor
from core.certificates.catalog import enabled_templates, find_template, tenant_wording
from core.certificates.render import MAX_SOURCE_LENGTH, PLACEHOLDERS, ROLE_LABELS, TemplateProblem
from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.i18n.negotiation import language_name_in
from core.identity.guards import CurrentUser, require_role
from core.pairings.controllers import client_ip, signed_in, site_url
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import CERTIFICATE_ROLES, CertificateTemplate
from core.tenancy.look import tenant_look
from core.tenancy.snapshot import TenantSnapshot
from core.web.forms import form_text
from core.web.security import STRICT_CSP
from core.web.sites import current_tenant, request_context

PREVIEW_FRAME = "certificate-preview"
# The preview is shown in a frame of the editor: only pages of the same site may frame it.
FRAMEABLE_CSP = STRICT_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
FRAMEABLE_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": FRAMEABLE_CSP,
    "Cache-Control": "no-store",
}
NOTICES = {
    "saved": N_("The wording has been saved; certificates issued from now on use it."),
    "restored": N_("The original wording is back."),
}


def _template_or_404(
    tenant: TenantSnapshot, plugins: PluginHost, template_id: str, language: str | None = None
) -> CertificateTemplate:
    template = find_template(tenant, plugins, template_id)
    if template is None or (language is not None and language not in template.sources):
        raise NotFoundException()
    return template


def _editor_path(template: CertificateTemplate, language: str) -> str:
    return f"/admin/certificates/{template.id}/{language}"


def _preview_role(template: CertificateTemplate, raw: str) -> str:
    return raw if raw in template.roles else template.roles[0]


# --- the list of templates --------------------------------------------------------------------


async def _templates_page(
    request: Request[Any, Any, Any], db: Database, plugins: PluginHost
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    templates = enabled_templates(tenant, plugins)
    async with db.tenant_session(tenant.id) as session:
        edited = {
            (t.id, language)
            for t in templates
            for language in t.sources
            if await tenant_wording(session, t.id, language) is not None
        }
    in_use = {
        role: next((t.id for t in templates if role in t.roles), None) for role in CERTIFICATE_ROLES
    }
    return Template(
        "certificates/admin_templates.html",
        context={
            "roles": [
                {
                    "label": gettext(locale, ROLE_LABELS[role]),
                    "template": next(
                        (gettext(locale, t.name) for t in templates if t.id == in_use[role]), ""
                    ),
                }
                for role in CERTIFICATE_ROLES
            ],
            "templates": [
                {
                    "id": t.id,
                    "name": gettext(locale, t.name),
                    "roles": ", ".join(gettext(locale, ROLE_LABELS[r]) for r in t.roles),
                    "used_for": ", ".join(
                        gettext(locale, ROLE_LABELS[r]) for r in t.roles if in_use[r] == t.id
                    ),
                    "languages": [
                        {
                            "code": language,
                            "name": language_name_in(language, locale),
                            "path": _editor_path(t, language),
                            "edited": (t.id, language) in edited,
                        }
                        for language in sorted(t.sources)
                    ],
                }
                for t in templates
            ],
        },
    )


# --- the editor -------------------------------------------------------------------------------


async def _editor_page(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    template_id: str,
    language: str,
    *,
    source: str | None = None,
    role: str = "",
    problem: str = "",
    status: int = 200,
) -> Template:
    tenant = current_tenant(request)
    locale = request_context(request).locale
    template = _template_or_404(tenant, plugins, template_id, language)
    async with db.tenant_session(tenant.id) as session:
        own = await tenant_wording(session, template.id, language)
    if source is None:
        source = own.source if own is not None else template.sources[language]
    path = _editor_path(template, language)
    role = _preview_role(template, role)
    done = request.query_params.get("done") or ""
    return Template(
        "certificates/admin_editor.html",
        context={
            "template": {
                "id": template.id,
                "name": gettext(locale, template.name),
                "language": language_name_in(language, locale),
                "code": language,
                "edited": own is not None,
            },
            "paths": {
                "editor": path,
                "preview": f"{path}/preview",
                "check": f"{path}/check",
                "restore": f"{path}/restore",
                "frame": f"{path}/preview?role={role}",
            },
            "frame_name": PREVIEW_FRAME,
            "source": source,
            "max_length": MAX_SOURCE_LENGTH,
            "problem": problem,
            "roles": [
                {"value": r, "label": gettext(locale, ROLE_LABELS[r]), "selected": r == role}
                for r in template.roles
            ],
            "placeholders": [
                {"name": name, "description": gettext(locale, description)}
                for name, description in PLACEHOLDERS.items()
            ],
            "notice": gettext(locale, NOTICES[done]) if done in NOTICES else "",
        },
        status_code=status,
    )


def _problem_page(message: str, status: int = 422) -> Template:
    """What the preview frame shows instead of a PDF (no JavaScript, or a GET)."""
    return Template(
        "certificates/admin_preview_problem.html",
        context={"problem": message},
        status_code=status,
        headers=FRAMEABLE_HEADERS,
    )


async def _preview(
    request: Request[Any, Any, Any],
    db: Database,
    plugins: PluginHost,
    template_id: str,
    language: str,
    source: str | None,
    role: str,
) -> Response[Any]:
    tenant = current_tenant(request)
    template = _template_or_404(tenant, plugins, template_id, language)
    async with db.tenant_session(tenant.id) as session:
        look = await tenant_look(session, tenant)
        if source is None:
            own = await tenant_wording(session, template.id, language)
            source = own.source if own is not None else template.sources[language]
    try:
        pdf = editor.preview_pdf(
            template,
            source,
            tenant,
            _preview_role(template, role),
            language,
            look,
            site_url(request),
        )
    except TemplateProblem as problem:
        return _problem_page(editor.explain(problem, request_context(request).locale))
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={
            **FRAMEABLE_HEADERS,
            "Content-Disposition": f'inline; filename="{template.id}-{language}-preview.pdf"',
        },
    )


def _typed(form: Any) -> str:
    """The source as typed: not stripped, so that line numbers match the text area; cut
    one character beyond the limit, so that a longer source is reported, not cut."""
    value = form.get("source")
    return editor.normalise_source(value[: MAX_SOURCE_LENGTH + 1] if isinstance(value, str) else "")


class CertificateTemplatesAdmin(Controller):
    path = "/admin/certificates"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.certificates")
    async def templates(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
    ) -> Template:
        return await _templates_page(request, db, plugins)

    @get("/{template_id:str}/{language:str}", name="admin.certificates.editor")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Template:
        return await _editor_page(request, db, plugins, template_id, language)

    @post("/{template_id:str}/{language:str}", name="admin.certificates.save")
    async def save(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        template = _template_or_404(tenant, plugins, template_id, language)
        form = await request.form()
        source = _typed(form)
        role = form_text(form, "role", 20)
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                await editor.save_wording(
                    session,
                    tenant,
                    template,
                    language,
                    source,
                    await tenant_look(session, tenant),
                    verify_base=site_url(request),
                    by=user.id,
                    ip=client_ip(request),
                )
        except TemplateProblem as problem:
            return await _editor_page(
                request,
                db,
                plugins,
                template_id,
                language,
                source=source,
                role=role,
                problem=editor.explain(problem, request_context(request).locale),
                status=422,
            )
        return Redirect(
            path=_editor_path(template, language), query_params={"done": "saved"}, status_code=303
        )

    @get("/{template_id:str}/{language:str}/preview", name="admin.certificates.preview_saved")
    async def preview_saved(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Response[Any]:
        role = (request.query_params.get("role") or "")[:20]
        return await _preview(request, db, plugins, template_id, language, None, role)

    @post(
        "/{template_id:str}/{language:str}/preview",
        name="admin.certificates.preview",
        status_code=200,
    )
    async def preview(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Response[Any]:
        form = await request.form()
        role = form_text(form, "role", 20)
        return await _preview(request, db, plugins, template_id, language, _typed(form), role)

    @post(
        "/{template_id:str}/{language:str}/check", name="admin.certificates.check", status_code=200
    )
    async def check(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Response[dict[str, Any]]:
        """Whether the typed source would render (JSON), without laying out a PDF."""
        tenant = current_tenant(request)
        template = _template_or_404(tenant, plugins, template_id, language)
        source = _typed(await request.form())
        async with db.tenant_session(tenant.id) as session:
            look = await tenant_look(session, tenant)
        try:
            editor.check_body(template, source, tenant, language, look, site_url(request))
        except TemplateProblem as problem:
            return Response(
                {
                    "ok": False,
                    "line": problem.line,
                    "message": editor.explain(problem, request_context(request).locale),
                },
                status_code=422,
            )
        return Response({"ok": True, "line": None, "message": ""})

    @post("/{template_id:str}/{language:str}/restore", name="admin.certificates.restore")
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        template_id: FromPath[str],
        language: FromPath[str],
    ) -> Response[Any]:
        user = signed_in(current_user)
        tenant = current_tenant(request)
        template = _template_or_404(tenant, plugins, template_id, language)
        async with db.tenant_session(tenant.id) as session, session.begin():
            await editor.restore_original(
                session, template, language, by=user.id, ip=client_ip(request)
            )
        return Redirect(
            path=_editor_path(template, language),
            query_params={"done": "restored"},
            status_code=303,
        )


__all__ = ["CertificateTemplatesAdmin"]
