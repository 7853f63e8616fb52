"""Hostile and odd inputs at intake (issue 11, points 5, 8, 11, 16, 18, 19).

Each input is made in the test. What is asserted: the exception class (exit 4),
a reason that names the file as the clerk dropped it and says what is wrong,
where the input ended (``failed/`` with ``.error.json``), and that nothing of it
(or of a link's target) reached the work folder.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from digitize import intake, pages, split
from digitize.errors import BadInputError, ExitCode
from digitize.models import MAX_TITLE_CHARS, DocumentMeta, meta_fields
from digitize.settings import load_settings
from tests.cli_fixtures import ENGLISH
from tests.intake_fixtures import cover_page, text_page

OFFICE = ("xa", "phuoc-loc")
CODE = "000.31.25.H08-261120-0001"
SECRET = b"%PDF-1.4 secret of another office: never to be read or copied"


def _office(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox" / OFFICE[0] / OFFICE[1]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _secret(tmp_path: Path) -> Path:
    target = tmp_path / "elsewhere" / "private.pdf"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(SECRET)
    return target


def _only_item(tmp_path: Path) -> intake.InboxItem:
    ready, settling = intake.find_items(tmp_path / "inbox", [OFFICE[0]], settle_seconds=0)
    assert settling == [] and len(ready) == 1, (ready, settling)
    claimed = intake.claim(ready[0], intake.Owner("here", os.getpid(), 0.0))
    assert claimed is not None
    return claimed


def _take(item: intake.InboxItem, tmp_path: Path, max_file_mb: float = 500) -> dict:
    """The pipeline's first step on a claimed item: check it; on a refusal, quarantine it with the reason."""
    with pytest.raises(BadInputError) as refused:
        intake.check_item(item, max_file_mb=max_file_mb)
    error_file = intake.quarantine(item, tmp_path / "failed", refused.value, "intake")
    return json.loads(error_file.read_text(encoding="utf-8"))


def _work_holds_nothing_of(tmp_path: Path, data: bytes) -> bool:
    work = tmp_path / "work"
    return not work.exists() or not any(p.is_file() and data in p.read_bytes() for p in work.rglob("*"))


def _failed(tmp_path: Path, name: str) -> Path:
    return tmp_path / "failed" / OFFICE[0] / OFFICE[1] / name


# --- 8. links and special files -------------------------------------------------------------------------------


def test_a_link_dropped_as_a_scan_is_quarantined_as_a_link_and_its_target_is_never_copied(tmp_path):
    target = _secret(tmp_path)
    (_office(tmp_path) / f"{CODE}-KQ1.pdf").symlink_to(target)
    item = _only_item(tmp_path)

    with pytest.raises(BadInputError, match="link"):
        intake.read_meta(item)  # the current flow's first look refuses it too
    with pytest.raises(BadInputError, match="link"):
        intake.input_sha256(item.path)
    with pytest.raises(BadInputError, match="link"):
        intake.copy_to_work(item, tmp_path / "work" / "x")
    report = _take(item, tmp_path)

    assert report["exit_code"] == ExitCode.bad_input and report["file"] == f"{CODE}-KQ1.pdf"
    assert f"{CODE}-KQ1.pdf is a link" in report["reason"] and str(target) not in report["reason"]
    moved = _failed(tmp_path, f"{CODE}-KQ1.pdf")
    assert moved.is_symlink() and os.readlink(moved) == str(target)  # the link itself, not a copy of its target
    assert target.read_bytes() == SECRET
    assert _work_holds_nothing_of(tmp_path, SECRET)


def test_a_dangling_link_is_quarantined_not_left_in_the_scanner_folder(tmp_path):
    (_office(tmp_path) / f"{CODE}-KQ1.pdf").symlink_to(tmp_path / "gone.pdf")
    report = _take(_only_item(tmp_path), tmp_path)
    assert "is a link" in report["reason"]
    assert _failed(tmp_path, f"{CODE}-KQ1.pdf").is_symlink()


