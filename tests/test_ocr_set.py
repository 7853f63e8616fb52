"""``digitize ocr --output-dir DIR INPUT...``: each input its own PDF/A, every document's pages on one pool.

Real Tesseract on small generated Vietnamese pages, through the real command. A slow page is a
Tesseract double that waits before it runs the real one, for one document's pages only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH
from tests.engine_fixtures import blank_page, text_page

pytestmark = pytest.mark.tools


def digitize(*args: str, cwd: Path, env: dict[str, str] | None = None,
             english: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")}
    full_env |= (ENGLISH if english else {}) | (env or {})
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def pdf_text(pdf: Path) -> str:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFC", " ".join(text.split()))


def page_count(pdf: Path) -> int:
    with pikepdf.open(pdf) as opened:
        return len(opened.pages)


@pytest.fixture()
def scans(tmp_path: Path) -> Path:
    """A scanner's folder: a one-page PNG, a folder of a text page and a blank back, and an empty PDF."""
    folder = tmp_path / "scans"
    folder.mkdir()
    text_page(dpi=200).save(folder / "giay-xac-nhan.png")
    two = folder / "quyet-dinh"
    two.mkdir()
    text_page(dpi=200).save(two / "trang-1.png")
    blank_page(dpi=200).save(two / "trang-2.png")
    (folder / "rong.pdf").write_bytes(b"")
    return folder


def test_each_input_becomes_its_own_pdfa_and_a_bad_one_is_reported_while_the_rest_are_written(scans, tmp_path):
    out = tmp_path / "out"
    result = digitize("ocr", "--output-dir", str(out), "--jobs", "2", str(scans / "giay-xac-nhan.png"),
                      str(scans / "quyet-dinh"), str(scans / "rong.pdf"), cwd=tmp_path)
    assert result.returncode == ExitCode.partial, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["giay-xac-nhan.pdf", "quyet-dinh.pdf"]
    assert page_count(out / "giay-xac-nhan.pdf") == 1
    assert page_count(out / "quyet-dinh.pdf") == 2, "a folder of pages is one document"
    for pdf in out.iterdir():
        assert "Phước Lộc" in pdf_text(pdf)
    assert "giay-xac-nhan.png -> " in result.stdout and "1 page; confidence" in result.stdout
    assert "quyet-dinh -> " in result.stdout and "2 pages; confidence" in result.stdout
    assert "blank pages 2" in result.stdout
    assert "2 of 3 document(s) written" in result.stdout and "pages/min" in result.stdout
    # the bad input, named as given, with the code `-o` would have given it and what to do
    assert f"rong.pdf: not digitized (exit {int(ExitCode.bad_input)}): rong.pdf is empty" in result.stderr
    assert "scan it again" in result.stderr
    assert "var/work" not in result.stderr and "digitize-ocr-" not in result.stderr


