"""``/admin/identity-providers``: a tenant's coordinators manage the services people sign in with.

* The list shows every provider with where its client secret comes from ("environment
  variable X" or "stored encrypted") and never the secret, not even its length.
  Providers from the tenant's file are read-only here ("managed in the tenant file");
  ``tandem tenants sync`` owns them.
* Adding and editing take the provider id (fixed once created: it is part of the
  callback URL registered at the provider), display name, issuer, client id, scopes
  and the secret: pasted (a write-only password field, stored encrypted, kept when
  left empty on edit) or an environment variable in this tenant's namespace (see
  :mod:`core.identity.providers` for why). Problems are shown next to their field and
  nothing is stored.
* "Check" fetches the issuer's discovery document afresh through the app's
  relying party and says, readably, whether sign-in can work.

Every change is audited (without the secret) and applies to ``/login`` at once: the
sign-in pages read the providers from the database on each request.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.crypto import Keyring
from core.db.sessions import Database
from core.i18n.catalogs import gettext
from core.identity import audit
from core.identity.guards import CurrentUser, require_role
from core.identity.models import EMAIL_LOGIN_PROVIDER, IdentityProvider
from core.identity.oidc import (
    DEFAULT_SCOPES,
    ErrorCode,
    OIDCError,
    RelyingParty,
    config_from_record,
    issuer_problem,
)
from core.identity.providers import (
    ENV_NAME_PATTERN,
    MAX_ENV_NAME_LENGTH,
    PROVIDER_ID_PATTERN,
    SOURCE_ADMIN,
    SOURCE_FILE,
    encrypt_client_secret,
    env_name_owner,
    env_prefix,
)
from core.identity.sessions import ClientInfo
from core.settings import Settings
from core.tenancy.models import Tenant
from core.tenancy.snapshot import TenantSnapshot
from core.web.controllers.login import callback_uri
from core.web.errors import N_
from core.web.forms import form_text
from core.web.sites import current_tenant, request_context

PATH = "/admin/identity-providers"
ADDED = "identity_provider_added"  # audit actions
CHANGED = "identity_provider_changed"
REMOVED = "identity_provider_removed"
MAX_NAME_LENGTH = 200
MAX_ISSUER_LENGTH = 500
MAX_CLIENT_ID_LENGTH = 255
MAX_SECRET_LENGTH = 1000
MAX_SCOPES = 20
MAX_SCOPES_LENGTH = 1000
# RFC 6749 §3.3: a scope token is printable ASCII without space, '"' and '\'.
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")
SOURCE_STORED = "stored"
SOURCE_ENV = "env"

ID_INVALID = N_(
    "Use lower-case letters, digits and hyphens, starting with a letter or digit "
    "(at most 63 characters)."
)
ID_TAKEN = N_("Another sign-in service of this programme already has this id.")
ID_RESERVED = N_("This id is reserved for sign-in by e-mail link; choose another.")
NAME_MISSING = N_("Enter the name people see on the sign-in button.")
TOO_LONG = N_("Use at most %(max_length)s characters.")
ONE_LINE = N_("Use one line without control characters.")
ISSUER_INVALID = N_(
    "Enter the sign-in service's issuer address, starting with https://, "
    "such as https://login.example.org/realms/city."
)
CLIENT_ID_MISSING = N_("Enter the client id the sign-in service gave this programme.")
SCOPES_INVALID = N_("Enter scopes separated by spaces, such as: openid email profile.")
SOURCE_MISSING = N_("Choose where the client secret comes from.")
SECRET_MISSING = N_("Paste the client secret.")
SECRET_NOT_WANTED = N_("Leave this empty when the secret comes from an environment variable.")
NO_KEYS = N_(
    "Secrets cannot be stored on this platform yet: it has no encryption keys. "
    "Use an environment variable, or ask the platform's operators."
)
ENV_INVALID = N_(
    "Enter the name of an environment variable that starts with %(prefix)s, in capital "
    "letters, digits and underscores."
)
ENV_FILE_PROVIDER = N_(
    "This variable holds the secret of a sign-in service managed in the tenant file; "
    "choose another name."
)
CONFIRM_MISSING = N_("Tick the box to confirm.")
# What a failed discovery check tells the coordinator, by the reason it failed.
CHECK_FAILED = {
    ErrorCode.WRONG_ISSUER: N_(
        "The service at %(issuer)s calls itself by another issuer address. "
        "Copy the issuer exactly as the service states it."
    ),
    ErrorCode.MISCONFIGURED: N_("The issuer address %(issuer)s cannot be used."),
}
CHECK_UNREACHABLE = N_(
    "No valid discovery document could be fetched from %(issuer)s. Check the address, "
    "and that the service is reachable."
)
SECRET_UNAVAILABLE = N_(
    "The discovery document of %(issuer)s is valid, but this server cannot read the "
    "client secret, so sign-in fails until it can."
)
CHECK_PASSED = N_(
    "“%(name)s” answered: its discovery document is valid, and people will be sent to "
    "%(url)s to sign in."
)
NOTICES = {
    "added": N_("“%(name)s” was added. People can sign in with it now."),
    "saved": N_("The changes to “%(name)s” are in effect."),
    "deleted": N_("“%(name)s” was deleted. Nobody can sign in with it any more."),
}
FILE_MANAGED = N_(
    "“%(name)s” is managed in the tenant file; the platform's operators change it there."
)


# --- the form ---------------------------------------------------------------------------


@dataclass
class ProviderForm:
    """What the add or edit form shows; never a secret."""

    provider_id: str = ""
    name: str = ""
    issuer: str = ""
    client_id: str = ""
    scopes: str = " ".join(DEFAULT_SCOPES)
    secret_source: str = SOURCE_STORED
    secret_env: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedProvider:
    """A valid submission: what to store (the secret still in plain text, or None to keep)."""

    provider_id: str
    name: str
    issuer: str
    client_id: str
    scopes: list[str]
    secret_env: str | None
    secret: str | None


@dataclass
class FormRules:
    """What a submission is checked against, besides its own fields."""

    locale: str
    tenant: TenantSnapshot
    production: bool
    keyring: Keyring
    taken_ids: set[str]
    file_env_names: set[str]
    tenant_slugs: list[str]
    editing: IdentityProvider | None = None


def _one_line(value: str) -> bool:
    return value.isprintable()


def read_form(form: Any, rules: FormRules) -> tuple[ProviderForm, ParsedProvider | None]:
    """The form as typed (to show again) and, when valid, what to store."""
    locale = rules.locale
    editing = rules.editing

    def text(key: str, max_length: int) -> str:
        # One more than allowed, so that "too long" is reported rather than cut silently.
        return form_text(form, key, max_length + 1)

    shown = ProviderForm(
        provider_id=editing.provider_id if editing else text("provider_id", 63),
        name=text("name", MAX_NAME_LENGTH),
        issuer=text("issuer", MAX_ISSUER_LENGTH),
        client_id=text("client_id", MAX_CLIENT_ID_LENGTH),
        scopes=text("scopes", MAX_SCOPES_LENGTH),
        secret_source=text("secret_source", 10),
        secret_env=text("secret_env", MAX_ENV_NAME_LENGTH),
    )
    secret = text("client_secret", MAX_SECRET_LENGTH)
    errors: dict[str, str] = {}

    def fail(key: str, message: str, **values: object) -> None:
        errors.setdefault(key, gettext(locale, message, **values))

    if editing is None:
        if not PROVIDER_ID_PATTERN.match(shown.provider_id):
            fail("provider_id", ID_INVALID)
        elif shown.provider_id == EMAIL_LOGIN_PROVIDER:
            fail("provider_id", ID_RESERVED)
        elif shown.provider_id in rules.taken_ids:
            fail("provider_id", ID_TAKEN)
    _check_text(shown.name, MAX_NAME_LENGTH, NAME_MISSING, "name", fail)
    _check_text(shown.client_id, MAX_CLIENT_ID_LENGTH, CLIENT_ID_MISSING, "client_id", fail)
    if len(shown.issuer) > MAX_ISSUER_LENGTH:
        fail("issuer", TOO_LONG, max_length=MAX_ISSUER_LENGTH)
    elif issuer_problem(shown.issuer) or (
        rules.production and urlsplit(shown.issuer).scheme != "https"
    ):
        fail("issuer", ISSUER_INVALID)
    scopes = shown.scopes.split()
    too_many = len(shown.scopes) > MAX_SCOPES_LENGTH or len(scopes) > MAX_SCOPES
    if too_many or not all(SCOPE_TOKEN.match(scope) for scope in scopes):
        fail("scopes", SCOPES_INVALID)
    secret_env = _check_secret(shown, secret, rules, fail)
    shown.errors = errors
    if errors:
        return shown, None
    return shown, ParsedProvider(
        provider_id=shown.provider_id,
        name=shown.name,
        issuer=shown.issuer,
        client_id=shown.client_id,
        # openid is always asked for (ProviderConfig adds it); keep the order given.
        scopes=list(dict.fromkeys(scopes)) or list(DEFAULT_SCOPES),
        secret_env=secret_env,
        secret=secret or None,
    )


def _check_text(value: str, max_length: int, missing: str, key: str, fail: Any) -> None:
    if not value:
        fail(key, missing)
    elif len(value) > max_length:
        fail(key, TOO_LONG, max_length=max_length)
    elif not _one_line(value):
        fail(key, ONE_LINE)


def _check_secret(shown: ProviderForm, secret: str, rules: FormRules, fail: Any) -> str | None:
    """The variable's name when the secret comes from one; problems go to ``fail``."""
    if shown.secret_source == SOURCE_ENV:
        prefix = env_prefix(rules.tenant.slug)
        name = shown.secret_env
        if secret:
            fail("client_secret", SECRET_NOT_WANTED)
        if (
            len(name) > MAX_ENV_NAME_LENGTH
            or not ENV_NAME_PATTERN.match(name)
            or len(name) <= len(prefix)
            or env_name_owner(name, rules.tenant_slugs) != rules.tenant.slug
        ):
            fail("secret_env", ENV_INVALID, prefix=prefix)
        elif name in rules.file_env_names:
            fail("secret_env", ENV_FILE_PROVIDER)
        return name
    if shown.secret_source != SOURCE_STORED:
        fail("secret_source", SOURCE_MISSING)
        return None
    shown.secret_env = ""
    if len(secret) > MAX_SECRET_LENGTH:
        fail("client_secret", TOO_LONG, max_length=MAX_SECRET_LENGTH)
    elif not secret and not (rules.editing and rules.editing.client_secret_encrypted):
        fail("client_secret", SECRET_MISSING)
    elif secret and not rules.keyring.configured:
        fail("client_secret", NO_KEYS)
    return None


