"""``digitize inventory import``, ``digitize offices import`` and ``digitize report``: the rates of plan 4521."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digitize.errors import BadInputError, ConfigError
from digitize.i18n import _
from digitize.models import VIETNAM
from digitize.settings import Settings

if TYPE_CHECKING:
    from rates.model import RatesReport

FORMATS = ("table", "csv", "json", "html")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``inventory``, ``offices`` and ``report``."""
    helps = {
        "inventory": (_("results issued (the rates' denominator): import from CSV"),
                      _("import the results issued from a UTF-8 CSV (all or nothing; re-import is a no-op)")),
        "offices": (_("the office registry: import from CSV"),
                    _("import the office registry from a UTF-8 CSV (all or nothing; re-import is a no-op)")),
    }
    for group, (group_help, import_help) in helps.items():
        p = sub.add_parser(group, help=group_help)
        actions = p.add_subparsers(dest="action", required=True)
        q = actions.add_parser("import", help=import_help)
        q.add_argument("file", type=Path, metavar="FILE.csv")
        q.set_defaults(func=cmd_import, group=group)
        if group == "inventory":
            r = actions.add_parser("recount", help=_("count the report's per-office monthly summary again from "
                                                     "scratch and say whether it had drifted"))
            r.set_defaults(func=cmd_recount)

    p = sub.add_parser("report", help=_("digitization rates per level and office against plan 4521/QĐ-UBND"))
    p.add_argument("--year", type=int, help=_("report year (default: this year; its end is today)"))
    p.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help=_("period end (default: 31 December of --year, or today for this year)"))
    p.add_argument("--level", help=_("only this level"))
    p.add_argument("--office", help=_("only this office code"))
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--backlog", action="store_true",
                   help=_("print only the backlog (results still missing, oldest first): a work list"))
    p.add_argument("--limit", type=int, default=100,
                   help=_("backlog and orphan lines listed (0: all; default 100)"))
    p.add_argument("--targets", type=Path, help=_("a target schedule TOML (default: the packaged plan 4521)"))
    p.add_argument("-o", "--output", type=Path, help=_("write here instead of the standard output"))
    p.set_defaults(func=cmd_report)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import an inventory or office CSV into the catalog."""
    from rates.inventory import import_inventory, import_offices
    from storage.catalog import open_catalog

    run = import_inventory if args.group == "inventory" else import_offices
    with open_catalog(settings.catalog) as catalog:
        result = run(catalog, args.file, settings.intake.levels)
    print(_("{file}: {rows} row(s): {new} new, {changed} changed, {unchanged} unchanged", file=result.path.name,
            rows=result.rows, new=result.inserted, changed=result.updated, unchanged=result.unchanged))
    return 0


def cmd_recount(args: argparse.Namespace, settings: Settings) -> int:
    """Recount ``result_months`` (kept by triggers) from the inventory and documents."""
    from rates.summary import recount
    from storage.catalog import open_catalog

    with open_catalog(settings.catalog) as catalog:
        drifted = recount(catalog)
    print(_("the result summary matched a full recount") if drifted == 0 else
          _("{n} count(s) of the result summary had drifted from a full recount; recounted", n=drifted))
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Compute the report and write it in the format asked for."""
    from rates.model import period_end
    from rates.queries import rates_report
    from rates.targets import load_schedule
    from storage.catalog import open_catalog

    if args.level and args.level not in settings.intake.levels:
        raise ConfigError(_("unknown level {level!r}; configured levels: {levels}", level=args.level,
                            levels=", ".join(settings.intake.levels)))
    end = _period_end(args, period_end)
    schedule = load_schedule(args.targets)
    with open_catalog(settings.catalog) as catalog:
        report = rates_report(catalog, end, schedule, settings.intake.levels, level=args.level,
                              office=args.office, list_limit=args.limit or None)
    text = render(report, args.format, only=("backlog",) if args.backlog else None)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(_("wrote {file}", file=args.output), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _period_end(args: argparse.Namespace, period_end) -> date:  # noqa: ANN001
    today = datetime.now(VIETNAM).date()
    if args.as_of is not None:
        if args.year is not None and args.year != args.as_of.year:
            raise BadInputError(_("--as-of {day} is not in --year {year}", day=args.as_of, year=args.year))
        return args.as_of
    return period_end(args.year or today.year, today)


def render(report: RatesReport, fmt: str, only: tuple[str, ...] | None = None) -> str:
    """The report in ``fmt``: table (text, the reader's language), csv (the first table), json (every table) or
    html (the reader's language); CSV and JSON keep English keys, ISO dates and a decimal point.

    ``only``: the names of the tables to keep (text, CSV, JSON).
    """
    from rates.tables import human_tables, render_text, report_tables

    if fmt == "html":
        from rates.html import render_html

        return render_html(report)
    tables = human_tables(report) if fmt == "table" else report_tables(report)
    if only is not None:
        tables = tuple(t for t in tables if t.name in only)
    if fmt == "json":
        return json.dumps({"period_end": report.period_end.isoformat(), "filters": report.filters,
                           **{t.name: t.records() for t in tables}}, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(tables[0].columns)
        writer.writerows(tables[0].rows)
        return out.getvalue()
    return render_text(tables)