def test_a_link_inside_a_folder_item_is_refused_and_nothing_is_copied(tmp_path):
    folder = _office(tmp_path) / f"{CODE}-HS1"
    folder.mkdir()
    Image.new("L", (40, 60), 255).save(folder / "trang-1.png")
    (folder / "trang-2.pdf").symlink_to(_secret(tmp_path))
    item = _only_item(tmp_path)

    with pytest.raises(BadInputError, match=f"{CODE}-HS1/trang-2.pdf is a link"):
        intake.copy_to_work(item, tmp_path / "work" / "x")
    with pytest.raises(BadInputError, match="link"):
        pages.input_files(item.path)
    report = _take(item, tmp_path)
    assert f"{CODE}-HS1/trang-2.pdf is a link" in report["reason"]
    assert (_failed(tmp_path, f"{CODE}-HS1") / "trang-2.pdf").is_symlink()
    assert not (tmp_path / "work").exists()


def test_a_linked_sidecar_is_refused_and_moves_with_its_item(tmp_path):
    office = _office(tmp_path)
    (office / f"{CODE}-KQ1.pdf").write_bytes(b"%PDF-1.4 scan")
    (office / f"{CODE}-KQ1.json").symlink_to(_secret(tmp_path))
    item = _only_item(tmp_path)
    assert item.sidecar.is_symlink()  # the claim took the link along

    with pytest.raises(BadInputError, match="sidecar"):
        intake.read_meta(item)
    report = _take(item, tmp_path)
    assert f"the sidecar {CODE}-KQ1.json is a link" in report["reason"]
    assert _failed(tmp_path, f"{CODE}-KQ1.json").is_symlink()
    assert not os.path.lexists(office / f"{CODE}-KQ1.json")


def _make_socket(path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(path.parent)  # a socket's path is limited to 108 bytes: bind it by its short name
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path.name)
    finally:
        os.chdir(cwd)


def _make_device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null's numbers
    except PermissionError:
        pytest.skip("making a device file needs CAP_MKNOD")


@pytest.mark.parametrize(
    ("make", "kind", "is_kind"),
    [
        (os.mkfifo, "a named pipe", stat.S_ISFIFO),
        (_make_socket, "a socket", stat.S_ISSOCK),
        (_make_device, "a device", stat.S_ISCHR),
    ],
)
def test_special_files_are_taken_as_items_and_quarantined_unopened(tmp_path, make, kind, is_kind):
    make(_office(tmp_path) / f"{CODE}-KQ1.pdf")
    item = _only_item(tmp_path)  # listed, so it does not lie in the scanner folder unexplained
    assert intake.file_state(item.path).files == 1  # looked at without opening (a pipe would block)

    with pytest.raises(BadInputError, match=kind):
        intake.read_meta(item)
    report = _take(item, tmp_path)
    assert f"{CODE}-KQ1.pdf is {kind}" in report["reason"]
    assert is_kind(os.lstat(_failed(tmp_path, f"{CODE}-KQ1.pdf")).st_mode)


def test_a_link_to_a_batch_is_no_batch_and_is_not_read(tmp_path):
    batch = _tiff_batch(tmp_path / "lo-quet-01.tif", [cover_page(f"{CODE}-KQ1"), text_page("một")])
    assert split.has_cover_first(batch, timeout=5) is True
    link = _office(tmp_path) / "lo-quet-01.tif"
    link.symlink_to(batch)
    assert split.has_cover_first(link, timeout=5) is False  # refused, unread, by the normal path


# --- 11. size limit -----------------------------------------------------------------------------------------------


def _sparse(path: Path, megabytes: float) -> Path:
    with path.open("wb") as f:
        f.truncate(int(megabytes * intake.MB))
    return path


