"""A tenant's appearance (/admin/appearance): theme, accent colour and logo, on SQLite
and PostgreSQL.

München's coordinator Clara changes her tenant's look; Augsburg's coordinator Omar is
the other tenant, Amira a mentee of München. Logos are checked by content (real PNGs
made with Pillow, hand-written hostile SVGs); the pages, the stylesheet and the logo are
fetched through the app as a browser would, on each tenant's host.
"""

from __future__ import annotations

import io
import re
import shutil
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from core.certificates.render import render_pdf, sample_facts
from core.db.sessions import Database
from core.identity.models import AuditEntry, Membership, User
from core.identity.sessions import start_session
from core.pluginhost.manager import PluginHost
from core.pluginhost.types import CertificateTemplate
from core.settings import Settings
from core.tenancy import logos
from core.tenancy.appearance import APPEARANCE_CHANGED, load_appearance
from core.tenancy.colours import accent_problems, contrast_ratio, text_on
from core.tenancy.logos import LogoRejected, check_logo
from core.tenancy.look import tenant_look
from core.tenancy.models import Tenant
from core.tenancy.snapshot import load_snapshot
from core.tenancy.svg import SvgRejected, sanitise_svg
from core.tenancy.sync import sync_tenants
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token, login
from tests.test_jobs_outbox import tenants_without_jobs
from tests.test_themes import accessibility_problems

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost"
AUGSBURG = "augsburg.localhost"
SVG_NS = "http://www.w3.org/2000/svg"


# --- logos ------------------------------------------------------------------------------


def png(width: int = 64, height: int = 32, colour: str = "#005a9f", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, format="GIF")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims these dimensions (and whose pixels were never written)."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    chunk = b"IHDR" + header
    ihdr = len(header).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    end = (0).to_bytes(4, "big") + b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
    return logos.PNG_SIGNATURE + ihdr + end


CLEAN_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'viewBox="0 0 120 40"><title>Stadt</title>'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#005a9f"/>'
    b'<stop offset="1" stop-color="#c5003e"/></linearGradient></defs>'
    b"<style>.word { font-weight: 700 } .mark > rect { fill: url(#g) }</style>"
    b'<g class="mark"><rect width="40" height="40" rx="4"/></g>'
    b'<path d="M50 10h60v20H50z" fill="url(#g)" stroke="#000" stroke-width="1"/>'
    b'<text class="word" x="52" y="26" font-family="sans-serif">Stadt</text></svg>'
)

# Each hostile SVG with what must not survive cleaning.
HOSTILE_SVGS = {
    "script element": (b"<script>alert(document.cookie)</script>", [b"script", b"alert"]),
    "script in CDATA": (b"<script><![CDATA[alert(1)]]></script>", [b"script", b"alert"]),
    "event handler": (b'<rect width="5" height="5" onload="alert(1)" onclick="x()"/>', [b"on"]),
    "javascript link": (
        b'<a href="javascript:alert(1)"><rect width="5" height="5"/></a>',
        [b"javascript", b"<a"],
    ),
    "xlink javascript link": (
        b'<a xlink:href="javascript:alert(1)"><text>x</text></a>',
        [b"javascript"],
    ),
    "foreignObject": (
        b'<foreignObject width="9" height="9"><div xmlns="http://www.w3.org/1999/xhtml">'
        b'<img src="x" onerror="alert(1)"/></div></foreignObject>',
        [b"foreignObject", b"onerror", b"div"],
    ),
    "external image": (
        b'<image href="https://evil.example/track.png" width="9" height="9"/>',
        [b"evil.example", b"image"],
    ),
    "external use": (b'<use xlink:href="https://evil.example/s.svg#x"/>', [b"evil", b"use"]),
    "external gradient reference": (
        b'<rect width="9" height="9" fill="url(https://evil.example/p.svg#g)"/>',
        [b"evil.example"],
    ),
    "css import": (
        b"<style>@import url(https://evil.example/x.css); rect { fill: red }</style>",
        [b"import", b"evil.example"],
    ),
    "css url fetch": (
        b"<style>rect { fill: url('https://evil.example/#p') }</style>",
        [b"evil.example"],
    ),
    "css escape trick": (b"<style>rect { background: u\\72l(//evil.example) }</style>", [b"evil"]),
    "style attribute fetch": (
        b'<rect width="9" height="9" style="fill: url(//evil.example/#a)"/>',
        [b"evil.example", b"style"],
    ),
    "animation that sets a handler": (
        b'<rect width="9" height="9"><set attributeName="onmouseover" to="alert(1)"/>'
        b'<animate attributeName="href" to="javascript:alert(1)"/></rect>',
        [b"set", b"animate", b"alert"],
    ),
    "iframe in another namespace": (
        b'<h:iframe xmlns:h="http://www.w3.org/1999/xhtml" src="https://evil.example/"/>',
        [b"iframe", b"evil"],
    ),
    "namespaced event attribute": (
        b'<rect xmlns:e="http://www.w3.org/2001/xml-events" e:event="load" width="1" height="1"/>',
        [b"event"],
    ),
}


