"""SIGTERM and SIGKILL of the real ``digitize run`` and ``digitize ocr``: the documented exit code, and no
process (Prefect server, page workers, Tesseract) or temporary folder left behind.

A fault double stands in for Tesseract: it answers the version and language probes
and then sleeps, so the signal always arrives mid-page. Processes are found by a
marker in their environment (read from /proc), which every descendant inherits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH

pytestmark = [pytest.mark.slow, pytest.mark.tools]

MARK = "SIGNAL_TEST_MARK"  # not DIGITIZE_*: the settings would refuse it, and children would not get it
DOCUMENT = "000.31.25.H08-261120-0009-KQ1"


def processes_marked(mark: str) -> list[str]:
    """``pid cmdline`` of every process whose environment holds ``MARK=mark``."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {cmdline[:120]}")
        except OSError:
            continue
    return found


def wait_until_gone(mark: str, seconds: float = 20) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := processes_marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def slow_tesseract(bin_dir: Path, started: Path) -> None:
    bin_dir.mkdir()
    real = shutil.which("tesseract")
    fake = bin_dir / "tesseract"
    fake.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version|--list-langs) exec {real} "$@";; esac\n'
        f"touch {started}\n"
        "exec sleep 600\n"
    )
    fake.chmod(0o755)


def two_pages(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for number in (1, 2):
        page = Image.new("L", (1240, 1754), 255)
        ImageDraw.Draw(page).text((120, 120 * number), f"Giấy chứng nhận, trang {number}", fill=0)
        paths.append(folder / f"trang-{number}.png")
        page.save(paths[-1], dpi=(150, 150))
    return paths


def start(args: list[str], tmp_path: Path, mark: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_") and k != "PREFECT_API_URL"} | ENGLISH
    env.update({
        MARK: mark, "PATH": f"{tmp_path / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        "DIGITIZE_INTAKE__SETTLE_SECONDS": "0", "DIGITIZE_OCR__WORKERS": "2",
        "PREFECT_HOME": str(tmp_path / "prefect"), "TMPDIR": str(tmp_path / "tmp"),
    })
    (tmp_path / "tmp").mkdir()
    return subprocess.Popen([sys.executable, "-m", "digitize", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """A runner started in the background may ignore SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(path: Path, cli: subprocess.Popen[str], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if cli.poll() is not None or time.monotonic() > deadline:
            cli.kill()
            out, err = cli.communicate()
            pytest.fail(f"Tesseract was never reached (exit {cli.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
        time.sleep(0.25)


def stop_with_sigterm(cli: subprocess.Popen[str], started: Path, mark: str, *,
                      meanwhile: Callable[[], None] | None = None) -> None:
    """Once Tesseract has started (``started`` exists), SIGTERM ``cli`` (after ``meanwhile``, a look at it
    running): it exits 143 saying so and leaves no process marked ``mark``."""
    try:
        wait_for(started, cli)
        if meanwhile is not None:
            meanwhile()
        cli.send_signal(signal.SIGTERM)
        _, err = cli.communicate(timeout=60)
        assert cli.returncode == ExitCode.terminated, err[-3000:]
        assert "stopped by signal 15" in err
        assert wait_until_gone(mark) == []
    finally:
        kill_marked(mark)


def kill_marked(mark: str) -> None:
    """Leave the machine clean even when the test fails."""
    for line in processes_marked(mark):
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass


EXPECTED = {signal.SIGTERM: ExitCode.terminated, signal.SIGINT: ExitCode.interrupted, signal.SIGKILL: -signal.SIGKILL}


@pytest.mark.parametrize("sig", list(EXPECTED), ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_stopped_run_leaves_no_process_and_loses_no_input(tmp_path, sig):
    mark = uuid.uuid4().hex
    started = tmp_path / "tesseract-started"
    slow_tesseract(tmp_path / "bin", started)
    office = tmp_path / "var" / "inbox" / "xa" / "phuoc-loc"
    two_pages(office / DOCUMENT)
    cli = start(["run"], tmp_path, mark)
    try:
        wait_for(started, cli)
        alive = processes_marked(mark)
        assert any("prefect" in line and "server" in line for line in alive), alive
        cli.send_signal(sig)
        _, err = cli.communicate(timeout=120)
        assert cli.returncode == EXPECTED[sig], err[-3000:]
        assert wait_until_gone(mark) == []
    finally:
        kill_marked(mark)
    pages = sorted(p.name for p in office.rglob("trang-*.png"))
    assert pages == ["trang-1.png", "trang-2.png"], "the input stays in its scanner folder (or its claim)"
    assert not (tmp_path / "var" / "failed").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_sigterm_of_ocr_exits_143_and_removes_its_temporary_folder_and_workers(tmp_path):
    mark = uuid.uuid4().hex
    started = tmp_path / "tesseract-started"
    slow_tesseract(tmp_path / "bin", started)
    pages = two_pages(tmp_path / "scan")
    cli = start(["ocr", *map(str, pages), "-o", "out.pdf"], tmp_path, mark)

    def its_temporary_folder_exists() -> None:
        assert any(p.name.startswith("digitize-ocr-") for p in (tmp_path / "tmp").iterdir())

    stop_with_sigterm(cli, started, mark, meanwhile=its_temporary_folder_exists)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "out.pdf").exists()
