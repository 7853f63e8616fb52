"""The offices register and the inventory of issued results (``offices.csv``, ``inventory.csv``).

The inventory is what the rates report counts: results issued per office, with
the date each stops being in force (empty: in force indefinitely). Dossier codes
follow Circular 01/2018/TT-VPCP: ``<office code>-<yymmdd received>-<number>``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

OFFICES_HEADER = ("code", "name", "level", "area_type", "status", "merged_into")
OFFICES = (
    ("ttpvhcc", "Trung tâm Phục vụ hành chính công tỉnh Bình Định", "tinh", "urban", "active", ""),
    ("tuy-phuoc", "UBND huyện Tuy Phước", "huyen", "urban", "merged", ""),
    ("phuoc-loc", "UBND xã Phước Lộc", "xa", "rural", "active", ""),
    ("nhon-binh", "UBND phường Nhơn Bình", "xa", "urban", "active", ""),
    ("an-toan", "UBND xã An Toàn", "xa", "remote", "active", ""),
)

INVENTORY_HEADER = (
    "dossier_code",
    "procedure_code",
    "office_code",
    "level",
    "received_date",
    "resolved_date",
    "result_no",
    "valid_until",
)


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure and how long its result stays in force (None: indefinitely)."""

    code: str
    valid_months: int | None


MARITAL_STATUS = Procedure("1.001193", 6)
BIRTH = Procedure("1.001022", None)
MARRIAGE = Procedure("1.000894", None)
SOCIAL_ALLOWANCE = Procedure("1.001776", None)
HOUSEHOLD_BUSINESS = Procedure("2.000575", None)
BUILDING_PERMIT = Procedure("1.004227", 12)
CRIMINAL_RECORD = Procedure("2.000488", 6)
FOOD_SAFETY = Procedure("1.002092", 36)

PROCEDURES_BY_LEVEL = {
    "xa": (MARITAL_STATUS, BIRTH, MARRIAGE, SOCIAL_ALLOWANCE),
    "huyen": (HOUSEHOLD_BUSINESS, BUILDING_PERMIT),
    "tinh": (CRIMINAL_RECORD, FOOD_SAFETY),
}

OFFICE_PREFIX = {
    "ttpvhcc": "000.00.12.H08",
    "tuy-phuoc": "000.20.30.H08",
    "phuoc-loc": "000.31.25.H08",
    "nhon-binh": "000.31.26.H08",
    "an-toan": "000.40.11.H08",
}
OFFICE_LEVEL = {code: level for code, _, level, *_ in OFFICES}
DISTRICT_TIER_ENDS = date(2025, 7, 1)

# The results scanned into samples/inbox/: (office, received, number, procedure, resolved, result_no).
SCANNED_RESULTS = (
    ("phuoc-loc", date(2026, 11, 20), 1, MARITAL_STATUS, date(2026, 11, 23), 1),
    ("nhon-binh", date(2026, 11, 21), 1, SOCIAL_ALLOWANCE, date(2026, 11, 27), 1),
    ("tuy-phuoc", date(2026, 11, 18), 7, HOUSEHOLD_BUSINESS, date(2026, 11, 23), 1),
    ("ttpvhcc", date(2026, 11, 15), 3, CRIMINAL_RECORD, date(2026, 11, 24), 1),
    # the birth registration whose papers are samples/inbox/.../0002-HS1; its result is not scanned
    ("phuoc-loc", date(2026, 11, 20), 2, BIRTH, date(2026, 11, 20), 1),
)


def dossier_code(office: str, received: date, number: int) -> str:
    """``000.31.25.H08-261120-0001``: office prefix, received date (yymmdd), number that day."""
    return f"{OFFICE_PREFIX[office]}-{received:%y%m%d}-{number:04d}"


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def add_working_days(day: date, count: int) -> date:
    """``day`` plus ``count`` working days (Monday to Friday)."""
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def inventory_row(office: str, received: date, number: int, procedure: Procedure, resolved: date, result_no: int) -> tuple[str, ...]:
    """One inventory line, ``valid_until`` from the procedure's validity (empty: indefinitely)."""
    valid_until = add_months(resolved, procedure.valid_months) - timedelta(days=1) if procedure.valid_months else None
    return (
        dossier_code(office, received, number),
        procedure.code,
        office,
        OFFICE_LEVEL[office],
        received.isoformat(),
        resolved.isoformat(),
        str(result_no),
        valid_until.isoformat() if valid_until else "",
    )


def random_results(rng: random.Random, count: int) -> list[tuple]:
    """Past results spread over the offices from 2024 on; district results end with the district tier."""
    offices = ("ttpvhcc", "tuy-phuoc", "phuoc-loc", "phuoc-loc", "nhon-binh", "nhon-binh", "an-toan")
    results = []
    for _ in range(count):
        office = rng.choice(offices)
        last = DISTRICT_TIER_ENDS - timedelta(days=10) if office == "tuy-phuoc" else date(2026, 11, 10)
        received = date(2024, 1, 2) + timedelta(days=rng.randrange((last - date(2024, 1, 2)).days))
        while received.weekday() >= 5:
            received -= timedelta(days=1)
        procedure = rng.choice(PROCEDURES_BY_LEVEL[OFFICE_LEVEL[office]])
        resolved = add_working_days(received, rng.randint(0, 7))
        results.append((office, received, rng.randint(1, 40), procedure, resolved, 1))
    return results


def inventory_rows(seed: int, extra: int = 36) -> list[tuple[str, ...]]:
    """The scanned results plus ``extra`` random past ones, one with a second result (KQ2), sorted."""
    rng = random.Random(seed)
    results = list(SCANNED_RESULTS) + random_results(rng, extra)
    office, received, number, procedure, resolved, _ = results[-1]
    results.append((office, received, number, procedure, resolved, 2))
    rows = {inventory_row(*result) for result in results}
    return sorted(rows, key=lambda row: (row[4], row[0], row[6]))
