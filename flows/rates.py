"""The ``report_rates`` flow: the rates report of plan 4521/QĐ-UBND as Prefect artifacts.

A thin wrapper: it reads the settings (and with them the reader's language,
:func:`flows.flow_settings`), runs the same queries and tables as ``digitize
report`` and publishes each table as a table artifact in that language, with
a markdown summary (per level: rate, target, status, forecast). It returns
the level figures in the stable form (English keys, numbers).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from digitize.i18n import _, format_date
from digitize.models import VIETNAM
from flows import flow_settings
from rates.model import RatesReport, period_end
from rates.queries import rates_report
from rates.tables import Human, forecast_note, human_tables
from rates.targets import load_schedule
from storage.catalog import open_catalog


@flow(name="report-rates", log_prints=True)
def report_rates(
    year: int | None = None,
    as_of: str | None = None,
    level: str | None = None,
    office: str | None = None,
    targets: str | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """Compute the rates at the period end and publish them as artifacts; returns the level figures."""
    settings = flow_settings(config)
    today = datetime.now(VIETNAM).date()
    end = date.fromisoformat(as_of) if as_of else period_end(year or today.year, today)
    with open_catalog(settings.catalog) as catalog:
        report = rates_report(catalog, end, load_schedule(Path(targets) if targets else None),
                              settings.intake.levels, level=level, office=office)
    for table in human_tables(report):
        create_table_artifact(key=f"rates-{table.name}", table=table.records(), description=table.title)
    create_markdown_artifact(key="rates-summary", markdown=summary_markdown(report),
                             description=_("Digitization rates at {end}", end=format_date(end)))
    get_run_logger().info("rates at %s: %s", end, ", ".join(
        f"{r.level} {r.digitized}/{r.in_force} ({r.status})" for r in report.levels))
    return {r.level: {"in_force": r.in_force, "digitized": r.digitized, "target": r.target, "status": r.status,
                      "needed": r.needed} for r in report.levels}


def summary_markdown(report: RatesReport) -> str:
    """One markdown table per level, in the reader's language: rate, target, status, needed, forecast date."""
    f = Human()
    forecasts = {c.level: c for c in report.forecasts}
    head = (_("level"), _("in force"), _("digitized"), _("rate"), _("target"), _("status"), _("needed"),
            _("target reached"))
    lines = [_("# Digitization rates at {end} (plan 4521/QĐ-UBND)", end=format_date(report.period_end)), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report.levels:
        c = forecasts[r.level]
        reached = f.value(c.reaches_target) if c.reaches_target else forecast_note(c, f)
        cells = (f.level(r.level), f.value(r.in_force), f.value(r.digitized), f.rate(r.rate), f.target(r.target),
                 f.word(r.status), f.value(r.needed), reached)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _("Backlog: {backlog} result(s) in force not digitized; orphan documents: {orphans}.",
                    backlog=f.value(report.backlog_total), orphans=f.value(report.orphans_total))]
    return "\n".join(lines) + "\n"
