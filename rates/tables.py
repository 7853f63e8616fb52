"""The rates report as tables: one definition, written two ways.

:func:`report_tables` gives the stable form of CSV, JSON and the Prefect
table artifacts' keys: English column names, ISO dates, a decimal point,
status words as they are (the same cells as before the report was
translated). :func:`human_tables` gives what a person reads: labels in the
current language (:mod:`digitize.i18n`), dates ``dd/mm/yyyy`` and a decimal
comma in Vietnamese. :func:`render_text` draws human tables as text (rich).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from digitize.i18n import N_, _, format_date, format_datetime, format_number, format_percent
from rates.model import PACE_DAYS, UNREGISTERED, Forecast, RateRow, RatesReport

#: Words of the report's cells, translated where a person reads them (the code keeps the English).
WORDS = {
    "met": N_("met"), "behind": N_("behind"), "no results": N_("no results"), "no target": N_("no target"),
    "no offices": N_("no offices"), "target met": N_("target met"), "yes": N_("yes"), "no": N_("no"),
    "exempt": N_("exempt"), "active": N_("active"), "merged": N_("merged"), "level": N_("level"),
    "office": N_("office"), "total": N_("total"),
}
#: The level codes of the plan and their names; another configured level shows its code.
LEVEL_NAMES = {"tinh": N_("provincial"), "huyen": N_("district"), "xa": N_("commune")}


@dataclass(frozen=True)
class Table:
    """A titled table of text cells: what the CLI prints, the CSV holds and the flow publishes."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def records(self) -> list[dict[str, str]]:
        """The rows as dictionaries keyed by column (Prefect table artifacts, JSON)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Fixed:
    """A number shown with a fixed count of decimals."""

    value: float
    digits: int


class Plain:
    """The stable form: English, ISO dates, a decimal point."""

    def say(self, message: str, **params: object) -> str:
        """``message`` (English, marked with ``N_``) with its placeholders filled."""
        return message.format(**{k: self.value(v) for k, v in params.items()})

    def value(self, value: object) -> str:
        """One value as text: a count, a date, a rate, ``-`` for none."""
        if value is None:
            return "-"
        if isinstance(value, Fixed):
            return f"{value.value:.{value.digits}f}"
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    def rate(self, value: float | None) -> str:
        """A share in percent: ``37.5%``."""
        return "-" if value is None else f"{value:.1f}%"

    def target(self, value: int | None) -> str:
        """A whole percentage: ``95%``."""
        return "-" if value is None else f"{value}%"

    def moment(self, text: str) -> str:
        """A time as the catalog stores it (UTC text)."""
        return text

    def word(self, word: str) -> str:
        """A status word."""
        return word

    def level(self, level: str) -> str:
        """A level."""
        return level


class Human(Plain):
    """What a person reads, in the current language: labels translated, dates and numbers as in that language."""

    def say(self, message: str, **params: object) -> str:
        return _(message, **{k: self.value(v) for k, v in params.items()})

    def value(self, value: object) -> str:
        if isinstance(value, Fixed):
            return format_number(value.value, value.digits)
        if isinstance(value, int) and not isinstance(value, bool):
            return format_number(value)
        if isinstance(value, date):
            return format_date(value)
        return super().value(value)

    def rate(self, value: float | None) -> str:
        return "-" if value is None else format_percent(value, 1)

    def target(self, value: int | None) -> str:
        return "-" if value is None else format_percent(value, 0)

    def moment(self, text: str) -> str:
        return format_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))

    def word(self, word: str) -> str:
        return _(WORDS[word]) if word in WORDS else word

    def level(self, level: str) -> str:
        return _(LEVEL_NAMES[level]) if level in LEVEL_NAMES else level


def report_tables(report: RatesReport) -> tuple[Table, ...]:
    """The report as tables in the stable form (CSV, JSON): rates, span, trend, forecast, intake, backlog, orphans."""
    return _tables(report, Plain())


def human_tables(report: RatesReport) -> tuple[Table, ...]:
    """The report as tables a person reads, in the current language."""
    return _tables(report, Human())


def _tables(report: RatesReport, f: Plain) -> tuple[Table, ...]:
    builders: tuple[Callable[[RatesReport, Plain], Table], ...] = (
        _rates, _span, _trend, _forecast, _intake, _backlog, _orphans)
    return tuple(build(report, f) for build in builders)


def _columns(f: Plain, *names: str) -> tuple[str, ...]:
    return tuple(f.say(name) for name in names)


def _rates(report: RatesReport, f: Plain) -> Table:
    columns = _columns(f, N_("scope"), N_("level"), N_("office"), N_("name"), N_("office status"), N_("in force"),
                       N_("digitized"), N_("rate"), N_("target"), N_("status"), N_("needed"), N_("intake"))
    rows = tuple(_rate_cells(r, f) for r in (*report.levels, report.total, *report.offices))
    title = f.say(N_("Results in force at {end}: digitized against the {year} target"), end=report.period_end,
                  year=str(report.year))
    return Table("rates", title, columns, rows)


def _rate_cells(row: RateRow, f: Plain) -> tuple[str, ...]:
    total = row.scope == "total"
    return (f.word(row.scope), f.level(row.level) if row.level else "",
            row.office_code, _name(row, f), _office_status(row, f), f.value(row.in_force), f.value(row.digitized),
            f.rate(row.rate), f.target(row.target), "" if total else f.word(row.status),
            "" if total else f.value(row.needed), f.word(row.intake) if row.intake else "")


def _name(row: RateRow, f: Plain) -> str:
    if not isinstance(f, Human):
        return row.office_name  # the stable form keeps the model's words
    if row.scope == "level":
        return _("{level} level", level=f.level(row.level))
    if row.scope == "total":
        return _("all levels")
    return _("(not in the office registry)") if row.office_name == UNREGISTERED else row.office_name


def _office_status(row: RateRow, f: Plain) -> str:
    if row.office_status.startswith("merged") and row.merged_into:
        return f.say(N_("merged into {office}"), office=row.merged_into)
    return f.word(row.office_status) if row.office_status else ""


def _span(report: RatesReport, f: Plain) -> Table:
    first = report.span[0].at.year if report.span else report.year
    return Table("span", f.say(N_("Target against actual per level, each year of the plan from {first} to {year}"),
                               first=str(first), year=str(report.year)),
                 _columns(f, N_("level"), N_("at"), N_("in force"), N_("digitized"), N_("rate"), N_("target"),
                          N_("status")),
                 tuple((f.level(t.level), f.value(t.at), f.value(t.in_force), f.value(t.digitized), f.rate(t.rate),
                        f.target(t.target), f.word(t.status)) for t in report.span))


def _trend(report: RatesReport, f: Plain) -> Table:
    return Table("trend", f.say(N_("Rate per level at each month end")),
                 _columns(f, N_("level"), N_("at"), N_("in force"), N_("digitized"), N_("rate"), N_("target")),
                 tuple((f.level(t.level), f.value(t.at), f.value(t.in_force), f.value(t.digitized), f.rate(t.rate),
                        f.target(t.target)) for t in report.trend))


def _forecast(report: RatesReport, f: Plain) -> Table:
    columns = (f.say(N_("level")), f.say(N_("needed")), f.say(N_("digitized in last {days} days"), days=PACE_DAYS),
               f.say(N_("per day")), f.say(N_("target reached")), f.say(N_("note")))
    return Table("forecast", f.say(N_("Forecast at the pace of the {days} days ending {end}"), days=PACE_DAYS,
                                   end=report.period_end), columns,
                 tuple((f.level(c.level), f.value(c.needed), f.value(c.recent), f.value(Fixed(c.per_day, 2)),
                        f.value(c.reaches_target), forecast_note(c, f))
                       for c in report.forecasts))


def forecast_note(forecast: Forecast, f: Plain) -> str:
    """Why the forecast says what it says, written by ``f``."""
    if forecast.reason == "pace":
        return f.say(N_("{needed} more at {per_day} a day"), needed=forecast.needed,
                     per_day=Fixed(forecast.per_day, 2))
    if forecast.reason == "no recent":
        return f.say(N_("no result digitized in the last {days} days"), days=PACE_DAYS)
    return f.word(forecast.reason)


def _intake(report: RatesReport, f: Plain) -> Table:
    return Table("intake", f.say(N_("Offices digitizing at intake in {year} (exempt area types not counted)"),
                                 year=str(report.year)),
                 _columns(f, N_("level"), N_("eligible"), N_("covered"), N_("exempt"), N_("rate"), N_("target"),
                          N_("status")),
                 tuple((f.level(i.level), f.value(i.eligible), f.value(i.covered), f.value(i.exempt), f.rate(i.rate),
                        f.target(i.target), f.word(i.status)) for i in report.intake))


def _backlog(report: RatesReport, f: Plain) -> Table:
    title = f.say(N_("Backlog: results in force not digitized, oldest first ({shown} of {total} shown)"),
                  shown=len(report.backlog), total=report.backlog_total)
    return Table("backlog", title,
                 _columns(f, N_("document"), N_("level"), N_("office"), N_("procedure"), N_("resolved"),
                          N_("valid until")),
                 tuple((b.document_code, f.level(b.level), b.office_code, b.procedure_code or "",
                        f.value(date.fromisoformat(b.resolved_date)),
                        f.value(date.fromisoformat(b.valid_until)) if b.valid_until else "")
                       for b in report.backlog))


def _orphans(report: RatesReport, f: Plain) -> Table:
    title = f.say(N_("Digitized results with no inventory row ({shown} of {total} shown): a missing export?"),
                  shown=len(report.orphans), total=report.orphans_total)
    return Table("orphans", title, _columns(f, N_("document"), N_("level"), N_("office"), N_("archived at")),
                 tuple((o.document_code, f.level(o.level), o.office_code, f.moment(o.archived_at))
                       for o in report.orphans))


def render_text(tables: tuple[Table, ...], max_width: int = 240) -> str:
    """The tables as text a terminal or a plain file shows (no colour), each under its title.

    Lines are as wide as the widest table needs (cells fold only past ``max_width`` characters).
    """
    out = io.StringIO()
    console = Console(file=out, width=min(max([80, *map(_natural_width, tables)]), max_width), color_system=None,
                      force_terminal=False, legacy_windows=False)
    for table in tables:
        drawn = RichTable(title=table.title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                          pad_edge=False)
        for column in table.columns:
            drawn.add_column(column, overflow="fold")
        for row in table.rows:
            drawn.add_row(*row)
        console.print(drawn)
        if not table.rows:
            console.print(_("(none)"))
        console.print()
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()).rstrip() + "\n"


def _natural_width(table: Table) -> int:
    """The width of ``table`` drawn without folding a cell (two spaces between columns)."""
    cells = [table.columns, *table.rows]
    return sum(max(len(row[j]) for row in cells) + 2 for j in range(len(table.columns)))