def test_a_slow_page_of_one_document_does_not_hold_back_the_others(tmp_path):
    """The largest input starts first; while one worker waits on its slow page the other reads the small
    documents: they are written (and reported) before it. One document after the other would report the
    slow one first."""
    scans = tmp_path / "scans"
    slow = scans / "cham"
    slow.mkdir(parents=True)
    for n in (1, 2):
        text_page(dpi=200).save(slow / f"trang-{n}.png")
    for name in ("nhanh-1", "nhanh-2"):
        text_page(dpi=200).save(scans / f"{name}.png")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tesseract"
    # the first input's work folder is 00000: its first page's reading waits 6 s, then the real Tesseract reads it
    fake.write_text(f'#!/bin/sh\ncase "$*" in *"/00000/page-001"*".ocr."*) sleep 6;; esac\n'
                    f'exec {shutil.which("tesseract")} "$@"\n')
    fake.chmod(0o755)
    out = tmp_path / "out"
    result = digitize("ocr", "--output-dir", str(out), "--jobs", "2", str(slow), str(scans / "nhanh-1.png"),
                      str(scans / "nhanh-2.png"), cwd=tmp_path,
                      env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    reported = [line.split(" -> ")[0] for line in result.stdout.splitlines() if " -> " in line]
    assert sorted(reported) == ["cham", "nhanh-1.png", "nhanh-2.png"]
    assert reported[-1] == "cham", result.stdout
    assert page_count(out / "cham.pdf") == 2


def test_outputs_are_checked_before_any_page_is_read(scans, tmp_path):
    """An output that would replace an input, two inputs of one name, a file for DIR: exit 2, nothing read."""
    page = scans / "giay-xac-nhan.png"
    before = page.read_bytes()
    empty = (scans / "rong.pdf").read_bytes()
    into_inputs = digitize("ocr", "--output-dir", str(scans), str(page), str(scans / "rong.pdf"), cwd=tmp_path)
    assert into_inputs.returncode == ExitCode.usage
    assert "would overwrite the input rong.pdf" in into_inputs.stderr
    inside_input = digitize("ocr", "--output-dir", str(scans / "quyet-dinh" / "pdf"), str(scans / "quyet-dinh"),
                            cwd=tmp_path)
    assert inside_input.returncode == ExitCode.usage
    (tmp_path / "other").mkdir()
    shutil.copy(page, tmp_path / "other" / "giay-xac-nhan.jpg")
    same_name = digitize("ocr", "--output-dir", "out", str(page), str(tmp_path / "other" / "giay-xac-nhan.jpg"),
                         cwd=tmp_path)
    assert same_name.returncode == ExitCode.usage
    assert "would both be written to out/giay-xac-nhan.pdf" in same_name.stderr
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    not_a_folder = digitize("ocr", "--output-dir", "a-file", str(page), cwd=tmp_path)
    assert not_a_folder.returncode == ExitCode.usage
    assert page.read_bytes() == before and (scans / "rong.pdf").read_bytes() == empty
    assert sorted(p.name for p in scans.iterdir()) == ["giay-xac-nhan.png", "quyet-dinh", "rong.pdf"]
    assert not (tmp_path / "out").exists()


def test_an_existing_output_is_replaced_whole_only_by_a_document_that_succeeded(scans, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "giay-xac-nhan.pdf").write_bytes(b"an earlier copy")
    (out / "rong.pdf").write_bytes(b"an earlier copy")
    result = digitize("ocr", "--output-dir", str(out), "--jobs", "1", str(scans / "giay-xac-nhan.png"),
                      str(scans / "rong.pdf"), cwd=tmp_path)
    assert result.returncode == ExitCode.partial, result.stderr
    assert page_count(out / "giay-xac-nhan.pdf") == 1
    assert (out / "rong.pdf").read_bytes() == b"an earlier copy", "a failed document leaves the old file"
    assert sorted(p.name for p in out.iterdir()) == ["giay-xac-nhan.pdf", "rong.pdf"], "no partial file left"


def test_one_input_that_fails_exits_with_its_own_code_in_vietnamese(scans, tmp_path):
    """With one input the command ends as ``-o`` would: the input's own exit code, its reason said once,
    in the reader's language (Vietnamese by default)."""
    result = digitize("ocr", "--output-dir", "out", str(scans / "rong.pdf"), cwd=tmp_path, english=False)
    assert result.returncode == ExitCode.bad_input
    assert result.stderr.count("rong.pdf") == 1, result.stderr
    assert "rỗng" in result.stderr
    assert "đã ghi 0 trên 1 tài liệu" in result.stdout
    assert not (tmp_path / "out" / "rong.pdf").exists()


def test_metadata_that_names_one_document_is_refused_for_many(scans, tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text('{"dossier_code": "000.31.25.H08-261120-0001", "office": "phuoc-loc"}', encoding="utf-8")
    result = digitize("ocr", "--output-dir", "out", "--metadata", str(meta), str(scans / "giay-xac-nhan.png"),
                      cwd=tmp_path)
    assert result.returncode == ExitCode.usage
    assert "dossier_code" in result.stderr


def test_output_and_output_dir_go_one_at_a_time(scans, tmp_path):
    both = digitize("ocr", "-o", "x.pdf", "--output-dir", "out", str(scans / "giay-xac-nhan.png"), cwd=tmp_path)
    neither = digitize("ocr", str(scans / "giay-xac-nhan.png"), cwd=tmp_path)
    assert both.returncode == neither.returncode == ExitCode.usage


@pytest.mark.slow
def test_sigterm_mid_set_exits_143_and_leaves_no_worker_temporary_folder_or_output(tmp_path):
    """Documents in flight as threads, their pages in the workers: a SIGTERM stops them all."""
    import uuid

    from tests.test_cli_signals import slow_tesseract, start, stop_with_sigterm, two_pages

    mark = uuid.uuid4().hex
    started = tmp_path / "tesseract-started"
    slow_tesseract(tmp_path / "bin", started)
    pages = two_pages(tmp_path / "scan")
    cli = start(["ocr", "--output-dir", "out", str(tmp_path / "scan"), *map(str, pages)], tmp_path, mark)
    stop_with_sigterm(cli, started, mark)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_outputs_are_named_after_each_input_file_or_folder(tmp_path, monkeypatch):
    from cli.commands.scan import output_names
    from digitize.errors import UsageError

    folder = tmp_path / "hồ-sơ-0001"
    folder.mkdir()
    (tmp_path / "giấy.tif").write_bytes(b"")
    monkeypatch.chdir(folder)
    assert output_names([Path("."), tmp_path / "giấy.tif"], Path("out")) == [
        Path("out/hồ-sơ-0001.pdf"), Path("out/giấy.pdf")]
    with pytest.raises(UsageError, match="would both be written to out/giấy.pdf"):
        output_names([tmp_path / "giấy.tif", tmp_path / "giấy.tif"], Path("out"))
