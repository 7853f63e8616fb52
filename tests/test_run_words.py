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


class _StoppablePool:
    """Stands in for the run's page workers: only whether the run stopped them is seen."""

    def __init__(self) -> None:
        self.terminated = False

    def terminate(self) -> None:
        self.terminated = True


def test_the_largest_documents_are_claimed_and_begun_before_the_flow_and_given_back_if_no_flow_came(
        tmp_path, monkeypatch):
    import threading

    from digitize.settings import load_settings

    settings = load_settings(environ={"DIGITIZE_OCR__WORKERS": "2", "DIGITIZE_OCR__DOCUMENTS_IN_FLIGHT": "2",
                                      "DIGITIZE_INTAKE__SETTLE_SECONDS": "0"}, base_dir=tmp_path)
    office = settings.paths.inbox / "xa" / "phước-lộc"
    office.mkdir(parents=True)
    sizes = {"000.31.25.H08-261120-0001-KQ1.pdf": 10, "000.31.25.H08-261120-0002-KQ1.pdf": 300,
             "000.31.25.H08-261120-0003-KQ1.pdf": 200, "lô-quét-sáng-thứ-hai.pdf": 900}  # a batch: split by its flow
    for name, size in sizes.items():
        (office / name).write_bytes(b"%PDF-1.7\n" + b"x" * size)
    begun: list[str] = []
    release = threading.Event()

    def scan_early(claimed, settings, pool):  # noqa: ANN001 - stands in for dossier._scan_early
        begun.append(claimed.path.name)
        release.wait(5)

    monkeypatch.setattr(dossier, "_scan_early", scan_early)
    pool = _StoppablePool()
    with dossier.early_scans(settings, pool, level="xa") as count:
        assert count == 2
        claimed = sorted(p.name for p in (office / ".claimed").iterdir() if p.suffix == ".pdf")
        assert claimed == ["000.31.25.H08-261120-0002-KQ1.pdf", "000.31.25.H08-261120-0003-KQ1.pdf"]
        assert sorted(e.listed.path.name for e in dossier._early.values()) == claimed
        release.set()
    # no flow took them (the server never answered): back in the scanner folder, nothing left claimed
    assert sorted(begun) == claimed and dossier._early == {}
    assert sorted(p.name for p in office.iterdir() if p.is_file()) == sorted(sizes)
    assert not [p for p in (office / ".claimed").iterdir() if p.suffix == ".pdf"]


def test_a_run_without_its_own_page_workers_begins_nothing_early(tmp_path):
    from digitize.settings import load_settings

    settings = load_settings(environ={}, base_dir=tmp_path)
    with dossier.early_scans(settings, None) as count:
        assert count == 0 and dossier._early == {}


def test_items_begun_early_rejoin_the_run_in_the_inboxs_order():
    from pathlib import Path

    from digitize.intake import InboxItem

    items = [InboxItem(Path(f"/inbox/{level}/{office}/{name}"), level, office)
             for level, office, name in [("xa", "b", "2.pdf"), ("tinh", "z", "9.pdf"), ("xa", "a", "3.pdf"),
                                         ("xa", "b", "1.pdf")]]
    ordered = dossier._in_inbox_order(items, ["tinh", "huyen", "xa"])
    assert [str(i.path) for i in ordered] == ["/inbox/tinh/z/9.pdf", "/inbox/xa/a/3.pdf", "/inbox/xa/b/1.pdf",
                                              "/inbox/xa/b/2.pdf"]


@pytest.mark.parametrize("archived_as", [None, "000.31.25.H08-261120-0001-KQ1", "000.31.25.H08-261120-0009-KQ1"])
def test_a_scan_begun_early_is_not_read_when_this_very_scan_was_archived_before(tmp_path, monkeypatch, archived_as):
    # a re-drop (same code) and the same scan renamed (another code): the flow reports the duplicate or the
    # conflict from the catalog; neither is worth reading while the server starts
    from datetime import UTC, datetime

    import pipeline
    from digitize import intake
    from digitize.settings import load_settings
    from storage.catalog import open_catalog

    settings = load_settings(environ={"DIGITIZE_INTAKE__SETTLE_SECONDS": "0"}, base_dir=tmp_path)
    office = settings.paths.inbox / "xa" / "phuoc-loc"
    office.mkdir(parents=True)
    dropped = office / "000.31.25.H08-261120-0001-KQ1.pdf"
    dropped.write_bytes("%PDF-1.7\nthe scan of Hòa's request\n".encode())
    item = intake.InboxItem(dropped, "xa", "phuoc-loc")
    if archived_as is not None:
        named = office / f"{archived_as}.pdf"
        if named != dropped:
            named.write_bytes(dropped.read_bytes())
        meta = intake.read_meta(intake.InboxItem(named, "xa", "phuoc-loc"))
        if named != dropped:
            named.unlink()
        with open_catalog(settings.catalog) as catalog:
            catalog.record_document(meta, input_sha256=intake.input_sha256(dropped), output_sha256="c" * 64,
                                    archive_key=f"xa/phuoc-loc/2026/{meta.dossier_code}/{meta.document_code}.pdf",
                                    page_count=1, ocr_confidence=90.0, pades_level="B-B", signer="x",
                                    signed_at=datetime.now(UTC))
    scanned = []
    monkeypatch.setattr(pipeline, "scan", lambda copy, meta, work, settings, pool: scanned.append(meta.document_code))
    dossier._scan_early(item, settings, None)
    if archived_as is None:
        assert scanned == [dropped.stem]
    else:
        assert scanned == []
        assert not settings.paths.work.exists() or not any(settings.paths.work.iterdir()), "no work folder made"
