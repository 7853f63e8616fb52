"""The rates report as one printable HTML page: a Jinja2 template, inline CSS and SVG, no script, no network.

What the province office prints and presents: for each level, target
against actual at the end of every year of the plan (2022 to the report
year), the rate at each of the last twelve month ends, the offices ranked by
how many results they still need, then the tables of
:func:`rates.tables.human_tables`. Every word goes through
:mod:`digitize.i18n` (``<html lang>`` is the current language), dates and
numbers as the language writes them. The page is laid out for A4 (print CSS:
page size, margins, tables that fit the width and repeat their header, no
chart cut by a page break).

The charts' geometry is computed here (plain numbers); the template only
draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from digitize.i18n import _, format_date, format_percent, language
from rates.model import RateRow, RatesReport, TrendPoint
from rates.tables import Human, Table, human_tables, report_tables

#: Chart sizes in SVG user units (the page scales them to its width).
WIDTH, HEIGHT, PAD = 340, 190, 34
GAP_WIDTH, GAP_ROW = 680, 18
MAX_RANKED = 20
MAX_LABEL = 36  # characters of an office's name beside its bar (the table has it whole)

_ENV = Environment(loader=PackageLoader("rates", "templates"), autoescape=select_autoescape(default=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Bar:
    """A rectangle of a chart, with its label (above it, or before it) and a note (after it)."""

    x: float
    y: float
    width: float
    height: float
    label: str
    note: str = ""


@dataclass(frozen=True)
class SpanChart:
    """Target against actual at the end of each year of the plan, for one level."""

    caption: str
    grid: tuple[tuple[float, str], ...]
    years: tuple[tuple[float, str], ...]
    targets: tuple[Bar, ...]
    actuals: tuple[Bar, ...]


@dataclass(frozen=True)
class TrendChart:
    """The rate and the target at each of the last twelve month ends, for one level."""

    caption: str
    grid: tuple[tuple[float, str], ...]
    months: tuple[tuple[float, str], ...]
    rate: str
    target: str


@dataclass(frozen=True)
class GapChart:
    """The offices with the most results still needed, as horizontal bars."""

    height: int
    label_x: int
    bars: tuple[Bar, ...]
    more: int


def render_html(report: RatesReport) -> str:
    """The whole report as an HTML document (UTF-8 text) in the current language."""
    levels = [row.level for row in report.levels]
    human = Human()
    gap = _gap_chart([r for r in report.offices if r.needed > 0], human)
    context = {
        "lang": language(),
        "title": _("Digitization of administrative procedure results: rates at {end}",
                   end=format_date(report.period_end)),
        "intro": _("Targets of plan 4521/QĐ-UBND for {year}; {scope}. A result counts when its signed document "
                   "<dossier code>-KQ<n> is archived and verified; the denominator is the results in force at the "
                   "period end.", year=str(report.year), scope=_scope(report, human)),
        "labels": {
            "span": _("Target against actual per level"),
            "trend": _("Rate at each month end, last 12 months"),
            "gap": _("Offices ranked by results still needed"),
            "tables": _("Tables"),
            "target": _("target"), "actual": _("actual"), "rate": _("rate"),
            "none_behind": _("Every office meets its target."),
            "none": _("(none)"),
            "more": _("{n} more office(s) behind: see the table.", n=human.value(gap.more)) if gap.more else "",
        },
        "span": [_span_chart(level, [p for p in report.span if p.level == level], human) for level in levels],
        "trend": [_trend_chart(level, [t for t in report.trend if t.level == level], human) for level in levels],
        "gap": gap,
        "tables": _table_views(human_tables(report), report_tables(report)),
        "width": WIDTH, "height": HEIGHT, "pad": PAD, "gap_width": GAP_WIDTH,
    }
    return _ENV.get_template("report.html.j2").render(**context)


@dataclass(frozen=True)
class TableView:
    """A table as the page draws it: each cell with its CSS class (``met``, ``behind`` or none)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, str], ...], ...]


