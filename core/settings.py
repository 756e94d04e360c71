"""Process-wide settings, read from ``TANDEM_*`` environment variables.

Development defaults are safe to run on a laptop; ``TANDEM_ENV=production``
refuses to start with the development secret key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.tenancy.hosts import PlatformHost, classify_host, normalise_host

if TYPE_CHECKING:
    from core.identity.oidc import ProviderConfig

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    # Errors must not echo the input: it holds the secret key and the encryption keys.
    model_config = SettingsConfigDict(
        env_prefix="TANDEM_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    root: Path = ROOT
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL the application connects with (on PostgreSQL: a role "
        "that owns no table and has no BYPASSRLS). Default: SQLite under var/.",
    )
    migration_database_url: str = Field(
        default="",
        description="URL migrations run with: the owner of the tables. Default: database_url.",
    )
    app_db_role: str = Field(
        default="tandem_app",
        description="PostgreSQL role that migrations grant table privileges to.",
    )
    broker_url: str = Field(
        default="", description="redis:// or amqp:// URL; empty means an in-process worker."
    )
    base_domain: str = "localhost"
    secret_key: str = DEV_SECRET_KEY
    encryption_keys: str = Field(
        default="",
        repr=False,  # key material
        description="Comma-separated 'keyid:base64key' entries (32-byte keys) that encrypt "
        "stored secrets; the first encrypts, all decrypt. Empty: outside production a "
        "development key derived from secret_key; production refuses to encrypt.",
    )
    trust_forwarded_host: bool = False
    tenant_cache_seconds: float = Field(default=5.0, ge=0)
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    scheduler_poll_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often each web process and worker looks for due periodic jobs "
        "(core.jobs.schedule); 0 runs no scheduler loop (tandem jobs run-due still works).",
    )
    port: int = Field(default=8000, ge=1, le=65535)
    smtp_url: str = Field(
        default="",
        repr=False,  # may hold the SMTP password
        description="smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]. "
        "Empty: outside production mails are written to mail_dir; production sends none "
        "(they wait in the outbox).",
    )
    mail_from: str = Field(
        default="",
        description="Bare sender address; the tenant's name is its display name. "
        "Default: noreply@<base domain>.",
    )
    mail_dir: Path | None = Field(
        default=None,
        description="Where development writes mails without TANDEM_SMTP_URL. Default: var/mail.",
    )
    # Operators sign in on the platform host through this OpenID provider; unset,
    # the platform's /login says so (and development has /dev/login).
    operator_oidc_issuer: str = Field(
        default="", description="Issuer URL of the operators' OpenID provider (https)."
    )
    operator_oidc_client_id: str = ""
    operator_oidc_client_secret: SecretStr = Field(
        default=SecretStr(""), description="The platform's client secret at that provider."
    )
    operator_oidc_scopes: str = Field(
        default="", description="Space-separated scopes. Default: openid email profile."
    )
    operator_oidc_name: str = Field(
        default="", max_length=100, description="The provider's name on the sign-in page."
    )

    @model_validator(mode="after")
    def _defaults_and_production_checks(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.root / 'var' / 'tandem.db'}"
        if not self.migration_database_url:
            self.migration_database_url = self.database_url
        self.base_domain = self.base_domain.strip().lower().rstrip(".")
        if not _is_plain_host_name(self.base_domain):
            raise ValueError(
                f"TANDEM_BASE_DOMAIN must be a plain host name such as 'localhost' or "
                f"'tandem.example.org' (no scheme, port or path), not {self.base_domain!r}"
            )
        self._check_mail()
        self._check_operator_oidc()
        if self.encryption_keys.strip():
            from core.crypto import parse_keys  # ValueError names the bad entry

            parse_keys(self.encryption_keys)
        weak_key = self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < MIN_SECRET_KEY_LENGTH
        if self.env == "production" and weak_key:
            raise ValueError(
                "TANDEM_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    def _check_mail(self) -> None:
        # Imported here: core.mail imports these settings.
        from core.mail.compose import MailError, check_address
        from core.mail.smtp import parse_smtp_url

        if self.smtp_url.strip():
            parse_smtp_url(self.smtp_url)  # SmtpURLError (a ValueError) says what is wrong
        if not self.mail_from:
            self.mail_from = f"noreply@{self.base_domain}"
        try:
            self.mail_from = check_address(self.mail_from)
        except MailError as exc:
            raise ValueError(f"TANDEM_MAIL_FROM must be a bare e-mail address: {exc}") from None
        if self.mail_dir is None:
            self.mail_dir = self.root / "var" / "mail"

    def _check_operator_oidc(self) -> None:
        self.operator_oidc_issuer = self.operator_oidc_issuer.strip()
        self.operator_oidc_client_id = self.operator_oidc_client_id.strip()
        self.operator_oidc_name = self.operator_oidc_name.strip()
        secret = self.operator_oidc_client_secret.get_secret_value()
        given = {
            "TANDEM_OPERATOR_OIDC_ISSUER": self.operator_oidc_issuer,
            "TANDEM_OPERATOR_OIDC_CLIENT_ID": self.operator_oidc_client_id,
            "TANDEM_OPERATOR_OIDC_CLIENT_SECRET": secret,
        }
        missing = [name for name, value in given.items() if not value]
        if len(missing) == len(given):
            return  # not configured: operators have no way in but /dev/login
        if missing:
            raise ValueError(
                f"operator sign-in needs all three of {', '.join(given)}; "
                f"not set: {', '.join(missing)}"
            )
        if self.env == "production" and not self.operator_oidc_issuer.startswith("https://"):
            raise ValueError("TANDEM_OPERATOR_OIDC_ISSUER must be an https:// URL in production")
        try:
            self.operator_provider()
        except ValueError as exc:
            # The secret is never part of the message (ProviderConfig hides it).
            raise ValueError(f"TANDEM_OPERATOR_OIDC_*: {exc}") from None

    @property
    def operator_sign_in_configured(self) -> bool:
        return bool(self.operator_oidc_issuer)

    def operator_provider(self) -> ProviderConfig | None:
        """The operators' OpenID provider, or None when operator sign-in is not configured."""
        from core.identity.oidc import DEFAULT_SCOPES, ProviderConfig

        if not self.operator_sign_in_configured:
            return None
        return ProviderConfig(
            issuer=self.operator_oidc_issuer,
            client_id=self.operator_oidc_client_id,
            client_secret=self.operator_oidc_client_secret.get_secret_value(),
            scopes=tuple(self.operator_oidc_scopes.split()) or DEFAULT_SCOPES,
        )

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def tenants_dir(self) -> Path:
        return self.root / "tenants"

    @property
    def themes_dir(self) -> Path:
        return self.root / "themes"

    @property
    def migrations_dir(self) -> Path:
        return self.root / "migrations"


def _is_plain_host_name(name: str) -> bool:
    # Tenants are "<slug>.<base domain>"; an IP address or a name with a port
    # could never be matched against a Host header.
    return normalise_host(name) == name and classify_host(name, name) == PlatformHost()


@lru_cache
def get_settings() -> Settings:
    return Settings()
