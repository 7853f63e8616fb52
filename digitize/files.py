"""Writing files so that no reader ever sees half of one, and telling a full disk from other failures."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from digitize.errors import StorageFullError
from digitize.i18n import _

#: errno values that mean "the disk or the user's quota is full".
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: A file system with less free space than this (or no free inode) counts as full when a
#: program writing there fails: a page's work files take several megabytes.
LOW_SPACE_BYTES = 8 * 1024 * 1024


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` whole (see :func:`written_whole`), flushed to disk first.

    The file has ``mode`` from its creation (a secret is never readable by
    others, even for a moment). ``overwrite=False`` never replaces a file that
    is there (:class:`FileExistsError`). A full disk raises
    :class:`StorageFullError` (transient) naming the path; other failures raise
    :class:`OSError`, which callers wrap in their own error.
    """
    with storage_guard(path), written_whole(path, overwrite=overwrite) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


@contextlib.contextmanager
def written_whole(path: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary name beside ``path`` for the block to write a file or a folder to, which then
    takes the name ``path`` at once, so that no reader ever sees half of it.

    The temporary is ``.<name>.<random>.part`` (a name the scanner folders skip); it is removed
    when the block fails. ``overwrite=False`` links instead of renaming: a ``path`` that is there
    (written meanwhile by another process) is never replaced, :class:`FileExistsError` is raised.
    Put :func:`storage_guard` around it to have a full disk raised as :class:`StorageFullError`.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    """Remove a file or a folder if it is there (a link is removed, never followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, with a full disk raised as :class:`StorageFullError`."""
    with storage_guard(path):
        path.write_bytes(data)


def save_image(image: object, path: Path, **params: object) -> None:
    """Save a Pillow image to ``path`` (``image.save(path, **params)``), a full disk raised as
    :class:`StorageFullError`."""
    with storage_guard(path):
        image.save(path, **params)  # type: ignore[attr-defined]


@contextlib.contextmanager
def storage_guard(path: Path) -> Iterator[None]:
    """Raise a "no space left" or "quota exceeded" :class:`OSError` from the block as
    :class:`StorageFullError` naming ``path``; so too any other write error (an OSError
    without errno, or libtiff's RuntimeError through Pillow) while the disk holding
    ``path`` is full. Other errors pass through unchanged."""
    try:
        yield
    except (OSError, RuntimeError) as e:
        if getattr(e, "errno", None) in FULL_ERRNOS or is_short_of_space(path.parent):
            raise storage_full(path) from e
        raise


def storage_full(path: Path) -> StorageFullError:
    """The error for a full disk while writing ``path``."""
    return StorageFullError(
        _("no space left on the disk holding {folder} (writing {name})", folder=path.parent, name=path.name),
        hint=_("free space on that disk (or raise the quota) and run again; the input stays in the scanner folder"),
    )


def is_short_of_space(folder: Path) -> bool:
    """Whether the file system holding ``folder`` is (nearly) full: under :data:`LOW_SPACE_BYTES`
    free for this user, or no free inode. False when it cannot be asked."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        stats = os.statvfs(probe)
    except OSError:
        return False
    no_inodes = stats.f_files > 0 and stats.f_favail == 0
    return stats.f_bavail * stats.f_frsize < LOW_SPACE_BYTES or no_inodes
