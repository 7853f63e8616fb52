"""The rates report's queries: the figures at each checkpoint, the backlog, the orphans, intake coverage.

The report does not read the inventory row by row. Its figures come from
the summary of schema version 2 (see :mod:`storage.summary_schema`): per office,
how many results were resolved, went out of force, were digitized, ... in each
month (``result_months``) and on each day (``result_days``), and the orphan
documents (``orphan_documents``), kept exact by triggers (an import counts its
rows set by set instead, :func:`rates.summary.inventory_counted_in_bulk`). A month
end checkpoint is a sum over months; the period end, when it is not a month
end, adds the days of its own month up to it. The backlog and orphan lists are
index walks that stop at their limit. Conditions are written so that SQLite's
planner cannot pick an index that would fetch a third of a table row by row
(see ``bench/rates.md``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import accumulate

from digitize.models import VIETNAM
from digitize.offices import Office
from rates.model import (
    BacklogItem,
    OfficeTally,
    OrphanDocument,
    RatesReport,
    build_report,
    checkpoints,
    span_points,
)
from rates.targets import Schedule
from storage.catalog import DIGITIZED_STATUSES, Catalog
from storage.summary_schema import RESULT_MEASURES

# A result counts as digitized only through a document in this state (see rates).
_VERIFIED_RESULT = "d.kind = 'KQ' AND d.status = 'verified' AND d.signed_at IS NOT NULL AND d.archived_at IS NOT NULL"
_DIGITIZED_JOIN = f"LEFT JOIN documents d ON d.document_code = i.dossier_code || '-KQ' || i.result_no AND {_VERIFIED_RESULT}"
# Archived by the cut (written as a CASE so the planner walks the documents in code order instead of
# fetching a range of documents_archived_at row by row) and with no inventory row.
_ORPHAN = ("CASE WHEN d.archived_at < ? THEN 1 ELSE 0 END = 1 AND NOT EXISTS (SELECT 1 FROM inventory i "
           "WHERE i.dossier_code = d.dossier_code AND i.result_no = CAST(d.number AS TEXT))")


def end_of_day_utc(day: date) -> str:
    """The first instant after the Vietnam day ``day``, as the catalog's UTC text (for ``archived_at <``)."""
    moment = datetime.combine(day + timedelta(days=1), time(0), VIETNAM).astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def offices(catalog: Catalog) -> list[Office]:
    """The office registry, by level and code."""
    rows = catalog.query("SELECT code, name, level, area_type, status, merged_into FROM offices ORDER BY level, code")
    return [Office(*row) for row in rows]


@dataclass(frozen=True)
class ResultCounts:
    """The report's figures: a tally per office with inventory results, and the orphan documents' count."""

    tallies: list[OfficeTally]
    orphans: int


def result_counts(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None,
    points: Sequence[date] | None = None,
) -> ResultCounts:
    """Every office's results in force and digitized at each checkpoint, and the orphan count at ``end``.

    ``points``: month ends, then ``end`` (default: :func:`checkpoints`, the
    last twelve months). See :func:`result_counts_at`.
    """
    return result_counts_at(catalog, end, [points or checkpoints(end)], level=level, office=office)[0]


def result_counts_at(
    catalog: Catalog, end: date, point_sets: Sequence[Sequence[date]], *, level: str | None = None,
    office: str | None = None,
) -> list[ResultCounts]:
    """:class:`ResultCounts` at each set of checkpoints (month ends, then ``end``), from one read of the summary.

    Reads the summary only: ``result_months`` up to the month before
    ``end``'s, then ``result_months`` for ``end``'s month when ``end`` is its
    last day, else ``result_days`` from its first day to ``end`` (see
    :mod:`storage.summary_schema` for the measures); orphans from
    ``orphan_documents``.
    """
    sets = [tuple(points) for points in point_sets]
    if any(not points or points[-1] != end for points in sets):
        raise ValueError("every set of checkpoints must end at the period end")
    whole_month = (end + timedelta(days=1)).day == 1
    where, args = _where(level, office, prefix="r")
    rows = catalog.query(
        "SELECT r.level, r.office_code, r.measure, CASE WHEN r.month < ? THEN substr(r.month, 1, 4) || '-00' "
        f"ELSE r.month END, SUM(r.n) FROM result_months r WHERE r.n <> 0{where} GROUP BY 1, 2, 3, 4",
        [_by_year_before(sets), *args])
    if not whole_month:  # end's month up to end, by day ("end" sorts after every month)
        rows += [(lv, code, measure, "end", n) for lv, code, measure, n in catalog.query(
            "SELECT r.level, r.office_code, r.measure, SUM(r.n) FROM result_days r "
            f"WHERE r.day >= ? AND r.day <= ?{where} GROUP BY 1, 2, 3",
            [end.replace(day=1).isoformat(), end.isoformat(), *args])]
    where, args = _where(level, office, prefix="o")
    orphans_total = catalog.query(f"SELECT COUNT(*) FROM orphan_documents o WHERE o.archived_at < ?{where}",
                                  [end_of_day_utc(end), *args])[0][0]
    return [ResultCounts(_tallies(rows, points, whole_month), orphans_total) for points in sets]


