"""Scanner folders: find what is ready, name it, and set it aside when done or failed.

The inbox is laid out ``<inbox>/<level>/<office>/<item>`` where an item is one
file (``<dossier code>-KQ1.pdf``) or one folder of page images
(``<dossier code>-HS1/``), with an optional sidecar ``<item>.json`` holding
``procedure_code`` and ``title``.

Nothing here deletes an input: :func:`set_aside` moves it (and its sidecar) to
``done/`` or ``failed/``, and the caller moves an input to ``done/`` only after
its archived copy has been verified. Pure of Prefect and of the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from digitize.errors import BadInputError, DigitizeError, exit_code_for
from digitize.models import DocumentMeta, check_office, nfc, parse_document_code
from digitize.pages import INPUT_SUFFIXES

SIDECAR_SUFFIX = ".json"
ERROR_SUFFIX = ".error.json"
#: Names scanners and copy tools use while a file is still being written.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", "~")


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
                (ready if now - newest_mtime(path) >= settle_seconds else settling).append(item)
    return ready, settling


def _is_item(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
        return False
    if path.is_file() and name.endswith(SIDECAR_SUFFIX):
        return False
    return path.is_dir() or path.is_file()


def newest_mtime(path: Path) -> float:
    """The latest modification time of a file, or of anything inside a folder."""
    if path.is_file():
        return path.stat().st_mtime
    times = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
    return max(times, default=path.stat().st_mtime)


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