def test_a_file_over_max_file_mb_is_refused_from_its_size_before_it_is_read(tmp_path, monkeypatch):
    _sparse(_office(tmp_path) / f"{CODE}-KQ1.pdf", 512)
    item = _only_item(tmp_path)

    def never(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(intake, "_open_no_follow", never)
    report = _take(item, tmp_path, max_file_mb=500)
    assert report["exit_code"] == 4
    assert "512.0 MB" in report["reason"] and "500 MB (intake.max_file_mb)" in report["reason"]
    assert _failed(tmp_path, f"{CODE}-KQ1.pdf").stat().st_size == 512 * intake.MB
    assert not (tmp_path / "work").exists()


def test_a_folder_is_measured_whole_against_max_file_mb(tmp_path):
    folder = _office(tmp_path) / f"{CODE}-HS1"
    (folder / "phan-2").mkdir(parents=True)
    _sparse(folder / "trang-1.tif", 6)
    _sparse(folder / "phan-2" / "trang-2.tif", 6)
    item = _only_item(tmp_path)
    intake.check_item(item, max_file_mb=12)  # at the limit: taken
    with pytest.raises(BadInputError, match=r"12\.0 MB, over the limit of 10 MB"):
        intake.check_item(item, max_file_mb=10)


def test_max_file_mb_is_a_setting():
    assert load_settings(environ={}).intake.max_file_mb == 500
    assert load_settings(environ={"DIGITIZE_INTAKE__MAX_FILE_MB": "20"}).intake.max_file_mb == 20


# --- 5. sub-folders of a folder item -----------------------------------------------------------------------------


def test_pages_in_sub_folders_are_taken_in_natural_order_of_their_paths(tmp_path):
    folder = tmp_path / f"{CODE}-HS1"
    names = ["10.png", "2.png", "1.png", "phu-luc/2.png", "phu-luc/1.png", "Phan-B/trang 1.png"]
    for name in [*names, ".thumbs/x.png"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (80, 120), 255).save(folder / name)
    (folder / "ghi-chu.json").write_text("{}", encoding="utf-8")

    files = [f.relative_to(folder).as_posix() for f in pages.input_files(folder)]
    assert files == ["1.png", "2.png", "10.png", "Phan-B/trang 1.png", "phu-luc/1.png", "phu-luc/2.png"]
    plan = pages.plan_pages(folder, default_dpi=300)
    assert [p.file.relative_to(folder).as_posix() for p in plan.pages] == files


def test_a_folder_item_with_sub_folders_is_copied_whole_to_work(tmp_path):
    folder = _office(tmp_path) / f"{CODE}-HS1"
    (folder / "phu-luc").mkdir(parents=True)
    (folder / "1.png").write_bytes(b"one")
    (folder / "phu-luc" / "1.png").write_bytes(b"two")
    copy = intake.copy_to_work(_only_item(tmp_path), tmp_path / "work" / "x")
    assert (copy / "phu-luc" / "1.png").read_bytes() == b"two"
    assert intake.input_sha256(copy) == intake.input_sha256(_office(tmp_path) / ".claimed" / folder.name)


def test_the_sidecar_of_a_folder_item_named_with_dots_follows_it(tmp_path):
    folder = _office(tmp_path) / f"{CODE}-HS1"
    folder.mkdir()
    (folder / "1.png").write_bytes(b"page")
    (folder.parent / f"{CODE}-HS1.json").write_text('{"title": "Đơn đề nghị"}', encoding="utf-8")
    item = _only_item(tmp_path)
    assert intake.read_meta(item).title == "Đơn đề nghị"
    done = intake.set_aside(item, tmp_path / "done")
    assert (done.parent / f"{CODE}-HS1.json").is_file()
    assert not list(_office(tmp_path).rglob("*.json"))


# --- 18. sidecars: BOM, types, lengths ---------------------------------------------------------------------------


def _sidecar_item(tmp_path: Path, content: bytes) -> intake.InboxItem:
    office = _office(tmp_path)
    (office / f"{CODE}-KQ1.pdf").write_bytes(b"%PDF-1.4 scan")
    (office / f"{CODE}-KQ1.json").write_bytes(content)
    return _only_item(tmp_path)


def test_a_sidecar_with_a_utf8_bom_is_read(tmp_path):
    content = '\ufeff{"title": "Giấy chứng nhận đăng ký hộ kinh doanh", "procedure_code": "1.001193"}'
    meta = intake.read_meta(_sidecar_item(tmp_path, content.encode("utf-8")))
    assert (meta.title, meta.procedure_code) == ("Giấy chứng nhận đăng ký hộ kinh doanh", "1.001193")


def test_a_decomposed_title_is_kept_in_nfc(tmp_path):
    import unicodedata

    title = unicodedata.normalize("NFD", "Quyết định cấp phép")
    meta = intake.read_meta(_sidecar_item(tmp_path, json.dumps({"title": title}).encode()))
    assert meta.title == unicodedata.normalize("NFC", title) != title


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"title": "' + "Đ" * 2_000_000 + '"}', "more than a document's fields can need"),
        ('{"title": "' + "ă" * (MAX_TITLE_CHARS + 1) + '"}', f"at most {MAX_TITLE_CHARS:,}"),
        ('{"title": ["Giấy phép"]}', "title must be text"),
        ('{"title": {"vi": "Giấy phép"}}', "title must be text"),
        ('{"title": 12}', "title must be text"),
        ('{"title": "Giấy\\u0000phép"}', "control or invalid character"),
        ('{"title": "\\ud800"}', "control or invalid character"),
        ('{"procedure_code": 1.0010}', "procedure_code must be text"),
        ('{"procedure_code": "../../etc"}', "procedure code '../../etc' is not allowed"),
        ('{"procedure_code": "' + "1" * 5000 + '"}', "characters)"),
        ('{"tieu_de": "Giấy phép"}', "unknown field"),
        ('["title", "Giấy phép"]', "must hold a JSON object"),
        ("null", "must hold a JSON object"),
        ('{"title": "' + "ă" * 30_000 + '"}', "30,000 characters long"),
        ('{"title": ' + "[" * 100_000 + "]" * 100_000 + "}", "more than a document's fields can need"),
        ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
        ('{"title": 1' + "0" * 5000 + "}", "not valid JSON"),
        ('{"title": "Giấy phép",}', "not valid JSON"),
    ],
)
def test_a_bad_sidecar_is_refused_at_intake_with_what_is_wrong(tmp_path, content, words):
    item = _sidecar_item(tmp_path, content.encode("utf-8", "surrogatepass"))
    try:
        intake.check_item(item)
    except BadInputError as e:  # a sidecar too large for one is refused from its size alone
        assert words in e.message
        return
    with pytest.raises(BadInputError) as refused:
        intake.read_meta(item)
    assert words in refused.value.message
    assert refused.value.message.startswith(f"{CODE}-KQ1.json")
    assert len(refused.value.message) < 400