def _by_year_before(sets: list[tuple[date, ...]]) -> str:
    """The month before which the summary may be read a year at a time ('YYYY-00'): every checkpoint before it
    is a 31 December (the plan's span), and no set's first checkpoint is after it (the last twelve months)."""
    cut = max(points[0] for points in sets)
    if all(p.month == 12 and p.day == 31 for points in sets for p in points[:-1] if p < cut):
        return cut.isoformat()[:7]
    return min(points[0] for points in sets).isoformat()[:7]


def _tallies(rows: list[tuple], points: tuple[date, ...], whole_month: bool) -> list[OfficeTally]:
    """The tallies at ``points`` of the summary ``rows`` (level, office, measure, month, n); the month is
    'YYYY-MM', 'YYYY-00' (a whole year, sorting before its months) or 'end' (end's month up to end)."""
    k, end = len(points), points[-1]
    month_ends, last_month = [p.isoformat()[:7] for p in points[:-1]], end.isoformat()[:7]

    def index(month: str) -> int | None:
        """The first checkpoint a month's count counts at (it counts at every one after), None: after the end."""
        if month == "end":
            return k - 1
        if month < last_month or (month == last_month and whole_month):
            return min(bisect_left(month_ends, month), k - 1)
        return None

    steps: dict[tuple[str, str], dict[str, list[int]]] = {}
    results: dict[tuple[str, str], int] = {}  # every result counts once as resolved: the offices to show
    for lv, code, measure, month, n in rows:
        if measure == "resolved":
            results[lv, code] = results.get((lv, code), 0) + n
        j = index(month)
        if j is not None:
            steps.setdefault((lv, code), {}).setdefault(measure, [0] * k)[j] += n
    # At the checkpoints: in force = resolved - ended, digitized = digitized - digitized_ended; the pace
    # (digitized in the window ending on the period end) = digitized - (digitized_early - digitized_early_ended).
    tallies = []
    for key in sorted(key for key, n in results.items() if n > 0):
        count = {m: list(accumulate(steps.get(key, {}).get(m, [0] * k))) for m in RESULT_MEASURES}
        digitized = [a - b for a, b in zip(count["digitized"], count["digitized_ended"], strict=True)]
        early = count["digitized_early"][-1] - count["digitized_early_ended"][-1]
        tallies.append(OfficeTally(
            *key,
            in_force=tuple(a - b for a, b in zip(count["resolved"], count["ended"], strict=True)),
            digitized=tuple(digitized),
            recent=digitized[-1] - early,
        ))
    return tallies


