"""Child processes that never outlive the process that started them (Linux ``prctl``).

A ``digitize run`` or ``digitize ocr`` that is killed, even with SIGKILL (which
runs no clean-up code), must leave no process behind: not the Prefect server
it started, not the page workers, not a Tesseract they started. The kernel
does it for us: ``prctl(PR_SET_PDEATHSIG, sig)`` makes a process receive
``sig`` when its parent dies.

- :func:`die_with_parent` is a ``preexec_fn`` for ``subprocess.Popen``;
- :func:`page_worker_start` is the initializer of the page workers: each leads
  its own process group (so a hung Tesseract is killed with it) and kills that
  group when told to stop (SIGTERM) or when its parent, multiprocessing's
  fork server, dies;
- importing this module inside multiprocessing's fork server (it is in the
  server's preload list) arms the server to die with the CLI.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _find_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


#: looked up once, before any fork: a child between fork and exec should only call it
_PRCTL = _find_prctl()


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent (thread) dies; False where
    that is not possible (not Linux)."""
    return _PRCTL is not None and _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` making the child receive ``sig`` when the process that started it dies.

    The parent's pid is taken before the fork, so a parent that died before
    the child armed the signal is noticed too (the child exits at once).
    """
    parent = os.getpid()

    def arm() -> None:
        set_parent_death_signal(sig)
        if os.getppid() != parent:
            os._exit(70)

    return arm


def page_worker_start() -> None:
    """Initializer of a page worker process.

    It leads its own process group (Tesseract and poppler run in it); SIGTERM
    (``Pool.terminate``, or the kernel when the worker's parent dies) kills the
    whole group at once, so no Tesseract keeps running for a run that is gone.
    """
    os.setpgrp()
    signal.signal(signal.SIGTERM, _kill_own_group)
    set_parent_death_signal(signal.SIGTERM)


def _kill_own_group(signum: int = signal.SIGTERM, frame: object = None) -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _fork_server_listener() -> int | None:
    """In multiprocessing's fork server, the descriptor of its listening socket (the first
    argument of ``main(...)`` on its command line); None in any other process."""
    try:
        cmdline = Path("/proc/self/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    found = re.search(r"multiprocessing\.forkserver import main; main\((\d+),", cmdline)
    return int(found.group(1)) if found else None


def _arm_fork_server(listener_fd: int) -> None:
    """Make the fork server die with the CLI, removing multiprocessing's folder of its socket
    (``pymp-*``), which the CLI would have removed at a normal exit."""
    try:
        with socket.socket(fileno=os.dup(listener_fd)) as listener:
            address = listener.getsockname()
    except OSError:
        address = ""
    folder = Path(address).parent if isinstance(address, str) and address else None

    def parent_gone(signum: int, frame: object) -> None:
        if folder is not None and folder.name.startswith("pymp-"):
            shutil.rmtree(folder, ignore_errors=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, parent_gone)
    set_parent_death_signal(signal.SIGTERM)


if (_listener := _fork_server_listener()) is not None:  # imported by the fork server's preload
    _arm_fork_server(_listener)
