"""Accessible SVG bar charts, rendered on the server (no JavaScript, no charting library).

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` (read by screen
readers) and visible text labels and values on every bar, so it works as a picture
and as a list of numbers. Values are escaped; the output is safe to insert as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)

ROW_HEIGHT = 22
ROW_GAP = 6
LABEL_WIDTH = 150
BAR_AREA = 300
VALUE_WIDTH = 70
TOP = 28


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    alt_value: float | None = None  # a second bar in the same row (e.g. offered vs requested)


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _trim(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    *,
    unit: str | tuple[str, str] = "",
    series: tuple[str, str] | None = None,
) -> Markup:
    """A horizontal bar chart; with ``series`` each row has two bars (``value`` and ``alt_value``).

    ``unit`` follows each value: one word, or (singular, plural) for "1 request" / "2 requests".
    """
    chart_id = f"chart-{next(_ids)}"
    paired = series is not None
    per_row = (ROW_HEIGHT * 2 if paired else ROW_HEIGHT) + ROW_GAP
    top = TOP + (18 if paired else 0)
    height = top + max(1, len(bars)) * per_row + 4
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    peak = max([b.value for b in bars] + [b.alt_value or 0 for b in bars] + [0])
    scale = BAR_AREA / peak if peak > 0 else 0.0
    one, many = (unit, unit) if isinstance(unit, str) else unit

    def suffix(value: float) -> str:
        word = one if value == 1 else many
        return f" {word}" if word else ""

    def describe(b: Bar) -> str:
        if paired and series is not None:
            return f"{b.label}: {series[0]} {_fmt(b.value)}, {series[1]} {_fmt(b.alt_value or 0)}"
        return f"{b.label}: {_fmt(b.value)}{suffix(b.value)}"

    desc = "; ".join(describe(b) for b in bars) if bars else "No data yet."
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<text x="0" y="16" font-weight="600">{escape(title)}</text>',
    ]
    if paired and series is not None:
        parts.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{TOP - 8}" width="10" height="10"/>'
                     f'<text x="{LABEL_WIDTH + 14}" y="{TOP + 1}">{escape(series[0])}</text>'
                     f'<rect class="bar alt" x="{LABEL_WIDTH + 130}" y="{TOP - 8}" width="10" height="10"/>'
                     f'<text x="{LABEL_WIDTH + 144}" y="{TOP + 1}">{escape(series[1])}</text>')
    if not bars:
        parts.append(f'<text x="0" y="{top + 16}" class="muted">No data yet.</text>')
    for i, b in enumerate(bars):
        y = top + i * per_row
        parts.append(f'<g><text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">'
                     f'<title>{escape(b.label)}</title>{escape(_trim(b.label))}</text>')
        rows = [(b.value, "bar")] + ([(b.alt_value or 0, "bar alt")] if paired else [])
        for j, (value, css) in enumerate(rows):
            by = y + j * ROW_HEIGHT
            w = max(0.0, value * scale)
            parts.append(f'<rect class="{css}" x="{LABEL_WIDTH}" y="{by + 2}" width="{w:.1f}" '
                         f'height="{ROW_HEIGHT - 4}"/>')
            parts.append(f'<text x="{LABEL_WIDTH + w + 4:.1f}" y="{by + 15}">{escape(_fmt(value))}'
                         f'{escape(suffix(value))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
