"""The declarative ``tenants/<slug>.toml`` files: schema and loading.

Every problem is reported with the file and the field it concerns, and a directory
is accepted only when every file in it is valid.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from core.identity.models import EMAIL_LOGIN_PROVIDER, email_login_subject, normalise_roles
from core.identity.oidc import issuer_problem
from core.identity.providers import ENV_NAME_PATTERN, MAX_ENV_NAME_LENGTH, PROVIDER_ID_PATTERN
from core.mail.compose import MailError, check_address
from core.tenancy.hosts import RESERVED_SLUGS, SLUG_PATTERN, normalise_host

_ENV_NAME = ENV_NAME_PATTERN
INLINE_SECRET_MESSAGE = (
    "secrets are never written into tenant files: "
    "name an environment variable in client_secret_env instead"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentityProviderFile(_Strict):
    id: str = Field(pattern=PROVIDER_ID_PATTERN.pattern)
    name: str = Field(min_length=1, max_length=200)
    issuer: str = Field(max_length=500)
    client_id: str = Field(min_length=1, max_length=255)
    client_secret_env: str = Field(
        max_length=MAX_ENV_NAME_LENGTH,
        description="Name of the environment variable that holds the client secret.",
    )
    scopes: list[str] = ["openid", "email", "profile"]
    # Declared only to reject it with a useful message: "extra inputs are not
    # permitted" would not tell the author where the secret belongs instead.
    client_secret: SkipJsonSchema[Any] = Field(default=None, exclude=True, repr=False)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == EMAIL_LOGIN_PROVIDER:
            raise ValueError(
                f"'{value}' is reserved: [[members]] use it for sign-in by e-mail link"
            )
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        # The same rule the sign-in itself applies (and the admin page).
        problem = issuer_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("client_secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable, like TANDEM_X_SECRET")
        return value

    @field_validator("client_secret")
    @classmethod
    def _no_inline_secret(cls, _value: object) -> None:
        raise ValueError(INLINE_SECRET_MESSAGE)


class MemberFile(_Strict):
    """``[[members]]``: a person who may sign in from the start (demo data, first admins).

    Linked, like every account, by the provider's issuer and ``subject``; ``name``
    and ``email`` only describe them until their first sign-in refreshes both.
    ``provider = "email"`` is someone without an account at any provider, who signs
    in with a link sent to ``subject``, their e-mail address (the ``email_login``
    plugin); the address is stored lower-cased.
    """

    provider: str = Field(description="The id of one of this file's identity_providers, or email.")
    subject: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(min_length=1)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("roles")
    @classmethod
    def _roles(cls, values: list[str]) -> list[str]:
        return normalise_roles(values)

    @model_validator(mode="after")
    def _email_login_address(self) -> MemberFile:
        if self.provider != EMAIL_LOGIN_PROVIDER:
            return self
        try:
            check_address(self.subject)
        except MailError:
            raise ValueError(
                'with provider = "email" the subject must be an e-mail address '
                "like name@example.org"
            ) from None
        self.subject = email_login_subject(self.subject)
        if self.email is None:
            self.email = self.subject
        return self


class SessionsFile(_Strict):
    """``[sessions]``: this tenant's login-session timeouts, within the platform's limits."""

    idle_minutes: int | None = Field(default=None, ge=5, le=240)
    absolute_hours: int | None = Field(default=None, ge=1, le=24)


class PluginFile(BaseModel):
    """``[plugins.<id>]``: ``enabled`` plus the plugin's own settings."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = True

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TenantFile(_Strict):
    slug: str
    name: str = Field(min_length=1, max_length=200)
    status: Literal["active", "suspended"] = "active"
    # ``locales`` comes before ``default_locale`` so that the latter's validator can
    # check it against them and report the problem under its own field name.
    locales: list[str] = Field(min_length=1)
    default_locale: str
    theme: str = "default"
    domains: list[str] = []
    plugins: dict[str, PluginFile] = {}
    identity_providers: list[IdentityProviderFile] = []
    members: list[MemberFile] = []
    sessions: SessionsFile = SessionsFile()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError("lower-case letters, digits and hyphens, at most 63 characters")
        if value in RESERVED_SLUGS:
            raise ValueError(f"'{value}' is reserved for the platform")
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str, info: ValidationInfo) -> str:
        _check_locale(value)
        locales = info.data.get("locales")
        if locales is not None and value not in locales:
            raise ValueError(f"'{value}' must be one of locales ({', '.join(locales)})")
        return value

    @field_validator("locales")
    @classmethod
    def _locales(cls, values: list[str]) -> list[str]:
        return [_check_locale(v) for v in values]

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        normalised = []
        for value in values:
            host = normalise_host(value)
            if host is None or "." not in host or ":" in value:
                raise ValueError(f"'{value}' is not a domain name (no scheme, port or path)")
            if host in normalised:
                raise ValueError(f"'{value}' is listed twice")
            normalised.append(host)
        return normalised

    @field_validator("identity_providers")
    @classmethod
    def _unique_providers(cls, values: list[IdentityProviderFile]) -> list[IdentityProviderFile]:
        ids = [p.id for p in values]
        if len(ids) != len(set(ids)):
            raise ValueError("each id may appear only once")
        return values


def _check_locale(value: str) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"'{value}' is not a known locale") from None
    return value


@dataclass(frozen=True)
class FileProblem:
    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.field}: {self.message}"


class TenantFilesError(ValueError):
    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_tenant_files(directory: Path) -> dict[Path, TenantFile]:
    """Parse every ``*.toml`` in ``directory``; raise TenantFilesError listing all problems."""
    problems: list[FileProblem] = []
    files: dict[Path, TenantFile] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(FileProblem(path, "(file)", f"not valid TOML: {exc}"))
            continue
        try:
            tenant = TenantFile.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"]) or "(file)"
                message = error["msg"].removeprefix("Value error, ")
                problems.append(FileProblem(path, field, message))
            continue
        if tenant.slug != path.stem:
            problems.append(
                FileProblem(path, "slug", f"'{tenant.slug}' must match the file name '{path.stem}'")
            )
            continue
        member_problems = _member_problems(path, tenant)
        if member_problems:
            problems.extend(member_problems)
            continue
        files[path] = tenant
    problems.extend(_cross_file_problems(files))
    if problems:
        raise TenantFilesError(problems)
    return files


def _member_problems(path: Path, tenant: TenantFile) -> list[FileProblem]:
    """Members must name a provider of the same file, and each person only once."""
    problems = []
    providers = [p.id for p in tenant.identity_providers]
    seen: set[tuple[str, str]] = set()
    for index, member in enumerate(tenant.members):
        if member.provider not in providers and member.provider != EMAIL_LOGIN_PROVIDER:
            have = ", ".join(providers) or "none"
            problems.append(
                FileProblem(
                    path,
                    f"members.{index}.provider",
                    f"no identity provider '{member.provider}' in this file (have: {have})",
                )
            )
        key = (member.provider, member.subject)
        if key in seen:
            problems.append(
                FileProblem(path, f"members.{index}.subject", "this person is listed twice")
            )
        seen.add(key)
    return problems


def _cross_file_problems(files: dict[Path, TenantFile]) -> list[FileProblem]:
    problems = []
    owner: dict[str, Path] = {}
    for path, tenant in files.items():
        for index, domain in enumerate(tenant.domains):
            if domain in owner:
                problems.append(
                    FileProblem(
                        path,
                        f"domains.{index}",
                        f"'{domain}' is already used by {owner[domain].name}",
                    )
                )
            owner[domain] = path
    return problems
