"""Digitization rates against plan 4521/QĐ-UBND: pure computation on plain data.

The figures (stated the same way in the README):

* **period end** ``E``: a date (a Vietnam day, UTC+7); by default 31 December
  of the report year, or today for the current year.
* **in force at E** (the denominator): an inventory result resolved on or
  before ``E`` whose ``valid_until`` (its last day in force) is empty or on or
  after ``E``.
* **digitized at E** (the numerator): a result in force at ``E`` whose
  document ``<dossier code>-KQ<result no>`` is in the catalog with status
  ``verified`` (signed, archived, archived copy verified), ``signed_at`` and
  ``archived_at`` set, archived on or before the end of day ``E`` in Vietnam.
* **rate** = digitized / in force; **target** from the schedule for ``E``'s
  year; **met** when ``digitized * 100 >= target * in force``; **needed** =
  ``ceil(target * in force / 100) - digitized`` (never below 0).
* **orphan documents**: verified KQ documents archived by ``E`` with no
  inventory row; counted apart, never in a rate.
* results stay with the office that issued them, also after it merged.
* **intake coverage**: an active office digitizes at intake in year ``Y``
  when at least one dossier paper (an ``HS`` document) of it was archived
  from 1 January of ``Y`` to ``E``; offices of an exempt area type (remote
  communes) and merged offices are not counted.
* **forecast**: pace = results in force at ``E`` digitized in the 30 days
  ending on ``E``, divided by 30; the date a level meets its target is
  ``E + ceil(needed / pace)`` days (new and expiring results not projected).

The SQL that produces the :class:`OfficeTally` counts lives in
:mod:`rates.queries`; this module only adds them up.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from digitize.errors import BadInputError
from digitize.i18n import _, format_date
from digitize.offices import Office
from rates.targets import Schedule
from storage.summary_schema import PACE_DAYS

#: The name shown for an office with results but no row in the office registry.
UNREGISTERED = "(not in the office registry)"
TREND_MONTHS = 12


@dataclass(frozen=True)
class OfficeTally:
    """One office's inventory results at each checkpoint ``c[0] < ... < c[k-1]`` (the last: the period end).

    ``in_force[j]``: results in force at ``c[j]``; ``digitized[j]``: of those,
    the ones digitized by ``c[j]``; ``recent``: results in force at the period
    end digitized in the pace window (:func:`pace_start` to the end).
    """

    level: str
    office_code: str
    in_force: tuple[int, ...]
    digitized: tuple[int, ...]
    recent: int = 0


@dataclass(frozen=True)
class BacklogItem:
    """A result in force at the period end whose signed document is not in the catalog yet."""

    document_code: str
    level: str
    office_code: str
    procedure_code: str | None
    resolved_date: str
    valid_until: str | None


@dataclass(frozen=True)
class OrphanDocument:
    """A digitized result document with no inventory row (points at a missing export)."""

    document_code: str
    level: str
    office_code: str
    archived_at: str


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent; None when ``whole`` is nothing."""
    return None if whole == 0 else 100.0 * part / whole


def standing(part: int, whole: int, target: int | None, empty: str) -> str:
    """``met`` or ``behind`` a target percentage (compared in whole numbers: no rounding at the edge);
    ``no target`` without one, ``empty`` when ``whole`` is nothing."""
    if target is None:
        return "no target"
    if whole == 0:
        return empty
    return "met" if part * 100 >= target * whole else "behind"


@dataclass(frozen=True)
class RateRow:
    """One line of the rate table: a level, an office or the total."""

    scope: str
    level: str
    office_code: str
    office_name: str
    office_status: str
    in_force: int
    digitized: int
    target: int | None
    intake: str = ""
    merged_into: str | None = None

    @property
    def rate(self) -> float | None:
        """Digitized share in percent, None when nothing is in force."""
        return share(self.digitized, self.in_force)

    @property
    def needed(self) -> int:
        """How many more results must be digitized to meet the target."""
        if self.target is None:
            return 0
        return max(0, math.ceil(self.target * self.in_force / 100) - self.digitized)

    @property
    def status(self) -> str:
        """``met``, ``behind``, ``no results`` (nothing in force) or ``no target``."""
        return standing(self.digitized, self.in_force, self.target, "no results")


@dataclass(frozen=True)
class TrendPoint:
    """A level's figures at one checkpoint (a month end, or the period end)."""

    level: str
    at: date
    in_force: int
    digitized: int
    target: int | None

    @property
    def rate(self) -> float | None:
        """Digitized share in percent, None when nothing is in force."""
        return share(self.digitized, self.in_force)

    @property
    def status(self) -> str:
        """``met``, ``behind``, ``no results`` (nothing in force) or ``no target``, as for a :class:`RateRow`."""
        return standing(self.digitized, self.in_force, self.target, "no results")