def hostile(body: bytes) -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#123456"/>' + body + b"</svg>"
    )


@pytest.mark.parametrize("name", HOSTILE_SVGS)
def test_hostile_svgs_are_cleaned_of_what_could_run_or_fetch(name: str) -> None:
    body, forbidden = HOSTILE_SVGS[name]
    logo = check_logo(hostile(body))
    assert logo.content_type == logos.SVG
    cleaned = logo.data
    for word in forbidden:
        assert word.lower() not in cleaned.lower(), (name, word, cleaned)
    # What is left is still a well-formed SVG with the harmless shape in it.
    root = fromstring(cleaned)
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert b'<circle cx="5" cy="5" r="4" fill="#123456" />' in cleaned


def test_a_clean_svg_keeps_its_shapes_text_styles_and_internal_references() -> None:
    cleaned = sanitise_svg(CLEAN_SVG)
    for kept in (
        b'viewBox="0 0 120 40"',
        b"<title>Stadt</title>",
        b'<linearGradient id="g">',
        b".mark &gt; rect { fill: url(#g) }",
        b'fill="url(#g)"',
        b'font-family="sans-serif">Stadt</text>',
    ):
        assert kept in cleaned, kept
    assert sanitise_svg(cleaned) == cleaned  # cleaning is stable


@pytest.mark.parametrize(
    "document",
    [
        # Entities, internal (billion laughs) or external (file disclosure, fetches).
        b'<!DOCTYPE svg [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
        b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
        b'<!DOCTYPE svg SYSTEM "https://evil.example/svg.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect>',  # not well-formed
    ],
    ids=["internal-entities", "external-entity", "external-dtd", "broken"],
)
def test_svgs_with_entities_dtds_or_broken_xml_are_refused(document: bytes) -> None:
    with pytest.raises(SvgRejected):
        sanitise_svg(document)
    with pytest.raises(LogoRejected) as refused:
        check_logo(document)
    assert refused.value.message == logos.BROKEN_SVG


def test_an_svg_with_too_many_elements_is_refused() -> None:
    shapes = b'<rect width="1" height="1"/>' * 5001
    with pytest.raises(LogoRejected) as refused:
        check_logo(hostile(shapes))
    assert refused.value.message == logos.BROKEN_SVG


def test_a_png_is_decoded_bounded_and_re_encoded_without_extra_data() -> None:
    original = png(200, 80, mode="RGBA", colour="#c5003e80")
    checked = check_logo(original + b"<script>alert(1)</script>")  # trailing junk
    assert checked.content_type == logos.PNG
    assert b"script" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as image:
        assert image.format == "PNG"
        assert image.size == (200, 80)
        assert image.getpixel((0, 0)) == (0xC5, 0x00, 0x3E, 0x80)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", logos.EMPTY),
        (png(2100, 20), logos.PNG_SIZE),
        (png(10, 10), logos.PNG_SIZE),
        # A header claiming 100 000 by 100 000 pixels: refused before any decoding.
        (png_claiming(100_000, 100_000), logos.PNG_SIZE),
        (png()[:60], logos.BROKEN_PNG),  # cut off
        (gif(), logos.WRONG_TYPE),
        (b"%PDF-1.7\n...", logos.WRONG_TYPE),
        (b"<html><script>alert(1)</script></html>", logos.WRONG_TYPE),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, logos.BROKEN_PNG),
        (b"<svg/>" + b" " * (logos.MAX_BYTES), logos.TOO_LARGE),
    ],
    ids=[
        "empty", "too-wide", "too-small", "bomb-header", "truncated", "gif", "pdf", "html",
        "fake-png", "too-large",
    ],
)  # fmt: skip
def test_uploads_that_are_not_usable_logos_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(LogoRejected) as refused:
        check_logo(data)
    assert refused.value.message == message


