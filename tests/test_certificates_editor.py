"""The coordinators' certificate template editor (``/admin/certificates``), on SQLite and
PostgreSQL: the list of templates, the editor with its placeholders and PDF preview,
the sandbox refusing what a template must not reach (with the line, rendering
nothing), saving only what renders, restoring the plugin's wording, and who may do it.

The world is :mod:`tests.test_pairings`'s (München with coordinator Clara and mentee
Amira; Augsburg with coordinator Omar). A probe plugin offers two templates:
``certificate_probe`` (mentee, mentor, company; German and English), enabled in both
tenants, and ``certificate_probe.augsburg``, offered to Augsburg only.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import select

from core.certificates import editor
from core.certificates.catalog import find_template, wording_of
from core.certificates.models import CertificateWording
from core.certificates.render import MAX_SOURCE_LENGTH, PLACEHOLDERS
from core.db.sessions import Database
from core.identity.models import AuditEntry
from core.pluginhost import hookimpl
from core.pluginhost.info import PluginInfo
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.pluginhost.types import CertificateTemplate
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot, load_snapshot
from tests.conftest import make_app
from tests.test_pairings import AUGSBURG, MUENCHEN, World, _seed, as_user, form, page

PROBE = "certificate_probe"
EDITOR = f"/admin/certificates/{PROBE}"
SOURCES = {
    "de": (
        "<h1>Urkunde</h1>\n<p>{{ holder_name }} hat als {{ role_label }} am Programm "
        "{{ programme_name }} von {{ tenant_name }} teilgenommen.</p>\n"
        '{% if role == "mentor" %}<p>Danke fürs Mentoring.</p>{% endif %}\n'
        '<img src="{{ qr_code }}" alt="">'
    ),
    "en": (
        "<h1>Certificate</h1>\n<p>{{ holder_name }} took part in {{ programme_name }} "
        "of {{ tenant_name }} as {{ role_label }}.</p>\n"
        '{% if role == "mentor" %}<p>Thank you for mentoring.</p>{% endif %}\n'
        '<img src="{{ qr_code }}" alt="">'
    ),
}


class CertificateProbe:
    """Test templates: one for every tenant, one only for Augsburg."""

    PLUGIN = PluginInfo(
        id=PROBE, name="Certificate probe", description="test templates", version="0.1"
    )

    @hookimpl
    def register_certificate_templates(self, tenant: TenantSnapshot) -> list[CertificateTemplate]:
        templates = [
            CertificateTemplate(
                id=PROBE,
                name="Probe certificate",
                roles=("mentee", "mentor", "company"),
                sources=dict(SOURCES),
                css="h1 { color: var(--primary); }",
            )
        ]
        if tenant.slug == "augsburg":
            templates.append(
                CertificateTemplate(
                    id=f"{PROBE}.augsburg",
                    name="Augsburg only",
                    roles=("mentee",),
                    sources={"de": "<p>Nur Augsburg: {{ holder_name }}</p>"},
                )
            )
        return templates


def probe_host() -> PluginHost:
    return PluginHost.load(extra=[CertificateProbe()])


async def enable_probe(w: World, host: PluginHost) -> None:
    for tenant_id in (w.tenant_id, w.augsburg_id):
        async with w.db.tenant_session(tenant_id) as session, session.begin():
            await set_plugin_state(session, host, PROBE, enabled=True, settings={})


@pytest.fixture
async def editor_world(synced: Database, settings: Settings) -> AsyncIterator[World]:
    w = await _seed(synced)
    host = probe_host()
    await enable_probe(w, host)
    async with AsyncTestClient(make_app(settings, host), base_url="http://localhost") as web:
        web.follow_redirects = False
        w.web = web
        yield w


# --- helpers ----------------------------------------------------------------------------------


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def textarea(response: httpx.Response) -> str:
    match = re.search(
        r'<textarea id="certificate-source"[^>]*>(.*?)</textarea>', response.text, re.S
    )
    assert match, response.text
    return unescape(match.group(1))


def field_error(response: httpx.Response) -> str:
    match = re.search(
        r'<p class="field-error" id="certificate-source-error">(.*?)</p>', response.text, re.S
    )
    assert match, response.text
    return unescape(re.sub(r"<[^>]+>", "", match.group(1)))


async def wordings(w: World, tenant_id: object = None) -> list[CertificateWording]:
    async with w.db.tenant_session(tenant_id or w.tenant_id) as session:  # type: ignore[arg-type]
        return list(await session.scalars(select(CertificateWording)))


async def audit_actions(w: World) -> list[str]:
    async with w.db.tenant_session(w.tenant_id) as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.created_at))
        return [a.action for a in rows if a.action.startswith("certificate_")]


# --- the list and the editor ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "title", "edit_de", "plugin_wording"),
    [
        ("en", "Certificate templates", "Edit the wording in German", "the plugin's wording"),
        ("de", "Zertifikatsvorlagen", "Wortlaut auf Deutsch bearbeiten", "Wortlaut des Plugins"),
    ],
)
async def test_the_list_shows_the_tenants_templates_and_their_languages(
    editor_world: World, lang: str, title: str, edit_de: str, plugin_wording: str
) -> None:
    w = editor_world
    await as_user(w, "clara")
    response = await page(w, "/admin/certificates", lang)
    assert response.status_code == 200, response.text
    html = response.text
    assert title in html
    assert f'data-template="{PROBE}"' in html
    assert f'href="{EDITOR}/de"' in html and f'href="{EDITOR}/en"' in html
    assert edit_de in html and plugin_wording in html
    # Augsburg's own template is not München's.
    assert f"{PROBE}.augsburg" not in html
    # The admin bar links the page.
    assert 'href="/admin/certificates"' in html


@pytest.mark.parametrize(("lang", "heading"), [("en", "Placeholders"), ("de", "Platzhalter")])
async def test_the_editor_shows_the_source_placeholders_and_a_preview(
    editor_world: World, lang: str, heading: str
) -> None:
    w = editor_world
    await as_user(w, "clara")
    response = await page(w, f"{EDITOR}/de", lang)
    assert response.status_code == 200, response.text
    html = response.text
    assert textarea(response) == SOURCES["de"]
    assert heading in html
    for name in PLACEHOLDERS:
        assert "{{ " + name + " }}" in unescape(html), name
    # Descriptions in the page's language.
    description = {"en": "Verification code", "de": "Prüfcode"}[lang]
    assert description in html
    # The preview frame, the Preview button aimed at it (works without JavaScript), the script.
    assert (
        f'<iframe name="certificate-preview" id="certificate-preview-frame" '
        f'src="{EDITOR}/de/preview?role=mentee"' in html
    )
    assert f'formaction="{EDITOR}/de/preview" formtarget="certificate-preview"' in html
    assert '<script src="/static/core/certificate-editor.js" defer></script>' in html
    for role in ("mentee", "mentor", "company"):
        assert f'<option value="{role}"' in html
    # Nothing to restore yet.
    assert f"{EDITOR}/de/restore" not in html


async def test_the_script_is_served(editor_world: World) -> None:
    w = editor_world
    response = await page(w, "/static/core/certificate-editor.js")
    assert response.status_code == 200
    assert "data-certificate-editor" in response.text


async def test_the_preview_is_a_pdf_with_made_up_facts_framed_by_the_same_site(
    editor_world: World,
) -> None:
    w = editor_world
    await as_user(w, "clara")
    response = await page(w, f"{EDITOR}/de/preview?role=mentor")
    text = pdf_text(response)
    assert "Olena Kovalenko" in text
    assert "Danke fürs Mentoring" in text  # the mentor's branch
    snapshot = await load_snapshot(w.db, w.tenant_id)
    assert snapshot is not None and snapshot.name in text  # the tenant's own name
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    # A typed source, previewed without saving it.
    typed = await form(
        w, f"{EDITOR}/en/preview", {"source": "<p>Hello {{ holder_name }}</p>", "role": "mentee"}
    )
    assert "Hello Olena Kovalenko" in pdf_text(typed)
    assert await wordings(w) == []


ESCAPES = [
    # (source, line of the offending expression, words of the message)
    ("<p>ok</p>\n{{ ''.__class__.__mro__[1].__subclasses__() }}", 2, "Python internals"),
    ("\n\n{{ holder_name.__init__.__globals__ }}", 3, "Python internals"),
    ("{{ holder_name|attr('__class__') }}", 1, "Python internals"),
    ("{{ self._TemplateReference__context }}", 1, "Python internals"),
    ("<p>\n{{ config.SECRET_KEY }}</p>", 2, "not a placeholder"),
    ("{{ settings.database_url }}", 1, "not a placeholder"),
    ("{{ request }}", 1, "not a placeholder"),
    ("{{ lipsum.__globals__['os'] }}", 1, "not a placeholder"),
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", 1, "Python internals"),
    ("{% include 'base.html' %}", 1, "include"),
    ("x\n{% extends 'base.html' %}", 2, "include"),
    ("{% import 'admin/_forms.html' as f %}", 1, "include"),
    ("{{ holder_name * 100000 }}", 1, "Python internals"),
    ("{{ 2 ** 100000 }}", 1, "Python internals"),
    ("<p>{% for x in %}</p>", 1, "syntax error"),
    ("{{ holder_name.nope() }}", 1, "cannot be rendered"),
]


@pytest.mark.parametrize(("source", "line", "words"), ESCAPES)
async def test_the_sandbox_refuses_with_the_line_and_renders_nothing(
    editor_world: World, source: str, line: int, words: str
) -> None:
    w = editor_world
    await as_user(w, "clara")
    preview = await form(w, f"{EDITOR}/en/preview", {"source": source})
    assert preview.status_code == 422, preview.text
    assert preview.headers["content-type"].startswith("text/html")
    assert b"%PDF" not in preview.content
    message = unescape(preview.text)
    assert f"Line {line}:" in message and words in message, message
    check = await form(w, f"{EDITOR}/en/check", {"source": source})
    assert check.status_code == 422
    assert check.json()["ok"] is False and check.json()["line"] == line
    assert words in check.json()["message"]
    saved = await form(w, f"{EDITOR}/en", {"source": source})
    assert saved.status_code == 422
    assert f"Line {line}:" in field_error(saved)
    assert await wordings(w) == []


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Line 2:", "“nope” is not a placeholder", "Please correct the following"]),
        ("de", ["Zeile 2:", "„nope“ ist kein Platzhalter", "Bitte korrigieren Sie"]),
    ],
)
async def test_an_invalid_wording_is_not_saved_and_comes_back_as_typed(
    editor_world: World, lang: str, words: list[str]
) -> None:
    w = editor_world
    await as_user(w, "clara")
    typed = "<p>Für {{ holder_name }}</p>\n<p>{{ nope }} & <b>fett</b></p>"
    response = await form(w, f"{EDITOR}/de", {"source": typed, "role": "mentor"}, lang)
    assert response.status_code == 422, response.text
    for word in words:
        assert word in unescape(response.text), word
    assert textarea(response) == typed  # escaped in the page, kept as typed
    assert "<b>fett</b>" not in response.text
    assert re.search(r'id="certificate-source"[^>]*aria-invalid="true"', response.text)
    assert 'href="#certificate-source"' in response.text  # the summary leads to it
    assert '<option value="mentor" selected' in response.text
    assert await wordings(w) == []


@pytest.mark.parametrize(
    ("source", "words"),
    [("   \n ", "The template is empty."), ("x" * (MAX_SOURCE_LENGTH + 1), "longer than 20,000")],
)
async def test_empty_and_too_long_wordings_are_refused(
    editor_world: World, source: str, words: str
) -> None:
    w = editor_world
    await as_user(w, "clara")
    response = await form(w, f"{EDITOR}/en", {"source": source})
    assert response.status_code == 422
    assert words in field_error(response)
    assert await wordings(w) == []


async def test_a_valid_wording_is_saved_used_and_restored(editor_world: World) -> None:
    w = editor_world
    await as_user(w, "clara")
    typed = "<h1>Urkunde</h1>\r\n<p>Herzlichen Glückwunsch, {{ holder_name }}!</p>"
    saved = await form(w, f"{EDITOR}/de", {"source": typed}, "de")
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{EDITOR}/de?done=saved"
    rows = await wordings(w)
    assert [(r.template_id, r.locale, r.source) for r in rows] == [
        (PROBE, "de", typed.replace("\r\n", "\n"))
    ]
    assert rows[0].updated_by_user_id == w.users["clara"].id
    shown = await page(w, saved.headers["location"], "de")
    assert "gespeichert" in shown.text
    assert textarea(shown) == typed.replace("\r\n", "\n")
    assert f"{EDITOR}/de/restore" in shown.text
    assert "Herzlichen Glückwunsch, Olena Kovalenko!" in pdf_text(
        await page(w, f"{EDITOR}/de/preview")
    )
    listed = await page(w, "/admin/certificates")
    assert re.search(r'data-language="de">.*?your own wording', listed.text)
    assert re.search(r'data-language="en">.*?the plugin(&#39;|\')s wording', listed.text)
    # Issuing reads the same wording; the English one is untouched.
    host = probe_host()
    snapshot = await load_snapshot(w.db, w.tenant_id)
    assert snapshot is not None
    template = find_template(snapshot, host, PROBE)
    assert template is not None
    async with w.db.tenant_session(w.tenant_id) as session:
        assert "Herzlichen" in await wording_of(session, template, "de")
        assert await wording_of(session, template, "en") == SOURCES["en"]
    # Another tenant with the same template keeps the plugin's wording.
    async with w.db.tenant_session(w.augsburg_id) as session:
        assert await wording_of(session, template, "de") == SOURCES["de"]

    restored = await form(w, f"{EDITOR}/de/restore", {}, "de")
    assert restored.status_code == 303
    assert restored.headers["location"] == f"{EDITOR}/de?done=restored"
    assert await wordings(w) == []
    assert textarea(await page(w, f"{EDITOR}/de")) == SOURCES["de"]
    assert await audit_actions(w) == [editor.WORDING_SAVED, editor.WORDING_RESTORED]


async def test_saving_the_plugins_own_wording_keeps_no_copy(editor_world: World) -> None:
    w = editor_world
    await as_user(w, "clara")
    assert (await form(w, f"{EDITOR}/en", {"source": "<p>{{ code }}</p>"})).status_code == 303
    assert len(await wordings(w)) == 1
    assert (await form(w, f"{EDITOR}/en", {"source": SOURCES["en"]})).status_code == 303
    assert await wordings(w) == []


async def test_the_check_says_ok_for_a_wording_that_renders(editor_world: World) -> None:
    w = editor_world
    await as_user(w, "clara")
    response = await form(w, f"{EDITOR}/en/check", {"source": "<p>{{ holder_name }}</p>"})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "line": None, "message": ""}


async def test_a_branch_that_breaks_for_one_role_is_found_before_saving(
    editor_world: World,
) -> None:
    w = editor_world
    await as_user(w, "clara")
    source = '<p>{{ holder_name }}</p>\n{% if role == "company" %}{{ company_address }}{% endif %}'
    # The mentee preview renders …
    assert "Olena" in pdf_text(await form(w, f"{EDITOR}/en/preview", {"source": source}))
    # … but saving checks every role of the template.
    response = await form(w, f"{EDITOR}/en", {"source": source})
    assert response.status_code == 422
    assert "Line 2:" in field_error(response) and "company_address" in field_error(response)
    assert await wordings(w) == []


# --- who may -----------------------------------------------------------------------------------


ROUTES = [
    ("GET", "/admin/certificates"),
    ("GET", f"{EDITOR}/de"),
    ("GET", f"{EDITOR}/de/preview"),
    ("POST", f"{EDITOR}/de"),
    ("POST", f"{EDITOR}/de/preview"),
    ("POST", f"{EDITOR}/de/check"),
    ("POST", f"{EDITOR}/de/restore"),
]


async def _call(w: World, method: str, path: str, host: str = MUENCHEN) -> httpx.Response:
    if method == "GET":
        return await page(w, path, host=host)
    return await form(w, path, {"source": "<p>{{ holder_name }}</p>"}, host=host)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_only_the_tenants_coordinators_may(
    editor_world: World, method: str, path: str
) -> None:
    w = editor_world
    anonymous = await _call(w, method, path)
    assert anonymous.status_code in (302, 303, 401), anonymous.status_code
    await as_user(w, "amira")
    assert (await _call(w, method, path)).status_code == 403
    assert await wordings(w) == []


async def test_another_tenants_templates_and_wordings_are_not_found(editor_world: World) -> None:
    w = editor_world
    augsburg_only = f"/admin/certificates/{PROBE}.augsburg/de"
    await as_user(w, "omar", AUGSBURG)
    assert (await page(w, augsburg_only, host=AUGSBURG)).status_code == 200
    # Omar's own wording of the shared template stays in Augsburg.
    secret = "<p>Augsburger Geheimnis {{ holder_name }}</p>"
    assert (await form(w, f"{EDITOR}/de", {"source": secret}, host=AUGSBURG)).status_code == 303
    assert [r.source for r in await wordings(w, w.augsburg_id)] == [secret]

    await as_user(w, "clara")
    for method, path in [
        ("GET", augsburg_only),
        ("GET", f"{augsburg_only}/preview"),
        ("POST", augsburg_only),
        ("POST", f"{augsburg_only}/check"),
        ("GET", "/admin/certificates/certificate_nonesuch/de"),
        ("GET", f"{EDITOR}/fr"),  # a language the template does not have
        ("POST", f"{EDITOR}/fr"),
    ]:
        assert (await _call(w, method, path)).status_code == 404, (method, path)
    shown = await page(w, f"{EDITOR}/de")
    assert "Geheimnis" not in shown.text
    assert "Geheimnis" not in pdf_text(await page(w, f"{EDITOR}/de/preview"))
    assert await wordings(w) == []
    # A coordinator of München is nobody in Augsburg.
    await as_user(w, "clara", AUGSBURG)
    assert (await page(w, augsburg_only, host=AUGSBURG)).status_code in (302, 303, 401, 403)


async def test_a_disabled_plugins_templates_are_gone(editor_world: World) -> None:
    w = editor_world
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        await set_plugin_state(session, probe_host(), PROBE, enabled=False)
    await as_user(w, "clara")
    assert (await page(w, f"{EDITOR}/de")).status_code == 404
    assert f'data-template="{PROBE}"' not in (await page(w, "/admin/certificates")).text
