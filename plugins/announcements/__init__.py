"""Announcements: a coordinator's notice at the top of the tenant's home page.

Settings (per tenant)::

    [plugins.announcements]
    title = { de = "Neuer Durchgang", en = "New cohort" }
    message = { de = "Bewerbungen bis 31. Januar.", en = "Apply by 31 January." }
    link = "https://example.org/info"   # optional
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from core.i18n import N_
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.types import HomeSection
from core.tenancy.snapshot import TenantSnapshot

Translated = dict[str, str]


EMPTY_TEXT = N_("give a non-empty text for at least one language")


class AnnouncementSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Translated = Field(
        title=N_("Heading"),
        description=N_("Heading per language: a few words shown above the text"),
    )
    message: Translated = Field(
        title=N_("Text"), description=N_("The notice itself, in each language")
    )
    link: HttpUrl | None = Field(
        default=None,
        title=N_("Link for more details"),
        description=N_("A web address with more about the notice, shown below it"),
    )

    @field_validator("title", "message")
    @classmethod
    def _not_empty(cls, value: Translated) -> Translated:
        if not value or not all(text.strip() for text in value.values()):
            raise ValueError(EMPTY_TEXT)
        return value


PLUGIN = PluginInfo(
    id="announcements",
    name=N_("Announcements"),
    description=N_("Shows a notice from the coordinators at the top of the home page."),
    version="1.0.0",
    settings=AnnouncementSettings,
)


@hookimpl
def register_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def extra_home_sections(tenant: TenantSnapshot, locale: str) -> list[HomeSection]:
    settings = AnnouncementSettings.model_validate(tenant.plugin_settings[PLUGIN.id])
    return [
        HomeSection(
            template="announcements/banner.html",
            context={
                "title": _in(settings.title, locale, tenant.default_locale),
                "message": _in(settings.message, locale, tenant.default_locale),
                "link": str(settings.link) if settings.link else None,
            },
            order=10,
        )
    ]


def _in(texts: Translated, locale: str, fallback: str) -> str:
    return texts.get(locale) or texts.get(fallback) or next(iter(texts.values()))