def test_a_sidecar_not_in_utf8_is_refused(tmp_path):
    item = _sidecar_item(tmp_path, '{"title": "Giấy phép"}'.encode("utf-16"))
    with pytest.raises(BadInputError, match="not UTF-8"):
        intake.read_meta(item)


ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, float("inf"), "", "1", "x" * 3000, [], [1], {}, {"a": 1}]


@pytest.mark.parametrize("field", ["dossier_code", "kind", "number", "level", "office", "procedure_code", "title"])
def test_any_json_type_in_any_field_is_a_meta_or_bad_input(field):
    refused = []
    for value in ODD_VALUES:
        try:
            fields = meta_fields({field: value}, "x.json")
            meta = DocumentMeta(**{"dossier_code": CODE, "kind": "KQ", "number": 1, "level": "xa",
                                   "office": "phuoc-loc", **fields})
        except BadInputError:  # anything else (TypeError, OverflowError...) fails the test
            refused.append(value)
            continue
        kept = getattr(meta, field)  # taken: the field holds its own type, never the odd value's
        assert type(kept) is (int if field == "number" else str) or (kept is None and value in (None, "")), \
            (field, value, kept)
    assert len(refused) >= len(ODD_VALUES) // 2, (field, refused)


@pytest.mark.parametrize("number", ["1", True, 1.5, 0, 10_000, float("inf"), [1]])
def test_a_document_number_must_be_a_whole_number_from_1_to_9999(number):
    with pytest.raises(BadInputError, match="whole number from 1 to 9999"):
        DocumentMeta(CODE, "KQ", number, "xa", "phuoc-loc")  # type: ignore[arg-type]


# --- 16, 19. QR cover payloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('{"dossier_code": "000.31.25.H08-261120-0003", "number": 1e999}', "document number inf"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "number": [1]}', "document number [1]"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "number": 1.5}', "whole number"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "number": true}', "whole number"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "kind": ["KQ"]}', "kind must be text"),
        ('{"dossier_code": "000.31.25.H08-261120-0003", "kind": "XX"}', "must be KQ (result) or HS"),
        ('{"dossier_code": ["000.31.25.H08-261120-0003"]}', "dossier_code must be text"),
        ('{"dossier_code": null}', "dossier_code must be text"),
        ('{"dossier_code": "A-1", "procedure_code": 1.001193}', "procedure_code must be text"),
        ('{"dossier_code": ' + "[" * 5000, "nested too deeply"),
        ('{"dossier_code": "A-1"', "not valid JSON"),
        ('{"dossier_code": 1' + "0" * 5000 + "}", "not valid JSON"),
        ("dossier_code=000.31.25.H08-261120-0003;number=1e999", "document number '1e999'"),
        ("dossier_code=000.31.25.H08-261120-0003;number=0", "whole number from 1 to 9999"),
        ("dossier_code=../../etc;kind=KQ", "dossier code '../../etc' is not allowed"),
        ("kind=KQ;number=1", "dossier_code must be text"),
        ("000.31.25.H08-261120-0003-KQ0", "does not read as a document code"),
        ("000/31-KQ1", "does not read as a document code"),
    ],
)
def test_a_wrong_cover_payload_is_bad_input_saying_what_is_wrong(payload, words):
    with pytest.raises(BadInputError) as refused:
        split.parse_cover(payload)
    message = refused.value.message
    assert words in message and "QR code" in message
    assert "name" not in message  # a QR payload is not a file name (issue 19)
    assert len(message) < 500


