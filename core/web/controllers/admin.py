"""``/admin``: a tenant's coordinators (role ``admin``) manage its plugins and read its audit log.

* ``/admin/plugins`` lists the installed plugins; each has a form to enable or
  disable it and edit its settings. The fields are drawn from the plugin's settings
  schema (pydantic's JSON schema): text, web address, number, yes/no, a choice, a
  list (one entry per line) and texts per language (one field for each of the
  tenant's languages). Invalid settings are shown next to their field and nothing
  is saved; valid ones go through :func:`core.pluginhost.service.set_plugin_state`,
  which bumps the tenant's revision, and the change is audited. A plugin's name,
  description and setting titles and descriptions are English msgids, shown in the
  page's language; each form folds away unless it has errors or was just saved.
* ``/admin/audit`` pages through the tenant's audit log, newest first.

Everything runs in the request's tenant only: a session is valid on its own host
(see :mod:`core.identity.sessions`), and every query goes through a tenant session.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_datetime
from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from pydantic import ValidationError
from sqlalchemy import select

from core.db.sessions import Database
from core.i18n import N_
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.guards import CurrentUser, require_role
from core.identity.models import User
from core.identity.sessions import ClientInfo, aware
from core.pluginhost.info import PluginInfo, PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.pluginhost.models import TenantPlugin
from core.pluginhost.service import plugin_rows, set_plugin_state
from core.tenancy.snapshot import TenantSnapshot
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

PLUGIN_CHANGED = "plugin_changed"  # audit action
AUDIT_PAGE_SIZE = 50
MAX_PAGE = 100_000  # far beyond any log; keeps the offset a small number
MAX_VALUE_LENGTH = 10_000  # per form field; an announcement is a few sentences


def _text(form: Any, key: str) -> str:
    return form_text(form, key, MAX_VALUE_LENGTH)


# Pydantic's error types, as people should read them; the context (ctx) fills placeholders.
ERROR_MESSAGES = {
    "missing": N_("Fill in this field."),
    "string_too_short": N_("Enter at least %(min_length)s characters."),
    "string_too_long": N_("Use at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("This value does not have the expected form."),
    "string_type": N_("Enter a text."),
    "url_parsing": N_("Enter a full web address, such as https://example.org/info."),
    "url_scheme": N_("Enter a web address starting with https:// or http://."),
    "url_type": N_("Enter a full web address, such as https://example.org/info."),
    "url_too_long": N_("This web address is too long."),
    "url_syntax_violation": N_("Enter a full web address, such as https://example.org/info."),
    "float_parsing": N_("Enter a number, such as 10 or 2.5."),
    "float_type": N_("Enter a number, such as 10 or 2.5."),
    "finite_number": N_("Enter a number, such as 10 or 2.5."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter a number of at least %(ge)s."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "less_than_equal": N_("Enter a number of at most %(le)s."),
    "too_short": N_("Enter at least %(min_length)s entries."),
    "too_long": N_("Enter at most %(max_length)s entries."),
    "enum": N_("Choose one of the options offered."),
    "literal_error": N_("Choose one of the options offered."),
    "bool_parsing": N_("Choose yes or no."),
    "extra_forbidden": N_("This plugin has no such setting."),
}
INVALID_JSON = N_("This is not valid JSON.")
INVALID_VALUE = N_("This value is not valid: %(reason)s")


@dataclass
class SettingField:
    """One setting as the form shows it (``kind`` picks the control)."""

    name: str
    kind: str  # text, url, number, integer, boolean, choice, translated, lines, secret, json
    label: str
    description: str
    required: bool
    choices: list[str] = field(default_factory=list)
    default: Any = None


@dataclass
class PluginForm:
    info: PluginInfo
    name: str  # the plugin's name and description in the page's language
    description: str
    enabled: bool
    fields: list[SettingField]
    values: dict[str, Any]  # what the controls show: strings, bools, {locale: text}
    errors: dict[str, list[str]] = field(default_factory=dict)  # field name ("" = general)
    secret_stored: set[str] = field(default_factory=set)


class TenantAdmin(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [require_role("admin")]

    @get("/plugins", name="admin.plugins")
    async def plugins_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        done = request.query_params.get("done")
        shown = request.query_params.get("plugin")
        notice = None
        if done in ("saved", "unchanged") and shown in plugins.infos:
            name = gettext(locale, plugins.info(shown).name)
            notice = {"kind": done, "plugin": name, "id": shown}
        forms = await _forms(db, plugins, tenant, locale)
        return Template("admin/plugins.html", context={"forms": forms, "notice": notice})

    @post("/plugins/{plugin_id:str}", name="admin.save_plugin")
    async def save_plugin(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        plugins: NamedDependency[PluginHost],
        current_user: NamedDependency[CurrentUser | None],
        plugin_id: FromPath[str],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        if plugin_id not in plugins.infos:
            raise NotFoundException()
        info = plugins.info(plugin_id)
        locale = request_context(request).locale
        form = await request.form()
        enabled = form.get("enabled") == "true"
        fields = settings_fields(info, locale)
        change: str | None = None
        async with db.tenant_session(tenant.id) as session, session.begin():
            row = (await plugin_rows(session)).get(plugin_id)
            stored = dict(row.settings or {}) if row else {}
            raw, errors = collect_settings(fields, form, stored, tenant.locales)
            if enabled and not errors:
                errors = check_settings(info, raw, locale)
            if not errors:
                try:
                    change = await _apply(session, plugins, plugin_id, row, enabled, raw)
                except PluginSettingsError as exc:  # the check above should catch these
                    errors = {name.split(".")[0]: [message] for name, message in exc.problems}
            if not errors and change:
                actor = current_user.id if current_user else None
                details = {"plugin": plugin_id, "change": change}
                audit.record(
                    session, PLUGIN_CHANGED, actor, details, ClientInfo.from_request(request).ip
                )
        if errors:
            forms = await _forms(db, plugins, tenant, locale)
            for index, one in enumerate(forms):
                if one.info.id == plugin_id:
                    forms[index] = PluginForm(
                        info, one.name, one.description, enabled, fields,
                        values_from_form(fields, form, tenant.locales), errors,
                        set(stored) & {f.name for f in fields if f.kind == "secret"},
                    )  # fmt: skip
            return Template(
                "admin/plugins.html",
                context={"forms": forms, "notice": None, "failed": plugin_id},
                status_code=422,
            )
        # This process shows the change at once; the others within their cache's TTL.
        request.app.state.resolver.invalidate()
        return Redirect(
            path="/admin/plugins",
            query_params={"done": "saved" if change else "unchanged", "plugin": plugin_id},
            status_code=303,
        )

    @get("/audit", name="admin.audit")
    async def audit_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        page = _page_number(request.query_params.get("page"))
        async with db.tenant_session(tenant.id) as session:
            entries = list(
                await audit.recent_entries(
                    session, AUDIT_PAGE_SIZE + 1, offset=(page - 1) * AUDIT_PAGE_SIZE
                )
            )
        has_next = len(entries) > AUDIT_PAGE_SIZE
        entries = entries[:AUDIT_PAGE_SIZE]
        actors = await _actor_names({e.actor_user_id for e in entries if e.actor_user_id}, db)
        rows = [
            {
                "when": _when(e.created_at, locale),
                "when_iso": aware(e.created_at).isoformat(),
                "who": actors.get(e.actor_user_id) if e.actor_user_id else None,
                "action": e.action,
                "details": _details(e.details),
                "ip": e.ip or "",
            }
            for e in entries
        ]
        return Template(
            "admin/audit.html",
            context={"entries": rows, "page": page, "has_next": has_next},
        )


async def _apply(
    session: Any,
    plugins: PluginHost,
    plugin_id: str,
    row: TenantPlugin | None,
    enabled: bool,
    raw: dict[str, Any],
) -> str | None:
    if enabled:
        return await set_plugin_state(session, plugins, plugin_id, enabled=True, settings=raw)
    if row is None or not row.enabled:
        return None  # never enabled, or disabled already: nothing to do
    # Disabling keeps the stored settings (valid ones) for when it is enabled again.
    return await set_plugin_state(session, plugins, plugin_id, enabled=False, settings=None)


# --- settings schema → form fields --------------------------------------------------------


def settings_fields(info: PluginInfo, locale: str) -> list[SettingField]:
    schema = info.settings_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind, resolved, nullable = _kind(prop, schema)
        fields.append(
            SettingField(
                name=name,
                kind=kind,
                # Plugins describe their settings in English; a catalogue may translate them.
                label=gettext(locale, prop.get("title") or name),
                description=gettext(locale, prop.get("description", ""))
                if prop.get("description")
                else "",
                required=name in required and not nullable,
                choices=[str(choice) for choice in resolved.get("enum", [])],
                default=prop.get("default"),
            )
        )
    return fields


def _kind(prop: dict[str, Any], root: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """The control for a property, the property with ``$ref``/``anyOf`` resolved, and
    whether it may be left empty (``X | None``)."""
    resolved = _deref(prop, root)
    nullable = False
    if "anyOf" in resolved:
        options = [_deref(option, root) for option in resolved["anyOf"]]
        others = [option for option in options if option.get("type") != "null"]
        nullable = len(others) < len(options)
        if len(others) != 1:
            return "json", resolved, nullable
        resolved = {**{k: v for k, v in resolved.items() if k != "anyOf"}, **others[0]}
    kind = resolved.get("type")
    if "enum" in resolved:
        return "choice", resolved, nullable
    if kind == "string":
        if resolved.get("writeOnly") or resolved.get("format") == "password":
            return "secret", resolved, nullable
        return ("url" if resolved.get("format") == "uri" else "text"), resolved, nullable
    if kind in ("boolean", "integer", "number"):
        return kind, resolved, nullable
    if kind == "array" and _deref(resolved.get("items", {}), root).get("type") == "string":
        return "lines", resolved, nullable
    additional = resolved.get("additionalProperties")
    per_key_text = isinstance(additional, dict) and additional.get("type") == "string"
    if kind == "object" and per_key_text and not resolved.get("properties"):
        return "translated", resolved, nullable
    return "json", resolved, nullable


def _deref(prop: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}), **{
            k: v for k, v in prop.items() if k != "$ref"
        }}  # fmt: skip
    return prop


# --- form ↔ settings ----------------------------------------------------------------------


def _key(setting: SettingField, locale: str | None = None) -> str:
    return f"setting-{setting.name}" + (f"-{locale}" if locale else "")


def collect_settings(
    fields: list[SettingField],
    form: FormMultiDict,
    stored: dict[str, Any],
    locales: tuple[str, ...],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The settings the form asks for (before validation), and problems found on the way.

    An empty optional field is left out, so that the plugin's default applies.
    """
    raw: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for setting in fields:
        name, text = setting.name, _text(form, _key(setting))
        if setting.kind == "boolean":
            raw[name] = form.get(_key(setting)) == "true"
        elif setting.kind == "translated":
            # Texts in languages this tenant no longer offers are kept, not lost.
            kept = stored.get(name) if isinstance(stored.get(name), dict) else {}
            texts = {k: v for k, v in kept.items() if k not in locales}
            texts |= {loc: t for loc in locales if (t := _text(form, _key(setting, loc)))}
            if texts or setting.required:
                raw[name] = texts
        elif setting.kind == "lines":
            items = [line.strip() for line in text.splitlines() if line.strip()]
            if items or setting.required:
                raw[name] = items
        elif setting.kind == "secret":
            # Never shown back: an empty field keeps what is stored.
            if text:
                raw[name] = text
            elif name in stored:
                raw[name] = stored[name]
            elif setting.required:
                raw[name] = ""
        elif setting.kind == "json":
            if text:
                try:
                    raw[name] = json.loads(text)
                except ValueError:
                    errors[name] = [INVALID_JSON]
            elif setting.required:
                raw[name] = None
        elif text or setting.required:
            raw[name] = text
    return raw, errors


