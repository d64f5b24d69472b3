"""A grouped bar chart as inline SVG: no JavaScript library, nothing fetched, prints as drawn.

Colours come from CSS classes (``web/static/motcua.css``: ``.series-0`` …), so the strict
Content-Security-Policy (no inline styles) holds; text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def _nice_max(value: float) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    width: int = 760,
    height: int = 300,
) -> Markup:
    """Bars per category, one colour per series, with a y axis, labels and a legend."""
    left, right, top, bottom = 48, 12, 28, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, values in series for v in values), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    n = max(1, len(categories))
    group_w = plot_w / n
    bar_w = max(2.0, min(28.0, (group_w - 8) / max(1, len(series))))
    for ci, category in enumerate(categories):
        x0 = left + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, (label, values) in enumerate(series):
            value = values[ci] if ci < len(values) else 0
            h = plot_h * value / top_value if top_value else 0
            x, y = x0 + si * bar_w, top + plot_h - h
            parts.append(
                f'<rect class="series-{si}" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}">'
                f"<title>{escape(category)}: {escape(label)} {value}</title></rect>"
            )
        cx = left + ci * group_w + group_w / 2
        parts.append(f'<text class="axis" x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f"{escape(category[:18])}</text>")
    lx = left
    for si, (label, _values) in enumerate(series):
        parts.append(f'<rect class="series-{si}" x="{lx}" y="{height - 22}" width="12" height="12"/>')
        parts.append(f'<text class="legend" x="{lx + 16}" y="{height - 12}">{escape(label)}</text>')
        lx += 24 + 8 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))
