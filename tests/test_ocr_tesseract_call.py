"""The OCR call goes through pytesseract.run_tesseract, with the tool wrapper's rules: the page file as it
is, one OpenMP thread, tesseract from PATH, killed and reaped past its timeout or when interrupted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytesseract
import pytest

from digitize import ocr
from digitize.errors import ExitCode, MissingToolError, ToolError, ToolTimeoutError
from tests.engine_fixtures import gone


def _fake_tesseract(bin_dir: Path, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "tesseract"
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(0o755)
    return bin_dir



def test_the_page_file_is_handed_to_tesseract_as_it_is_through_pytesseract_with_one_thread(tmp_path, monkeypatch):
    log = tmp_path / "args.log"
    bin_dir = _fake_tesseract(tmp_path / "bin", f'for a in "$@"; do echo "$a"; done > {log}\n'
                                                f'echo "OMP_THREAD_LIMIT=$OMP_THREAD_LIMIT" >> {log}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    calls = []
    real = pytesseract.pytesseract.run_tesseract
    monkeypatch.setattr(pytesseract.pytesseract, "run_tesseract", lambda *a, **k: calls.append(a) or real(*a, **k))
    page = tmp_path / "trang 1 (bản quét).jpg"  # a name with spaces and diacritics, passed untouched
    page.write_bytes(b"\xff\xd8 not decoded by us \xff\xd9")

    ocr.run_tesseract(page, tmp_path / "page-001.text", languages="vie", dpi=299.6, timeout=30,
                      tessdata_dir="/opt/mô hình")

    assert len(calls) == 1
    assert log.read_text(encoding="utf-8").splitlines() == [
        str(page), str(tmp_path / "page-001.text"), "-l", "vie",
        "--tessdata-dir", "/opt/mô hình", "--dpi", "300",
        "-c", "textonly_pdf=1", "-c", "tessedit_create_tsv=1",  # the TSV, beside ...
        "pdf",                                                  # ... the text-only PDF, in one run
        "OMP_THREAD_LIMIT=1",
    ]
    assert "OMP_THREAD_LIMIT" not in os.environ  # set for Tesseract only


def test_tesseract_past_its_timeout_is_killed_reaped_and_transient_exit_8(tmp_path, monkeypatch):
    # deaf to SIGTERM: pytesseract then kills it without reaping it; nothing may be left, not even a zombie
    pid_file = tmp_path / "pid"
    bin_dir = _fake_tesseract(tmp_path / "bin", f"trap '' TERM\necho $$ > {pid_file}\nexec sleep 60\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    started = time.monotonic()
    with pytest.raises(ToolTimeoutError) as caught:
        ocr.run_tesseract(tmp_path / "page.pgm", tmp_path / "out", languages="vie", dpi=300, timeout=1)
    assert time.monotonic() - started < 10
    assert caught.value.message == "tesseract did not finish within 1 s"
    assert caught.value.transient and caught.value.exit_code == ExitCode.tool_failed
    assert gone(int(pid_file.read_text()))


class _Alarm(Exception):
    pass


def _raise_alarm(signum, frame):
    raise _Alarm


def test_an_interrupted_wait_kills_and_reaps_tesseract_and_lets_the_interruption_through(tmp_path, monkeypatch):
    # the page worker's per-page limit is a SIGALRM whose handler raises: Tesseract must not outlive it
    pid_file = tmp_path / "pid"
    bin_dir = _fake_tesseract(tmp_path / "bin", f"echo $$ > {pid_file}\nexec sleep 60\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(_Alarm):
            ocr.run_tesseract(tmp_path / "page.pgm", tmp_path / "out", languages="vie", dpi=300, timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(int(pid_file.read_text()))


def test_tesseract_not_on_path_is_a_missing_tool_exit_5(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="tesseract is not installed") as caught:
        ocr.run_tesseract(tmp_path / "page.pgm", tmp_path / "out", languages="vie", dpi=300, timeout=30)
    assert caught.value.exit_code == ExitCode.missing_tool
    assert "apt-get install tesseract-ocr" in caught.value.hint


def test_a_failing_tesseract_is_a_tool_error_keeping_what_it_said(tmp_path, monkeypatch):
    bin_dir = _fake_tesseract(tmp_path / "bin", 'echo "Error, cannot read input file page.pgm" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with pytest.raises(ToolError) as caught:
        ocr.run_tesseract(tmp_path / "page.pgm", tmp_path / "out", languages="vie", dpi=300, timeout=30)
    assert caught.value.message == "tesseract failed with exit code 1: Error, cannot read input file page.pgm"
    assert caught.value.stderr == "Error, cannot read input file page.pgm"
    assert not caught.value.transient and caught.value.exit_code == ExitCode.tool_failed