def _table_views(human: tuple[Table, ...], stable: tuple[Table, ...]) -> list[TableView]:
    """The human tables, a status cell classed by the stable table's word (the same rows, in the same order)."""
    views = []
    for shown, plain in zip(human, stable, strict=True):
        status = plain.columns.index("status") if "status" in plain.columns else -1
        rows = tuple(tuple((cell, plain_row[j] if j == status and plain_row[j] in ("met", "behind") else "")
                           for j, cell in enumerate(row)) for row, plain_row in zip(shown.rows, plain.rows, strict=True))
        views.append(TableView(shown.name, shown.title, shown.columns, rows))
    return views


def _scope(report: RatesReport, human: Human) -> str:
    parts = []
    if "level" in report.filters:
        parts.append(_("{level} level", level=human.level(report.filters["level"])))
    if "office" in report.filters:
        parts.append(_("office {office}", office=report.filters["office"]))
    return ", ".join(parts) or _("all levels and offices")


def _y(percent: float) -> float:
    return round(PAD + (HEIGHT - 2 * PAD) * (1 - min(percent, 100) / 100), 1)


def _x(index: int, count: int) -> float:
    return round(PAD + (WIDTH - 2 * PAD) * (index / max(count - 1, 1)), 1)


def _grid() -> tuple[tuple[float, str], ...]:
    return tuple((_y(p), format_percent(p, 0)) for p in (0, 25, 50, 75, 100))


def _caption(level: str, last: TrendPoint | None, human: Human) -> str:
    name = _("{level} level", level=human.level(level))
    if last is None:
        return _("{level}: no data", level=name)
    return _("{level}: {rate} of {in_force} results in force, target {target}", level=name,
             rate=human.rate(last.rate), in_force=human.value(last.in_force), target=human.target(last.target))


def _span_chart(level: str, points: list[TrendPoint], human: Human) -> SpanChart:
    """Two bars a year: the target (light) and the rate reached (dark), 0-100%."""
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    bar = min(slot * 0.36, 26)
    targets, actuals, years = [], [], []
    for i, p in enumerate(points):
        left = PAD + slot * i + (slot - 2 * bar) / 2
        years.append((round(PAD + slot * (i + 0.5), 1), str(p.at.year) if p.at.month == 12 and p.at.day == 31
                      else format_date(p.at)))
        target = float(p.target or 0)
        targets.append(Bar(round(left, 1), _y(target), round(bar, 1), round(_y(0) - _y(target), 1),
                           human.target(p.target)))
        rate = p.rate or 0.0
        actuals.append(Bar(round(left + bar, 1), _y(rate), round(bar, 1), round(_y(0) - _y(rate), 1),
                           human.rate(p.rate)))
    return SpanChart(_caption(level, points[-1] if points else None, human), _grid(), tuple(years), tuple(targets),
                     tuple(actuals))


def _trend_chart(level: str, points: list[TrendPoint], human: Human) -> TrendChart:
    """A line chart: the level's rate (solid) and target (dashed) at each checkpoint, 0-100%."""
    n = len(points)
    months = tuple((_x(i, n), t.at.strftime("%m/%y")) for i, t in enumerate(points) if i % 2 == (n - 1) % 2)
    rate = " ".join(f"{_x(i, n)},{_y(t.rate)}" for i, t in enumerate(points) if t.rate is not None)
    target = " ".join(f"{_x(i, n)},{_y(t.target)}" for i, t in enumerate(points) if t.target is not None)
    return TrendChart(_caption(level, points[-1] if points else None, human), _grid(), months, rate, target)


def _gap_chart(rows: list[RateRow], human: Human) -> GapChart:
    """Horizontal bars: the offices with the most results still needed to meet the target."""
    shown = rows[:MAX_RANKED]
    label_x, area = 270, GAP_WIDTH - 270 - 170
    top = max((r.needed for r in shown), default=1)
    bars = tuple(
        Bar(label_x, 5 + i * GAP_ROW, round(area * r.needed / top, 1), GAP_ROW - 5,
            _("{office} ({level})", office=_shorten(r.office_name, MAX_LABEL), level=human.level(r.level)),
            _("{needed} needed, {rate} of {target}", needed=human.value(r.needed), rate=human.rate(r.rate),
              target=human.target(r.target)))
        for i, r in enumerate(shown))
    return GapChart(GAP_ROW * len(shown) + 10, label_x, bars, len(rows) - len(shown))


def _shorten(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