# --- what the pages show ----------------------------------------------------------------


def _form_from_row(row: IdentityProvider) -> ProviderForm:
    stored = row.client_secret_encrypted is not None
    return ProviderForm(
        provider_id=row.provider_id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        scopes=" ".join(row.scopes or DEFAULT_SCOPES),
        secret_source=SOURCE_STORED if stored else SOURCE_ENV,
        secret_env=row.client_secret_env or "",
    )


def _listed(row: IdentityProvider) -> dict[str, Any]:
    env = row.client_secret_env
    return {
        "id": str(row.id),
        "provider_id": row.provider_id,
        "name": row.name,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "scopes": " ".join(row.scopes or DEFAULT_SCOPES),
        "from_file": row.source == SOURCE_FILE,
        "secret_env": env,
        # Only whether this web process has it: the value itself is never shown.
        "env_missing": bool(env) and not os.environ.get(env or ""),
    }


def _secret_description(row: IdentityProvider) -> str:
    """Where the secret comes from, for the audit log (never the secret)."""
    if row.client_secret_env:
        return f"environment variable {row.client_secret_env}"
    return "stored encrypted"


async def _rows(db: Database, tenant: TenantSnapshot) -> list[IdentityProvider]:
    async with db.tenant_session(tenant.id) as session:
        query = select(IdentityProvider).order_by(IdentityProvider.name, IdentityProvider.id)
        return list(await session.scalars(query))


