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

Nothing here deletes an input, and nothing here follows a symbolic link: a
link, a named pipe, a socket or a device in a scanner folder (or inside a
folder item, or as a sidecar) is an item to refuse, judged from ``lstat``
alone; its target is never opened (:func:`check_item`). Pure of Prefect and
of the environment.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digitize.errors import BadInputError, DigitizeError, exit_code_for
from digitize.files import write_atomically, written_whole
from digitize.i18n import VIETNAM, _, format_number, language, os_error
from digitize.models import DocumentMeta, check_office, meta_fields, parse_document_code
from digitize.pages import INPUT_SUFFIXES

SIDECAR_SUFFIX = ".json"
ERROR_SUFFIX = ".error.json"
CLAIMED_DIR = ".claimed"
OWNER_SUFFIX = ".owner.json"
#: Names scanners and copy tools use while a file is still being written.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", "~")
#: The fields a sidecar may give.
SIDECAR_FIELDS = ("procedure_code", "title")
#: A sidecar holds two short fields: a bigger file is not one.
MAX_SIDECAR_BYTES = 64 * 1024
MB = 1024 * 1024
#: The longest name (in bytes) a file written beside an item may have: file systems allow 255,
#: and an atomic write adds a dot, a random part and ``.part``.
MAX_BESIDE_NAME_BYTES = 235


@dataclass(frozen=True)
class FileState:
    """What one look at an item saw: total size, number of files, newest modification time."""

    size: int
    files: int
    mtime: float


def file_state(path: Path) -> FileState:
    """Look at a file, or at every file inside a folder (from ``lstat``: links are not followed)."""
    entries = list(walk(path))
    if len(entries) == 1 and not stat.S_ISDIR(entries[0][1].st_mode):
        st = entries[0][1]
        return FileState(st.st_size, 1, st.st_mtime)
    stats = [st for _, st in entries[1:] if not stat.S_ISDIR(st.st_mode)]
    return FileState(sum(s.st_size for s in stats), len(stats), max((s.st_mtime for s in stats), default=0.0))


