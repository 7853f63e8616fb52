"""Scanner folders: find what is ready, name it, and set it aside when done or failed.

The inbox is laid out ``<inbox>/<level>/<office>/<item>`` where an item is one
file (``<dossier code>-KQ1.pdf``) or one folder of page images
(``<dossier code>-HS1/``), with an optional sidecar ``<item>.json`` holding
``procedure_code`` and ``title``. A file with another name whose first page is
a QR cover sheet is a batch of several dossiers (see :mod:`digitize.split`).

The life of an item:

1. **ready** when it has stopped changing: its modification time is at least
   ``settle_seconds`` old and its size and time are the same at two looks
   (:class:`FileState`, :func:`is_settled`);
2. **claimed** by an atomic rename into ``<office>/.claimed/``: of two workers
   that try, exactly one succeeds, and the input is still in the scanner
   folder. A claim records its owner (host, process); a claim whose owner has
   died is put back by :func:`release_stale_claims`;
3. **set aside** to ``done/`` only after its archived copy has been verified,
   or to ``failed/`` with ``<name>.error.json``.

Nothing here deletes an input. Pure of Prefect and of the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitize.errors import BadInputError, DigitizeError, exit_code_for
from digitize.models import DocumentMeta, check_office, nfc, parse_document_code
from digitize.pages import INPUT_SUFFIXES

SIDECAR_SUFFIX = ".json"
ERROR_SUFFIX = ".error.json"
CLAIMED_DIR = ".claimed"
OWNER_SUFFIX = ".owner.json"
#: Names scanners and copy tools use while a file is still being written.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", "~")


@dataclass(frozen=True)
class FileState:
    """What one look at an item saw: total size, number of files, newest modification time."""

    size: int
    files: int
    mtime: float


def file_state(path: Path) -> FileState:
    """Look at a file, or at every file inside a folder."""
    if path.is_file():
        st = path.stat()
        return FileState(st.st_size, 1, st.st_mtime)
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return FileState(sum(s.st_size for s in stats), len(stats), max((s.st_mtime for s in stats), default=0.0))


def is_settled(first: FileState, second: FileState, now: float, settle_seconds: float) -> bool:
    """True when two looks agree and nothing was modified for ``settle_seconds``.

    A scanner or a copy still writing changes the size or the time between
    the looks, or leaves a modification time newer than the settle time.
    """
    return first == second and now - second.mtime >= settle_seconds


@dataclass(frozen=True)
class InboxItem:
    """One file or folder found in a scanner folder."""

    path: Path
    level: str
    office: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.name if self.path.is_dir() else self.path.stem

    @property
    def sidecar(self) -> Path:
        return self.path.with_name(self.stem + SIDECAR_SUFFIX)

    @property
    def claimed(self) -> bool:
        return self.path.parent.name == CLAIMED_DIR


def find_items(
    inbox: Path,
    levels: Iterable[str],
    *,
    office: str | None = None,
    settle_seconds: float = 0.0,
    now: float | None = None,
) -> tuple[list[InboxItem], list[InboxItem]]:
    """Items under ``inbox/<level>/<office>/``, split into (ready, still being written).

    An item is ready when nothing in it has been modified for ``settle_seconds``.
    Sidecars, hidden files and partial downloads are not items.
    """
    now = time.time() if now is None else now
    ready: list[InboxItem] = []
    settling: list[InboxItem] = []
    for level in levels:
        level_dir = inbox / level
        if not level_dir.is_dir():
            continue
        for office_dir in sorted(p for p in level_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if office is not None and office_dir.name != office:
                continue
            for path in sorted(office_dir.iterdir()):
                if not _is_item(path):
                    continue
                item = InboxItem(path, level, office_dir.name)
                (ready if now - file_state(path).mtime >= settle_seconds else settling).append(item)
    return ready, settling


def _is_item(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
        return False
    if path.is_file() and (name.endswith(SIDECAR_SUFFIX) or name.endswith(ERROR_SUFFIX)):
        return False
    return path.is_dir() or path.is_file()


@dataclass(frozen=True)
class Owner:
    """Who holds a claim."""

    host: str
    pid: int
    at: float


def claim(item: InboxItem, owner: Owner) -> InboxItem | None:
    """Take ``item`` for this worker by an atomic rename into ``<office>/.claimed/``.

    Returns the claimed item, or None when another worker took it first.
    The sidecar follows the item; the owner is written beside it.
    """
    claimed_dir = item.path.parent / CLAIMED_DIR
    claimed_dir.mkdir(exist_ok=True)
    target = claimed_dir / item.name
    if target.exists():
        return None
    try:
        os.rename(item.path, target)
    except FileNotFoundError:
        return None
    taken = InboxItem(target, item.level, item.office)
    if item.sidecar.is_file():
        os.replace(item.sidecar, taken.sidecar)
    owner_file = claimed_dir / (item.name + OWNER_SUFFIX)
    owner_file.write_text(json.dumps({"host": owner.host, "pid": owner.pid, "at": owner.at}), encoding="utf-8")
    return taken


def release_stale_claims(
    inbox: Path, levels: Iterable[str], *, host: str, is_alive: Callable[[int], bool],
    timeout_seconds: float, now: float,
) -> list[InboxItem]:
    """Put back into the inbox every claim whose owner is gone; returns what was put back.

    A claim is stale when its owner ran on this host and its process is no
    longer alive (a worker killed mid-run), or when it is older than
    ``timeout_seconds`` (an owner on another host that never finished).
    """
    released = []
    for level in levels:
        for claimed_dir in sorted((inbox / level).glob(f"*/{CLAIMED_DIR}")):
            for path in sorted(claimed_dir.iterdir()):
                if not _is_item(path):
                    continue
                owner_file = claimed_dir / (path.name + OWNER_SUFFIX)
                if not _stale(owner_file, host=host, is_alive=is_alive, timeout_seconds=timeout_seconds, now=now):
                    continue
                item = InboxItem(path, level, claimed_dir.parent.name)
                back = InboxItem(claimed_dir.parent / path.name, level, item.office)
                try:
                    os.rename(path, back.path)
                except FileNotFoundError:
                    continue  # another worker released it first
                if item.sidecar.is_file():
                    os.replace(item.sidecar, back.sidecar)
                owner_file.unlink(missing_ok=True)
                released.append(back)
    return released


def _stale(owner_file: Path, *, host: str, is_alive: Callable[[int], bool], timeout_seconds: float,
           now: float) -> bool:
    try:
        owner = json.loads(owner_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # a claim without a readable owner: its claimer died before writing it
    if owner.get("host") == host and not is_alive(int(owner.get("pid", -1))):
        return True
    return now - float(owner.get("at", 0)) >= timeout_seconds


def unclaim(item: InboxItem) -> InboxItem:
    """Put a claimed item back into its scanner folder (to be taken again later)."""
    if not item.claimed:
        return item
    back = InboxItem(item.path.parent.parent / item.name, item.level, item.office)
    os.rename(item.path, back.path)
    if item.sidecar.is_file():
        os.replace(item.sidecar, back.sidecar)
    release(item)
    return back


def release(item: InboxItem) -> None:
    """Forget the owner of a claimed item that has been set aside."""
    if item.claimed:
        (item.path.parent / (item.name + OWNER_SUFFIX)).unlink(missing_ok=True)


def read_meta(item: InboxItem) -> DocumentMeta:
    """The document's metadata from its name, its folders and its sidecar JSON."""
    if item.path.is_file() and item.path.suffix.lower() not in INPUT_SUFFIXES:
        raise BadInputError(
            f"{item.name}: unsupported file type '{item.path.suffix}'; scan to PDF, TIFF, JPEG or PNG"
        )
    check_office(item.office)
    dossier_code, kind, number = parse_document_code(item.stem)
    extra = _read_sidecar(item.sidecar) if item.sidecar.is_file() else {}
    return DocumentMeta(
        dossier_code=dossier_code,
        kind=kind,
        number=number,
        level=item.level,
        office=item.office,
        procedure_code=extra.get("procedure_code"),
        title=extra.get("title"),
    )


