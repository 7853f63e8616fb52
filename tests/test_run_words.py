"""A run's summary in words (the Prefect run's name and state message), without a Prefect server."""

from __future__ import annotations

import pytest

from digitize import i18n
from digitize.errors import ArchiveUnavailableError, ConfigError
from flows import dossier
from flows.dossier import _row, _what_it_did


def test_what_a_run_did_is_counted_in_the_pipelines_order_in_either_language():
    counts = {"retry-later": 1, "failed": 2, "archived": 3, "settling": 1}
    assert _what_it_did(counts) == "3 archived, 2 failed, 1 to retry later (outage), 1 still being written"
    with i18n.using("vi"):
        assert _what_it_did(counts) == "3 đã lưu trữ, 2 lỗi, 1 thử lại sau (sự cố tạm thời), 1 đang được ghi"
        assert _what_it_did({"duplicate": 1234}) == "1.234 trùng"
        assert _what_it_did({}) == "không có tệp nào sẵn sàng"


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


def test_the_runs_progress_is_shown_every_few_seconds_and_always_at_the_end(monkeypatch):
    shown: list[float] = []
    monkeypatch.setattr(dossier, "update_progress_artifact", lambda artifact, percent: shown.append(percent))
    now = [100.0]
    progress = dossier._ProgressShown("artifact-id", clock=lambda: now[0])
    for done in range(1, 41):  # 40 documents, one finished every 0.5 s: 20 s in all
        now[0] += 0.5
        progress.update(done, 40)
    # one update per 5 s (at 10, 20, 30 documents) and the last, not one per document
    assert shown == [25.0, 50.0, 75.0, 100.0]
    assert progress.update(1, 1) is True and shown[-1] == 100.0  # a run of one item shows its end at once
