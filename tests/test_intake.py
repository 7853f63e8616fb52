"""Scanner-folder rules: settling, claiming, stale claims, batch splitting at QR cover sheets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pikepdf
import pytest

from digitize import intake, split
from digitize.errors import BadInputError, SignedInputError
from tests.intake_fixtures import as_array, cover_page, save_pdf, text_page

OFFICE = ("xa", "phuoc-loc")


def _inbox_file(tmp_path: Path, name: str, data: bytes = b"%PDF-1.4 test") -> Path:
    folder = tmp_path / "inbox" / OFFICE[0] / OFFICE[1]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_file_is_settled_only_when_two_looks_agree_and_it_is_old_enough():
    a = intake.FileState(size=100, files=1, mtime=1000.0)
    assert intake.is_settled(a, a, now=1010.0, settle_seconds=5)
    assert not intake.is_settled(a, a, now=1003.0, settle_seconds=5)
    grown = intake.FileState(size=200, files=1, mtime=1000.0)
    assert not intake.is_settled(a, grown, now=1010.0, settle_seconds=5)


def test_folder_state_counts_its_files(tmp_path):
    folder = tmp_path / "doc-HS1"
    folder.mkdir()
    (folder / "page-001.jpg").write_bytes(b"x" * 10)
    first = intake.file_state(folder)
    (folder / "page-002.jpg").write_bytes(b"y" * 5)
    second = intake.file_state(folder)
    assert (first.files, first.size) == (1, 10)
    assert (second.files, second.size) == (2, 15)


def test_partial_hidden_and_sidecar_files_are_not_items(tmp_path):
    _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf")
    _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.json", b"{}")
    _inbox_file(tmp_path, "000.31.25.H08-261120-0002-KQ1.pdf.part")
    _inbox_file(tmp_path, ".scanner-temp.pdf")
    ready, settling = intake.find_items(tmp_path / "inbox", ["xa"], settle_seconds=0)
    assert [i.name for i in ready] == ["000.31.25.H08-261120-0001-KQ1.pdf"]
    assert settling == []


def test_a_fresh_file_is_left_to_settle(tmp_path):
    _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf")
    ready, settling = intake.find_items(tmp_path / "inbox", ["xa"], settle_seconds=60)
    assert ready == []
    assert [i.name for i in settling] == ["000.31.25.H08-261120-0001-KQ1.pdf"]


def test_only_one_of_two_workers_claims_an_item(tmp_path):
    path = _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf")
    _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.json", '{"title": "Giấy chứng nhận"}'.encode())
    item = intake.InboxItem(path, *OFFICE)
    first = intake.claim(item, intake.Owner("host-a", 111, 1.0))
    second = intake.claim(item, intake.Owner("host-b", 222, 1.0))
    assert first is not None and second is None
    assert first.path.parent.name == ".claimed"
    assert first.path.is_file() and not path.exists()
    assert first.sidecar.is_file()  # the sidecar follows its item
    assert intake.read_meta(first).title == "Giấy chứng nhận"


def test_claim_of_a_dead_worker_is_put_back_and_a_live_one_is_kept(tmp_path):
    dead = intake.claim(intake.InboxItem(_inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf"), *OFFICE),
                        intake.Owner("here", 111, 1000.0))
    live = intake.claim(intake.InboxItem(_inbox_file(tmp_path, "000.31.25.H08-261120-0002-KQ1.pdf"), *OFFICE),
                        intake.Owner("here", 222, 1000.0))
    assert dead and live
    released = intake.release_stale_claims(
        tmp_path / "inbox", ["xa"], host="here", is_alive=lambda pid: pid == 222, timeout_seconds=3600, now=1001.0
    )
    assert [i.name for i in released] == ["000.31.25.H08-261120-0001-KQ1.pdf"]
    assert released[0].path.is_file() and not released[0].claimed
    assert live.path.is_file()


def test_claim_from_another_host_is_stale_only_after_the_timeout(tmp_path):
    claimed = intake.claim(intake.InboxItem(_inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf"), *OFFICE),
                           intake.Owner("other-host", 111, 1000.0))
    assert claimed
    kwargs = dict(host="here", is_alive=lambda pid: False, timeout_seconds=3600)
    assert intake.release_stale_claims(tmp_path / "inbox", ["xa"], now=2000.0, **kwargs) == []
    assert len(intake.release_stale_claims(tmp_path / "inbox", ["xa"], now=5000.0, **kwargs)) == 1


def test_quarantine_writes_a_readable_reason_and_keeps_the_input(tmp_path):
    path = _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf", b"broken")
    claimed = intake.claim(intake.InboxItem(path, *OFFICE), intake.Owner("h", 1, 0.0))
    error_file = intake.quarantine(claimed, tmp_path / "failed", BadInputError("tệp hỏng: không đọc được"), "ocr")
    report = json.loads(error_file.read_text(encoding="utf-8"))
    assert report == {**report, "stage": "ocr", "exit_code": 4, "reason": "tệp hỏng: không đọc được"}
    assert (tmp_path / "failed" / "xa" / "phuoc-loc" / path.name).read_bytes() == b"broken"
    assert not list((path.parent / ".claimed").glob("*.owner.json"))


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("000.31.25.H08-261120-0003-KQ1", "000.31.25.H08-261120-0003-KQ1"),
        ("dossier_code=000.31.25.H08-261120-0003;kind=HS;number=2;procedure_code=1.001193",
         "000.31.25.H08-261120-0003-HS2"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "kind": "KQ"}', "000.31.25.H08-261120-0003-KQ1"),
    ],
)
def test_cover_payload_forms(payload, code):
    cover = split.parse_cover(payload)
    assert cover is not None and cover.document_code == code


@pytest.mark.parametrize("payload", ["https://dichvucong.gov.vn/x", "8935049500018", ""])
def test_other_qr_codes_are_not_covers(payload):
    assert split.parse_cover(payload) is None


def test_plan_cuts_at_each_cover_and_drops_the_covers():
    a, b = split.Cover("A-1"), split.Cover("B-2", "KQ", 1)
    plan = split.plan_split([a, None, None, b, None])
    assert [(s.cover.document_code, s.pages) for s in plan] == [("A-1-HS1", (1, 2)), ("B-2-KQ1", (4,))]


@pytest.mark.parametrize(
    ("covers", "message"),
    [
        ([None, split.Cover("A-1")], "does not start with a QR cover"),
        ([split.Cover("A-1"), split.Cover("B-1"), None], "followed by no page"),
        ([split.Cover("A-1"), None, split.Cover("A-1"), None], "same document twice"),
    ],
)
def test_bad_batches_are_refused(covers, message):
    with pytest.raises(BadInputError, match=message):
        split.plan_split(covers)


def test_qr_on_a_scanned_cover_is_read():
    assert split.read_qr(as_array(cover_page("000.31.25.H08-261120-0003-KQ1"))) == "000.31.25.H08-261120-0003-KQ1"
    assert split.read_qr(as_array(text_page())) is None


@pytest.mark.tools
def test_batch_pdf_is_cut_into_one_pdf_per_document_without_covers(tmp_path):
    pages = [
        cover_page("000.31.25.H08-261120-0011-KQ1"), text_page("một"),
        cover_page("000.31.25.H08-261120-0012-HS1"), text_page("hai"), text_page("ba"),
    ]
    batch = save_pdf(pages, tmp_path / "lo-quet-01.pdf")
    assert split.has_cover_first(batch, timeout=60)
    segments = split.plan_split(split.read_covers(batch, timeout=60))
    parts = split.cut(batch, segments, tmp_path / "out")
    assert [p.name for p in parts] == ["000.31.25.H08-261120-0011-KQ1.pdf", "000.31.25.H08-261120-0012-HS1.pdf"]
    assert [len(pikepdf.open(p).pages) for p in parts] == [1, 2]
    # Cutting again gives the same bytes: a re-run finds the same documents by SHA-256.
    again = split.cut(batch, segments, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in parts]


@pytest.mark.tools
def test_a_batch_pdf_is_read_for_covers_a_few_pages_at_a_time(tmp_path, monkeypatch):
    import pdf2image

    pages = [
        cover_page("000.31.25.H08-261120-0011-KQ1"), text_page("một"), text_page("hai"),
        cover_page("000.31.25.H08-261120-0012-HS1"), text_page("ba"),
    ]
    batch = save_pdf(pages, tmp_path / "lo-quet-04.pdf")
    drawn: list[int] = []
    convert = pdf2image.convert_from_path

    def counted(*args, **kwargs):
        images = convert(*args, **kwargs)
        drawn.append(len(images))
        return images

    monkeypatch.setattr(pdf2image, "convert_from_path", counted)
    monkeypatch.setattr(split, "RENDER_PAGES", 2)
    covers = split.read_covers(batch, timeout=60)
    assert drawn == [2, 2, 1]  # never the whole batch in memory at once
    assert [c.document_code if c else None for c in covers] == [
        "000.31.25.H08-261120-0011-KQ1", None, None, "000.31.25.H08-261120-0012-HS1", None]

def test_unclaim_puts_the_item_and_sidecar_back(tmp_path):
    path = _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.pdf")
    _inbox_file(tmp_path, "000.31.25.H08-261120-0001-KQ1.json", b"{}")
    claimed = intake.claim(intake.InboxItem(path, *OFFICE), intake.Owner("h", os.getpid(), 0.0))
    back = intake.unclaim(claimed)
    assert back.path == path and path.is_file() and back.sidecar.is_file()


@pytest.mark.tools
def test_a_signed_batch_is_not_cut(tmp_path):
    from signing.identity import ensure_demo_identity, load_signer, read_password
    from signing.sign import sign_pdf

    batch = save_pdf([cover_page("000.31.25.H08-261120-0011-KQ1"), text_page("một")], tmp_path / "lo-quet-02.pdf")
    demo = ensure_demo_identity(tmp_path / "keys", "UBND xã Phước Lộc (DEMO)")
    signed = tmp_path / "lo-quet-02-signed.pdf"
    sign_pdf(batch, signed, load_signer(demo.pkcs12, read_password(None, demo.password_file)),
             agency_name="UBND xã Phước Lộc (DEMO)", font_cache_dir=tmp_path / "fonts")
    segments = split.plan_split(split.read_covers(signed, timeout=60))
    with pytest.raises(SignedInputError, match="digital signature"):
        split.cut(signed, segments, tmp_path / "out")
    assert not any((tmp_path / "out").glob("*.pdf"))