async def _row(db: Database, tenant: TenantSnapshot, row_id: uuid.UUID) -> IdentityProvider:
    async with db.tenant_session(tenant.id) as session:
        # Another tenant's provider is simply not found through this tenant's session.
        row = await session.get(IdentityProvider, row_id)
    if row is None:
        raise NotFoundException()
    return row


async def _list_page(
    request: Request[Any, Any, Any],
    db: Database,
    tenant: TenantSnapshot,
    *,
    form: ProviderForm | None = None,
    notice: str | None = None,
    check: dict[str, Any] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Template:
    rows = await _rows(db, tenant)
    return Template(
        "admin/identity_providers.html",
        context={
            "providers": [_listed(row) for row in rows],
            "form": form or ProviderForm(),
            "env_prefix": env_prefix(tenant.slug),
            "callback_example": callback_uri(request, "ID"),
            "notice": notice,
            "check": check,
            "problem": problem,
        },
        status_code=status_code,
    )


def _edit_page(
    request: Request[Any, Any, Any],
    row: IdentityProvider,
    tenant: TenantSnapshot,
    form: ProviderForm,
    *,
    confirm_error: str | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        "admin/identity_provider_edit.html",
        context={
            "provider": _listed(row),
            "form": form,
            "has_stored_secret": row.client_secret_encrypted is not None,
            "callback_url": callback_uri(request, row.provider_id),
            "env_prefix": env_prefix(tenant.slug),
            "confirm_error": confirm_error,
        },
        status_code=status_code,
    )


# --- the controller ---------------------------------------------------------------------


def _settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def _rules(
    request: Request[Any, Any, Any], db: Database, editing: IdentityProvider | None = None
) -> FormRules:
    tenant = current_tenant(request)
    settings = _settings(request)
    rows = await _rows(db, tenant)
    async with db.platform_session() as platform:
        slugs = list(await platform.scalars(select(Tenant.slug)))
    return FormRules(
        locale=request_context(request).locale,
        tenant=tenant,
        production=settings.env == "production",
        keyring=Keyring.from_settings(settings),
        taken_ids={row.provider_id for row in rows},
        file_env_names={
            row.client_secret_env
            for row in rows
            if row.source == SOURCE_FILE and row.client_secret_env
        },
        tenant_slugs=slugs,
        editing=editing,
    )


def _audit(
    request: Request[Any, Any, Any],
    session: Any,
    action: str,
    actor: CurrentUser | None,
    details: dict[str, Any],
) -> None:
    ip = ClientInfo.from_request(request).ip
    audit.record(session, action, actor.id if actor else None, details, ip)


def _notice_redirect(kind: str, provider_id: str) -> Redirect:
    return Redirect(
        path=PATH, query_params={"done": kind, "provider": provider_id}, status_code=303
    )


class TenantIdentityProviders(Controller):
    path = PATH
    include_in_schema = False
    guards = [require_role("admin")]

    @get("", name="admin.identity_providers")
    async def list_page(
        self, request: Request[Any, Any, Any], db: NamedDependency[Database]
    ) -> Template:
        tenant = current_tenant(request)
        locale = request_context(request).locale
        done, shown = request.query_params.get("done"), request.query_params.get("provider")
        notice = None
        if done in NOTICES and shown and PROVIDER_ID_PATTERN.match(shown):
            names = {row.provider_id: row.name for row in await _rows(db, tenant)}
            # A deleted provider's name is gone: its id stands in.
            notice = gettext(locale, NOTICES[done], name=names.get(shown, shown)[:200])
        return await _list_page(request, db, tenant, notice=notice)

    @post("", name="admin.add_identity_provider")
    async def add(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        rules = await _rules(request, db)
        form, parsed = read_form(await request.form(), rules)
        if parsed is None:
            return await _list_page(request, db, tenant, form=form, status_code=422)
        row = IdentityProvider(
            tenant_id=tenant.id,
            provider_id=parsed.provider_id,
            name=parsed.name,
            issuer=parsed.issuer,
            client_id=parsed.client_id,
            scopes=parsed.scopes,
            source=SOURCE_ADMIN,
        )
        _set_secret(row, parsed, rules.keyring)
        details = {
            "provider": row.provider_id,
            "name": row.name,
            "issuer": row.issuer,
            "client_id": row.client_id,
            "secret": _secret_description(row),
        }
        try:
            async with db.tenant_session(tenant.id) as session, session.begin():
                session.add(row)
                _audit(request, session, ADDED, current_user, details)
        except IntegrityError:
            # Someone added (or a sync created) the same id since the form was checked.
            form.errors = {"provider_id": gettext(rules.locale, ID_TAKEN)}
            return await _list_page(request, db, tenant, form=form, status_code=422)
        return _notice_redirect("added", row.provider_id)

    @get("/{row_id:uuid}", name="admin.identity_provider")
    async def edit_page(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        row_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        row = await _row(db, tenant, row_id)
        if row.source == SOURCE_FILE:
            return await _file_managed(request, db, row)
        return _edit_page(request, row, tenant, _form_from_row(row))

    @post("/{row_id:uuid}", name="admin.save_identity_provider")
    async def save(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        row_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        row = await _row(db, tenant, row_id)
        if row.source == SOURCE_FILE:
            return await _file_managed(request, db, row)
        rules = await _rules(request, db, editing=row)
        form, parsed = read_form(await request.form(), rules)
        if parsed is None:
            return _edit_page(request, row, tenant, form, status_code=422)
        async with db.tenant_session(tenant.id) as session, session.begin():
            stored = await session.get(IdentityProvider, row_id)
            if stored is None:  # deleted in the meantime
                raise NotFoundException()
            changed = _apply(stored, parsed, rules.keyring)
            if changed:
                details = {
                    "provider": stored.provider_id,
                    "changed": changed,
                    "secret": _secret_description(stored),
                }
                _audit(request, session, CHANGED, current_user, details)
        return _notice_redirect("saved", row.provider_id)

    @post("/{row_id:uuid}/delete", name="admin.delete_identity_provider")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        current_user: NamedDependency[CurrentUser | None],
        row_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        tenant = current_tenant(request)
        row = await _row(db, tenant, row_id)
        if row.source == SOURCE_FILE:
            return await _file_managed(request, db, row)
        form = await request.form()
        if form.get("confirm") != "yes":
            message = gettext(request_context(request).locale, CONFIRM_MISSING)
            return _edit_page(
                request, row, tenant, _form_from_row(row), confirm_error=message, status_code=422
            )
        async with db.tenant_session(tenant.id) as session, session.begin():
            stored = await session.get(IdentityProvider, row_id)
            if stored is None:
                raise NotFoundException()
            await session.delete(stored)
            details = {"provider": stored.provider_id, "name": stored.name}
            _audit(request, session, REMOVED, current_user, details)
        return _notice_redirect("deleted", row.provider_id)

    @post("/{row_id:uuid}/check", name="admin.check_identity_provider")
    async def check(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Database],
        row_id: FromPath[uuid.UUID],
    ) -> Template:
        tenant = current_tenant(request)
        row = await _row(db, tenant, row_id)
        locale = request_context(request).locale
        relying_party: RelyingParty = request.app.state.relying_party
        try:
            metadata = await relying_party.discover(row.issuer, refresh=True)
        except OIDCError as error:
            message = CHECK_FAILED.get(error.code, CHECK_UNREACHABLE)
            result = {"ok": False, "message": gettext(locale, message, issuer=row.issuer)}
        else:
            url = metadata.authorization_endpoint
            result = {"ok": True, "message": gettext(locale, CHECK_PASSED, name=row.name, url=url)}
            try:
                config_from_record(row, keyring=Keyring.from_settings(_settings(request)))
            except OIDCError:
                message = gettext(locale, SECRET_UNAVAILABLE, issuer=row.issuer)
                result = {"ok": False, "message": message}
        return await _list_page(request, db, tenant, check={"provider": row.provider_id, **result})


async def _file_managed(
    request: Request[Any, Any, Any], db: Database, row: IdentityProvider
) -> Template:
    """The list, saying why a provider from the tenant file cannot be changed here."""
    message = gettext(request_context(request).locale, FILE_MANAGED, name=row.name)
    return await _list_page(request, db, current_tenant(request), problem=message, status_code=409)


def _set_secret(row: IdentityProvider, parsed: ParsedProvider, keyring: Keyring) -> None:
    if parsed.secret_env is not None:
        row.use_secret_env(parsed.secret_env)
    elif parsed.secret is not None:
        # The form checked that keys exist; EncryptionKeysMissing here would be a bug.
        row.use_encrypted_secret(
            encrypt_client_secret(keyring, row.tenant_id, row.provider_id, parsed.secret)
        )


def _apply(row: IdentityProvider, parsed: ParsedProvider, keyring: Keyring) -> list[str]:
    """Write ``parsed`` into ``row``; the names of the fields that changed."""
    changed = []
    for name in ("name", "issuer", "client_id", "scopes"):
        if getattr(row, name) != getattr(parsed, name):
            setattr(row, name, getattr(parsed, name))
            changed.append(name)
    before = (row.client_secret_env, row.client_secret_encrypted)
    if parsed.secret_env is not None or parsed.secret is not None:
        _set_secret(row, parsed, keyring)
    # A pasted secret always counts as a change: whether it equals the old one is not
    # worth decrypting to find out.
    if parsed.secret is not None or (row.client_secret_env, row.client_secret_encrypted) != before:
        changed.append("client_secret")
    return changed


__all__ = ["TenantIdentityProviders", "read_form"]
