"""``digitize inventory import``, ``digitize offices import`` and ``digitize report``: the rates of plan 4521."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime
from pathlib import Path

from digitize.errors import BadInputError, ConfigError
from digitize.models import VIETNAM
from digitize.settings import Settings

FORMATS = ("table", "csv", "json", "html")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``inventory``, ``offices`` and ``report``."""
    for group, what in (("inventory", "results issued (the rates' denominator)"),
                        ("offices", "the office registry")):
        p = sub.add_parser(group, help=f"{what}: import from CSV")
        actions = p.add_subparsers(dest="action", required=True)
        q = actions.add_parser("import", help=f"import {what} from a UTF-8 CSV (all or nothing; re-import is a no-op)")
        q.add_argument("file", type=Path, metavar="FILE.csv")
        q.set_defaults(func=cmd_import, group=group)
        if group == "inventory":
            r = actions.add_parser("recount", help="count the report's per-office monthly summary again from "
                                                   "scratch and say whether it had drifted")
            r.set_defaults(func=cmd_recount)

    p = sub.add_parser("report", help="digitization rates per level and office against plan 4521/QĐ-UBND")
    p.add_argument("--year", type=int, help="report year (default: this year; its end is today)")
    p.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="period end (default: 31 December of --year, or today for this year)")
    p.add_argument("--level", help="only this level")
    p.add_argument("--office", help="only this office code")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--backlog", action="store_true",
                   help="print only the backlog (results still missing, oldest first): a work list")
    p.add_argument("--limit", type=int, default=100, help="backlog and orphan lines listed (0: all; default 100)")
    p.add_argument("--targets", type=Path, help="a target schedule TOML (default: the packaged plan 4521)")
    p.add_argument("-o", "--output", type=Path, help="write here instead of the standard output")
    p.set_defaults(func=cmd_report)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import an inventory or office CSV into the catalog."""
    from storage.catalog import open_catalog
    from digitize.rates.inventory import import_inventory, import_offices

    run = import_inventory if args.group == "inventory" else import_offices
    with open_catalog(settings.catalog) as catalog:
        result = run(catalog, args.file, settings.intake.levels)
    print(f"{result.path}: {result.rows} row(s): {result.inserted} new, {result.updated} changed, "
          f"{result.unchanged} unchanged")
    return 0


def cmd_recount(args: argparse.Namespace, settings: Settings) -> int:
    """Recount ``result_months`` (kept by triggers) from the inventory and documents."""
    from digitize.rates.summary import recount
    from storage.catalog import open_catalog

    with open_catalog(settings.catalog) as catalog:
        drifted = recount(catalog)
    print("the result summary matched a full recount" if drifted == 0 else
          f"{drifted} count(s) of the result summary had drifted from a full recount; recounted")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Compute the report and write it in the format asked for."""
    from digitize.rates.model import period_end, report_tables
    from digitize.rates.targets import load_schedule
    from storage.catalog import open_catalog
    from digitize.rates.queries import rates_report

    if args.level and args.level not in settings.intake.levels:
        raise ConfigError(f"unknown level {args.level!r}; configured levels: {', '.join(settings.intake.levels)}")
    end = _period_end(args, period_end)
    schedule = load_schedule(args.targets)
    with open_catalog(settings.catalog) as catalog:
        report = rates_report(catalog, end, schedule, settings.intake.levels, level=args.level,
                              office=args.office, list_limit=args.limit or None)
    tables = report_tables(report)
    if args.backlog:
        tables = tuple(t for t in tables if t.name == "backlog")
    text = render(report, tables, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _period_end(args: argparse.Namespace, period_end) -> date:  # noqa: ANN001
    today = datetime.now(VIETNAM).date()
    if args.as_of is not None:
        if args.year is not None and args.year != args.as_of.year:
            raise BadInputError(f"--as-of {args.as_of} is not in --year {args.year}")
        return args.as_of
    try:
        return period_end(args.year or today.year, today)
    except ValueError as e:
        raise BadInputError(str(e)) from None


def render(report, tables, fmt: str) -> str:  # noqa: ANN001
    """The report in ``fmt``: table (text), csv (the first table), json (everything) or html."""
    if fmt == "html":
        from digitize.rates.html import render_html

        return render_html(report)
    if fmt == "json":
        return json.dumps({"period_end": report.period_end.isoformat(), "filters": report.filters,
                           **{t.name: t.records() for t in tables}}, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(tables[0].columns)
        writer.writerows(tables[0].rows)
        return out.getvalue()
    return "\n".join(_text_table(t) for t in tables)


def _text_table(table) -> str:  # noqa: ANN001
    rows = [table.columns, *table.rows]
    widths = [min(max(len(r[i]) for r in rows), 50) for i in range(len(table.columns))]
    lines = [table.title, *("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)]
    if not table.rows:
        lines.append("(none)")
    return "\n".join(lines) + "\n"
