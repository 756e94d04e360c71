"""Turn a certificate template, its wording and the facts it certifies into a PDF.

The wording (a plugin's or a coordinator's own) is Jinja2 HTML rendered in an
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` that sees only the values of
:data:`PLACEHOLDERS` — plain strings and numbers, never an ORM object, the settings or
another tenant's data. Anything else is an error with a readable message
(:class:`TemplateProblem`) and renders nothing. WeasyPrint then lays the page out;
it may load nothing but ``data:`` URIs (the QR code, the logo), so a template cannot
read local files or reach the network.
"""

from __future__ import annotations

import operator
import re
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import segno
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import escape
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from core.i18n import N_
from core.i18n.catalogs import gettext
from core.i18n.negotiation import text_direction
from core.pluginhost.types import CertificateTemplate
from core.tenancy.look import Look

MAX_SOURCE_LENGTH = 20_000
MAX_STRING = 10_000  # the longest string a template may build with * or **

# Placeholder → what it holds (a msgid, shown translated in the template editor).
PLACEHOLDERS: dict[str, str] = {
    "holder_name": N_("Name of the person (or company) the certificate is for"),
    "role": N_("Their role: mentee, mentor or company"),
    "role_label": N_("Their role, in the certificate's language"),
    "partner_name": N_("The other person in the tandem (for a company: its mentor)"),
    "programme_name": N_("Name of the programme"),
    "cohort_name": N_("Name of the cohort (round)"),
    "tenant_name": N_("Name of the organisation that runs the programme"),
    "started_on": N_("Date the tandem started"),
    "completed_on": N_("Date the tandem was completed"),
    "issued_on": N_("Date of issue"),
    "meetings": N_("Number of meetings the tandem logged"),
    "hours": N_("Hours of mentoring the tandem logged"),
    "code": N_("Verification code"),
    "verify_url": N_("Address where anyone can check the certificate"),
    "qr_code": N_('QR code of that address, for <img src="…">'),
    "logo": N_('The organisation\'s logo, for <img src="…"> (empty when there is none)'),
}


@dataclass(frozen=True)
class CertificateFacts:
    """What one certificate states, as it was when it was issued."""

    holder_name: str
    role: str  # "mentee", "mentor" or "company"
    partner_name: str
    programme_name: str
    cohort_name: str
    tenant_name: str
    started_on: date | None
    completed_on: date | None
    issued_on: date
    meetings: int
    hours: float
    code: str
    verify_url: str


