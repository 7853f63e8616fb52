"""A run's summary in words (the Prefect run's name and state message), without a Prefect server."""

from __future__ import annotations

import re

import pytest

from digitize import i18n
from digitize.errors import ArchiveUnavailableError, ConfigError
from flows import dossier
from flows.dossier import _row, _what_it_did


def test_what_a_run_did_is_counted_in_the_pipelines_order_in_either_language():
    counts = {"retry-later": 1, "failed": 2, "archived": 3, "settling": 1}
    assert _what_it_did(counts) == "3 archived, 2 failed, 1 retry later (an outage), 1 still being written"
    with i18n.using("vi"):
        assert _what_it_did(counts) == "3 đã lưu trữ, 2 lỗi, 1 thử lại sau (sự cố tạm thời), 1 đang được ghi"
        assert _what_it_did({"duplicate": 1234}) == "1.234 trùng lặp"
        assert _what_it_did({}) == "không có tệp nào sẵn sàng"


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_cli_summary_and_the_prefect_ui_word_each_status_alike(language, capsys):
    from cli.commands.run import print_summary
    from pipeline import STATUS_LABELS

    results = [{"document": f"000.31.25.H08-261120-000{n}-KQ1", "level": "xa", "office": "phuoc-loc",
                "status": status} for n, status in enumerate(STATUS_LABELS)]
    with i18n.using(language):
        print_summary(results)
        cli_lines = capsys.readouterr().out.splitlines()
        prefect_cells = [_row(r)[i18n._("status")] for r in results]
        run_name = _what_it_did({status: 1 for status in STATUS_LABELS})
    for line, cell in zip(cli_lines[1:-1], prefect_cells, strict=True):
        term = cell.split(" (")[0]  # the Prefect UI's cell: the CLI's term, then what it means where there is room
        assert term in re.split(r"\s{2,}", line), (line, cell)
    assert cli_lines[-1].split("; ")[0] == run_name  # the counts read the same as the run's name
    if language == "vi":  # the glossary's words (docs/thuat-ngu.md)
        assert prefect_cells[:4] == ["đã lưu trữ", "trùng lặp (đã lưu trữ trước đó)",
                                     "lỗi (đã chuyển sang thư mục lỗi)", "thử lại sau (sự cố tạm thời)"]
        assert run_name.startswith("1 đã lưu trữ, 1 trùng lặp, 1 lỗi, 1 thử lại sau (sự cố tạm thời), ")


def test_a_row_of_the_runs_table_reads_in_words_with_a_decimal_comma():
    result = {"document": "000.31.25.H08-261120-0001-KQ1", "level": "xa", "office": "phuoc-loc",
              "status": "archived", "pages": 2, "confidence": 95.5, "pades_level": "B-LTA", "key": "xa/k.pdf",
              "stage": None, "reason": None}
    with i18n.using("vi"):
        row = _row(result)
    assert row["trạng thái"] == "đã lưu trữ" and row["độ tin cậy nhận dạng"] == "95,5"
    assert row["mã hồ sơ"] == "000.31.25.H08-261120-0001-KQ1" and row["công đoạn"] == ""
    assert _row(result)["confidence"] == "95.5"


def test_a_run_stopped_by_an_outage_is_renamed_as_one_and_a_bad_input_is_not(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(dossier, "_rename_run", names.append)
    with i18n.using("vi"):
        with pytest.raises(ArchiveUnavailableError), dossier._named_at_the_end("inbox", "xa"):
            raise ArchiveUnavailableError("kho lưu trữ không truy cập được")
        with pytest.raises(ConfigError), dossier._named_at_the_end("inbox", "xa"):
            raise ConfigError("sai cấu hình")
    assert len(names) == 1 and names[0].startswith("inbox-xa ")
    assert names[0].endswith(" — sự cố tạm thời: thử lại sau")
