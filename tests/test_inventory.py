"""Inventory and office import (line-numbered errors, all or nothing, idempotent), the report command, the flow."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from digitize.errors import CsvImportError, ExitCode
from rates.inventory import import_inventory, import_offices
from storage.catalog import Catalog
from tests.conftest import SAMPLES
from tests.rates_fixtures import INVENTORY_CSV, LEVELS, OFFICES_CSV

HEADER = INVENTORY_CSV.splitlines()[0]


@pytest.fixture
def catalog(tmp_path):
    (tmp_path / "offices.csv").write_text(OFFICES_CSV, encoding="utf-8")
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        import_offices(catalog, tmp_path / "offices.csv", LEVELS)
        yield catalog


def _csv(tmp_path, text, name="inventory.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(catalog, table="inventory"):
    return catalog.query(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_bad_lines_are_reported_with_their_numbers_and_nothing_is_imported(catalog, tmp_path):
    path = _csv(tmp_path, "\n".join([
        HEADER,
        "G1,1.001,prov,tinh,2025-01-08,2025-01-10,1,",       # line 2: good
        "G2,1.001,prov,tinh,2025-01-08,10/01/2025,1,",      # line 3: bad date
        "G3,1.001,nowhere,xa,2025-01-08,2025-01-10,1,",     # line 4: unknown office
        "G1,1.001,prov,tinh,2025-01-08,2025-01-10,1,",      # line 5: same result as line 2
        "G4,1.001,prov,xa,2025-01-08,2025-01-10,1,",        # line 6: level does not match the office
        "G5,1.001,prov,tinh,2025-01-08,2025-01-10,KQ1,",    # line 7: result_no not a number
        "G6,1.001,prov,tinh,2025-01-08,2025-01-10,1,2024-01-01",  # line 8: valid_until before resolved
        "G7,1.001,prov,tinh,2025-01-08",                    # line 9: too few fields
    ]) + "\n")
    with pytest.raises(CsvImportError) as caught:
        import_inventory(catalog, path, LEVELS)
    assert [line for line, _ in caught.value.errors] == [3, 4, 5, 6, 7, 8, 9]
    assert "line 4: office 'nowhere'" in str(caught.value)
    assert caught.value.exit_code == ExitCode.bad_input
    assert _count(catalog) == 0


def test_importing_the_same_file_twice_changes_nothing(catalog, tmp_path):
    path = _csv(tmp_path, INVENTORY_CSV)
    first = import_inventory(catalog, path, LEVELS)
    rows = catalog.query("SELECT * FROM inventory ORDER BY id")
    again = import_inventory(catalog, path, LEVELS)
    assert (first.inserted, first.updated) == (10, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    assert catalog.query("SELECT * FROM inventory ORDER BY id") == rows


def test_corrected_export_updates_only_the_changed_rows(catalog, tmp_path):
    import_inventory(catalog, _csv(tmp_path, INVENTORY_CSV), LEVELS)
    corrected = INVENTORY_CSV.replace("P1,1.001,prov,tinh,2025-01-08,2025-01-10,1,",
                                      "P1,1.001,prov,tinh,2025-01-08,2025-01-10,1,2026-01-09")
    result = import_inventory(catalog, _csv(tmp_path, corrected, "fixed.csv"), LEVELS)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 9)
    assert catalog.query("SELECT valid_until FROM inventory WHERE dossier_code = 'P1'") == [("2026-01-09",)]


def test_wrong_header_is_refused_on_line_1(catalog, tmp_path):
    with pytest.raises(CsvImportError) as caught:
        import_inventory(catalog, _csv(tmp_path, "dossier,office\nX,prov\n"), LEVELS)
    assert caught.value.errors[0][0] == 1


def test_office_merged_into_an_unknown_office_is_refused(catalog, tmp_path):
    path = _csv(tmp_path, "code,name,level,area_type,status,merged_into\nold,Cũ,huyen,rural,merged,ghost\n", "o.csv")
    with pytest.raises(CsvImportError, match="line 2: merged_into 'ghost'"):
        import_offices(catalog, path, LEVELS)


def test_office_may_be_merged_into_a_later_line(catalog, tmp_path):
    path = _csv(tmp_path, "code,name,level,area_type,status,merged_into\n"
                          "old,Cũ,xa,rural,merged,new\nnew,Mới,xa,rural,active,\n", "o.csv")
    result = import_offices(catalog, path, LEVELS)
    assert result.inserted == 2
    assert catalog.query("SELECT merged_into FROM offices WHERE code = 'old'") == [("new",)]


def test_office_reimport_changes_nothing(catalog, tmp_path):
    again = import_offices(catalog, _csv(tmp_path, OFFICES_CSV, "o.csv"), LEVELS)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)


def test_cli_imports_the_samples_and_writes_every_format(settings_env, tmp_path, capsys):
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    assert "inventory.csv: 42 dòng: 0 mới, 0 thay đổi, 42 không đổi" in capsys.readouterr().out  # ui.language vi
    assert main(["report", "--as-of", "2026-11-28", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    levels = {r["level"]: r for r in data["rates"] if r["scope"] == "level"}
    assert levels["xa"]["in force"] == "21" and levels["xa"]["target"] == "100%"
    assert main(["report", "--year", "2025", "--level", "xa", "--backlog", "--format", "csv", "--limit", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("document,level,office")
    assert len(lines) == 1 + 12  # the 12 xa results in force at 2025-12-31, none digitized
    assert main(["report", "--as-of", "2026-11-28", "--format", "html", "-o", str(tmp_path / "r.html")]) == 0
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_cli_recount_says_whether_the_summary_drifted(settings_env, capsys):
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    capsys.readouterr()
    assert main(["inventory", "recount"]) == 0
    assert "khớp với kết quả đếm lại toàn bộ" in capsys.readouterr().out


def test_cli_bad_inventory_exits_4_with_line_numbers(settings_env, tmp_path, capsys):
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    bad = _csv(tmp_path, HEADER + "\nX1,1.0,ttpvhcc,tinh,2025-01-01,2025-13-01,1,\n", "bad.csv")
    assert main(["inventory", "import", str(bad)]) == ExitCode.bad_input
    err = capsys.readouterr().err
    assert "bad.csv: 1 dòng lỗi; chưa nhập gì: hãy sửa rồi nhập lại toàn bộ tệp" in err  # the default: Vietnamese
    assert "dòng 2: resolved_date '2025-13-01' không phải ngày dạng YYYY-MM-DD" in err


def test_cli_bad_inventory_reads_in_english_when_the_language_is_english(settings_env, tmp_path, capsys,
                                                                         monkeypatch):
    from tests.cli_fixtures import ENGLISH

    for name, value in ENGLISH.items():
        monkeypatch.setenv(name, value)
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    bad = _csv(tmp_path, HEADER + "\nX1,1.0,ttpvhcc,tinh,2025-01-01,2025-13-01,1,\n", "bad.csv")
    assert main(["inventory", "import", str(bad)]) == ExitCode.bad_input
    err = capsys.readouterr().err
    assert "bad.csv: 1 bad line; nothing was imported" in err
    assert "line 2: resolved_date '2025-13-01' is not a date YYYY-MM-DD" in err


def test_import_errors_read_in_vietnamese_line_by_line(catalog, tmp_path):
    from digitize.i18n import using

    path = _csv(tmp_path, "\n".join([
        HEADER,
        "G1,1.001,prov,tinh,2025-01-08,2025-01-10,1,",           # line 2: good
        "G3,1.001,phuong-moi,xa,2025-01-08,2025-01-10,1,",       # line 3: unknown office
        "G1,1.001,prov,tinh,2025-01-08,2025-01-10,1,",           # line 4: same result as line 2
        "G4,1.001,prov,xa,2025-01-08,2025-01-10,1,",             # line 5: level does not match the office
        "G5,1.001,prov,tinh,2025-01-08,,1,",                     # line 6: resolved_date empty
        "G6,1.001,prov,tinh,2025-01-12,2025-01-10,1,",           # line 7: resolved before received
        "G7,1.001,prov,tinh,2025-01-08",                         # line 8: too few fields
    ]) + "\n", "kết quả.csv")
    with using("vi"), pytest.raises(CsvImportError) as caught:
        import_inventory(catalog, path, LEVELS)
    text = str(caught.value)
    assert text.startswith(f"{path}: 6 dòng lỗi; chưa nhập gì")
    assert "dòng 3: cơ quan, đơn vị 'phuong-moi' chưa có trong danh sách cơ quan, đơn vị" in text
    assert "dòng 4: trùng kết quả G1 / 1 với dòng 2" in text
    assert "dòng 5: cơ quan, đơn vị prov thuộc cấp tinh trong danh sách cơ quan, đơn vị, không phải cấp xa" in text
    assert "dòng 6: resolved_date đang trống" in text
    assert "dòng 7: resolved_date 2025-01-10 trước received_date 2025-01-12" in text
    assert "dòng 8: có 5 trường, cần 8" in text
    reasons = text.removeprefix(str(path))
    assert "line " not in reasons and "office " not in reasons and "nothing" not in reasons, reasons
    assert _count(catalog) == 0


def test_wrong_header_and_a_file_not_in_utf8_read_in_vietnamese(catalog, tmp_path):
    from digitize.i18n import using

    with using("vi"), pytest.raises(CsvImportError) as header:
        import_inventory(catalog, _csv(tmp_path, "mã hồ sơ,đơn vị\nX,prov\n"), LEVELS)
    assert "dòng tiêu đề phải ghi đúng các cột dossier_code, procedure_code" in str(header.value)
    assert "dòng 1: tìm thấy mã hồ sơ, đơn vị" in str(header.value)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes((HEADER + "\nG1,1.001,prov,tinh,2025-01-08,2025-01-10,1,Phú Hà\n").encode("cp1258"))
    with using("vi"), pytest.raises(CsvImportError) as encoding:
        import_inventory(catalog, latin, LEVELS)
    assert "không phải văn bản UTF-8; chưa nhập gì: hãy xuất lại tệp CSV với bảng mã UTF-8" in str(encoding.value)
    assert "dòng 2: không phải UTF-8" in str(encoding.value)


def test_office_registry_errors_read_in_vietnamese(catalog, tmp_path):
    from digitize.i18n import using

    path = _csv(tmp_path, "code,name,level,area_type,status,merged_into\n"
                          "xa-a,UBND xã Phước Lộc,xa,mountain,active,\n"
                          "xa-b,,xa,rural,active,\n"
                          "xa-c,UBND xã Tân Phú,xa,rural,merged,xa-c\n", "cơ quan.csv")
    with using("vi"), pytest.raises(CsvImportError) as caught:
        import_offices(catalog, path, LEVELS)
    text = str(caught.value)
    assert "dòng 2: cơ quan, đơn vị xa-a: area_type 'mountain' phải là một trong urban, rural, remote" in text
    assert "dòng 3: cơ quan, đơn vị xa-b cần có tên" in text
    assert "dòng 4: cơ quan, đơn vị xa-c: merged_into chỉ dùng cho cơ quan, đơn vị đã sáp nhập" in text


def test_cli_report_options_read_in_vietnamese(settings_env, capsys):
    assert main(["report", "--year", "2024", "--as-of", "2025-01-31"]) == ExitCode.bad_input
    assert "--as-of 2025-01-31 không thuộc năm --year 2024" in capsys.readouterr().err
    assert main(["report", "--year", "2999"]) == ExitCode.bad_input
    assert "năm 2999 chưa bắt đầu (hôm nay là " in capsys.readouterr().err
    assert main(["report", "--level", "thôn"]) == ExitCode.config
    assert "không có cấp 'thôn'; các cấp đã cấu hình: " in capsys.readouterr().err


def test_cli_unknown_level_is_a_config_error(settings_env):
    assert main(["report", "--level", "thon"]) == ExitCode.config


@pytest.mark.slow
def test_report_rates_flow_publishes_the_tables_as_artifacts(prefect_harness, settings_env):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.rates import report_rates

    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    levels = report_rates(as_of="2026-11-28", config=str(settings_env))
    assert levels["xa"] == {"in_force": 21, "digitized": 0, "target": 100, "status": "behind", "needed": 21}

    async def artifacts():
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="rates-")))
            return {a.key: a for a in found}

    import asyncio

    found = asyncio.run(artifacts())
    assert {"rates-rates", "rates-span", "rates-trend", "rates-forecast", "rates-backlog", "rates-summary"} <= set(found)
    # In ui.language (Vietnamese by default): the summary, and the tables' titles and columns.
    assert "# Tỷ lệ số hóa đến ngày 28/11/2026" in found["rates-summary"].data
    assert found["rates-rates"].description.startswith("Kết quả còn hiệu lực đến ngày 28/11/2026")
    rows = json.loads(found["rates-rates"].data)
    assert "còn hiệu lực" in rows[0] and "in force" not in rows[0]


def test_cli_rates_commands_help_reads_in_vietnamese(settings_env, capsys):
    for argv, words in ((["report", "--help"], "ngày chốt số liệu (mặc định: 31/12 của năm --year"),
                        (["offices", "--help"], "nhập danh sách cơ quan, đơn vị từ tệp CSV UTF-8")):
        with pytest.raises(SystemExit):
            main(argv)
        assert words in " ".join(capsys.readouterr().out.split())