# --- colours ------------------------------------------------------------------------------


def test_accent_colours_are_checked_against_the_themes_own_backgrounds() -> None:
    # München's page background is #f2f5f9 and its cards white.
    assert accent_problems("#c5003e", "muenchen") == []
    (worst, *_) = accent_problems("#ff9900", "muenchen")
    assert (worst.background, worst.background_colour) == ("background", "#f2f5f9")
    assert worst.ratio == pytest.approx(contrast_ratio("#ff9900", "#f2f5f9"))
    assert worst.ratio < 4.5
    # Toronto's hero kicker has its own colour: the accent is not checked against the
    # dark hero; in the default theme the kicker is the accent, on white.
    assert all(p.background != "hero-background" for p in accent_problems("#ff0000", "toronto"))
    assert "hero-background" in {p.background for p in accent_problems("#ff0000", "default")}
    # Text on the accent: white where it reads, else the theme's dark text colour.
    assert text_on("#5b2a86", "muenchen") == "#ffffff"
    assert text_on("#ffd700", "muenchen") == "#1a2330"


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    db: Database
    web: Client
    settings: Settings
    ids: dict[str, uuid.UUID]
    users: dict[str, User]
    tokens: dict[str, str] = field(default_factory=dict)

    async def as_user(self, name: str) -> None:
        """Sign in as ``name`` on their own tenant's host (Omar: Augsburg)."""
        tenant = "augsburg" if name == "omar" else "muenchen"
        if name not in self.tokens:
            self.tokens[name] = await start_session(self.db, self.ids[tenant], self.users[name])
        login(self.web, self.tokens[name])

    async def get(self, path: str, host: str = MUENCHEN, lang: str = "en") -> httpx.Response:
        return await self.web.get(path, headers={"host": host, "accept-language": lang})

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        host: str = MUENCHEN,
        lang: str = "en",
    ) -> httpx.Response:
        token = csrf_token(await self.get("/", host=host))
        headers = {"host": host, "accept-language": lang}
        body = {"_csrf_token": token, **(data or {})}
        return await self.web.post(path, headers=headers, data=body, files=files)

    async def upload(
        self, data: bytes, name: str, content_type: str, host: str = MUENCHEN, lang: str = "en"
    ) -> httpx.Response:
        files = {"logo": (name, data, content_type)}
        return await self.post("/admin/appearance/logo", files=files, host=host, lang=lang)

    async def tenant(self, slug: str = "muenchen") -> Tenant:
        async with self.db.platform_session() as session:
            tenant = await session.get(Tenant, self.ids[slug])
            assert tenant is not None
            return tenant

    async def audits(self, slug: str = "muenchen") -> list[AuditEntry]:
        async with self.db.tenant_session(self.ids[slug]) as session:
            query = select(AuditEntry).where(AuditEntry.action == APPEARANCE_CHANGED)
            return list(await session.scalars(query.order_by(AuditEntry.created_at)))


@pytest.fixture
async def world(synced: Database, settings: Settings, plugins: PluginHost) -> AsyncIterator[World]:
    ids = await tenants_without_jobs(synced)
    people = {"clara": "muenchen", "amira": "muenchen", "omar": "augsburg"}
    roles = {"clara": ["admin"], "amira": ["mentee"], "omar": ["admin"]}
    async with synced.platform_session() as session, session.begin():
        users = {n: User(display_name=n.title(), email=f"{n}@example.org") for n in people}
        session.add_all(users.values())
    for name, slug in people.items():
        async with synced.tenant_session(ids[slug]) as session, session.begin():
            session.add(Membership(user_id=users[name].id, roles=roles[name]))
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        yield World(synced, web, settings, ids, users)


def errors_on(page: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', page, re.S)
    ]


def accent_link(page: str) -> str | None:
    match = re.search(r'<link rel="stylesheet" href="(/branding/accent\.css\?v=[^"]+)">', page)
    return match.group(1) if match else None


