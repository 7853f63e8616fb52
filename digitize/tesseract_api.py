"""Tesseract kept loaded: one reader process per page worker reads page after page.

The ``tesseract`` program loads its language models and sets itself up on every
start: ~0.1 s of CPU a page on top of the reading (about a tenth of a page's
Tesseract time; ``bench/backlog.md``). A page worker therefore keeps one small
reader process (:class:`Reader`) that loads, through ``ctypes``, the very
libtesseract the ``tesseract`` on PATH is linked to (:func:`library_of`), sets
it up as that program sets itself up (page segmentation 3, ``--dpi``, ``-c``
``textonly_pdf=1``), and reads each page with the same call the program makes
(``TessBaseAPIProcessPages`` with its PDF and TSV renderers): the same files,
byte for byte but the PDF's creation date (``tests/test_tesseract_api.py``).

The reader is a child process, not the worker itself, so a page keeps what a
program run per page gives: past its timeout, or when the worker's alarm
interrupts the wait, the reader is killed and reaped (:class:`ToolTimeoutError`),
and a crash fails one page (:class:`ToolError` with what Tesseract said on
stderr), not the worker; the next page starts a new reader. It dies with the
process that started it, and is in that process's group (a page worker's group
is killed when the pool stops).

Where the ``tesseract`` on PATH links no libtesseract that can be found (a
static build, a wrapper script), :func:`library_of` gives None and each page
runs the program as before (:func:`digitize.ocr.run_tesseract`).

Tesseract 5.3 writes each line image it recognizes to a PNG in memory and reads
it straight back, at zlib's level 6 with libpng's filters: about a fifth of its
CPU. Where ``bash run.sh setup`` could build it, the reader runs with
:data:`PNG_STORE` preloaded (``digitize/native/png_store.c``): those PNGs are
stored, not deflated. PNG is lossless, so the output does not change (tested).

The reader's own side is :mod:`digitize.tesseract_reader` (the standard library only, so
that each reader process stays small).
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from digitize import lifetime, tools

#: The library that makes Tesseract's in-memory PNGs stored, not deflated (``digitize/native/png_store.c``),
#: built by ``bash run.sh setup`` where a C compiler is installed; the reader preloads it when it is there.
PNG_STORE = Path(__file__).resolve().parent / "native" / "libpng_store.so"


@functools.cache
def library_of(program: str | None) -> str | None:
    """The libtesseract that ``program`` (the ``tesseract`` on PATH) is linked to, as ``ldd`` resolves
    it; None when it is not a dynamic program linked to one (a script, a static build) or not found."""
    if program is None:
        return None
    try:
        proc = subprocess.run(["ldd", program], capture_output=True, timeout=10, check=False,
                              env=tools.child_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(rb"libtesseract\.so[.\d]* => (\S+)", proc.stdout)
    return os.fsdecode(found.group(1)) if proc.returncode == 0 and found else None


def tesseract_library() -> str | None:
    """The libtesseract of the ``tesseract`` on PATH now (:func:`library_of`)."""
    return library_of(shutil.which("tesseract"))


def png_store() -> Path | None:
    """:data:`PNG_STORE` when set-up built it, else None."""
    return PNG_STORE if PNG_STORE.is_file() else None


def reader_on_path(*, store: bool = True) -> Reader | None:
    """A :class:`Reader` of the ``tesseract`` on PATH, with :data:`PNG_STORE` when built (and ``store``);
    None where that program links no libtesseract (pages then run the program)."""
    library = tesseract_library()
    return Reader(library, png_store() if store else None) if library else None


# --- the worker's side -------------------------------------------------------------------------------

class Reader:
    """A page worker's Tesseract, kept loaded between pages (see the module's docstring).

    Not for several threads at once: a page worker reads one page at a time. :meth:`close` stops it;
    a reader that is never closed stops with the process that made it.
    """

    def __init__(self, library: str, preload: Path | None = None) -> None:
        self.library = library
        self.preload = preload  # a library the reader process starts with (LD_PRELOAD), e.g. PNG_STORE
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The reader process's id while one runs."""
        return self._process.pid if self._process else None

    def read(self, image: Path, out_base: Path, *, languages: str, dpi: float, timeout: float,
             tessdata_dir: str = "") -> None:
        """As :func:`digitize.ocr.run_tesseract`: ``<out_base>.pdf`` and ``<out_base>.tsv`` from ``image``,
        :class:`ToolTimeoutError` past ``timeout`` (the reader killed), :class:`ToolError` (or
        :class:`StorageFullError` for a full disk under ``out_base``) when Tesseract fails."""
        stderr = out_base.with_name(out_base.name + ".stderr")
        request = {"image": os.fsdecode(image), "out": os.fsdecode(out_base), "dpi": round(dpi),
                   "tessdata": tools.model_folder(tessdata_dir), "languages": languages,
                   "stderr": os.fsdecode(stderr)}
        try:
            code = self._ask(json.dumps(request).encode() + b"\n", timeout)
            if code is None:
                raise tools.timed_out("tesseract", timeout, _said(stderr))
            if code != 0:
                raise tools.failure("tesseract", code, _said(stderr) or _killed_by(code), out_base.parent)
        finally:
            stderr.unlink(missing_ok=True)

    def _ask(self, request: bytes, timeout: float) -> int | None:
        """Send one request; 0 when the page was read, 1 when Tesseract failed, the reader's exit status
        when it died (a crash, or killed), None past ``timeout``. A reader that did not answer is stopped."""
        process = self._process or self._start()
        answer = None
        try:
            process.stdin.write(request)
            process.stdin.flush()
            line = _line_within(process.stdout, time.monotonic() + timeout)
            if line is None:
                return None
            if line:
                answer = json.loads(line)
                return 0 if answer.get("ok") else 1
            return process.wait()
        except BrokenPipeError:  # it died before the request was sent
            return process.wait()
        finally:
            if answer is None:  # timed out, died, or the wait was interrupted (the worker's alarm)
                self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        env = tools.child_env(tools.SINGLE_THREAD_ENV)
        if self.preload is not None:
            env["LD_PRELOAD"] = " ".join(filter(None, (os.fsdecode(self.preload), env.get("LD_PRELOAD"))))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "digitize.tesseract_reader", self.library],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, preexec_fn=lifetime.die_with_parent(signal.SIGKILL),
        )
        return self._process

    def close(self) -> None:
        """Stop the reader (killed: it holds nothing to save) and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()


def _line_within(stream, deadline: float) -> bytes | None:
    """The next line of ``stream`` (b"" at its end), or None when none came before ``deadline``."""
    while (left := deadline - time.monotonic()) > 0:
        if select.select([stream], [], [], left)[0]:
            return stream.readline()
    return None


def _said(stderr: Path) -> str:
    try:
        return stderr.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _killed_by(code: int) -> str:
    try:
        return f"killed by {signal.Signals(-code).name}" if code < 0 else ""
    except ValueError:
        return ""
