"""The catalog's schema: shipped migrations never change, and catalogs of every version in the field open and read."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from rates.inventory import import_inventory, import_offices
from rates.queries import rates_report
from rates.summary import recount
from rates.targets import load_schedule
from storage.catalog import Catalog
from storage.schema import MIGRATIONS
from tests.rates_fixtures import INVENTORY_CSV, LEVELS, OFFICES_CSV

#: SHA-256 of each shipped migration's (SQLite, PostgreSQL) script. A catalog in the field ran these: a change
#: here means new catalogs differ from old ones (a changed pace window, say, must be a new migration).
SHIPPED = (
    ("c5ddc2fb7cf83feb9626b1dc12f231f26987ff2e5bffd523019713d3b38ec04e",
     "62c0bdb8ef17ac2ea52ccedd767690665534ddf23908a6e42c75d62b88facc70"),
    ("6ecb680ad5d43b6d5a201568c085cd18aff50d80484a90017bb3a5055a2897d7",
     "538328c5017316e66f15230784f1d07b0f63c094b708a4a87c092de579d86f33"),
    ("0c6b4f9c97ca586a344e7f2e7a6679f31715f6978a13e2cd735645bf8ce1a011",
     "0c6b4f9c97ca586a344e7f2e7a6679f31715f6978a13e2cd735645bf8ce1a011"),
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("version", range(1, len(SHIPPED) + 1))
def test_a_shipped_migration_is_never_edited(version):
    migration = MIGRATIONS[version - 1]
    assert (_sha(migration.sqlite), _sha(migration.postgresql)) == SHIPPED[version - 1]


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS) + 1))
def test_a_catalog_of_every_schema_version_opens_and_reads_its_rows(tmp_path, version):
    """A catalog written by the program of schema ``version`` (its migrations only), opened by this one."""
    path = tmp_path / "catalog.sqlite"
    (tmp_path / "offices.csv").write_text(OFFICES_CSV, encoding="utf-8")
    (tmp_path / "inventory.csv").write_text(INVENTORY_CSV, encoding="utf-8")
    at = "2025-06-20T03:00:00Z"
    with Catalog.open(path, MIGRATIONS[:version]) as old:
        assert old.schema_version == version
        with old.transaction("an old program's rows"):
            old.execute("INSERT INTO offices (code, name, level) VALUES ('prov', 'Trung tâm tỉnh', 'tinh')")
            old.execute("INSERT INTO inventory (dossier_code, office_code, level, resolved_date, result_no) "
                        "VALUES ('P1', 'prov', 'tinh', '2025-01-10', '1')")
            old.execute("INSERT INTO dossiers (dossier_code, level, office_code, first_seen) "
                        "VALUES ('P1', 'tinh', 'prov', ?)", (at,))
            old.execute(
                "INSERT INTO documents (document_code, dossier_code, kind, number, level, office_code, input_sha256, "
                "output_sha256, archive_key, status, digitized_at, signed_at, archived_at, title) VALUES "
                "('P1-KQ1', 'P1', 'KQ', 1, 'tinh', 'prov', ?, ?, 'tinh/prov/2025/P1/P1-KQ1.pdf', 'verified', ?, ?, ?, "
                "'Giấy phép xây dựng')", ("a" * 64, "b" * 64, at, at, at))
    with Catalog.open(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
        assert catalog.find_document("P1-KQ1").title == "Giấy phép xây dựng"
        assert catalog.find_office("prov").name == "Trung tâm tỉnh"
        assert recount(catalog) == 0  # the summary of the rows written before it existed is exact
        report = rates_report(catalog, date(2025, 6, 30), load_schedule(), LEVELS)
        assert (report.levels[0].in_force, report.levels[0].digitized) == (1, 1)
        import_offices(catalog, tmp_path / "offices.csv", LEVELS)
        import_inventory(catalog, tmp_path / "inventory.csv", LEVELS)
        assert recount(catalog) == 0


def test_the_postgresql_adapter_does_not_import_the_catalog():
    """storage.postgres gives the catalog a connection and a dialect; it never reaches into the catalog (no cycle)."""
    import subprocess
    import sys

    code = "import sys, storage.postgres; print('storage.catalog' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"
