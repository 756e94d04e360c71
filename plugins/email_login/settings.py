"""The plugin's id and its per-tenant settings (kept apart so every module can import them)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from core.i18n import N_
from core.tenancy.snapshot import TenantSnapshot

PLUGIN_ID = "email_login"
# The issue fixes a quarter of an hour as the longest a link may live.
MAX_LINK_MINUTES = 15
MAX_WINDOW_MINUTES = 24 * 60


class EmailLoginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    link_minutes: int = Field(
        default=MAX_LINK_MINUTES,
        # Below five minutes a mail that is a little late is already useless.
        ge=5,
        le=MAX_LINK_MINUTES,
        title=N_("Link lifetime (minutes)"),
        description=N_("How long a link works, in minutes (5 to 15)"),
    )
    per_address_limit: int = Field(
        default=3,
        ge=1,
        le=100,
        title=N_("Links per e-mail address"),
        description=N_("Links that may be asked for one e-mail address within the window"),
    )
    per_ip_limit: int = Field(
        default=10,
        ge=1,
        le=1000,
        title=N_("Links per IP address"),
        description=N_(
            "Links that may be asked for from one IP address (IPv6: one /64) "
            "within the window, whatever the e-mail addresses"
        ),
    )
    window_minutes: int = Field(
        default=60,
        ge=5,
        le=MAX_WINDOW_MINUTES,
        title=N_("Counting window (minutes)"),
        description=N_("The window the two limits count in, in minutes (5 to 1440, a day)"),
    )

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(minutes=self.link_minutes)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def settings_for(tenant: TenantSnapshot) -> EmailLoginSettings:
    """The tenant's settings (validated when they were stored; defaults for missing keys)."""
    return EmailLoginSettings.model_validate(tenant.plugin_settings.get(PLUGIN_ID) or {})