def check_settings(info: PluginInfo, raw: dict[str, Any], locale: str) -> dict[str, list[str]]:
    """Problems per field, in the visitor's language; empty when the settings are valid."""
    try:
        info.settings.model_validate(raw)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            message = _message(error, locale)
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
        return errors
    return {}


def _message(error: Any, locale: str) -> str:
    template = ERROR_MESSAGES.get(error["type"])
    if template is not None:
        values = {
            k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | float | str)
        }
        try:
            return gettext(locale, template, **values) if values else gettext(locale, template)
        except (KeyError, ValueError, TypeError):
            pass
    # The plugin's own message (a validator's): translated if a catalogue knows it.
    reason = gettext(locale, str(error["msg"]).removeprefix("Value error, "))
    return gettext(locale, INVALID_VALUE, reason=reason)


def values_from_settings(fields: list[SettingField], settings: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in fields:
        value = settings.get(setting.name, setting.default)
        if setting.kind == "boolean":
            values[setting.name] = bool(value)
        elif setting.kind == "translated":
            values[setting.name] = dict(value) if isinstance(value, dict) else {}
        elif setting.kind == "lines":
            values[setting.name] = "\n".join(str(v) for v in value or [])
        elif setting.kind == "secret":
            values[setting.name] = ""
        elif setting.kind == "json":
            values[setting.name] = "" if value is None else json.dumps(value, ensure_ascii=False)
        else:
            values[setting.name] = "" if value is None else str(value)
    return values


def values_from_form(
    fields: list[SettingField], form: FormMultiDict, locales: tuple[str, ...]
) -> dict[str, Any]:
    """What the visitor typed, to show again next to the errors (secrets excepted)."""
    values: dict[str, Any] = {}
    for setting in fields:
        if setting.kind == "boolean":
            values[setting.name] = form.get(_key(setting)) == "true"
        elif setting.kind == "translated":
            values[setting.name] = {loc: _text(form, _key(setting, loc)) for loc in locales}
        elif setting.kind == "secret":
            values[setting.name] = ""
        else:
            values[setting.name] = _text(form, _key(setting))
    return values


async def _forms(
    db: Database, plugins: PluginHost, tenant: TenantSnapshot, locale: str
) -> list[PluginForm]:
    async with db.tenant_session(tenant.id) as session:
        rows = await plugin_rows(session)
    forms = []
    for plugin_id, info in plugins.infos.items():
        row = rows.get(plugin_id)
        stored = dict(row.settings or {}) if row else {}
        fields = settings_fields(info, locale)
        secrets = {f.name for f in fields if f.kind == "secret" and stored.get(f.name)}
        forms.append(
            PluginForm(
                info=info,
                # Plugins name and describe themselves in English; a catalogue may translate.
                name=gettext(locale, info.name),
                description=gettext(locale, info.description),
                enabled=bool(row and row.enabled),
                fields=fields,
                values=values_from_settings(fields, stored),
                secret_stored=secrets,
            )
        )
    return sorted(forms, key=lambda form: form.name.casefold())


# --- the audit log ------------------------------------------------------------------------


def _page_number(raw: str | None) -> int:
    """The requested page; anything that is not a sensible page number means the first."""
    if raw is None or not raw.isdigit() or len(raw) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


async def _actor_names(ids: set[uuid.UUID], db: Database) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    async with db.platform_session() as platform:
        users = await platform.scalars(select(User).where(User.id.in_(ids)))
        return {u.id: u.display_name or u.email or str(u.id) for u in users}


def _details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    def show(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "[]"
        return str(value)

    return [(str(key), show(value)) for key, value in sorted((details or {}).items())]


def _when(value: datetime, locale: str) -> str:
    return f"{format_datetime(aware(value).astimezone(UTC), 'medium', locale=locale)} UTC"
