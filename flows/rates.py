"""The ``report_rates`` flow: the rates report of plan 4521/QĐ-UBND as Prefect artifacts.

A thin wrapper: it reads the settings, runs the same queries and tables as
``digitize report`` and publishes each table as a table artifact, with a
markdown summary (per level: rate, target, status, forecast).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from digitize.models import VIETNAM
from digitize.rates.model import RatesReport, percent, period_end, report_tables
from digitize.rates.targets import load_schedule
from flows import flow_settings
from storage.catalog import open_catalog
from digitize.rates.queries import rates_report


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
    for table in report_tables(report):
        create_table_artifact(key=f"rates-{table.name}", table=table.records(), description=table.title)
    create_markdown_artifact(key="rates-summary", markdown=summary_markdown(report),
                             description=f"Digitization rates at {end.isoformat()}")
    get_run_logger().info("rates at %s: %s", end, ", ".join(
        f"{r.level} {percent(r.rate)} ({r.status})" for r in report.levels))
    return {r.level: {"in_force": r.in_force, "digitized": r.digitized, "target": r.target, "status": r.status,
                      "needed": r.needed} for r in report.levels}


def summary_markdown(report: RatesReport) -> str:
    """One markdown table per level: rate, target, status, needed, forecast date."""
    forecasts = {f.level: f for f in report.forecasts}
    lines = [f"# Digitization rates at {report.period_end.isoformat()} (plan 4521/QĐ-UBND)", "",
             "| level | in force | digitized | rate | target | status | needed | target reached |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report.levels:
        f = forecasts[r.level]
        reached = f.reaches_target.isoformat() if f.reaches_target else f.note
        lines.append(f"| {r.level} | {r.in_force} | {r.digitized} | {percent(r.rate)} | "
                     f"{'-' if r.target is None else f'{r.target}%'} | {r.status} | {r.needed} | {reached} |")
    lines += ["", f"Backlog: {report.backlog_total} result(s) in force not digitized; "
                  f"orphan documents: {report.orphans_total}."]
    return "\n".join(lines) + "\n"
