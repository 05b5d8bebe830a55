"""SVG charts for the benchmark report, standard library only: a log-log line chart (cost
against log size) and a horizontal bar chart on a log scale (throughput per stage)."""

import math
from xml.sax.saxutils import escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
FONT = 'font-family="sans-serif" font-size="12"'


def _decades(lo, hi):
    a = math.floor(math.log10(lo))
    b = math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return a, b


def _bytes_label(e):
    names = {0: "1 B", 3: "1 kB", 6: "1 MB", 9: "1 GB", 12: "1 TB"}
    if e in names:
        return names[e]
    base = names.get(e - e % 3, "")
    return f"{10 ** (e % 3)} {base.split(' ')[1]}" if base else f"1e{e}"


def _num_label(e):
    v = 10.0 ** e
    return f"{v:g}" if -3 <= e <= 5 else f"1e{e}"


def loglog(title, xlabel, ylabel, lines, ref_slope=None, width=760, height=460):
    """lines: [(name, [(x, y), ...])] with x in bytes; draws each as a polyline with points,
    and with ref_slope a faint dashed line of that slope through each line's last point."""
    pts = [p for _, xy in lines for p in xy if p[0] > 0 and p[1] > 0]
    if not pts:
        return _empty(title, width, height)
    x0, x1 = _decades(min(p[0] for p in pts), max(p[0] for p in pts))
    y0, y1 = _decades(min(p[1] for p in pts), max(p[1] for p in pts))
    legend_h = 18 * ((len(lines) + 1) // 2) + 10
    L, R, T, Bm = 70, 40, 40, 50 + legend_h
    pw, ph = width - L - R, height - T - Bm

    def X(x):
        return L + (math.log10(x) - x0) / (x1 - x0) * pw

    def Y(y):
        return T + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    out = [_head(width, height), f'<text x="{width / 2}" y="22" text-anchor="middle" {FONT} '
           f'font-weight="bold">{escape(title)}</text>']
    out.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    for e in range(x0, x1 + 1):
        x = X(10.0 ** e)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{T + ph + 16}" text-anchor="middle" {FONT}>{_bytes_label(e)}</text>')
    for e in range(y0, y1 + 1):
        y = Y(10.0 ** e)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT}>{_num_label(e)}</text>')
    out.append(f'<text x="{L + pw / 2}" y="{T + ph + 34}" text-anchor="middle" {FONT}>{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(16,{T + ph / 2}) rotate(-90)" text-anchor="middle" '
               f'{FONT}>{escape(ylabel)}</text>')
    out.append(f'<clipPath id="plot"><rect x="{L}" y="{T}" width="{pw}" height="{ph}"/></clipPath>')
    for i, (name, xy) in enumerate(lines):
        c = PALETTE[i % len(PALETTE)]
        xy = [p for p in xy if p[0] > 0 and p[1] > 0]
        if not xy:
            continue
        if ref_slope is not None:
            xa, ya = xy[-1]
            xs = 10.0 ** x0
            ys = ya * (xs / xa) ** ref_slope
            out.append(f'<line x1="{X(xs):.1f}" y1="{Y(ys):.1f}" x2="{X(xa):.1f}" y2="{Y(ya):.1f}" '
                       f'stroke="{c}" stroke-opacity="0.35" stroke-dasharray="4 4" clip-path="url(#plot)"/>')
        path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in xy)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in xy:
            out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{c}">'
                       f'<title>{escape(name)}: {y:g} at {x:.0f} bytes</title></circle>')
        lx = L + (i % 2) * (pw / 2)
        ly = T + ph + 52 + 18 * (i // 2)
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 20}" y2="{ly - 4}" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 26}" y="{ly}" {FONT}>{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bars(title, items, unit, width=760):
    """items: [(name, value)] drawn as horizontal bars on a log scale, biggest first."""
    items = [(n, v) for n, v in items if v and v > 0]
    if not items:
        return _empty(title, width, 80)
    L, R, T, row = 230, 80, 40, 24
    height = T + row * len(items) + 40
    pw = width - L - R
    x0, x1 = _decades(min(v for _, v in items), max(v for _, v in items))

    def X(v):
        return L + (math.log10(v) - x0) / (x1 - x0) * pw

    out = [_head(width, height), f'<text x="{width / 2}" y="22" text-anchor="middle" {FONT} '
           f'font-weight="bold">{escape(title)}</text>']
    for e in range(x0, x1 + 1):
        x = X(10.0 ** e)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{T + row * len(items)}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{T + row * len(items) + 16}" text-anchor="middle" '
                   f'{FONT}>{_num_label(e)}</text>')
    for i, (name, v) in enumerate(items):
        y = T + i * row
        base = "baseline" in name or "ghc-events" in name
        c = "#999" if base else PALETTE[0]
        out.append(f'<rect x="{L}" y="{y + 4}" width="{max(X(v) - L, 1):.1f}" height="{row - 8}" fill="{c}">'
                   f'<title>{escape(name)}: {v:g} {escape(unit)}</title></rect>')
        out.append(f'<text x="{L - 6}" y="{y + row / 2 + 4}" text-anchor="end" {FONT}>{escape(name)}</text>')
        out.append(f'<text x="{X(v) + 4:.1f}" y="{y + row / 2 + 4}" {FONT}>{_short(v)}</text>')
    out.append(f'<text x="{L + pw / 2}" y="{height - 6}" text-anchor="middle" {FONT}>{escape(unit)} '
               f'(grey: baselines)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _short(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _head(w, h):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="white"/>')


def _empty(title, w, h):
    return _head(w, h) + f'<text x="10" y="20" {FONT}>{escape(title)}: no data</text></svg>\n'