class TemplateProblem(ValueError):
    """A template that cannot be used; ``message`` says why, for the person who wrote it.

    ``kind`` (one of :data:`PROBLEM_KINDS`) says what went wrong, so that a page can
    say it in the reader's language; ``detail`` is what the kind refers to: the
    unknown placeholder's name, or what the sandbox refused.
    """

    def __init__(
        self, message: str, line: int | None = None, kind: str = "render", detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind
        self.detail = detail


_UNKNOWN_NAME = re.compile(r"'([^']{1,100})' is undefined")
PROBLEM_KINDS = ("empty", "too_long", "syntax", "includes", "not_allowed", "undefined", "render")


ROLE_LABELS = {"mentee": N_("Mentee"), "mentor": N_("Mentor"), "company": N_("Partner company")}


def render_pdf(
    template: CertificateTemplate,
    source: str,
    facts: CertificateFacts,
    locale: str,
    look: Look,
) -> bytes:
    """The certificate as a PDF; raises :class:`TemplateProblem` for a broken wording."""
    document = render_document(template, source, facts, locale, look)
    return HTML(string=document, url_fetcher=_fetcher()).write_pdf()


def render_document(
    template: CertificateTemplate,
    source: str,
    facts: CertificateFacts,
    locale: str,
    look: Look,
) -> str:
    """The whole HTML document WeasyPrint lays out (the body from the sandbox)."""
    body = render_body(source, placeholder_values(facts, locale, look))
    page = _PAGE_SIZES[template.paper]
    style = (
        f":root {{ --primary: {look.primary}; --accent: {look.accent}; }}\n"
        f"@page {{ size: {page}; }}\n{template.css}"
    )
    # The template's CSS is the plugin's, not the tenant's: it is trusted, but it
    # must not close the <style> element early.
    style = style.replace("</", "<\\/")
    return (
        f'<!DOCTYPE html><html lang="{escape(locale)}" dir="{text_direction(locale)}">'
        f'<head><meta charset="utf-8"><title>{escape(facts.holder_name)}</title>'
        f"<style>{style}</style></head><body>{body}</body></html>"
    )


def render_body(source: str, values: Mapping[str, Any]) -> str:
    """Render a wording in the sandbox with ``values``; raise TemplateProblem if it fails."""
    template = compile_source(source)
    try:
        return template.render(values)
    except SecurityError as error:
        raise TemplateProblem(
            f"not allowed in a certificate template: {error}",
            _template_line(error),
            kind="not_allowed",
            detail=str(error),
        ) from None
    except UndefinedError as error:
        # "'name' is undefined" is an unknown placeholder; a missing attribute of a
        # value ("'str object' has no attribute 'x'") is any other rendering error.
        unknown = _UNKNOWN_NAME.fullmatch(str(error.message or ""))
        raise TemplateProblem(
            str(error.message or error),
            _template_line(error),
            kind="undefined" if unknown else "render",
            detail=unknown.group(1) if unknown else "",
        ) from None
    except TemplateError as error:
        raise TemplateProblem(str(error.message or error), _template_line(error)) from None
    except (ArithmeticError, TypeError, ValueError) as error:
        raise TemplateProblem(f"{type(error).__name__}: {error}", _template_line(error)) from None


def compile_source(source: str) -> Any:
    """Parse a wording; raise TemplateProblem for bad syntax or unknown placeholders."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise TemplateProblem(
            f"the template is longer than {MAX_SOURCE_LENGTH} characters", kind="too_long"
        )
    try:
        parsed = _SANDBOX.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(
            error.message or "syntax error", error.lineno, kind="syntax"
        ) from None
    for node in parsed.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise TemplateProblem(
            "a certificate template cannot load other templates", node.lineno, kind="includes"
        )
    return _SANDBOX.from_string(source)


def placeholder_values(facts: CertificateFacts, locale: str, look: Look) -> dict[str, Any]:
    def day(value: date | None) -> str:
        return format_date(value, format="long", locale=locale) if value else ""

    values: dict[str, Any] = asdict(facts)
    values |= {
        "role_label": gettext(locale, ROLE_LABELS.get(facts.role, facts.role)),
        "started_on": day(facts.started_on),
        "completed_on": day(facts.completed_on),
        "issued_on": day(facts.issued_on),
        "hours": _format_hours(facts.hours, locale),
        "qr_code": qr_data_uri(facts.verify_url),
        "logo": look.logo_data_uri or "",
    }
    return values


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def sample_facts(locale: str, verify_base: str = "https://example.org") -> CertificateFacts:
    """Made-up facts for the template editor's preview."""
    return CertificateFacts(
        holder_name="Olena Kovalenko",
        role="mentee",
        partner_name="Thomas Wagner",
        programme_name=gettext(locale, "Mentoring Partnership"),
        cohort_name="2026",
        tenant_name="Tandem",
        started_on=date(2026, 3, 2),
        completed_on=date(2026, 9, 30),
        issued_on=date(2026, 10, 15),
        meetings=14,
        hours=21.5,
        code="PREVIEW0000",
        verify_url=f"{verify_base}/verify/PREVIEW0000",
    )


# --- internals ------------------------------------------------------------------------

_PAGE_SIZES = {
    "A4": "A4 portrait",
    "A4 landscape": "A4 landscape",
    "letter": "letter portrait",
    "letter landscape": "letter landscape",
}


def _template_line(error: BaseException) -> int | None:
    """The wording's line an error at render time came from: Jinja rewrites the
    traceback so that the template's frames carry its own line numbers."""
    lines = [
        f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


def _format_hours(hours: float, locale: str) -> str:
    return format_decimal(round(hours, 1), format="#,##0.#", locale=locale)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with a cap on strings built by ``*`` and ``**`` (memory, not safety)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int) and abs(right) > 100:
                raise SecurityError("powers are limited to exponents up to 100")
            return operator.pow(left, right)
        for text, times in ((left, right), (right, left)):
            sized = isinstance(text, str | list | tuple) and isinstance(times, int)
            if sized and len(text) * times > MAX_STRING:
                raise SecurityError(f"strings are limited to {MAX_STRING} characters")
        return operator.mul(left, right)


_SANDBOX = _Sandbox(autoescape=True, undefined=StrictUndefined)
# Only what the placeholders hold: no globals such as range, lipsum, cycler or namespace
# beyond what the sandbox allows, and no way to reach the application.
_SANDBOX.globals.clear()


def _fetcher() -> URLFetcher:
    return URLFetcher(allowed_protocols=("data",))


__all__ = [
    "PLACEHOLDERS",
    "CertificateFacts",
    "TemplateProblem",
    "compile_source",
    "placeholder_values",
    "qr_data_uri",
    "render_body",
    "render_document",
    "render_pdf",
    "sample_facts",
]
