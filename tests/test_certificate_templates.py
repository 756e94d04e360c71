"""The built-in certificate designs (``plugins/certificate_*``): real PDFs, real text.

Each design is rendered through :func:`core.certificates.render.render_pdf` — the
sandbox and WeasyPrint, as issuing does — for every role it offers in German and
English, and read back with pypdf: one page, the facts in its text, the theme's
colours in its drawing, the logo as its only image. The hook
``register_certificate_templates`` is exercised through the plugin host against real
tenants (both database backends): a tenant gets the designs of the plugins it enabled,
with its settings, and nothing from a plugin it switched off.
"""

from __future__ import annotations

import base64
import http.server
import io
import re
import threading
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import MappingProxyType, ModuleType

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

import plugins.certificate_augsburg as augsburg
import plugins.certificate_muenchen as muenchen
import plugins.certificate_toronto as toronto
from core.certificates import catalog
from core.certificates.render import (
    MAX_SOURCE_LENGTH,
    CertificateFacts,
    compile_source,
    render_pdf,
    sample_facts,
)
from core.db.sessions import Database
from core.pluginhost import PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.pluginhost.types import CertificateTemplate
from core.tenancy.look import Look, theme_colours
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.snapshot import TenantSnapshot, load_snapshot
from tests.test_hooks_meta import doc_sections, python_blocks

PLUGINS = {"muenchen": muenchen, "augsburg": augsburg, "toronto": toronto}
PAPER = {"muenchen": "A4 landscape", "augsburg": "A4", "toronto": "letter landscape"}
# Page sizes in PostScript points (1/72 in): A4 is 595 x 842, US Letter 612 x 792.
PAGE_POINTS = {"muenchen": (842, 595), "augsburg": (595, 842), "toronto": (792, 612)}
LOCALES = ("de", "en")
ALL_ROLES = ("mentee", "mentor", "company")


# --- helpers ----------------------------------------------------------------------------


def offline_tenant(
    slug: str, settings: dict[str, object] | None = None, default_locale: str = "de"
) -> TenantSnapshot:
    """A snapshot for calling one plugin's hook directly (the database tests below go
    through the plugin host and real tenants)."""
    plugin_id = PLUGINS[slug].PLUGIN.id
    return TenantSnapshot(
        id=uuid.uuid4(),
        slug=slug,
        name=slug,
        status=TenantStatus.ACTIVE,
        default_locale=default_locale,
        locales=LOCALES,
        theme=slug,
        revision=1,
        plugin_settings=MappingProxyType({plugin_id: dict(settings or {})}),
    )


def design(slug: str, settings: dict[str, object] | None = None) -> CertificateTemplate:
    plugin: ModuleType = PLUGINS[slug]
    (template,) = plugin.register_certificate_templates(tenant=offline_tenant(slug, settings))
    return template


