"""Small server-rendered SVG charts: no JavaScript, no build step, readable by all.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that
states every number, and the pages show the same figures in a table beside
it, so a screen reader loses nothing. Colours pass WCAG AA contrast on white.
"""

from __future__ import annotations

import itertools

from markupsafe import Markup, escape

#: Bars: dark blue and dark orange, both > 4.5:1 against white.
COLOURS = ("#1f4e99", "#a34700")
_ids = itertools.count(1)

ROW = 26
LABEL_WIDTH = 190
BAR_WIDTH = 320


def bar_chart(title: str, rows: list[tuple[str, float]], *, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value)."""
    if not rows:
        return Markup("")
    top = max(value for _, value in rows) or 1
    uid = next(_ids)
    height = ROW * len(rows) + 10
    desc = "; ".join(f"{label}: {_num(value)}{unit}" for label, value in rows)
    parts = [_open(uid, title, desc, height)]
    for index, (label, value) in enumerate(rows):
        y = 5 + index * ROW
        width = max(1.0, BAR_WIDTH * value / top) if value else 0
        parts.append(_label(label, y))
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}" '
            f'fill="{COLOURS[0]}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + ROW / 2 + 4}" '
            f'font-size="13" fill="#1a1a1a">{escape(_num(value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_bar_chart(
    title: str, rows: list[tuple[str, float, float]], legend: tuple[str, str]
) -> Markup:
    """Two bars per label (e.g. lent and borrowed), with a legend."""
    if not rows:
        return Markup("")
    top = max(max(a, b) for _, a, b in rows) or 1
    uid = next(_ids)
    pair = ROW * 1.6
    height = int(pair * len(rows) + 34)
    desc = "; ".join(
        f"{label}: {legend[0]} {_num(a)}, {legend[1]} {_num(b)}" for label, a, b in rows
    )
    parts = [_open(uid, title, desc, height)]
    for index, name in enumerate(legend):
        x = LABEL_WIDTH + index * 140
        parts.append(
            f'<rect x="{x}" y="4" width="14" height="14" fill="{COLOURS[index]}"/>'
            f'<text x="{x + 20}" y="16" font-size="13" fill="#1a1a1a">{escape(name)}</text>'
        )
    for index, (label, a, b) in enumerate(rows):
        y = 28 + index * pair
        parts.append(_label(label, y + 4))
        for offset, (value, colour) in enumerate(zip((a, b), COLOURS, strict=True)):
            width = BAR_WIDTH * value / top if value else 0
            by = y + offset * (ROW * 0.7)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{by:.1f}" width="{width:.1f}" '
                f'height="{ROW * 0.6:.1f}" fill="{colour}"/>'
                f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{by + ROW * 0.5:.1f}" '
                f'font-size="12" fill="#1a1a1a">{escape(_num(value))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(uid: int, title: str, desc: str, height: float) -> str:
    width = LABEL_WIDTH + BAR_WIDTH + 70
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="chart{uid}-t chart{uid}-d">'
        f'<title id="chart{uid}-t">{escape(title)}</title>'
        f'<desc id="chart{uid}-d">{escape(desc)}</desc>'
    )


def _label(label: str, y: float) -> str:
    shown = label if len(label) <= 26 else label[:25] + "…"
    return (
        f'<text x="{LABEL_WIDTH - 8}" y="{y + ROW / 2 + 4}" text-anchor="end" '
        f'font-size="13" fill="#1a1a1a">{escape(shown)}</text>'
    )


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