@dataclass(frozen=True)
class Forecast:
    """When a level meets its target at the pace of the last :data:`PACE_DAYS` days."""

    level: str
    needed: int
    recent: int
    per_day: float
    reaches_target: date | None
    reason: str
    """``pace`` (``reaches_target`` from the pace), ``target met``, ``no recent`` (nothing digitized in the
    window), ``no target`` or ``no results``."""

    @property
    def note(self) -> str:
        """The reason in words (English: CSV, JSON; :mod:`rates.tables` translates it)."""
        if self.reason == "pace":
            return f"{self.needed} more at {self.per_day:.2f} a day"
        if self.reason == "no recent":
            return f"no result digitized in the last {PACE_DAYS} days"
        return self.reason


@dataclass(frozen=True)
class IntakeCoverage:
    """Offices of a level digitizing dossier papers at intake, against the intake target."""

    level: str
    eligible: int
    covered: int
    exempt: int
    target: int | None

    @property
    def rate(self) -> float | None:
        """Covered share of eligible offices in percent."""
        return share(self.covered, self.eligible)

    @property
    def status(self) -> str:
        """``met``, ``behind``, ``no offices`` or ``no target``."""
        return standing(self.covered, self.eligible, self.target, "no offices")


@dataclass(frozen=True)
class RatesReport:
    """Everything ``digitize report`` shows, for one period end."""

    period_end: date
    levels: tuple[RateRow, ...]
    offices: tuple[RateRow, ...]
    total: RateRow
    trend: tuple[TrendPoint, ...]
    forecasts: tuple[Forecast, ...]
    intake: tuple[IntakeCoverage, ...]
    backlog: tuple[BacklogItem, ...] = ()
    backlog_total: int = 0
    orphans: tuple[OrphanDocument, ...] = ()
    orphans_total: int = 0
    filters: dict[str, str] = field(default_factory=dict)
    span: tuple[TrendPoint, ...] = ()
    """Each level's figures at the end of every year of the plan (from its first year), the last at the period end."""

    @property
    def year(self) -> int:
        """The report year (the period end's)."""
        return self.period_end.year


def period_end(year: int, today: date) -> date:
    """31 December of ``year``, or ``today`` when ``year`` is the current year; a later year is refused
    (:class:`BadInputError`: a report year asked for by an operator, from the command or the flow)."""
    if year > today.year:
        raise BadInputError(_("year {year} has not begun (today is {today})", year=year, today=format_date(today)))
    return today if year == today.year else date(year, 12, 31)


def checkpoints(end: date, months: int = TREND_MONTHS) -> tuple[date, ...]:
    """The month ends of the ``months - 1`` months before ``end``'s month, then ``end`` itself."""
    points: list[date] = []
    year, month = end.year, end.month
    for _month in range(months - 1):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        points.append(date(year, month, calendar.monthrange(year, month)[1]))
    return (*reversed(points), end)


def span_points(end: date, first_year: int) -> tuple[date, ...]:
    """31 December of each year from ``first_year`` to the year before ``end``'s, then ``end`` itself."""
    return (*(date(year, 12, 31) for year in range(first_year, end.year)), end)


def pace_start(end: date) -> date:
    """The first day of the pace window: the :data:`PACE_DAYS` days ending on ``end``."""
    return end - timedelta(days=PACE_DAYS - 1)


def build_report(
    end: date,
    tallies: Iterable[OfficeTally],
    offices: Sequence[Office],
    schedule: Schedule,
    *,
    intake_offices: Iterable[str] = (),
    levels: Sequence[str] = ("tinh", "huyen", "xa"),
    points: Sequence[date] | None = None,
    backlog: Sequence[BacklogItem] = (),
    orphans: Sequence[OrphanDocument] = (),
    orphans_total: int | None = None,
    filters: dict[str, str] | None = None,
    span: tuple[Sequence[date], Iterable[OfficeTally]] | None = None,
) -> RatesReport:
    """Add the ``tallies`` up into the report at ``end`` (``points``: the checkpoints they were counted at).

    ``span``: the checkpoints of :func:`span_points` and the tallies counted
    at them, for the plan's whole span per level (none: no span).
    """
    points = tuple(points or checkpoints(end))
    tallies = _checked(end, points, tallies)
    span_points_, span_tallies = (span[0], _checked(end, tuple(span[0]), span[1])) if span else ((), [])
    office_rows = _office_rows(end, tallies, offices, schedule, set(intake_offices))
    level_rows = tuple(_sum_row("level", level, [r for r in office_rows if r.level == level],
                                schedule.digitization_target(level, end.year)) for level in levels)
    total = _sum_row("total", "", office_rows, None)
    return RatesReport(
        period_end=end,
        levels=level_rows,
        offices=tuple(sorted(office_rows, key=lambda r: (-r.needed, r.level, r.office_code))),
        total=total,
        trend=tuple(_trend(tallies, points, levels, schedule)),
        forecasts=tuple(_forecast(row, tallies, end) for row in level_rows),
        intake=tuple(_intake(level, offices, set(intake_offices), schedule, end.year) for level in levels),
        backlog=tuple(backlog),
        backlog_total=total.in_force - total.digitized,
        orphans=tuple(orphans),
        orphans_total=len(orphans) if orphans_total is None else orphans_total,
        filters=dict(filters or {}),
        span=tuple(_trend(span_tallies, span_points_, levels, schedule)) if span else (),
    )