def test_only_bad_input_escapes_cover_parsing():
    fields = ["dossier_code", "kind", "number", "procedure_code"]
    values = [None, True, 1, 1.5, 1e300, "", "KQ", "000.31.25.H08-261120-0003", [1], {"a": None}, "ư" * 200]
    payloads = ["[1]", "null", "{}", "{", "dossier_code", "=", ";;==;", "-KQ", "x-HS99999"]
    payloads += [json.dumps({"dossier_code": "A-1", field: value}) for field in fields for value in values]
    payloads += [f"dossier_code=A-1;{field}={value}" for field in fields for value in values]
    for payload in payloads:
        try:
            cover = split.parse_cover(payload)
        except BadInputError:
            continue
        assert cover is None or cover.document_code.startswith(cover.dossier_code), payload


def _tiff_batch(path: Path, pages_: list[Image.Image]) -> Path:
    pages_[0].save(path, save_all=True, append_images=pages_[1:], dpi=(200, 200), compression="tiff_lzw")
    return path


def test_a_batch_with_a_wrong_cover_inside_is_refused_naming_the_page(tmp_path):
    batch = _tiff_batch(tmp_path / "lo-quet-03.tif", [
        cover_page("000.31.25.H08-261120-0021-KQ1"), text_page("một"),
        cover_page('{"dossier_code": "000.31.25.H08-261120-0022", "number": 1e999}'), text_page("hai"),
    ])
    with pytest.raises(BadInputError) as refused:
        split.read_covers(batch, timeout=60)
    assert refused.value.message.startswith("lo-quet-03.tif page 3: the cover sheet's QR code")
    assert "print that cover sheet again" in refused.value.message


def test_a_batch_whose_first_cover_is_wrong_is_not_called_a_bad_file_name(tmp_path):
    batch = _tiff_batch(tmp_path / "lo-quet-04.tif", [cover_page("dossier_code=000.31.25.H08-261120-0031;number=[1]"),
                                                      text_page("một")])
    with pytest.raises(BadInputError, match=r"lo-quet-04.tif page 1: the cover sheet's QR code .* is wrong"):
        split.has_cover_first(batch, timeout=60)


# --- 19. reasons name the file as dropped, never a work path ------------------------------------------------------


def test_quarantine_reasons_never_show_work_or_claim_paths(tmp_path):
    office = _office(tmp_path)
    (office / f"{CODE}-HS1").mkdir()
    (office / f"{CODE}-HS1" / "p1.pdf").write_bytes(b"x")
    item = _only_item(tmp_path)
    sha = "ab" * 32
    work = tmp_path / "var" / "work" / sha[:32] / "input"
    error = BadInputError(
        f"{work}/{CODE}-HS1/p1.pdf: unable to find trailer; also {item.path} and 'var/work/{sha}/page-001.src.ppm'"
    )
    reason = json.loads(intake.quarantine(item, tmp_path / "failed", error, "ocr").read_text("utf-8"))["reason"]
    assert reason == f"{CODE}-HS1/p1.pdf: unable to find trailer; also {CODE}-HS1 and 'page-001.src.ppm'"


def test_a_corrupt_pdf_is_named_without_its_work_path(tmp_path):
    copy = tmp_path / "var" / "work" / ("c" * 32) / "input" / f"{CODE}-KQ1.pdf"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 300)
    with pytest.raises(BadInputError) as refused:
        pages.plan_pages(copy, default_dpi=300)
    assert refused.value.message.startswith(f"{CODE}-KQ1.pdf is not a readable PDF")
    assert str(tmp_path) not in str(refused.value)


# --- 16. `digitize ocr --metadata` through the real CLI -----------------------------------------------------------


