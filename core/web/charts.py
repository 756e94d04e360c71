"""Small server-side SVG bar charts: no JavaScript, readable without colour.

A chart is an ``<svg role="img">`` named by its ``<title>`` and ``<desc>`` (screen
readers announce both); every bar carries its number as text, and each series has a
legend entry, so the chart reads without telling colours apart. The page shows the
same numbers as a table as well (the template's job), for people who want to read or
copy them.

Colours come from the stylesheet (``.chart .series-<n>`` in ``base.css``, built on the
theme's CSS variables): the strict content security policy forbids inline styles,
and a theme restyles charts like everything else. All text is escaped here; callers
pass plain strings.

Layout: one row per category, its label on a line of its own above the bars, one
horizontal bar per series below it, bars scaled to the largest value and each number
right after its bar. Widths are in SVG user units; the ``viewBox`` lets the chart shrink
with the page. The drawing is narrow (``WIDTH``) and ``base.css`` keeps it from growing
much beyond it, so that the text, which scales with the chart, stays near its set size
on a phone as on a desktop; labels above the bars leave the whole width to the bars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360
VALUE_SPACE = 44  # room right of the longest bar for its number
VALUE_GAP = 6
LABEL_HEIGHT = 22  # the category's label line above its bars
BAR_HEIGHT = 16
BAR_GAP = 3
ROW_GAP = 12
LEGEND_LINE = 22  # one legend entry per line: two long names never run off the side
LEGEND_SWATCH = 14
CHAR_WIDTH = 8.3  # an estimate of one character at the chart's font size, for cutting


@dataclass(frozen=True)
class Series:
    label: str


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[float, ...]  # one per series


def _fit(text: str, width: float) -> str:
    """Cut a label that would not fit its line (the full text stays in a <title>)."""
    limit = max(4, int(width / CHAR_WIDTH))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[Series],
    rows: Sequence[Row],
    number: Callable[[float], str] = lambda value: f"{value:g}",
) -> Markup:
    """A horizontal (grouped) bar chart as inline SVG markup."""
    if any(len(row.values) != len(series) for row in rows):
        raise ValueError("every row needs one value per series")
    largest = max((v for row in rows for v in row.values), default=0) or 1
    legend = len(series) > 1
    top = len(series) * LEGEND_LINE + ROW_GAP // 2 if legend else 0
    row_height = LABEL_HEIGHT + len(series) * BAR_HEIGHT + (len(series) - 1) * BAR_GAP
    height = top + len(rows) * (row_height + ROW_GAP)
    span = WIDTH - VALUE_SPACE
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(description)}</desc>',
    ]
    if legend:
        parts.append('<g class="legend">')
        for index, item in enumerate(series):
            y = index * LEGEND_LINE
            parts.append(
                f'<rect class="series-{index}" x="0" y="{y + 3}" width="{LEGEND_SWATCH}" '
                f'height="{LEGEND_SWATCH}" rx="2"/>'
                f'<text x="{LEGEND_SWATCH + 6}" y="{y + 15}">'
                f"{escape(_fit(item.label, WIDTH - LEGEND_SWATCH - 6))}</text>"
            )
        parts.append("</g>")
    y = top
    for row in rows:
        shown = _fit(row.label, WIDTH)
        parts.append('<g class="row">')
        parts.append(
            f'<text class="label" x="0" y="{y + LABEL_HEIGHT - 7}">'
            f"<title>{escape(row.label)}</title>{escape(shown)}</text>"
        )
        for index, value in enumerate(row.values):
            bar_y = y + LABEL_HEIGHT + index * (BAR_HEIGHT + BAR_GAP)
            width = round(span * value / largest, 1)
            name = f"{series[index].label}: " if legend else ""
            parts.append(
                f'<rect class="bar series-{index}" x="0" y="{bar_y}" '
                f'width="{width:g}" height="{BAR_HEIGHT}" rx="2">'
                f"<title>{escape(row.label)}: {escape(name)}{escape(number(value))}</title></rect>"
                f'<text class="value" x="{width + VALUE_GAP:g}" '
                f'y="{bar_y + BAR_HEIGHT - 3}">{escape(number(value))}</text>'
            )
        parts.append("</g>")
        y += row_height + ROW_GAP
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["Row", "Series", "bar_chart"]
