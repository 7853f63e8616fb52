"""The rates report as one self-contained HTML file: inline CSS and SVG, no script, no network.

Charts: each level's rate against its target at each month end, and the
offices ranked by how many results they still need to digitize to meet the
target. The tables below them are those of :func:`digitize.rates.model.report_tables`.
"""

from __future__ import annotations

from html import escape

from digitize.rates.model import RateRow, RatesReport, TrendPoint, report_tables

CSS = """
body { font-family: "Liberation Sans", Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; }
th { background: #f0f0f0; } td.behind { color: #b00020; font-weight: bold; } td.met { color: #1b7f3b; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; } figure { margin: 0; }
figcaption { font-size: .9em; margin-bottom: .3em; } .note { color: #555; font-size: .85em; }
"""

WIDTH, HEIGHT, PAD = 360, 200, 34
MAX_RANKED = 20


def render_html(report: RatesReport) -> str:
    """The whole report as an HTML document (UTF-8 text)."""
    title = f"Số hóa kết quả giải quyết TTHC: digitization rates at {report.period_end.isoformat()}"
    scope = ", ".join(f"{k} {v}" for k, v in report.filters.items()) or "all levels and offices"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Plan 4521/QĐ-UBND targets for {report.year}; {escape(scope)}. '
        "A result counts when its signed document &lt;dossier code&gt;-KQ&lt;n&gt; is archived and verified; "
        "the denominator is the results in force at the period end.</p>",
        "<h2>Rate against target per level</h2>",
        '<div class="charts">',
        *(_trend_chart(level.level, [t for t in report.trend if t.level == level.level]) for level in report.levels),
        "</div>",
        "<h2>Offices ranked by gap</h2>",
        _gap_chart([r for r in report.offices if r.needed > 0]),
    ]
    parts += [_table(t.title, t.columns, t.rows) for t in report_tables(report)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _y(percent: float) -> float:
    return PAD + (HEIGHT - 2 * PAD) * (1 - percent / 100)


def _x(index: int, count: int) -> float:
    return PAD + (WIDTH - 2 * PAD) * (index / max(count - 1, 1))


def _trend_chart(level: str, points: list[TrendPoint]) -> str:
    """A line chart: the level's rate (solid) and target (dashed) at each checkpoint, 0-100%."""
    n = len(points)
    grid = "".join(
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{_y(p):.1f}" y2="{_y(p):.1f}" stroke="#ddd"/>'
        f'<text x="{PAD - 4}" y="{_y(p) + 4:.1f}" font-size="10" text-anchor="end">{p}%</text>'
        for p in (0, 25, 50, 75, 100)
    )
    labels = "".join(
        f'<text x="{_x(i, n):.1f}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="middle">'
        f"{t.at.strftime('%m/%y')}</text>"
        for i, t in enumerate(points) if i % 2 == (n - 1) % 2
    )
    rate = _polyline([(i, t.rate) for i, t in enumerate(points)], n, "#1f5fa8", "")
    target = _polyline([(i, None if t.target is None else float(t.target)) for i, t in enumerate(points)], n,
                       "#b00020", ' stroke-dasharray="5 3"')
    last = points[-1] if points else None
    caption = f"{level}: " + ("no data" if last is None else
                              f"{_pct(last.rate)} of {last.in_force} in force, target {_pct(last.target)}")
    return (
        f"<figure><figcaption>{escape(caption)}</figcaption>"
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(caption)}">{grid}{labels}{target}{rate}'
        f'<text x="{WIDTH - PAD}" y="14" font-size="10" text-anchor="end" fill="#1f5fa8">rate</text>'
        f'<text x="{WIDTH - PAD}" y="26" font-size="10" text-anchor="end" fill="#b00020">target</text>'
        "</svg></figure>"
    )


def _polyline(values: list[tuple[int, float | None]], count: int, colour: str, extra: str) -> str:
    points = " ".join(f"{_x(i, count):.1f},{_y(v):.1f}" for i, v in values if v is not None)
    if not points:
        return ""
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{extra}/>'


def _gap_chart(rows: list[RateRow]) -> str:
    """Horizontal bars: the offices with the most results still needed to meet the target."""
    if not rows:
        return "<p>Every office meets its target.</p>"
    shown = rows[:MAX_RANKED]
    top = max(r.needed for r in shown)
    bar_area, row_height, label_width = 300, 18, 260
    height = row_height * len(shown) + 10
    bars = []
    for i, r in enumerate(shown):
        y = 5 + i * row_height
        length = bar_area * r.needed / top
        label = f"{r.office_name} ({r.level})"
        bars.append(
            f'<text x="{label_width - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row_height - 5}" fill="#d9822b"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" font-size="10">{r.needed} needed · '
            f"{_pct(r.rate)} of {_pct(r.target)}</text>"
        )
    more = f'<p class="note">{len(rows) - len(shown)} more office(s) behind: see the table.</p>' \
        if len(rows) > len(shown) else ""
    return (f'<svg width="{label_width + bar_area + 170}" height="{height}" '
            f'role="img" aria-label="offices ranked by gap">{"".join(bars)}</svg>{more}')


def _pct(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.0f}%" if isinstance(value, int) else f"{value:.1f}%"


def _table(title: str, columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    status = columns.index("status") if "status" in columns else -1
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{escape(cell)}">{escape(cell)}</td>' if j == status else f"<td>{escape(cell)}</td>"
            for j, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