def backlog(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> list[BacklogItem]:
    """Results in force at ``end`` not digitized by then, oldest resolved first (at most ``limit``).

    One walk per level of the index ``inventory_level_resolved`` (or of
    ``inventory_office_resolved`` for one office), oldest first, each stopping
    at ``limit``; the walks are merged.
    """
    sql = (
        "SELECT i.dossier_code || '-KQ' || i.result_no, i.level, i.office_code, i.procedure_code, "
        f"i.resolved_date, i.valid_until, i.dossier_code, i.result_no FROM inventory i {_DIGITIZED_JOIN} "
        "AND d.archived_at < ? WHERE d.id IS NULL{where} AND i.resolved_date <= ? "
        "AND (i.valid_until IS NULL OR i.valid_until >= ?) ORDER BY i.resolved_date, i.dossier_code, i.result_no"
        + ("" if limit is None else f" LIMIT {int(limit):d}")
    )
    day = end.isoformat()
    walks = [(level, office)] if level is not None or office is not None else \
        [(each, None) for each in _inventory_levels(catalog)]
    rows = []
    for each_level, each_office in walks:
        where, args = _where(each_level, each_office)
        rows += catalog.query(sql.replace("{where}", where), [end_of_day_utc(end), *args, day, day])
    rows.sort(key=lambda row: (row[4], row[6], row[7]))
    return [BacklogItem(*row[:6]) for row in rows[:limit]]


def _inventory_levels(catalog: Catalog) -> list[str]:
    """The levels in the inventory: one index step each (a skip scan of ``inventory_level_resolved``)."""
    rows = catalog.query(
        "WITH RECURSIVE found (level) AS (SELECT MIN(level) FROM inventory UNION ALL "
        "SELECT (SELECT MIN(i.level) FROM inventory i WHERE i.level > found.level) FROM found "
        "WHERE found.level IS NOT NULL) SELECT level FROM found WHERE level IS NOT NULL"
    )
    return [level for (level,) in rows]


def orphans(
    catalog: Catalog, end: date, *, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> tuple[list[OrphanDocument], int]:
    """Digitized result documents archived by ``end`` with no inventory row (at most ``limit``), and their count.

    Straight from ``documents`` and ``inventory`` (an anti-join walk of the
    documents): the check of ``orphan_documents``, which the report reads.
    """
    indexed = level is None or office is not None or _small_level(catalog, level)
    where, args = _where(level, office, prefix="d", level_index=indexed)
    # Only kind and status as index terms (a range of documents_archived_at would fetch every row);
    # archived_at < ? implies IS NOT NULL.
    sql = (f"SELECT COUNT(*) FROM documents d WHERE d.kind = 'KQ' AND d.status = 'verified'{where} "
           f"AND d.signed_at IS NOT NULL AND {_ORPHAN}")
    count = catalog.query(sql, [*args, end_of_day_utc(end)])[0][0]
    if not count:
        return [], 0
    sql = (
        f"SELECT d.document_code, d.level, d.office_code, d.archived_at FROM documents d WHERE {_VERIFIED_RESULT}"
        f"{where} AND {_ORPHAN} ORDER BY d.document_code" + ("" if limit is None else f" LIMIT {int(limit):d}")
    )
    return [OrphanDocument(*row) for row in catalog.query(sql, [*args, end_of_day_utc(end)])], count


def orphan_list(
    catalog: Catalog, end: date, level: str | None = None, office: str | None = None, limit: int | None = 100
) -> list[OrphanDocument]:
    """The first ``limit`` orphan documents archived by ``end``, by code (a walk of ``orphan_documents``)."""
    where, args = _where(level, office, prefix="o")
    sql = ("SELECT o.document_code, o.level, o.office_code, o.archived_at FROM orphan_documents o "
           f"WHERE o.archived_at < ?{where} ORDER BY o.document_code"
           + ("" if limit is None else f" LIMIT {int(limit):d}"))
    return [OrphanDocument(*row) for row in catalog.query(sql, [end_of_day_utc(end), *args])]


def intake_offices(catalog: Catalog, end: date) -> set[str]:
    """Offices with at least one dossier paper (HS document) archived from 1 January of ``end``'s year to ``end``."""
    marks = ", ".join("?" * len(DIGITIZED_STATUSES))
    rows = catalog.query(
        f"SELECT DISTINCT office_code FROM documents WHERE kind = 'HS' AND status IN ({marks}) "
        "AND archived_at >= ? AND archived_at < ?",
        [*DIGITIZED_STATUSES, end_of_day_utc(date(end.year - 1, 12, 31)), end_of_day_utc(end)],
    )
    return {code for (code,) in rows}


def _small_level(catalog: Catalog, level: str) -> bool:
    """Whether ``level`` holds under a fifth of the inventory, so that reading it by index beats a table scan.

    Fetching rows one by one in index order costs about four times a scan's row (bench/rates.md).
    """
    rows, top = catalog.query("SELECT (SELECT COUNT(*) FROM inventory WHERE level = ?), "
                              "(SELECT MAX(id) FROM inventory)", [level])[0]
    return rows * 5 < (top or 0)


def _where(
    level: str | None, office: str | None, prefix: str = "i", *, level_index: bool = True
) -> tuple[str, list[str]]:
    parts, args = [], []
    if level is not None and not level_index:
        # Not indexable on purpose: a range of a level index would fetch a large level's rows one by one.
        parts.append(f" AND CASE WHEN {prefix}.level = ? THEN 1 ELSE 0 END = 1")
        args.append(level)
    elif level is not None:
        parts.append(f" AND {prefix}.level = ?")
        args.append(level)
    if office is not None:
        parts.append(f" AND {prefix}.office_code = ?")
        args.append(office)
    return "".join(parts), args


def rates_report(
    catalog: Catalog,
    end: date,
    schedule: Schedule,
    levels: Sequence[str],
    *,
    level: str | None = None,
    office: str | None = None,
    list_limit: int | None = 100,
) -> RatesReport:
    """Run the report's queries at period end ``end`` and add them up (see :func:`rates.build_report`).

    The figures come from :func:`result_counts`; the backlog and orphan lists
    are index walks that stop at ``list_limit``, skipped when the counts show
    there is nothing to list.
    """
    registry = [o for o in offices(catalog)
                if (level is None or o.level == level) and (office is None or o.code == office)]
    span = span_points(end, schedule.digitization.first_year)
    counts, span_counts = result_counts_at(catalog, end, [checkpoints(end), span], level=level, office=office)
    missing = sum(t.in_force[-1] - t.digitized[-1] for t in counts.tallies)
    found = orphan_list(catalog, end, level, office, list_limit) if counts.orphans else []
    return build_report(
        end,
        counts.tallies,
        registry,
        schedule,
        intake_offices=intake_offices(catalog, end),
        levels=[level] if level else list(levels),
        points=checkpoints(end),
        backlog=backlog(catalog, end, level=level, office=office, limit=list_limit) if missing else [],
        orphans=found,
        orphans_total=counts.orphans,
        filters={k: v for k, v in (("level", level), ("office", office)) if v},
        span=(span, span_counts.tallies),
    )