def facts_for(role: str, locale: str, **changes: object) -> CertificateFacts:
    facts = replace(
        sample_facts(locale, "https://tenant.example"),
        role=role,
        holder_name="Isarwerk Mobility GmbH" if role == "company" else "Olena Kovalenko",
        partner_name="Thomas Wagner",
        programme_name="Mentoring-Partnerschaft München",
        cohort_name="Durchgang Frühjahr 2026",
        tenant_name="Landeshauptstadt München",
        started_on=date(2026, 3, 2),
        completed_on=date(2026, 6, 30),
        issued_on=date(2026, 7, 15),
        meetings=9,
        hours=17.5,
        code="7K3M-9QXA-2B4D",
        verify_url="https://tenant.example/verify/7K3M9QXA2B4D",
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def look_for(slug: str, logo: str | None = None) -> Look:
    primary, accent = theme_colours(slug)
    return Look(primary=primary, accent=accent, logo_data_uri=logo)


def render(
    slug: str, role: str, locale: str, look: Look | None = None, **changes: object
) -> PdfReader:
    template = design(slug, {"company": True})
    pdf = render_pdf(
        template, template.sources[locale], facts_for(role, locale, **changes), locale,
        look or look_for(slug),
    )  # fmt: skip
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(reader: PdfReader) -> str:
    """The text of every page with runs of white space made single spaces."""
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def colours_drawn(reader: PdfReader) -> set[tuple[float, float, float]]:
    """The RGB colours the page's content stream fills or strokes with."""
    found = set()
    for page in reader.pages:
        stream = page.get_contents()
        assert stream is not None
        content = stream.get_data().decode("latin-1")
        for r, g, b in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (?:rg|RG)\b", content):
            found.add((float(r), float(g), float(b)))
    return found


def drawn(reader: PdfReader, hex_colour: str) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return any(
        all(abs(a - b) < 0.003 for a, b in zip(colour, want, strict=True))
        for colour in colours_drawn(reader)
    )


def images_of(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


def png_logo() -> str:
    image = Image.new("RGB", (240, 80), (200, 30, 90))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def cases() -> list[tuple[str, str, str]]:
    return [
        (slug, role, locale)
        for slug in PLUGINS
        for role in design(slug, {"company": True}).roles
        for locale in LOCALES
    ]


# --- the designs themselves -------------------------------------------------------------


@pytest.mark.parametrize("slug", PLUGINS)
def test_each_design_has_german_and_english_wording_that_compiles(slug: str) -> None:
    template = design(slug)
    assert template.id == PLUGINS[slug].PLUGIN.id
    assert template.paper == PAPER[slug]
    assert set(template.sources) == set(LOCALES)
    for source in template.sources.values():
        # Valid in the sandbox (what a coordinator's edit must be too), and editable:
        # the editor refuses sources longer than this.
        compile_source(source)
        assert len(source) < MAX_SOURCE_LENGTH
        for needed in ("holder_name", "qr_code", "code", "verify_url", "logo"):
            assert "{{ " + needed + " }}" in source, needed
    assert "var(--primary)" in template.css and "var(--accent)" in template.css


@pytest.mark.parametrize(("slug", "role", "locale"), cases())
def test_a_design_renders_one_page_with_the_facts_in_its_text(
    slug: str, role: str, locale: str
) -> None:
    reader = render(slug, role, locale)
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == PAGE_POINTS[slug]

    text = text_of(reader)
    holder = "Isarwerk Mobility GmbH" if role == "company" else "Olena Kovalenko"
    day = "15. Juli 2026" if locale == "de" else "July 15, 2026"
    hours = "17,5" if locale == "de" else "17.5"
    for fact in (holder, "Thomas Wagner", "Mentoring-Partnerschaft München", day):
        assert fact in text, (fact, text)
    assert "Frühjahr 2026" in text
    assert "7K3M-9QXA-2B4D" in text
    # The address may be broken over lines at any character: compare without spaces.
    assert "https://tenant.example/verify/7K3M9QXA2B4D" in text.replace(" ", "")
    if role != "company" or slug == "augsburg":
        assert hours in text and "9" in text


@pytest.mark.parametrize("slug", PLUGINS)
def test_the_wording_follows_the_role(slug: str) -> None:
    mentee = text_of(render(slug, "mentee", "en"))
    mentor = text_of(render(slug, "mentor", "en"))
    company = text_of(render(slug, "company", "en"))
    assert "mentor" in mentor.lower() and "as a mentee" not in mentor
    assert "partner" in company.lower()
    assert len({mentee, mentor, company}) == 3


@pytest.mark.parametrize("slug", PLUGINS)
def test_the_design_uses_the_theme_colours_and_the_logo_when_there_is_one(slug: str) -> None:
    primary, accent = theme_colours(slug)
    plain = render(slug, "mentee", "de")
    assert drawn(plain, primary) and drawn(plain, accent)
    # The QR code is drawn as vectors: without a logo there is no image at all.
    assert images_of(plain) == 0

    other = Look(primary="#7a1f5c", accent="#0b6e4f", logo_data_uri=png_logo())
    branded = render(slug, "mentee", "de", look=other)
    assert drawn(branded, "#7a1f5c") and drawn(branded, "#0b6e4f")
    assert not drawn(branded, primary)
    assert images_of(branded) == 1
    assert len(branded.pages) == 1


@pytest.mark.parametrize("slug", PLUGINS)
def test_long_names_still_give_one_page_with_the_verification(slug: str) -> None:
    reader = render(
        slug,
        "mentor",
        "de",
        holder_name="Maria-Alejandra Fernández de la Cruz Rodríguez-Villanueva",
        partner_name="Bartholomäus Leutheusser-Schnarrenberger",
        programme_name="Mentoring-Partnerschaft für zugewanderte Fachkräfte in Pflege und IT",
        meetings=124,
        hours=1234.5,
    )
    assert len(reader.pages) == 1
    text = text_of(reader)
    assert "Rodríguez-Villanueva" in text and "1.234,5" in text
    assert "7K3M-9QXA-2B4D" in text


def test_the_example_in_the_docs_renders_a_certificate() -> None:
    [code] = python_blocks(doc_sections()["register_certificate_templates"])
    example = ModuleType("docs_certificate_example")
    exec(compile(code, "docs/plugins.md", "exec"), vars(example))
    tenant = replace(
        offline_tenant("muenchen"),
        plugin_settings=MappingProxyType({"simple_certificate": {"signed_by": "Sabine Huber"}}),
    )
    [template] = example.register_certificate_templates(tenant=tenant)
    for locale in LOCALES:
        pdf = render_pdf(
            template, template.sources[locale], facts_for("mentor", locale), locale,
            look_for("muenchen"),
        )  # fmt: skip
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1
        text = text_of(reader)
        assert "Olena Kovalenko" in text and "Sabine Huber" in text and "Thomas Wagner" in text


# --- settings ----------------------------------------------------------------------------


def test_the_settings_choose_the_roles_and_who_signs() -> None:
    assert design("muenchen").roles == ALL_ROLES  # München's partner companies by default
    assert design("muenchen", {"company": False}).roles == ("mentee", "mentor")
    assert design("augsburg").roles == ("mentee", "mentor")
    assert design("toronto", {"company": True}).roles == ALL_ROLES

    signed = design(
        "augsburg",
        {
            "signatory_name": "Claudia Schmid",
            "signatory_title": {"de": "Projektkoordination", "en": "Project coordinator"},
            "cosignatory_name": "Dr. Jonas Berger",
            "cosignatory_title": {"de": "Geschäftsführung"},
        },
    )
    for locale, title, second in (
        ("de", "Projektkoordination", "Geschäftsführung"),
        # A title missing in a language falls back to the tenant's default language.
        ("en", "Project coordinator", "Geschäftsführung"),
    ):
        pdf = render_pdf(
            signed, signed.sources[locale], facts_for("mentee", locale), locale,
            look_for("augsburg"),
        )  # fmt: skip
        text = text_of(PdfReader(io.BytesIO(pdf)))
        assert "Claudia Schmid" in text and title in text
        assert "Dr. Jonas Berger" in text and second in text


def test_a_signatory_is_printed_as_written_never_run_as_a_template() -> None:
    template = design(
        "muenchen",
        {
            "signatory_name": "{{ 7 * 7 }} {% if true %}x{% endif %} <b>Huber</b>",
            "signatory_title": {"de": "{# Kommentar #} & Co."},
        },
    )
    assert "&#123;&#123; 7 * 7 &#125;&#125;" in template.sources["de"]
    pdf = render_pdf(
        template, template.sources["de"], facts_for("mentee", "de"), "de", look_for("muenchen")
    )
    text = text_of(PdfReader(io.BytesIO(pdf)))
    assert "{{ 7 * 7 }} {% if true %}x{% endif %} <b>Huber</b>" in text
    assert "{# Kommentar #} & Co." in text
    assert "49" not in text


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"company": "sometimes"}, "company", "valid boolean"),
        ({"signatory_name": "x" * 81}, "signatory_name", "at most 80 characters"),
        ({"signatory_title": {"de": "x" * 121}}, "signatory_title", "at most 120 characters"),
        ({"signatory_title": {"de": " ", "en": ""}}, "signatory_title", "non-empty text"),
    ],
)
@pytest.mark.parametrize("slug", PLUGINS)
def test_invalid_settings_are_refused_with_a_readable_reason(
    slug: str, raw: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(PluginSettingsError) as caught:
        PLUGINS[slug].PLUGIN.validate_settings(raw)
    assert caught.value.problems[0][0] == field
    assert message in caught.value.problems[0][1]


# --- the hook, through the plugin host, for real tenants --------------------------------


async def tenant_snapshot(db: Database, slug: str) -> TenantSnapshot:
    async with db.platform_session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert tenant_id is not None
    snapshot = await load_snapshot(db, tenant_id)
    assert snapshot is not None
    return snapshot


async def test_each_demo_tenant_gets_its_own_design_from_register_certificate_templates(
    synced: Database, plugins: PluginHost
) -> None:
    offered = {}
    for slug in PLUGINS:
        tenant = await tenant_snapshot(synced, slug)
        answers = plugins.hooks_for(tenant).register_certificate_templates(tenant=tenant)
        offered[slug] = {t.id: t.roles for answer in answers for t in answer}
    # Each tenant's file enables its own design only; München's includes companies.
    assert offered == {
        "muenchen": {"certificate_muenchen": ALL_ROLES},
        "augsburg": {"certificate_augsburg": ("mentee", "mentor")},
        "toronto": {"certificate_toronto": ("mentee", "mentor")},
    }
    toronto_tenant = await tenant_snapshot(synced, "toronto")
    mentee = catalog.template_for_role(toronto_tenant, plugins, "mentee")
    assert mentee is not None and mentee.paper == "letter landscape"
    # Toronto works in English: its signatory's title is the English one of its file.
    assert "Jennifer Walsh" in mentee.sources["en"] and "Program Coach" in mentee.sources["en"]
    assert catalog.template_for_role(toronto_tenant, plugins, "company") is None


async def test_a_disabled_certificate_plugin_offers_that_tenant_nothing(
    synced: Database, plugins: PluginHost
) -> None:
    tenant = await tenant_snapshot(synced, "muenchen")
    async with synced.tenant_session(tenant.id) as session, session.begin():
        change = await set_plugin_state(session, plugins, "certificate_muenchen", enabled=False)
    assert change == "disabled plugin certificate_muenchen"

    disabled = await tenant_snapshot(synced, "muenchen")
    answers = plugins.hooks_for(disabled).register_certificate_templates(tenant=disabled)
    assert [t for answer in answers for t in answer] == []
    assert catalog.enabled_templates(disabled, plugins) == []
    for role in ALL_ROLES:
        assert catalog.template_for_role(disabled, plugins, role) is None

    # The other tenants are untouched.
    augsburg_tenant = await tenant_snapshot(synced, "augsburg")
    assert [t.id for t in catalog.enabled_templates(augsburg_tenant, plugins)] == [
        "certificate_augsburg"
    ]


async def test_a_tenants_settings_reach_its_design(synced: Database, plugins: PluginHost) -> None:
    tenant = await tenant_snapshot(synced, "augsburg")
    async with synced.tenant_session(tenant.id) as session, session.begin():
        await set_plugin_state(
            session,
            plugins,
            "certificate_augsburg",
            enabled=True,
            settings={"company": True, "signatory_title": {"de": "Vorstand"}},
        )
    changed = await tenant_snapshot(synced, "augsburg")
    company = catalog.template_for_role(changed, plugins, "company")
    assert company is not None and company.id == "certificate_augsburg"
    assert "Vorstand" in company.sources["de"]
    # München's settings did not move.
    other = await tenant_snapshot(synced, "muenchen")
    assert "Vorstand" not in catalog.enabled_templates(other, plugins)[0].sources["de"]


# --- nothing from outside -------------------------------------------------------------------


class _Counting(http.server.BaseHTTPRequestHandler):
    png = b""
    requests: list[str] = []

    def do_GET(self) -> None:  # the name http.server calls
        _Counting.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args: object) -> None:
        pass


