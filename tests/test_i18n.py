"""The message catalogs and the formats a person reads (digitize/i18n.py)."""

from __future__ import annotations

import datetime as dt
import gettext
import re
import string
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from digitize import i18n
from digitize.errors import ConfigError
from digitize.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "digitize/locale/vi/LC_MESSAGES/digitize.po"
MO = PO.with_suffix(".mo")
POT = ROOT / "digitize/locale/digitize.pot"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def _marked_messages() -> set[str | tuple[str, str]]:
    """Every message marked in the product's code, as Babel extracts it."""
    found: set[str | tuple[str, str]] = set()
    for package in ("digitize", "signing", "storage", "pipeline", "rates", "flows", "cli"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, [("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(tuple(message) if isinstance(message, (tuple, list)) else message)
    return found


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def _entries():
    return [m for m in _catalog(PO) if m.id]


def test_every_marked_message_has_a_vietnamese_translation():
    catalog = _catalog(PO)
    missing = []
    for message in _marked_messages():
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        strings = entry.string if entry else ""
        if not entry or entry.fuzzy or not all(strings if isinstance(strings, tuple) else (strings,)):
            missing.append(key)
    assert not missing, f"messages without a Vietnamese translation (bash run.sh i18n, then translate): {missing}"


def test_template_lists_exactly_the_marked_messages():
    in_template = {m.id if isinstance(m.id, str) else tuple(m.id) for m in _catalog(POT) if m.id}
    assert in_template == _marked_messages(), "run `bash run.sh i18n` after changing messages"


def test_translations_keep_every_placeholder_and_are_nfc():
    for entry in _entries():
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for text in strings:
            assert _placeholders(text) == _placeholders(ids[0]), (entry.id, text)
            assert unicodedata.normalize("NFC", text) == text, f"not NFC: {text!r}"


def test_compiled_catalog_is_the_translations():
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for entry in _entries():
        if isinstance(entry.id, tuple):
            assert compiled.ngettext(entry.id[0], entry.id[1], 1) == entry.string[0]
        else:
            assert compiled.gettext(entry.id) == entry.string, "the .mo is stale: bash run.sh i18n"


def test_messages_follow_the_language_set_and_english_is_the_default():
    assert i18n.language() == "en"
    entries = [e for e in _entries() if isinstance(e.id, str) and not _placeholders(e.id)]
    if not entries:
        pytest.skip("no message translated yet")
    entry = entries[0]
    with i18n.using("vi"):
        assert i18n._(entry.id) == entry.string
    assert i18n._(entry.id) == entry.id


def test_placeholders_are_filled_after_translation():
    assert i18n._("{n} of {total}", n=2, total=3) == "2 of 3"


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="vi, en"):
        i18n.set_language("fr")


def test_ui_language_setting_defaults_to_vietnamese_and_refuses_others(tmp_path):
    assert load_settings(environ={}, base_dir=tmp_path).ui.language == "vi"
    assert load_settings(environ={"DIGITIZE_UI__LANGUAGE": "en"}, base_dir=tmp_path).ui.language == "en"
    with pytest.raises(ConfigError, match="ui.language"):
        load_settings(environ={"DIGITIZE_UI__LANGUAGE": "fr"}, base_dir=tmp_path)


def test_dates_read_day_first_in_vietnamese_iso_in_english():
    day = dt.date(2026, 1, 5)
    with i18n.using("vi"):
        assert i18n.format_date(day) == "05/01/2026"
    with i18n.using("en"):
        assert i18n.format_date(day) == "2026-01-05"


def test_moments_are_shown_in_vietnam_time():
    late_utc = dt.datetime(2026, 11, 29, 19, 30, tzinfo=dt.timezone.utc)
    with i18n.using("vi"):
        assert i18n.format_datetime(late_utc) == "30/11/2026 02:30"
        assert i18n.format_date(late_utc) == "30/11/2026"  # already the next day in Vietnam
        assert i18n.format_datetime(dt.datetime(2026, 11, 29, 19, 30)) == "30/11/2026 02:30"  # naive is UTC
    with i18n.using("en"):
        assert i18n.format_datetime(late_utc, seconds=True) == "2026-11-30 02:30:00 +07:00"


def test_numbers_have_a_decimal_comma_in_vietnamese():
    with i18n.using("vi"):
        assert i18n.format_number(1234.5, 1) == "1.234,5"
        assert i18n.format_percent(42.25, 1) in ("42,2%", "42,3%")
        assert i18n.format_number(7) == "7"
    with i18n.using("en"):
        assert i18n.format_number(1234.5, 1) == "1,234.5"
        assert re.fullmatch(r"42\.[23]%", i18n.format_percent(42.25))


def test_every_marked_message_is_a_plain_string_babel_can_extract():
    """Babel skips, with only a warning, a marked call whose message is an f-string or a concatenation:
    such a message would never be translated. A value marked elsewhere (``_(LABELS[k])``, ``_(action)``)
    is translated where it is shown, which is the point of ``N_``."""
    import ast

    skipped = []
    for package in ("digitize", "signing", "storage", "pipeline", "rates", "flows", "cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in ("_", "N_", "ngettext") and node.args):
                    continue
                texts = node.args[:2] if node.func.id == "ngettext" else node.args[:1]
                for arg in texts:
                    if isinstance(arg, (ast.JoinedStr, ast.BinOp)):
                        skipped.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert skipped == [], "marked messages Babel cannot extract (use a literal with {placeholders})"


def test_the_systems_words_for_an_error_are_translated_and_others_kept():
    import errno
    import os

    missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "x.pdf")
    with i18n.using("vi"):
        assert i18n.os_error(missing) == "không có tệp hoặc thư mục này"
        assert i18n.os_error(PermissionError(errno.EACCES, "Permission denied")) == "không có quyền truy cập"
        odd = OSError(errno.ENOEXEC, os.strerror(errno.ENOEXEC))
        assert i18n.os_error(odd) == os.strerror(errno.ENOEXEC)  # not listed: the system's own words
    assert i18n.os_error(missing) == "no such file or folder"
