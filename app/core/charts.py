"""Server-rendered SVG charts: small (a few KB), no script, no CSS (presentation attributes only, so
the CSP needs nothing), with a <title> and <desc> for screen readers; the page gives the same figures
as a table beside the chart."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#b3261e", "#0b57a4", "#1b6e3a", "#b07a00", "#6a3d9a", "#00838f", "#c2185b", "#8d99a6")
WIDTH, PLOT_TOP, PLOT_HEIGHT, LEFT, BOTTOM = 640, 10, 180, 40, 22
LEGEND_ROW, LEGEND_COLUMNS = 20, 4


def nice_max(value: int) -> int:
    """The axis maximum: the smallest 1, 2 or 5 × 10^k at least ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_bars(labels: list[str], series: list[tuple[str, list[int]]], *, title: str, desc: str,
                 chart_id: str = "chart") -> Markup:
    """One bar per label, stacked by series (name, one value per label); a legend below."""
    series = series[:len(PALETTE)]
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = nice_max(max(totals, default=0))
    legend_rows = -(-len(series) // LEGEND_COLUMNS)
    height = PLOT_TOP + PLOT_HEIGHT + BOTTOM + legend_rows * LEGEND_ROW + 6
    slot = (WIDTH - LEFT - 8) / max(1, len(labels))
    bar = min(36.0, slot * 0.7)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'aria-labelledby="{chart_id}-t {chart_id}-d" font-size="11" font-family="sans-serif">',
           f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>']
    base = PLOT_TOP + PLOT_HEIGHT
    for tick in (0, top // 2 if top % 2 == 0 else None, top):
        if tick is None:
            continue
        y = base - tick * PLOT_HEIGHT / top
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - 4}" y1="{y:.0f}" y2="{y:.0f}" stroke="#d9dde3"/>'
                   f'<text x="{LEFT - 4}" y="{y + 4:.0f}" text-anchor="end" fill="#5b6572">{tick}</text>')
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        y = float(base)
        for n, (_, values) in enumerate(series):
            if values[i]:
                h = values[i] * PLOT_HEIGHT / top
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[n]}"/>')
        out.append(f'<text x="{x + bar / 2:.1f}" y="{base + 15}" text-anchor="middle">{escape(label)}</text>')
    for n, (name, _) in enumerate(series):
        x = LEFT + (n % LEGEND_COLUMNS) * (WIDTH - LEFT) / LEGEND_COLUMNS
        y = base + BOTTOM + (n // LEGEND_COLUMNS) * LEGEND_ROW
        out.append(f'<rect x="{x:.0f}" y="{y}" width="10" height="10" fill="{PALETTE[n]}"/>'
                   f'<text x="{x + 14:.0f}" y="{y + 9}">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def top_series(categories: list[tuple], matrix: dict, months: list[int], other: str,
               limit: int = len(PALETTE)) -> list[tuple[str, list[int]]]:
    """The chart's series: the biggest categories, the rest summed as ``other`` (the last colour)."""
    series = [(name or other, [matrix[cid].get(m, 0) for m in months]) for cid, name in categories]
    if len(series) <= limit:
        return series
    rest = series[limit - 1:]
    return series[:limit - 1] + [(other, [sum(v[i] for _, v in rest) for i in range(len(months))])]