def test_a_wording_cannot_load_files_or_addresses_only_data_uris(tmp_path: Path) -> None:
    logo = png_logo()
    png = base64.b64decode(logo.split(",", 1)[1])
    on_disk = tmp_path / "secret.png"
    on_disk.write_bytes(png)
    _Counting.png, _Counting.requests = png, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        outside = (
            f'<style>@import url("{url}/sheet.css");</style>'
            f'<p>{{{{ holder_name }}}}</p><img src="{url}/logo.png">'
            f'<img src="{on_disk.as_uri()}"><img src="file:///etc/hostname">'
        )
        template = CertificateTemplate(
            id="probe", name="Probe", roles=("mentee",), sources={"en": outside}
        )
        facts, look = facts_for("mentee", "en"), Look("#005a9f", "#c5003e")
        reader = PdfReader(io.BytesIO(render_pdf(template, outside, facts, "en", look)))
        assert images_of(reader) == 0
        assert _Counting.requests == []
        # The same image as a data: URI is embedded: the check above can fail.
        inside = f'<p>{{{{ holder_name }}}}</p><img src="{logo}">'
        reader = PdfReader(io.BytesIO(render_pdf(template, inside, facts, "en", look)))
        assert images_of(reader) == 1
    finally:
        server.shutdown()
        server.server_close()