def _read_sidecar(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"{path.name} is not valid UTF-8 JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadInputError(f"{path.name} must hold a JSON object")
    allowed = {"procedure_code", "title"}
    unknown = set(data) - allowed
    if unknown:
        raise BadInputError(f"{path.name}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return {k: nfc(str(v)) for k, v in data.items() if v is not None}


def input_sha256(path: Path) -> str:
    """The identity of an input: SHA-256 of a file, or of a folder's names and file hashes."""
    if path.is_file():
        return _file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        digest.update(_file_sha256(file).encode("ascii") + b"\n")
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_to_work(item: InboxItem, work_dir: Path) -> Path:
    """Copy the input into ``work_dir/input/`` (work is done on a copy) and return the copy."""
    target = work_dir / "input" / item.name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    if item.path.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(item.path, tmp)
    else:
        shutil.copy2(item.path, tmp)
    os.replace(tmp, target)
    return target


def set_aside(item: InboxItem, root: Path) -> Path:
    """Move the input and its sidecar to ``root/<level>/<office>/``; never overwrites."""
    target_dir = root / item.level / item.office
    target_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(target_dir / item.name)
    os.replace(item.path, target)
    if item.sidecar.is_file():
        sidecar_name = (target.name if target.is_dir() else target.stem) + SIDECAR_SUFFIX
        os.replace(item.sidecar, target_dir / sidecar_name)
    release(item)
    return target


def quarantine(item: InboxItem, failed_root: Path, error: BaseException, stage: str) -> Path:
    """Move a failed input to ``failed/`` with ``<name>.error.json`` saying why, for a clerk."""
    target = set_aside(item, failed_root)
    report = {
        "file": item.name,
        "level": item.level,
        "office": item.office,
        "stage": stage,
        "reason": str(error) if isinstance(error, DigitizeError) else f"unexpected error: {error!r}",
        "error": type(error).__name__,
        "exit_code": exit_code_for(error),
        "transient": getattr(error, "transient", False),
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    error_file = target.with_name(target.name + ERROR_SUFFIX)
    error_file.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return error_file


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}") if path.is_file() else path.with_name(f"{path.name}.{n}")
        if not candidate.exists():
            return candidate
    raise BadInputError(f"too many copies of {path.name} already set aside")