def _digitize(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"dossier_code": CODE, "tieu_de": "Giấy phép"}, "unknown field(s) 'tieu_de'"),
        ({"dossier_code": CODE, "number": "1"}, "document number '1' must be a whole number"),
        ({"dossier_code": CODE, "number": 1e308 * 10}, "document number inf"),
        ({"dossier_code": CODE, "title": ["Giấy phép"]}, "title must be text"),
        ({"dossier_code": CODE, "office": None, "level": 7}, "level must be text"),
        ({"dossier_code": CODE, "title": "Đ" * 2_000_000}, "more than a document's fields can need"),
        ({"dossier_code": CODE, "title": "Đ" * 20_000}, "20,000 characters long; at most 1,000"),
        ([CODE], "must hold a JSON object"),
    ],
)
def test_a_bad_metadata_file_for_digitize_ocr_is_exit_4_with_a_reason(tmp_path, metadata, words):
    Image.new("L", (200, 300), 255).save(tmp_path / "scan.png")
    (tmp_path / "meta.json").write_text(json.dumps(metadata, ensure_ascii=False), encoding="utf-8")
    result = _digitize("ocr", "scan.png", "-o", "out.pdf", "--metadata", "meta.json", cwd=tmp_path)
    assert result.returncode == ExitCode.bad_input, result.stderr
    assert "Traceback" not in result.stderr
    assert words in result.stderr and "--metadata meta.json" in result.stderr
    assert not list(tmp_path.glob("out.pdf*"))


def test_a_file_name_that_is_not_utf8_is_quarantined_with_its_reason(tmp_path):
    office = _office(tmp_path)
    with open(os.path.join(os.fsencode(office), b"l\xf4-qu\xe9t.pdf"), "wb") as f:  # Latin-1 bytes from an old scanner
        f.write(b"%PDF-1.4 scan")
    item = _only_item(tmp_path)
    with pytest.raises(BadInputError) as refused:
        intake.read_meta(item)
    report = json.loads(intake.quarantine(item, tmp_path / "failed", refused.value, "intake").read_text("utf-8"))
    assert report["file"] == "l\\xf4-qu\\xe9t.pdf" and "does not follow" in report["reason"]
    failed = sorted(os.listdir(os.fsencode(tmp_path / "failed" / "xa" / "phuoc-loc")))
    assert failed == [b"l\xf4-qu\xe9t.pdf", b"l\xf4-qu\xe9t.pdf.error.json"]


@pytest.mark.parametrize("owner", [b"[]", b'{"pid": [1], "host": "here"}', b'{"at": "yesterday"}', b"\xff"])
def test_a_damaged_claim_owner_file_makes_the_claim_stale_instead_of_stopping_the_run(tmp_path, owner):
    (_office(tmp_path) / f"{CODE}-KQ1.pdf").write_bytes(b"%PDF-1.4 scan")
    claimed = _only_item(tmp_path)
    (claimed.path.parent / (claimed.name + intake.OWNER_SUFFIX)).write_bytes(owner)
    released = intake.release_stale_claims(tmp_path / "inbox", ["xa"], host="here", is_alive=lambda pid: True,
                                           timeout_seconds=3600, now=claimed.path.lstat().st_ctime)
    assert [i.name for i in released] == [f"{CODE}-KQ1.pdf"]


def test_a_claim_whose_owner_is_not_written_yet_is_left_to_its_claimer_for_a_while(tmp_path):
    (_office(tmp_path) / f"{CODE}-KQ1.pdf").write_bytes(b"%PDF-1.4 scan")
    claimed = _only_item(tmp_path)
    (claimed.path.parent / (claimed.name + intake.OWNER_SUFFIX)).unlink()  # the moment between rename and write
    at = claimed.path.lstat().st_ctime
    kwargs = dict(host="here", is_alive=lambda pid: True, timeout_seconds=3600)
    assert intake.release_stale_claims(tmp_path / "inbox", ["xa"], now=at + 1, **kwargs) == []
    assert len(intake.release_stale_claims(tmp_path / "inbox", ["xa"], now=at + 61, **kwargs)) == 1