def walk(path: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """``path`` and, when it is a folder, everything under it (sorted), each with its ``lstat``.

    A link is listed as a link and never followed, whatever it points to.
    """
    stack = [path]
    while stack:
        current = stack.pop()
        st = os.lstat(current)
        yield current, st
        if stat.S_ISDIR(st.st_mode):
            stack.extend(sorted(current.iterdir(), reverse=True))


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
        return self.path.name if _is_real_dir(self.path) else self.path.stem

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
    """Whether ``path`` is an item to take (or to refuse): anything but a hidden or partial file,
    a sidecar or an error report. Links and special files are items, so that they are refused
    with a reason instead of lying in the scanner folder unexplained."""
    name = path.name
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
        return False
    if name.endswith(SIDECAR_SUFFIX) and not _is_real_dir(path):
        return False  # a sidecar (or a link in its place) goes with its item
    return os.path.lexists(path)


def _is_real_dir(path: Path) -> bool:
    """A folder, not a link to one (False when nothing is there)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _move_sidecar(sidecar: Path, target: Path) -> None:
    """Move a sidecar (or a link standing in its place) with its item."""
    if os.path.lexists(sidecar):
        os.replace(sidecar, target)


def check_item(item: InboxItem, *, max_file_mb: float | None = None) -> None:
    """Refuse, from ``lstat`` alone and before anything reads, hashes or copies it, an item
    the pipeline must not take.

    Refused with :class:`BadInputError` (exit 4), each reason naming the item as the
    clerk dropped it: a symbolic link (the item, anything inside a folder item, or
    its sidecar), a named pipe, socket or device; a sidecar over
    :data:`MAX_SIDECAR_BYTES`; an item (a folder: all its files together) over
    ``max_file_mb`` megabytes (None: no limit). Call it first on a claimed item,
    before :func:`input_sha256` or :func:`copy_to_work`, and quarantine the item
    when it raises.
    """
    try:
        total = sum(st.st_size for _, st in _checked_entries(item.path) if stat.S_ISREG(st.st_mode))
    except FileNotFoundError as e:
        raise BadInputError(_("{name} disappeared from the scanner folder while it was being taken",
                               name=item.name)) from e
    if os.path.lexists(item.sidecar):
        st = os.lstat(item.sidecar)
        _refuse_odd(_("the sidecar {name}", name=item.sidecar.name), st)
        if stat.S_ISDIR(st.st_mode):
            raise BadInputError(_("the sidecar {name} is a folder; it must be a JSON file", name=item.sidecar.name))
        if st.st_size > MAX_SIDECAR_BYTES:
            raise BadInputError(_too_big_for_fields(_("the sidecar {name}", name=item.sidecar.name), st.st_size,
                                                     MAX_SIDECAR_BYTES))
    if max_file_mb is not None and total > max_file_mb * MB:
        raise BadInputError(_(
            "{name} is {size} MB, over the limit of {limit} MB (intake.max_file_mb); "
            "split it into smaller files or scan at a lower resolution",
            name=item.name, size=format_number(total / MB, 1), limit=format(max_file_mb, "g"),
        ))


def _too_big_for_fields(what: str, size: int, limit: int) -> str:
    return _("{what} is {size} bytes, more than a document's fields can need (at most {limit} bytes)",
             what=what, size=format_number(size), limit=format_number(limit))


def _checked_entries(path: Path) -> list[tuple[Path, os.stat_result]]:
    """:func:`walk` of an input, refusing (:class:`BadInputError`) any link or special file in it,
    named as ``<input>`` or ``<input>/<path inside it>``."""
    entries = list(walk(path))
    for entry, st in entries:
        _refuse_odd(path.name if entry == path else f"{path.name}/{entry.relative_to(path).as_posix()}", st)
    return entries


def _refuse_odd(what: str, st: os.stat_result) -> None:
    """Raise when ``st`` is not a regular file or a folder."""
    if stat.S_ISLNK(st.st_mode):
        raise BadInputError(_(
            "{what} is a link (shortcut) to another file, not a scan; links are not followed: "
            "put the scanned file itself in the scanner folder", what=what,
        ))
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        kind = (_("a named pipe") if stat.S_ISFIFO(st.st_mode) else _("a socket") if stat.S_ISSOCK(st.st_mode)
                else _("a device"))
        raise BadInputError(_(
            "{what} is {kind}, not a file or a folder; only scanned files and folders of page images are taken",
            what=what, kind=kind,
        ))


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
    if os.path.lexists(target):
        return None
    sidecar = item.sidecar  # named before the item moves (a folder's name is its stem only while it is there)
    try:
        os.rename(item.path, target)
    except FileNotFoundError:
        return None
    taken = InboxItem(target, item.level, item.office)
    _move_sidecar(sidecar, taken.sidecar)
    owner_file = beside(claimed_dir, item.name, OWNER_SUFFIX)
    try:
        write_atomically(owner_file, json.dumps({"host": owner.host, "pid": owner.pid, "at": owner.at}).encode("utf-8"))
    except BaseException:
        unclaim(taken)  # a claim that cannot say whose it is (a full disk) is not made: the item goes back
        raise
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
                owner_file = beside(claimed_dir, path.name, OWNER_SUFFIX)
                if not _stale(owner_file, host=host, is_alive=is_alive, timeout_seconds=timeout_seconds, now=now,
                              claimed_at=os.lstat(path).st_ctime):
                    continue
                item = InboxItem(path, level, claimed_dir.parent.name)
                back = InboxItem(claimed_dir.parent / path.name, level, item.office)
                sidecar = item.sidecar
                try:
                    os.rename(path, back.path)
                except FileNotFoundError:
                    continue  # another worker released it first
                _move_sidecar(sidecar, back.sidecar)
                owner_file.unlink(missing_ok=True)
                released.append(back)
    return released


#: A claim without its owner file yet may be one being made: it is stale only when older than this.
CLAIM_GRACE_SECONDS = 60.0


def _stale(owner_file: Path, *, host: str, is_alive: Callable[[int], bool], timeout_seconds: float,
           now: float, claimed_at: float) -> bool:
    try:
        owner = json.loads(owner_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # its claimer died before writing it, or is writing it right now (the rename comes first)
        return now - claimed_at >= CLAIM_GRACE_SECONDS
    except (OSError, ValueError):
        return True  # written atomically: an unreadable owner file was damaged, not half-written
    try:
        if owner.get("host") == host and not is_alive(int(owner.get("pid", -1))):
            return True
        return now - float(owner.get("at", 0)) >= timeout_seconds
    except (AttributeError, TypeError, ValueError):
        return True  # an owner file that is not ours


def unclaim(item: InboxItem) -> InboxItem:
    """Put a claimed item back into its scanner folder (to be taken again later)."""
    if not item.claimed:
        return item
    back = InboxItem(item.path.parent.parent / item.name, item.level, item.office)
    sidecar = item.sidecar
    os.rename(item.path, back.path)
    _move_sidecar(sidecar, back.sidecar)
    release(item)
    return back


def release(item: InboxItem) -> None:
    """Forget the owner of a claimed item that has been set aside."""
    if item.claimed:
        beside(item.path.parent, item.name, OWNER_SUFFIX).unlink(missing_ok=True)


def read_meta(item: InboxItem) -> DocumentMeta:
    """The document's metadata from its name, its folders and its sidecar JSON.

    Everything is checked here, before any OCR: the item itself (:func:`check_item`,
    without the size limit), its name, and the sidecar's fields, types and lengths.
    """
    check_item(item)
    if not _is_real_dir(item.path) and item.path.suffix.lower() not in INPUT_SUFFIXES:
        if not re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,4}", item.path.suffix):  # '.H08-261120-0001-KQ1'
            raise BadInputError(_("{name}: the name does not end with a file type (.pdf, .tif, .jpg or .png); "
                                  "add the one the scanner saved it as", name=item.name))
        raise BadInputError(_("{name}: unsupported file type '{suffix}'; scan to PDF, TIFF, JPEG or PNG",
                              name=item.name, suffix=item.path.suffix))
    check_office(item.office)
    try:
        dossier_code, kind, number = parse_document_code(item.stem)
    except BadInputError as e:
        batch_hint = item.path.suffix.lower() in (".pdf", ".tif", ".tiff")
        raise BadInputError(
            _("{name}: {reason}", name=item.name, reason=e.message),
            hint=_("a batch of several dossiers needs a QR cover sheet as its first page") if batch_hint else None,
        ) from e
    extra = _read_sidecar(item.sidecar) if os.path.lexists(item.sidecar) else {}
    try:
        return DocumentMeta(
            dossier_code=dossier_code,
            kind=kind,
            number=number,
            level=item.level,
            office=item.office,
            procedure_code=extra.get("procedure_code"),
            title=extra.get("title"),
        )
    except BadInputError as e:
        raise BadInputError(_("{name}: {reason}", name=item.sidecar.name, reason=e.message) if extra
                            else e.message) from e


def _read_sidecar(path: Path) -> dict[str, object]:
    return meta_fields(read_json_file(path, path.name), path.name, SIDECAR_FIELDS)


def read_json_file(
    path: Path, source: str, *, follow_links: bool = False, max_bytes: int = MAX_SIDECAR_BYTES
) -> object:
    """The JSON value in ``path``: UTF-8, with or without a byte order mark (Windows Notepad writes one).

    ``source`` names the file in messages. The file is opened without following a
    link (unless ``follow_links``), must be a regular file of at most ``max_bytes``,
    and anything wrong with it (encoding, syntax, nesting, a number too long to
    read) is a :class:`BadInputError`.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise BadInputError(_("{name} is a link to another file; links are not followed", name=source)) from e
        raise BadInputError(_("{name} could not be read: {error}", name=source, error=os_error(e))) from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BadInputError(_("{name} is not a regular file", name=source))
        if st.st_size > max_bytes:
            raise BadInputError(_too_big_for_fields(source, st.st_size, max_bytes))
        raw = f.read(max_bytes + 1)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise BadInputError(_("{name} is not UTF-8 text; save it as UTF-8", name=source)) from e
    except RecursionError as e:
        raise BadInputError(_("{name} is not a usable JSON object: it is nested too deeply", name=source)) from e
    except ValueError as e:  # JSONDecodeError, and a number with more digits than Python reads
        raise BadInputError(_("{name} is not valid JSON: {error}", name=source, error=e)) from e


def input_sha256(path: Path) -> str:
    """The identity of an input: SHA-256 of a file, or of a folder's names and file hashes.

    A link or special file anywhere in the input is refused (:class:`BadInputError`),
    never read through.
    """
    entries = _regular_entries(path)
    if entries == [path]:
        return _file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(entries):
        digest.update(os.fsencode(file.relative_to(path).as_posix()) + b"\0")  # a name's own bytes, UTF-8 or not
        digest.update(_file_sha256(file).encode("ascii") + b"\n")
    return digest.hexdigest()


def _regular_entries(path: Path) -> list[Path]:
    """The regular files of an input (the file itself, or those under a folder); raises on anything else."""
    return [entry for entry, st in _checked_entries(path) if stat.S_ISREG(st.st_mode)]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_no_follow(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_no_follow(path: Path):  # noqa: ANN202 - a binary file object
    """Open a regular file for reading, refusing a link put in its place since it was looked at."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise BadInputError(_("{name} is a link to another file; links are not followed", name=path.name)) from e
        raise
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise BadInputError(_("{name} is not a regular file", name=path.name))
    return f


def copy_to_work(item: InboxItem, work_dir: Path) -> Path:
    """Copy the input into ``work_dir/input/`` (work is done on a copy) and return the copy.

    A link or special file in the input is refused before anything is copied; each
    file is opened without following links.
    """
    target = work_dir / "input" / item.name
    if target.exists():
        return target
    files = _regular_entries(item.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(target) as tmp:
        if _is_real_dir(item.path):
            for file in files:
                _copy_file(file, tmp / file.relative_to(item.path))
            tmp.mkdir(exist_ok=True)  # a folder of no files still gets its copy, refused later with its reason
        else:
            _copy_file(item.path, tmp)
    return target


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _open_no_follow(source) as f, open(target, "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)
    st = os.stat(source, follow_symlinks=False)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def set_aside(item: InboxItem, root: Path) -> Path:
    """Move the input and its sidecar to ``root/<level>/<office>/``; never overwrites."""
    target_dir = root / item.level / item.office
    target_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(target_dir / item.name)
    sidecar = item.sidecar
    os.replace(item.path, target)
    sidecar_name = (target.name if _is_real_dir(target) else target.stem) + SIDECAR_SUFFIX
    _move_sidecar(sidecar, target_dir / sidecar_name)
    release(item)
    return target


def quarantine(item: InboxItem, failed_root: Path, error: BaseException, stage: str) -> Path:
    """Move a failed input to ``failed/`` with ``<name>.error.json`` saying why, for a clerk.

    ``reason`` is in the language messages are shown in (``ui.language``, set by the flow or the
    CLI), named by ``language``; what a program or a support desk reads stays the same in every
    language: ``error`` (the error's class), ``exit_code``, ``transient``, ``stage`` and ``at``
    (ISO 8601, Vietnam time). There is no English copy of the reason: a message is translated where
    it is raised, and the class, the code and the stage say what failed in any language.
    """
    target = set_aside(item, failed_root)
    report = {
        "file": displayable(item.name),
        "level": item.level,
        "office": item.office,
        "stage": stage,
        "reason": displayable(clerk_reason(
            str(error) if isinstance(error, DigitizeError) else _("unexpected error: {error}", error=repr(error))
        )),
        "error": type(error).__name__,
        "exit_code": exit_code_for(error),
        "transient": getattr(error, "transient", False),
        "language": language(),
        "at": datetime.now(VIETNAM).isoformat(timespec="seconds"),
    }
    error_file = beside(target.parent, target.name, ERROR_SUFFIX)
    error_file.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return error_file


#: A path into the pipeline's own folders, with whatever leads to it: a work folder (named by a
#: SHA-256, or ``<document code>-<20 hex>``, ``batch-<20 hex>``), maybe with ``input/`` or ``split/``
#: below it, or a claim folder.
_INTERNAL_PATH = re.compile(
    r"[^\s'\"()\[\]]*?(?:\b[0-9a-f]{64}|\b[0-9a-f]{32}|-[0-9a-f]{20})/(?:input/|split/)?"
    r"|[^\s'\"()\[\]]*\.claimed/"
)


def beside(folder: Path, name: str, suffix: str) -> Path:
    """``folder/<name><suffix>``, the file kept beside the item ``name`` (its owner, its error report).

    A name too long for that (a clerk's file name near the file system's limit of 255 bytes) is
    cut, on a character boundary, and told apart by a hash of the whole name, so the file can be
    written and still found from the item's name.
    """
    whole = os.fsencode(name + suffix)
    if len(whole) <= MAX_BESIDE_NAME_BYTES:
        return folder / (name + suffix)
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    room = MAX_BESIDE_NAME_BYTES - len(os.fsencode(tag + suffix))
    cut = os.fsencode(name)[:room].decode("utf-8", "ignore")
    return folder / (cut + tag + suffix)


def displayable(text: str) -> str:
    """``text`` writable as UTF-8: a file name's bytes that are not UTF-8 (kept by Python as
    lone surrogates) are shown as ``\\xNN`` instead of stopping the write."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def clerk_reason(reason: str) -> str:
    """``reason`` without the pipeline's internal paths (``var/work/<sha>/input/...``, ``.claimed/``):
    each such path is cut down to the file's own name (inside a folder item: ``<folder>/<file>``),
    as the clerk dropped it. A safety net: messages should name files so to begin with."""
    return _INTERNAL_PATH.sub("", reason)


def _free_name(path: Path) -> Path:
    if not os.path.lexists(path):
        return path
    for n in range(1, 10_000):
        is_file = not _is_real_dir(path)
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}") if is_file else path.with_name(f"{path.name}.{n}")
        if not os.path.lexists(candidate):
            return candidate
    raise BadInputError(_("too many copies of {name} already set aside", name=path.name))