def logo_img(page: str) -> tuple[str, str] | None:
    match = re.search(r'<img class="brand-logo" src="([^"]+)" alt="([^"]*)">', page)
    return (match.group(1), match.group(2)) if match else None


# --- the page -------------------------------------------------------------------------------


async def test_an_admin_changes_theme_and_accent_and_every_page_shows_it_at_once(
    world: World,
) -> None:
    await world.as_user("clara")
    before = await world.tenant()
    page = await world.get("/admin/appearance", lang="de")
    assert page.status_code == 200
    assert "Darstellung" in page.text and "Akzentfarbe" in page.text
    assert 'href="/admin/appearance"' in page.text  # the admin navigation links it
    assert accessibility_problems(page.text) == []
    assert accent_link(page.text) is None

    saved = await world.post("/admin/appearance", {"theme": "augsburg", "accent": "#5B2A86"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/appearance?done=saved"
    after = await world.tenant()
    assert (after.chosen_theme, after.accent_color) == ("augsburg", "#5b2a86")
    assert after.theme == before.theme == "muenchen"  # the file's theme is kept apart
    assert after.revision == before.revision + 1

    # Every page of the tenant, for everyone, at once: the theme and the accent.
    for path, who in (("/", "clara"), ("/programmes", "clara"), ("/no-such-page", None)):
        if who is None:
            world.web.cookies.clear()
        page = await world.get(path)
        assert '<body class="theme-augsburg">' in page.text, path
        assert '/static/themes/augsburg/theme.css"' in page.text, path
        link = accent_link(page.text)
        assert link is not None, path
    css = await world.get(link)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "--color-accent: #5b2a86;" in css.text
    assert "--color-accent-contrast: #ffffff;" in css.text
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"

    # Augsburg's own pages are untouched.
    other = await world.get("/", host=AUGSBURG)
    assert accent_link(other.text) is None
    assert (await world.get("/branding/accent.css", host=AUGSBURG)).text == ""

    await world.as_user("clara")
    notice = await world.get("/admin/appearance?done=saved", lang="de")
    assert "Das neue Aussehen gilt ab sofort auf allen Seiten dieses Programms." in notice.text
    assert 'value="#5b2a86"' in notice.text
    assert 'id="appearance-theme-augsburg" name="theme" value="augsburg" checked' in notice.text

    # Saving the same again changes nothing: no revision, no audit entry.
    again = await world.post("/admin/appearance", {"theme": "augsburg", "accent": "#5b2a86"})
    assert again.headers["location"] == "/admin/appearance?done=unchanged"
    assert (await world.tenant()).revision == after.revision
    entries = await world.audits()
    assert [e.details for e in entries] == [{"theme": "augsburg", "accent": "#5b2a86"}]
    assert entries[0].actor_user_id == world.users["clara"].id
    assert await world.audits("augsburg") == []
    log = await world.get("/admin/audit")
    assert "Appearance changed" in log.text

    # Back to the file's theme and the theme's own accent.
    back = await world.post("/admin/appearance", {"theme": "", "accent": ""})
    assert back.status_code == 303
    page = await world.get("/")
    assert '<body class="theme-muenchen">' in page.text
    assert accent_link(page.text) is None
    last = (await world.audits())[-1]
    assert last.details == {"theme": "muenchen (the tenant file's)", "accent": "the theme's own"}


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_colours_that_are_not_readable_or_not_colours_are_refused_with_the_ratio(
    world: World, lang: str
) -> None:
    await world.as_user("clara")
    before = await world.tenant()
    low = await world.post("/admin/appearance", {"theme": "", "accent": "#ff9900"}, lang=lang)
    assert low.status_code == 422
    ratio = contrast_ratio("#ff9900", "#f2f5f9")  # München's page background
    shown = f"{int(ratio * 100) / 100:.2f}"
    expected = {
        "en": f"The colour #ff9900 has a contrast ratio of {shown}:1 with the page background "
        "(#f2f5f9). Text needs at least 4.5:1 (WCAG 2.1 AA): choose a darker colour.",
        "de": f"Die Farbe #ff9900 hat ein Kontrastverhältnis von {shown.replace('.', ',')}:1 "
        "gegenüber dem Seitenhintergrund (#f2f5f9). Text braucht mindestens 4,5:1 (WCAG 2.1 AA): "
        "Wählen Sie eine dunklere Farbe.",
    }[lang]
    assert errors_on(low.text) == [f"{'Fehler:' if lang == 'de' else 'Error:'} {expected}"]
    assert 'value="#ff9900"' in low.text  # kept for correcting
    assert accessibility_problems(low.text) == []
    assert 'aria-invalid="true"' in low.text

    # The check is against the theme chosen in the same form: Toronto's hero has a
    # colour of its own, the default theme's kicker is the accent on white.
    await world.post("/admin/appearance", {"theme": "default", "accent": "#c4262e"})
    refused = await world.post(
        "/admin/appearance", {"theme": "default", "accent": "#e0301e"}, lang=lang
    )
    assert refused.status_code == 422

    for value in ("red", "#12345", "#ggg000", "rgb(0,0,0)", "#1234567", "javascript:x"):
        bad = await world.post("/admin/appearance", {"theme": "", "accent": value}, lang=lang)
        assert bad.status_code == 422, value
        message = {
            "en": "Enter a colour as # followed by six hexadecimal digits, such as #c5003e.",
            "de": "Geben Sie eine Farbe als # mit sechs Hexadezimalziffern an, etwa #c5003e.",
        }[lang]
        assert any(message in e for e in errors_on(bad.text)), value
    unknown = await world.post("/admin/appearance", {"theme": "../default", "accent": ""})
    assert unknown.status_code == 422
    assert errors_on(unknown.text) == ["Error: Choose one of the themes offered."]
    # None of that changed anything but the one valid save.
    after = await world.tenant()
    assert (after.chosen_theme, after.accent_color) == ("default", "#c4262e")
    assert after.revision == before.revision + 1
    assert len(await world.audits()) == 1


# --- logos ------------------------------------------------------------------------------------


async def test_a_logo_shows_in_the_header_is_served_safely_and_can_be_removed(
    world: World,
) -> None:
    await world.as_user("clara")
    tenant = await world.tenant()
    uploaded = await world.upload(png(240, 80), "stadt.png", "image/png")
    assert uploaded.status_code == 303
    assert uploaded.headers["location"] == "/admin/appearance?done=logo"

    page = await world.get("/")
    src, alt = logo_img(page.text) or ("", "")
    assert alt == tenant.name and tenant.name.startswith("Landeshauptstadt München")
    assert 'class="brand-mark"' not in page.text  # the logo replaces the theme's mark
    logo = await world.get(src)
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/png"
    assert logo.headers["x-content-type-options"] == "nosniff"
    assert "script-src" not in logo.headers["content-security-policy"]
    assert "default-src 'none'" in logo.headers["content-security-policy"]
    assert "sandbox" in logo.headers["content-security-policy"]
    assert logo.headers["cache-control"] == "public, max-age=31536000, immutable"
    with Image.open(io.BytesIO(logo.content)) as image:
        assert image.size == (240, 80)
    # Without the version (or with an old one) the browser must check back; the ETag
    # answers that with a 304.
    plain = await world.get("/branding/logo")
    assert plain.headers["cache-control"] == "no-cache"
    etag = plain.headers["etag"]
    unchanged = await world.web.get(
        "/branding/logo", headers={"host": MUENCHEN, "if-none-match": etag}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""

    # Another tenant's host serves its own logo, never this one.
    assert (await world.get("/branding/logo", host=AUGSBURG)).status_code == 404
    assert logo_img((await world.get("/", host=AUGSBURG)).text) is None

    # A new logo gets a new address: nobody keeps the old one from a cache.
    await world.upload(CLEAN_SVG, "stadt.svg", "image/svg+xml")
    src2, _ = logo_img((await world.get("/")).text) or ("", "")
    assert src2 != src
    svg = await world.get(src2)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content == sanitise_svg(CLEAN_SVG)
    assert (await world.get(src)).headers["cache-control"] == "no-cache"  # the old version

    admin = await world.get("/admin/appearance")
    assert accessibility_problems(admin.text) == []
    assert f'<img class="brand-logo" src="{src2}" alt="{tenant.name}">' in admin.text
    removed = await world.post("/admin/appearance/logo/delete")
    assert removed.headers["location"] == "/admin/appearance?done=logo_removed"
    page = await world.get("/")
    assert logo_img(page.text) is None
    assert 'class="brand-mark"' in page.text
    assert (await world.get("/branding/logo")).status_code == 404
    details = [e.details["logo"] for e in await world.audits()]
    assert details[0].startswith("image/png, ") and details[1].startswith("image/svg+xml, ")
    assert details[2] == "removed"
    assert (await world.tenant()).revision == tenant.revision + 3


async def test_the_type_comes_from_the_content_not_the_name_or_the_declared_type(
    world: World,
) -> None:
    await world.as_user("clara")
    # A PNG named .svg (and declared as SVG) is a PNG.
    await world.upload(png(), "logo.svg", "image/svg+xml")
    logo = await world.get("/branding/logo")
    assert logo.headers["content-type"] == "image/png"
    # An SVG with a script, named .png and declared as a PNG, is cleaned as an SVG.
    body, _ = HOSTILE_SVGS["script element"]
    await world.upload(hostile(body), "logo.png", "image/png")
    logo = await world.get("/branding/logo")
    assert logo.headers["content-type"] == "image/svg+xml"
    assert b"script" not in logo.content and b"alert" not in logo.content


@pytest.mark.parametrize("name", ["event handler", "foreignObject", "external image", "css import"])
async def test_hostile_svgs_are_stored_and_served_only_cleaned(world: World, name: str) -> None:
    await world.as_user("clara")
    body, forbidden = HOSTILE_SVGS[name]
    assert (await world.upload(hostile(body), "logo.svg", "image/svg+xml")).status_code == 303
    served = (await world.get("/branding/logo")).content
    async with world.db.platform_session() as session:
        stored = await session.scalar(select(Tenant.logo).where(Tenant.id == world.ids["muenchen"]))
    assert served == stored
    for word in forbidden:
        assert word.lower() not in served.lower()


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_unusable_uploads_are_refused_in_the_page_and_change_nothing(
    world: World, lang: str
) -> None:
    await world.as_user("clara")
    await world.upload(png(), "logo.png", "image/png")
    before = await world.tenant()
    messages = {
        "en": {
            "large": "The file is larger than 512 KB. Use a smaller logo.",
            "type": "This file is neither a PNG image nor an SVG document. "
            "Upload a PNG or SVG logo.",
            "size": "The image is 4000 by 20 pixels; a logo must be between 16 and 2000 "
            "pixels wide and high.",
            "entities": "This SVG document cannot be used: it is not well-formed, declares "
            "a DTD or entities, or is too complex.",
            "empty": "Choose a PNG or SVG file to upload.",
        },
        "de": {
            "large": "Die Datei ist größer als 512 KB. Verwenden Sie ein kleineres Logo.",
            "type": "Diese Datei ist weder ein PNG-Bild noch ein SVG-Dokument. Laden Sie "
            "ein Logo als PNG oder SVG hoch.",
            "size": "Das Bild hat 4000 mal 20 Pixel; ein Logo muss zwischen 16 und 2000 Pixel "
            "breit und hoch sein.",
            "entities": "Dieses SVG-Dokument ist nicht verwendbar: Es ist nicht wohlgeformt, "
            "deklariert eine DTD oder Entitäten oder ist zu komplex.",
            "empty": "Wählen Sie eine PNG- oder SVG-Datei zum Hochladen.",
        },
    }[lang]
    noise = bytes(range(256)) * 2100  # > 512 KB
    cases = {
        "large": (logos.PNG_SIGNATURE + noise, "big.png", "image/png"),
        "type": (gif(), "logo.png", "image/png"),
        "size": (png(4000, 20), "wide.png", "image/png"),
        "entities": (
            b'<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
            "logo.svg",
            "image/svg+xml",
        ),
        "empty": (b"", "empty.png", "image/png"),
    }
    for case, (data, filename, content_type) in cases.items():
        refused = await world.upload(data, filename, content_type, lang=lang)
        assert refused.status_code == 422, case
        prefix = "Fehler:" if lang == "de" else "Error:"
        assert errors_on(refused.text) == [f"{prefix} {messages[case]}"], case
    # No file at all.
    nothing = await world.post("/admin/appearance/logo", {}, lang=lang)
    assert nothing.status_code == 422
    assert messages["empty"] in nothing.text
    # A body far over the limit is cut off before it is read: a 413 page.
    huge = await world.upload(b"\0" * (logos.MAX_BYTES * 5), "huge.png", "image/png", lang=lang)
    assert huge.status_code == 413
    after = await world.tenant()
    assert (after.logo_sha256, after.revision) == (before.logo_sha256, before.revision)


# --- who may ------------------------------------------------------------------------------------


async def test_only_this_tenants_admins_see_or_change_its_appearance(world: World) -> None:
    # Signed out: sent to sign in; a mentee: refused.
    assert (await world.get("/admin/appearance")).status_code in (302, 303, 401)
    await world.as_user("amira")
    assert (await world.get("/admin/appearance")).status_code == 403
    refused = await world.post("/admin/appearance", {"theme": "toronto", "accent": ""})
    assert refused.status_code == 403
    assert (await world.upload(png(), "x.png", "image/png")).status_code == 403

    # Augsburg's admin, with his Augsburg session, on München's host: not an admin here.
    await world.as_user("omar")
    assert (await world.get("/admin/appearance")).status_code in (302, 303, 401, 403)
    for path, data in (
        ("/admin/appearance", {"theme": "toronto", "accent": "#000000"}),
        ("/admin/appearance/reset", {"confirm": "yes"}),
        ("/admin/appearance/logo/delete", {}),
    ):
        response = await world.post(path, data)
        assert response.status_code in (302, 303, 401, 403), path
        assert response.headers.get("location", "").startswith(("/login", "")), path
    assert (await world.upload(png(), "x.png", "image/png")).status_code in (302, 303, 401, 403)
    muenchen = await world.tenant()
    assert (muenchen.chosen_theme, muenchen.accent_color, muenchen.logo_sha256) == (
        None,
        None,
        None,
    )

    # On his own host he changes Augsburg, and only Augsburg.
    page = await world.get("/admin/appearance", host=AUGSBURG)
    assert page.status_code == 200
    assert "Landeshauptstadt" not in page.text
    saved = await world.post("/admin/appearance", {"theme": "", "accent": "#7a2e0e"}, host=AUGSBURG)
    assert saved.status_code == 303
    await world.upload(png(colour="#2f6b3a"), "tat.png", "image/png", host=AUGSBURG)
    augsburg = await world.tenant("augsburg")
    assert augsburg.accent_color == "#7a2e0e" and augsburg.logo_sha256
    assert (await world.tenant()).revision == muenchen.revision
    assert await world.audits() == [] and len(await world.audits("augsburg")) == 2

    # Each host serves its own logo.
    await world.as_user("clara")
    await world.upload(png(colour="#005a9f"), "m.png", "image/png")
    pixels = {}
    for host in (MUENCHEN, AUGSBURG):
        logo = await world.get("/branding/logo", host=host)
        with Image.open(io.BytesIO(logo.content)) as image:
            pixels[host] = image.convert("RGB").getpixel((0, 0))
    assert pixels == {MUENCHEN: (0x00, 0x5A, 0x9F), AUGSBURG: (0x2F, 0x6B, 0x3A)}
    # And the platform host has none.
    assert (await world.get("/branding/logo", host="localhost")).status_code == 404


async def test_reset_needs_confirming_and_brings_back_the_themes_look(world: World) -> None:
    await world.as_user("clara")
    await world.post("/admin/appearance", {"theme": "toronto", "accent": "#5b2a86"})
    await world.upload(png(), "logo.png", "image/png")
    unconfirmed = await world.post("/admin/appearance/reset", {}, lang="de")
    assert unconfirmed.status_code == 422
    assert "Setzen Sie zur Bestätigung das Häkchen." in unconfirmed.text
    assert (await world.tenant()).chosen_theme == "toronto"
    reset = await world.post("/admin/appearance/reset", {"confirm": "yes"})
    assert reset.headers["location"] == "/admin/appearance?done=reset"
    tenant = await world.tenant()
    assert (tenant.chosen_theme, tenant.accent_color, tenant.logo_sha256) == (None, None, None)
    page = await world.get("/")
    assert '<body class="theme-muenchen">' in page.text
    assert accent_link(page.text) is None and logo_img(page.text) is None
    assert (await world.audits())[-1].details == {
        "theme": "muenchen (the tenant file's)",
        "accent": "the theme's own",
        "logo": "removed",
    }


# --- sync, certificates ------------------------------------------------------------------------


async def test_tenants_sync_never_undoes_what_the_admin_chose(
    world: World, plugins: PluginHost, tmp_path: Path
) -> None:
    await world.as_user("clara")
    await world.post("/admin/appearance", {"theme": "toronto", "accent": "#5b2a86"})
    await world.upload(png(), "logo.png", "image/png")
    chosen = await world.tenant()
    settings = world.settings

    # The same files again: nothing to do, and the admin's look stays.
    report = await sync_tenants(
        world.db, plugins, settings.tenants_dir, settings.themes_dir, members=False
    )
    assert "muenchen" in report.unchanged
    kept = await world.tenant()
    assert (kept.chosen_theme, kept.accent_color, kept.logo_sha256, kept.revision) == (
        "toronto",
        "#5b2a86",
        chosen.logo_sha256,
        chosen.revision,
    )

    # The file's theme changes: sync records it, says the admin's choice stays, and
    # the pages keep the admin's theme.
    files = tmp_path / "tenants"
    shutil.copytree(settings.tenants_dir, files)
    source = (files / "muenchen.toml").read_text(encoding="utf-8")
    (files / "muenchen.toml").write_text(
        source.replace('theme = "muenchen"', 'theme = "augsburg"'), encoding="utf-8"
    )
    report = await sync_tenants(world.db, plugins, files, settings.themes_dir, members=False)
    assert (
        "muenchen: theme: muenchen → augsburg (the admin's choice 'toronto' stays in effect)"
        in report.changes
    )
    synced = await world.tenant()
    assert (synced.theme, synced.chosen_theme, synced.accent_color) == (
        "augsburg",
        "toronto",
        "#5b2a86",
    )
    assert '<body class="theme-toronto">' in (await world.get("/")).text
    # Resetting now brings the file's (new) theme.
    await world.post("/admin/appearance/reset", {"confirm": "yes"})
    assert '<body class="theme-augsburg">' in (await world.get("/")).text
    appearance = await load_appearance(world.db, world.ids["muenchen"])
    assert (appearance.theme, appearance.file_theme) == ("augsburg", "augsburg")


CERTIFICATE = CertificateTemplate(
    id="test",
    name="Test",
    roles=("mentee",),
    sources={
        "en": '<h1 style="color: var(--accent)">{{ holder_name }}</h1><img src="{{ logo }}" alt="">'
    },
    css="h1 { font-size: 20pt }",
    paper="A4",
)


async def test_certificates_use_the_admins_accent_and_logo(world: World) -> None:
    snapshot = await load_snapshot(world.db, world.ids["muenchen"])
    assert snapshot is not None
    async with world.db.tenant_session(snapshot.id) as session:
        look = await tenant_look(session, snapshot)
    assert (look.primary, look.accent, look.logo_data_uri) == ("#005a9f", "#c5003e", None)

    await world.as_user("clara")
    await world.post("/admin/appearance", {"theme": "", "accent": "#5b2a86"})
    for data, content_type in ((png(), "image/png"), (CLEAN_SVG, "image/svg+xml")):
        await world.upload(data, "logo", content_type)
        snapshot = await load_snapshot(world.db, world.ids["muenchen"])
        assert snapshot is not None and snapshot.accent == "#5b2a86"
        async with world.db.tenant_session(snapshot.id) as session:
            look = await tenant_look(session, snapshot)
        assert look.accent == "#5b2a86"
        assert look.logo_data_uri is not None
        assert look.logo_data_uri.startswith(f"data:{content_type};base64,")
        # A real PDF with the logo embedded (WeasyPrint loads data: URIs only).
        pdf = render_pdf(CERTIFICATE, CERTIFICATE.sources["en"], sample_facts("en"), "en", look)
        reader = PdfReader(io.BytesIO(pdf))
        assert sample_facts("en").holder_name in reader.pages[0].extract_text()
    # Another tenant's certificates keep their own look.
    augsburg = await load_snapshot(world.db, world.ids["augsburg"])
    assert augsburg is not None
    async with world.db.tenant_session(augsburg.id) as session:
        other = await tenant_look(session, augsburg)
    assert (other.accent, other.logo_data_uri) == ("#a8431f", None)
