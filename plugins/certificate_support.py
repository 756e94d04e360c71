"""What the built-in certificate plugins (``plugins/certificate_*``) share.

Not a plugin itself (it has no ``PLUGIN`` and no entry point): the settings every
built-in design has (a partner-company certificate or not, who signs), reading a
plugin's wording files, and filling the signatures into them.

A plugin's wording lives in ``<plugin>/wording/<language>.html`` (outside any
``templates/`` directory: it is not a page of the platform but the text a coordinator
may edit, in Jinja2 with the placeholders of :data:`core.certificates.render.PLACEHOLDERS`).
The plugin's own settings are not placeholders — a tenant-edited wording sees nothing
but the certificate's facts — so they are written into the wording before it is handed
out: ``[[signatures]]`` becomes the signature block. A coordinator who edits the wording
then sees the names as plain text and may change them there.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from markupsafe import escape
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.i18n import N_
from core.pluginhost.types import CertificateTemplate
from core.tenancy.snapshot import TenantSnapshot

Translated = dict[str, str]
SIGNATURES = "[[signatures]]"

COMPANY_TITLE = N_("Partner-company certificate")
COMPANY_HELP = N_("Also issue a certificate to the mentor's employer when a tandem is completed")
SIGNATORY_NAME_TITLE = N_("Signed by")
SIGNATORY_NAME_HELP = N_("Name printed under the signature line (may be left empty)")
SIGNATORY_ROLE_TITLE = N_("Signatory's title")
SIGNATORY_ROLE_HELP = N_("Their position, per language, printed under the name")
COSIGNATORY_NAME_TITLE = N_("Second signatory")
COSIGNATORY_NAME_HELP = N_("Name of a second person who signs (leave empty for one signature)")
COSIGNATORY_ROLE_TITLE = N_("Second signatory's title")
COSIGNATORY_ROLE_HELP = N_("The second signatory's position, per language")
EMPTY_TEXT = N_("give a non-empty text for at least one language")


class CertificateSettings(BaseModel):
    """Settings of a built-in certificate plugin; subclasses set the defaults."""

    model_config = ConfigDict(extra="forbid")

    company: bool = Field(default=False, title=COMPANY_TITLE, description=COMPANY_HELP)
    signatory_name: str = Field(
        default="", max_length=80, title=SIGNATORY_NAME_TITLE, description=SIGNATORY_NAME_HELP
    )
    signatory_title: Translated = Field(
        default_factory=dict, title=SIGNATORY_ROLE_TITLE, description=SIGNATORY_ROLE_HELP
    )
    cosignatory_name: str = Field(
        default="", max_length=80, title=COSIGNATORY_NAME_TITLE, description=COSIGNATORY_NAME_HELP
    )
    cosignatory_title: Translated = Field(
        default_factory=dict, title=COSIGNATORY_ROLE_TITLE, description=COSIGNATORY_ROLE_HELP
    )

    @field_validator("signatory_name", "cosignatory_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("signatory_title", "cosignatory_title")
    @classmethod
    def _short_titles(cls, value: Translated) -> Translated:
        # Empty entries are languages the coordinator left blank on the admin form.
        value = {lang: text.strip() for lang, text in value.items() if text.strip()}
        if any(len(text) > 120 for text in value.values()):
            raise ValueError(N_("a title may have at most 120 characters"))
        return value

    @field_validator("signatory_title")
    @classmethod
    def _signatory_has_a_title(cls, value: Translated) -> Translated:
        # The signature line needs at least a position under it, in some language.
        if not value:
            raise ValueError(EMPTY_TEXT)
        return value


def read_settings(
    model: type[CertificateSettings], tenant: TenantSnapshot, plugin_id: str
) -> CertificateSettings:
    return model.model_validate(tenant.plugin_settings.get(plugin_id) or {})


def roles(settings: CertificateSettings) -> tuple[str, ...]:
    return ("mentee", "mentor", "company") if settings.company else ("mentee", "mentor")


@cache
def wording(package_dir: Path) -> dict[str, str]:
    """``<package_dir>/wording/<lang>.html`` per language, read once per process."""
    return {
        path.stem: path.read_text(encoding="utf-8")
        for path in sorted((package_dir / "wording").glob("*.html"))
    }


@cache
def stylesheet(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def template(
    *,
    id: str,
    name: str,
    package_dir: Path,
    settings: CertificateSettings,
    fallback_locale: str,
    paper: str,
) -> CertificateTemplate:
    """The plugin's design with its settings written into each language's wording."""
    sources = {
        lang: source.replace(SIGNATURES, signature_block(settings, lang, fallback_locale))
        for lang, source in wording(package_dir).items()
    }
    return CertificateTemplate(
        id=id,
        name=name,
        roles=roles(settings),
        sources=sources,
        css=stylesheet(package_dir / "certificate.css"),
        paper=paper,
    )


def signature_block(settings: CertificateSettings, locale: str, fallback: str) -> str:
    """The signature lines as HTML, safe to hand to the sandbox as wording.

    The values are HTML-escaped, and braces become character references, so that a name
    can never turn into Jinja2 syntax when the wording is rendered.
    """
    people = [(settings.signatory_name, settings.signatory_title)]
    if settings.cosignatory_name or settings.cosignatory_title:
        people.append((settings.cosignatory_name, settings.cosignatory_title))
    blocks = []
    for name, titles in people:
        title = _in(titles, locale, fallback)
        lines = '<span class="signature-line"></span>'
        if name:
            lines += f'<span class="signatory">{_literal(name)}</span>'
        if title:
            lines += f'<span class="signatory-title">{_literal(title)}</span>'
        blocks.append(f'<div class="signature">{lines}</div>')
    return "\n    ".join(blocks)


def _in(texts: Translated, locale: str, fallback: str) -> str:
    return texts.get(locale) or texts.get(fallback) or next(iter(texts.values()), "")


def _literal(text: str) -> str:
    # "{#", "{{" and "{%" open Jinja2 syntax: write the braces as character references.
    return str(escape(text)).replace("{", "&#123;").replace("}", "&#125;")