def _checked(end: date, points: tuple[date, ...], tallies: Iterable[OfficeTally]) -> list[OfficeTally]:
    if points[-1] != end:
        raise ValueError("the last checkpoint must be the period end")
    tallies = list(tallies)
    if any(len(t.in_force) != len(points) or len(t.digitized) != len(points) for t in tallies):
        raise ValueError("every tally must have one count per checkpoint")
    return tallies


def _office_rows(
    end: date, tallies: list[OfficeTally], offices: Sequence[Office], schedule: Schedule,
    intake_offices: set[str],
) -> list[RateRow]:
    counts: dict[tuple[str, str], list[int]] = {}
    for tally in tallies:
        count = counts.setdefault((tally.level, tally.office_code), [0, 0])
        count[0] += tally.in_force[-1]
        count[1] += tally.digitized[-1]
    registry = {o.code: o for o in offices}
    keys = set(counts) | {(o.level, o.code) for o in offices}
    rows = []
    for level, code in keys:
        office = registry.get(code, Office(code, UNREGISTERED, level))
        in_force, digitized = counts.get((level, code), (0, 0))
        rows.append(RateRow("office", level, code, office.name, _office_status(office), in_force, digitized,
                            schedule.digitization_target(level, end.year),
                            _intake_mark(office, intake_offices, schedule), office.merged_into))
    return rows


def _office_status(office: Office) -> str:
    if office.status == "merged":
        return f"merged into {office.merged_into}" if office.merged_into else "merged"
    return office.status


def _intake_mark(office: Office, intake_offices: set[str], schedule: Schedule) -> str:
    if office.area_type in schedule.exempt_area_types:
        return "exempt"
    if office.status != "active":
        return "-"
    return "yes" if office.code in intake_offices else "no"


def _sum_row(scope: str, level: str, rows: list[RateRow], target: int | None) -> RateRow:
    name = {"level": f"level {level}", "total": "all levels"}[scope]
    return RateRow(scope, level, "", name, "", sum(r.in_force for r in rows), sum(r.digitized for r in rows), target)


def _trend(
    tallies: list[OfficeTally], points: Sequence[date], levels: Sequence[str], schedule: Schedule
) -> list[TrendPoint]:
    in_force = {level: [0] * len(points) for level in levels}
    digitized = {level: [0] * len(points) for level in levels}
    for tally in tallies:
        if tally.level in in_force:
            for j in range(len(points)):
                in_force[tally.level][j] += tally.in_force[j]
                digitized[tally.level][j] += tally.digitized[j]
    return [
        TrendPoint(level, at, in_force[level][j], digitized[level][j], schedule.digitization_target(level, at.year))
        for level in levels
        for j, at in enumerate(points)
    ]


def _forecast(row: RateRow, tallies: list[OfficeTally], end: date) -> Forecast:
    recent = sum(t.recent for t in tallies if t.level == row.level)
    per_day = recent / PACE_DAYS
    if row.status in ("no target", "no results"):
        return Forecast(row.level, 0, recent, per_day, None, row.status)
    if row.needed == 0:
        return Forecast(row.level, 0, recent, per_day, end, "target met")
    if recent == 0:
        return Forecast(row.level, row.needed, 0, 0.0, None, "no recent")
    days = -(-row.needed * PACE_DAYS // recent)  # ceil(needed / per_day), in whole numbers (floats miss by one)
    return Forecast(row.level, row.needed, recent, per_day, end + timedelta(days=days), "pace")


def _intake(
    level: str, offices: Sequence[Office], intake_offices: set[str], schedule: Schedule, year: int
) -> IntakeCoverage:
    of_level = [o for o in offices if o.level == level]
    exempt = [o for o in of_level if o.area_type in schedule.exempt_area_types]
    eligible = [o for o in of_level if o not in exempt and o.status == "active"]
    covered = [o for o in eligible if o.code in intake_offices]
    return IntakeCoverage(level, len(eligible), len(covered), len(exempt), schedule.intake_target(level, year))