# --- the whole run ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_quarantines_links_and_special_files_and_copies_nothing_of_a_target(prefect_harness, tmp_path):
    from flows.dossier import process_inbox

    config = tmp_path / "digitize.toml"
    config.write_text("[intake]\nsettle_seconds = 0\n", encoding="utf-8")
    office = tmp_path / "var" / "inbox" / OFFICE[0] / OFFICE[1]
    office.mkdir(parents=True)
    secret = _secret(tmp_path)
    (office / f"{CODE}-KQ1.pdf").symlink_to(secret)
    (office / "lo-quet-01.pdf").symlink_to(secret)
    os.mkfifo(office / f"{CODE}-KQ2.pdf")
    folder = office / f"{CODE}-HS1"
    folder.mkdir()
    Image.new("L", (40, 60), 255).save(folder / "trang-1.png")
    (folder / "trang-2.pdf").symlink_to(secret)

    results = process_inbox(level="xa", config=str(config))

    assert sorted(r["status"] for r in results) == ["failed"] * 4
    failed = tmp_path / "var" / "failed" / "xa" / "phuoc-loc"
    reports = {p.name.removesuffix(".error.json"): json.loads(p.read_text(encoding="utf-8"))
               for p in failed.glob("*.error.json")}
    assert {name: r["exit_code"] for name, r in reports.items()} == {
        f"{CODE}-KQ1.pdf": 4, "lo-quet-01.pdf": 4, f"{CODE}-KQ2.pdf": 4, f"{CODE}-HS1": 4,
    }
    # A flow's reasons are in ui.language, Vietnamese by default.
    assert "là liên kết (shortcut)" in reports["lo-quet-01.pdf"]["reason"]
    assert "đường ống (named pipe)" in reports[f"{CODE}-KQ2.pdf"]["reason"]
    assert f"{CODE}-HS1/trang-2.pdf là liên kết" in reports[f"{CODE}-HS1"]["reason"]
    assert (failed / f"{CODE}-KQ1.pdf").is_symlink() and secret.read_bytes() == SECRET
    assert not [p for p in office.rglob("*") if not p.name.startswith(".claimed")]
    work = tmp_path / "var" / "work"
    assert not work.exists() or not any(p.is_file() and SECRET in p.read_bytes() for p in work.rglob("*"))


def test_a_folder_with_a_page_named_in_another_encoding_has_an_identity(tmp_path):
    folder = tmp_path / f"{CODE}-HS1"
    folder.mkdir()
    (folder / "trang-1.png").write_bytes(b"one")
    with open(os.path.join(os.fsencode(folder), b"trang-2-\xe9.png"), "wb") as f:
        f.write(b"two")
    first = intake.input_sha256(folder)
    (folder / "trang-1.png").write_bytes(b"changed")
    assert len(first) == 64 and intake.input_sha256(folder) != first


@pytest.mark.tools
def test_digitize_ocr_of_a_folder_keeps_the_pages_of_its_sub_folder(tmp_path):
    import pikepdf

    folder = tmp_path / f"{CODE}-HS1"
    (folder / "phu-luc").mkdir(parents=True)
    text_page("trang một").save(folder / "1.png", dpi=(200, 200))
    text_page("phụ lục").save(folder / "phu-luc" / "1.png", dpi=(200, 200))
    result = _digitize("ocr", str(folder), "-o", "out.pdf", "--jobs", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert len(pdf.pages) == 2


@pytest.mark.tools
def test_a_batch_with_a_giant_page_is_refused_before_it_is_rendered(tmp_path):
    import pikepdf

    batch = tmp_path / "lo-quet-05.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(595, 842))
        pdf.add_blank_page(page_size=(14400, 14400))  # 200 x 200 inches: 900 Mpx at the QR resolution
        pdf.save(batch)
    with pytest.raises(BadInputError, match=r"lo-quet-05.pdf page 2 is too large to be a page scan \(200 x 200"):
        split.read_covers(batch, timeout=60)
    assert split.has_cover_first(batch, timeout=60) is False  # page 1 is fine and is no cover


def test_a_sidecar_template_left_empty_is_no_field(tmp_path):
    meta = intake.read_meta(_sidecar_item(tmp_path, b'{"procedure_code": "", "title": "  "}'))
    assert (meta.procedure_code, meta.title) == (None, None)


def test_a_folder_in_the_place_of_a_sidecar_is_refused(tmp_path):
    office = _office(tmp_path)
    (office / f"{CODE}-KQ1.pdf").write_bytes(b"%PDF-1.4 scan")
    (office / f"{CODE}-KQ1.json").mkdir()
    item = intake.claim(intake.InboxItem(office / f"{CODE}-KQ1.pdf", *OFFICE), intake.Owner("here", 1, 0.0))
    with pytest.raises(BadInputError, match=f"the sidecar {CODE}-KQ1.json is a folder"):
        intake.read_meta(item)
