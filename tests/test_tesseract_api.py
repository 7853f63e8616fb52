"""Tesseract kept loaded (digitize.tesseract_api): the reader writes what the ``tesseract`` program writes,
and a page keeps what a program run per page gives: killed and reaped past its timeout or when interrupted,
a crash fails one page, nothing outlives the process that started it."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitize import engine, ocr, pages, tesseract_api
from digitize.errors import ExitCode, ToolError, ToolTimeoutError
from digitize.settings import OcrSettings
from tests.engine_fixtures import LINES, gone, text_page

pytestmark = pytest.mark.tools

VIETNAMESE = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
              "Ủy ban nhân dân xã Hòa Bình cấp giấy chứng nhận quyền sử dụng đất.")


@pytest.fixture(scope="module")
def library() -> str:
    found = tesseract_api.tesseract_library()
    assert found and "libtesseract" in found, "the tesseract on PATH links no libtesseract"
    return found


@pytest.fixture
def reader(library):
    made = tesseract_api.Reader(library)
    yield made
    made.close()


def _page(path: Path, lines: tuple[str, ...] = VIETNAMESE + LINES, dpi: int = 300) -> Path:
    """A grey page image as the page worker writes it for Tesseract (PGM)."""
    Image.fromarray(np.asarray(Image.fromarray(text_page(dpi, lines).pixels).convert("L"))).save(path)
    return path


def _dense_page(path: Path) -> Path:
    """A page that takes Tesseract about a second or more: 40 lines of text at 300 dpi."""
    return _page(path, (VIETNAMESE + LINES) * 5)



def _without_date(pdf: bytes) -> bytes:
    return re.sub(rb"/CreationDate \([^)]*\)", b"", pdf)


def test_the_reader_writes_byte_for_byte_what_the_tesseract_program_writes(tmp_path, reader):
    first, second = _page(tmp_path / "one.pgm"), _page(tmp_path / "two.pgm", LINES + VIETNAMESE, dpi=200)
    pids = set()
    for image, dpi in ((first, 300), (second, 200)):
        ocr.run_tesseract(image, tmp_path / f"{image.stem}-program", languages="vie", dpi=dpi, timeout=60)
        reader.read(image, tmp_path / f"{image.stem}-reader", languages="vie", dpi=dpi, timeout=60)
        pids.add(reader.pid)
        program, kept = (tmp_path / f"{image.stem}-program.tsv"), (tmp_path / f"{image.stem}-reader.tsv")
        assert kept.read_bytes() == program.read_bytes()
        assert "phúc" in kept.read_text(encoding="utf-8")
        assert _without_date((tmp_path / f"{image.stem}-reader.pdf").read_bytes()) == \
            _without_date((tmp_path / f"{image.stem}-program.pdf").read_bytes())
    assert len(pids) == 1 and None not in pids, "both pages were read by one reader, kept loaded"
    assert not list(tmp_path.glob("*.stderr")), "what Tesseract said is not left behind"


def test_past_its_timeout_the_reader_is_killed_and_reaped_transient_exit_8_and_the_next_page_reads(tmp_path, reader):
    dense = _dense_page(tmp_path / "dense.pgm")
    reader.read(_page(tmp_path / "warm.pgm"), tmp_path / "warm", languages="vie", dpi=300, timeout=60)
    pid = reader.pid
    started = time.monotonic()
    with pytest.raises(ToolTimeoutError) as caught:
        reader.read(dense, tmp_path / "dense", languages="vie", dpi=300, timeout=0.2)
    assert time.monotonic() - started < 5
    assert caught.value.message == "tesseract did not finish within 0.2 s"
    assert caught.value.transient and caught.value.exit_code == ExitCode.tool_failed
    assert gone(pid) and reader.pid is None
    reader.read(dense, tmp_path / "again", languages="vie", dpi=300, timeout=120)
    assert reader.pid not in (None, pid)
    assert (tmp_path / "again.tsv").stat().st_size > 0


class _Alarm(Exception):
    pass


def _raise_alarm(signum, frame):
    raise _Alarm


def test_an_interrupted_wait_kills_and_reaps_the_reader_and_lets_the_interruption_through(tmp_path, reader):
    # the page worker's per-page limit is a SIGALRM whose handler raises: the reader must not outlive it
    dense = _dense_page(tmp_path / "dense.pgm")
    reader.read(_page(tmp_path / "warm.pgm"), tmp_path / "warm", languages="vie", dpi=300, timeout=60)
    pid = reader.pid
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(_Alarm):
            reader.read(dense, tmp_path / "dense", languages="vie", dpi=300, timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert gone(pid) and reader.pid is None


def test_a_reader_that_dies_mid_page_fails_that_page_with_its_cause_and_the_next_page_reads(tmp_path, reader):
    dense = _dense_page(tmp_path / "dense.pgm")
    reader.read(_page(tmp_path / "warm.pgm"), tmp_path / "warm", languages="vie", dpi=300, timeout=60)
    pid = reader.pid
    threading.Timer(0.2, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(ToolError) as caught:
        reader.read(dense, tmp_path / "dense", languages="vie", dpi=300, timeout=60)
    assert caught.value.message == "tesseract failed with exit code -9: killed by SIGKILL"
    assert not isinstance(caught.value, ToolTimeoutError)
    assert gone(pid)
    reader.read(_page(tmp_path / "next.pgm"), tmp_path / "next", languages="vie", dpi=300, timeout=60)
    assert (tmp_path / "next.tsv").stat().st_size > 0


def test_what_tesseract_says_when_it_fails_is_the_error_and_the_reader_goes_on(tmp_path, reader):
    broken = tmp_path / "page.pgm"
    broken.write_bytes(b"P5\n2480 3508\n255\n" + b"\0" * 100)  # cut short
    with pytest.raises(ToolError) as caught:
        reader.read(broken, tmp_path / "out", languages="vie", dpi=300, timeout=60)
    assert caught.value.message == "tesseract failed with exit code 1: Error in pixRead: pix not read"
    assert "pixReadStreamPnm" in caught.value.stderr  # all it said, as the program says it
    pid = reader.pid
    assert pid is not None, "a page Tesseract refused does not cost the loaded reader"
    reader.read(_page(tmp_path / "good.pgm"), tmp_path / "good", languages="vie", dpi=300, timeout=60)
    assert reader.pid == pid


def test_a_language_not_installed_is_a_tool_error_naming_it_and_then_the_right_one_loads(tmp_path, reader):
    with pytest.raises(ToolError) as caught:
        reader.read(_page(tmp_path / "page.pgm"), tmp_path / "out", languages="xyz", dpi=300, timeout=60)
    assert "Failed loading language 'xyz'" in caught.value.stderr
    assert caught.value.message == "tesseract failed with exit code 1: Tesseract couldn't load any languages!"
    reader.read(tmp_path / "page.pgm", tmp_path / "out", languages="vie", dpi=300, timeout=60)
    assert "phúc" in (tmp_path / "out.tsv").read_text(encoding="utf-8")


def test_the_reader_is_found_only_for_a_program_linked_to_libtesseract(tmp_path, library):
    script = tmp_path / "tesseract"
    script.write_text("#!/bin/sh\nexec true\n")
    script.chmod(0o755)
    assert tesseract_api.library_of(str(script)) is None
    assert tesseract_api.library_of(None) is None
    assert Path(library).is_file()


def test_the_reader_dies_with_the_process_that_started_it(tmp_path, library):
    image = _page(tmp_path / "page.pgm")
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom digitize import tesseract_api\n"
        f"r = tesseract_api.Reader({library!r})\n"
        f"r.read(Path({str(image)!r}), Path({str(tmp_path / 'out')!r}), languages='vie', dpi=300, timeout=60)\n"
        "print(r.pid, flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert not gone(child)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child), "SIGKILL of its parent leaves no reader behind"


def _readers_in_group(group: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"digitize.tesseract_reader" in cmdline and os.getpgid(int(entry.name)) == group:
                found.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return found


def test_a_page_pool_reads_with_one_reader_per_worker_and_leaves_none_when_closed(tmp_path):
    sources = [text_page(200, VIETNAMESE).save(tmp_path / f"p{n}.png") for n in range(3)]
    todo = tuple(dataclasses.replace(pages.plan_pages(source, default_dpi=200).pages[0], number=n + 1)
                 for n, source in enumerate(sources))
    work = tmp_path / "work"
    work.mkdir()
    with engine.PagePool(1) as pool:
        done = pool.run(todo, work, OcrSettings())
        worker = next(iter(pool._groups))
        readers = _readers_in_group(worker)
        assert len(readers) == 1, "one reader, kept for the worker's pages"
        if tesseract_api.png_store() is not None:  # built by set-up: the workers' readers preload it
            assert str(tesseract_api.PNG_STORE) in Path(f"/proc/{readers[0]}/maps").read_text()
    assert all("Hạnh phúc" in page.text or "Tự do" in page.text for page in done)
    deadline = time.monotonic() + 10
    while _readers_in_group(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _readers_in_group(worker) == []


# --- Tesseract's in-memory PNGs stored (digitize/native/png_store.c) ---------------------------------------

@pytest.fixture(scope="module")
def png_store() -> Path:
    if tesseract_api.png_store() is None:
        if shutil.which("cc") is None:
            pytest.skip("needs a C compiler to build digitize/native/png_store.c (apt-get install gcc libc6-dev)")
        pytest.fail(f"{tesseract_api.PNG_STORE} is not built: run bash run.sh setup")
    return tesseract_api.PNG_STORE


def _png_of_a_blank_line(library: str, preload: Path | None) -> int:
    """The size of the PNG Leptonica writes in memory (as Tesseract writes each line image) for a white
    400 x 100 grey image, in a process that loads libtesseract as the reader does, with ``preload``."""
    leptonica = re.search(r"(\S*liblept\S*) => (\S+)", subprocess.run(
        ["ldd", library], capture_output=True, text=True, check=True).stdout).group(2)
    code = (
        "import ctypes, sys\n"
        "ctypes.CDLL(sys.argv[1])\n"
        "lept = ctypes.CDLL(sys.argv[2])\n"
        "lept.pixCreate.restype = ctypes.c_void_p\n"
        "lept.pixWriteMemPng.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float]\n"
        "pix, data, size = lept.pixCreate(400, 100, 8), ctypes.c_void_p(), ctypes.c_size_t()\n"
        "assert lept.pixWriteMemPng(ctypes.byref(data), ctypes.byref(size), pix, 0.0) == 0\n"
        "print(size.value)\n"
    )
    env = {**os.environ, "LD_PRELOAD": str(preload)} if preload else dict(os.environ)
    return int(subprocess.run([sys.executable, "-c", code, library, leptonica], env=env, capture_output=True,
                              text=True, check=True).stdout)


def test_with_the_png_store_tesseracts_line_images_are_stored_not_deflated(library, png_store):
    assert _png_of_a_blank_line(library, None) < 1_000  # 40,000 white bytes deflate to almost nothing
    assert _png_of_a_blank_line(library, png_store) > 40_000  # stored as they are, unfiltered


def test_with_the_png_store_the_reader_writes_byte_for_byte_what_the_program_writes(tmp_path, library, png_store):
    reader = tesseract_api.Reader(library, png_store)
    try:
        for n, lines in enumerate((VIETNAMESE + LINES, LINES * 3)):
            image = _page(tmp_path / f"page{n}.pgm", lines)
            ocr.run_tesseract(image, tmp_path / f"program{n}", languages="vie", dpi=300, timeout=60)
            reader.read(image, tmp_path / f"reader{n}", languages="vie", dpi=300, timeout=60)
            assert (tmp_path / f"reader{n}.tsv").read_bytes() == (tmp_path / f"program{n}.tsv").read_bytes()
            assert _without_date((tmp_path / f"reader{n}.pdf").read_bytes()) == \
                _without_date((tmp_path / f"program{n}.pdf").read_bytes())
        assert str(png_store) in Path(f"/proc/{reader.pid}/maps").read_text()
    finally:
        reader.close()
