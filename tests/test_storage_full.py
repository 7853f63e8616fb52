"""A full disk is one clear, transient error naming where (exit 14), never "tesseract failed" or a bad input.

Real full file systems are small tmpfs mounts made by the test (skipped, with the
reason, where mounting is not permitted); fault doubles cover the same paths
without one.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitize import engine, files, ocr
from digitize.errors import ExitCode, StorageFullError, ToolError, exit_code_for, is_transient
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings
from tests.cli_fixtures import ENGLISH
from tests.engine_fixtures import text_page

META = DocumentMeta("000.31.25.H08-261120-0001", "KQ", 1, "xa", "phuoc-loc")


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MB tmpfs mounted for the test and unmounted after it."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> None:
    """Fill the file system holding ``folder`` to the last byte."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as e:
            assert e.errno == errno.ENOSPC


def test_storage_full_is_transient_with_its_own_exit_code():
    error = files.storage_full(Path("/srv/var/work/abc/page-001.ocr.pgm"))
    assert exit_code_for(error) == ExitCode.storage_full == 14
    assert is_transient(error)
    assert "no space left on the disk holding /srv/var/work/abc" in str(error)
    assert "stays in the scanner folder" in str(error)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_write_atomically_turns_a_full_disk_into_storage_full_and_leaves_no_part(tmp_path, monkeypatch, code):
    def full_disk(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", full_disk)  # a fault double: the write-back fails as on a full disk
    target = tmp_path / "manifest.json"
    with pytest.raises(StorageFullError, match="manifest.json"):
        files.write_atomically(target, b"{}")
    assert list(tmp_path.iterdir()) == []


def test_written_whole_shows_the_file_only_when_complete_and_leaves_no_part_on_failure(tmp_path):
    target = tmp_path / "hồ sơ.pdf"
    with files.written_whole(target) as partial:
        partial.write_bytes(b"%PDF-half")
        assert not target.exists() and partial.name.endswith(".part") and partial.parent == tmp_path
    assert target.read_bytes() == b"%PDF-half"
    with pytest.raises(ValueError), files.written_whole(tmp_path / "folder") as partial:
        (partial / "a").mkdir(parents=True)
        raise ValueError("the copy failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hồ sơ.pdf"]


def test_written_whole_without_overwrite_never_replaces_a_file_written_meanwhile(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(FileExistsError), files.written_whole(target, overwrite=False) as partial:
        partial.write_bytes(b"mine")
        target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    files.write_atomically(target, b"mine", mode=0o600)
    assert target.read_bytes() == b"mine" and target.stat().st_mode & 0o777 == 0o600


def test_other_write_errors_are_not_called_a_full_disk(tmp_path):
    with pytest.raises(PermissionError), files.storage_guard(tmp_path / "x"):
        raise PermissionError(errno.EACCES, "Permission denied")


def _tesseract_double(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "tesseract").write_text("#!/bin/sh\n" + script)
    (bin_dir / "tesseract").chmod(0o755)


def test_a_tool_that_says_the_disk_is_full_raises_storage_full_not_tool_failed(tmp_path, monkeypatch):
    _tesseract_double(tmp_path / "bin", 'echo "write error: No space left on device" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(StorageFullError, match="no space left"):
        ocr.ocr_page(tmp_path / "page.pgm", 1, 300, tmp_path / "page-001-r0.text", languages="vie", timeout=30)


def test_a_tool_that_fails_for_another_reason_is_still_tool_failed(tmp_path, monkeypatch):
    _tesseract_double(tmp_path / "bin", 'echo "Error during processing." >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(ToolError) as caught:
        ocr.ocr_page(tmp_path / "page.pgm", 1, 300, tmp_path / "page-001-r0.text", languages="vie", timeout=30)
    assert not isinstance(caught.value, StorageFullError)


@pytest.mark.tools
def test_tesseract_on_a_full_disk_is_storage_full_naming_the_folder(tmp_path, tiny_fs):
    image = text_page(dpi=200).save(tmp_path / "page.png")
    fill(tiny_fs)
    with pytest.raises(StorageFullError, match=f"disk holding {tiny_fs}"):
        ocr.ocr_page(image, 1, 200, tiny_fs / "page-001-r0.text", languages="vie", timeout=120)


@pytest.mark.tools
def test_pdftoppm_that_exits_0_on_a_full_disk_is_storage_full(tmp_path, tiny_fs):
    from PIL import Image

    from digitize import pages

    Image.fromarray(text_page(dpi=200).pixels).save(tmp_path / "scan.pdf", resolution=200)
    page = pages.plan_pages(tmp_path / "scan.pdf", default_dpi=300).pages[0]
    fill(tiny_fs)
    with pytest.raises(StorageFullError):
        pages.render_page(page, tiny_fs, timeout=120)


@pytest.mark.tools
def test_scanning_into_a_full_work_folder_is_storage_full(tmp_path, tiny_fs):
    source = text_page(dpi=200).save(tmp_path / "page.png")
    with pytest.raises(StorageFullError, match=str(tiny_fs)):
        engine.scan_to_pdfa(source, META, tiny_fs / "work", OcrSettings(workers=1), default_dpi=300)


@pytest.mark.tools
def test_digitize_ocr_on_a_full_disk_exits_14_with_a_clear_reason(tmp_path, tiny_fs):
    text_page(dpi=200).save(tmp_path / "page.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    env["TMPDIR"] = str(tiny_fs)  # digitize ocr works in a temporary folder there
    result = subprocess.run([sys.executable, "-m", "digitize", "ocr", "page.png", "-o", "out.pdf"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == ExitCode.storage_full, result.stderr
    assert "no space left on the disk holding" in result.stderr and "Traceback" not in result.stderr
    assert "tesseract bị lỗi" not in result.stderr and "tesseract failed" not in result.stderr
    assert not (tmp_path / "out.pdf").exists()
    assert not any(tiny_fs.iterdir())  # the temporary folder is gone


def test_a_nearly_full_file_system_is_short_of_space_and_a_roomy_one_is_not(tmp_path, tiny_fs):
    assert files.is_short_of_space(tiny_fs / "work" / "not-yet-made")  # 1 MB: under the margin
    assert not files.is_short_of_space(tmp_path / "not" / "yet")


def test_cutting_a_batch_onto_a_full_disk_is_storage_full(tmp_path, tiny_fs):
    from PIL import Image

    from digitize import split

    frames = [Image.new("L", (1600, 1200), 255), Image.new("L", (1600, 1200), 0)]
    batch = tmp_path / "batch.tif"
    frames[0].save(batch, save_all=True, append_images=frames[1:])
    (tiny_fs / "split").mkdir()
    fill(tiny_fs)
    plan = [split.Segment(split.Cover("000.31.25.H08-261120-0003", "KQ", 1), (1,))]
    with pytest.raises(StorageFullError, match="000.31.25.H08-261120-0003-KQ1.tif"):
        split.cut(batch, plan, tiny_fs / "split")
