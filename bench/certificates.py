"""Certificate benchmark: seconds to render one certificate PDF (target: at most 0.5 s).

    python bench/certificates.py [--renders N] [--templates ID,ID] [--logo FILE] [--json]

Loads the installed plugins through the plugin host, takes the built-in certificate
templates (``certificate_muenchen``, ``certificate_augsburg``, ``certificate_toronto``
by default) with their default settings, and renders each of them ``N`` times with
:func:`core.certificates.render.render_pdf` — the sandboxed Jinja2 wording, the QR code
and WeasyPrint's layout, exactly what the render job does — cycling through the
template's languages and roles, each time with a fresh verification code. The first
render of the process (fonts and WeasyPrint's start-up) is reported apart, as
``first_seconds``; a worker pays it once. bench/README.md describes the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
import uuid
from base64 import b64encode
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere in the checkout
    sys.path.insert(0, str(ROOT))

from core.certificates import codes  # noqa: E402
from core.certificates.render import render_pdf, sample_facts  # noqa: E402
from core.pluginhost.manager import PluginHost  # noqa: E402
from core.pluginhost.types import CertificateTemplate  # noqa: E402
from core.tenancy.look import Look, theme_colours  # noqa: E402
from core.tenancy.models import TenantStatus  # noqa: E402
from core.tenancy.snapshot import TenantSnapshot  # noqa: E402

BUILT_IN = ("certificate_muenchen", "certificate_augsburg", "certificate_toronto")
TARGET_SECONDS = 0.5
THEMES = {"certificate_muenchen": "muenchen", "certificate_augsburg": "augsburg"}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 renders is the 19th fastest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def tenant_for(host: PluginHost, plugin_id: str) -> TenantSnapshot:
    """A made-up tenant that enables only ``plugin_id``, with its default settings."""
    settings = host.info(plugin_id).validate_settings({})
    return TenantSnapshot(
        id=uuid.uuid4(),
        slug="bench",
        name="Tandem Bench",
        status=TenantStatus.ACTIVE,
        default_locale="de",
        locales=("de", "en"),
        theme=THEMES.get(plugin_id, "toronto"),
        revision=1,
        domains=("bench.tandem.example",),
        plugin_settings=MappingProxyType({plugin_id: settings}),
    )


def templates_of(
    host: PluginHost, plugin_id: str
) -> tuple[TenantSnapshot, list[CertificateTemplate]]:
    if plugin_id not in host.infos:
        raise SystemExit(f"plugin {plugin_id!r} is not installed (make install)")
    tenant = tenant_for(host, plugin_id)
    answers = host.hooks_for(tenant).register_certificate_templates(tenant=tenant)
    templates = [t for answer in answers for t in (answer or ())]
    if not templates:
        raise SystemExit(f"plugin {plugin_id!r} offers no certificate template")
    return tenant, templates


def render_once(
    template: CertificateTemplate, tenant: TenantSnapshot, locale: str, role: str, look: Look
) -> tuple[float, int]:
    code = codes.new_code()
    facts = replace(
        sample_facts(locale, f"https://{tenant.domains[0]}"),
        role=role,
        code=codes.display(code),
        verify_url=f"https://{tenant.domains[0]}/verify/{code}",
    )
    started = time.perf_counter()
    pdf = render_pdf(template, template.sources[locale], facts, locale, look)
    return time.perf_counter() - started, len(pdf)


def summary(name: str, seconds: list[float], sizes: list[int]) -> dict[str, Any]:
    return {
        "templates": name,
        "renders": len(seconds),
        "median_seconds": round(statistics.median(seconds), 4),
        "p95_seconds": round(percentile(seconds, 0.95), 4),
        "max_seconds": round(max(seconds), 4),
        "mean_seconds": round(statistics.fmean(seconds), 4),
        "mean_pdf_kb": round(statistics.fmean(sizes) / 1024, 1),
        "target_seconds": TARGET_SECONDS,
        "within_target": percentile(seconds, 0.95) <= TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=30, help="renders per plugin (30)")
    parser.add_argument("--templates", default=",".join(BUILT_IN), help="plugin ids")
    parser.add_argument("--logo", type=Path, help="a PNG to print as the tenant's logo")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    if args.renders < 1:
        parser.error("--renders must be at least 1")
    logo = None
    if args.logo:
        logo = "data:image/png;base64," + b64encode(args.logo.read_bytes()).decode("ascii")

    host = PluginHost.load()
    results: list[dict[str, Any]] = []
    everything: list[float] = []
    all_sizes: list[int] = []
    first: float | None = None
    for plugin_id in [p.strip() for p in args.templates.split(",") if p.strip()]:
        tenant, templates = templates_of(host, plugin_id)
        primary, accent = theme_colours(tenant.theme)
        look = Look(primary=primary, accent=accent, logo_data_uri=logo)
        cases = itertools.cycle(
            [(t, locale, role) for t in templates for locale in t.sources for role in t.roles]
        )
        if first is None:  # start-up: fonts, WeasyPrint's caches
            template, locale, role = next(cases)
            first, _ = render_once(template, tenant, locale, role, look)
        seconds: list[float] = []
        sizes: list[int] = []
        for template, locale, role in itertools.islice(cases, args.renders):
            elapsed, size = render_once(template, tenant, locale, role, look)
            seconds.append(elapsed)
            sizes.append(size)
        results.append(summary(plugin_id, seconds, sizes))
        everything += seconds
        all_sizes += sizes
    overall = summary("all", everything, all_sizes) | {"first_seconds": round(first or 0, 4)}
    results.append(overall)

    if args.json:
        for row in results:
            print(json.dumps(row, sort_keys=True))
    else:
        print(f"{'templates':<24}{'renders':>8}{'median s':>10}{'p95 s':>8}{'max s':>8}{'kB':>7}")
        for row in results:
            print(
                f"{row['templates']:<24}{row['renders']:>8}{row['median_seconds']:>10.3f}"
                f"{row['p95_seconds']:>8.3f}{row['max_seconds']:>8.3f}{row['mean_pdf_kb']:>7.1f}"
            )
        verdict = "within" if overall["within_target"] else "OVER"
        print(
            f"first render of the process: {overall['first_seconds']:.3f} s; "
            f"p95 {verdict} the target of {TARGET_SECONDS} s"
        )
    return 0 if overall["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
