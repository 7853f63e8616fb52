"""Messages in the reader's language: gettext catalogs in the package, Vietnamese formats.

Every message a clerk or an operator reads is written in English in the code,
marked for translation, and shown in the language the edge (the CLI, a flow)
chose with :func:`set_language` from ``ui.language`` (default ``vi``)::

    from digitize.i18n import _, ngettext, N_

    raise BadInputError(_("{name} is not a PDF or an image", name=path.name))
    print(ngettext("{n} document archived", "{n} documents archived", n, n=n))
    LABELS = {"done": N_("archived")}     # marked now, translated where shown: _(LABELS[k])

Placeholders are named (``{name}``) so a translation may put them in another
order; the values are filled in after translation. Library code only marks and
translates; it never chooses the language. A process that never calls
:func:`set_language` (a library used on its own, a unit test) reads English.

What stays the same in every language (a stable interface): exit codes, JSON
keys, CSV headers and developers' log records.

Catalogs: ``digitize/locale/digitize.pot`` (extracted with Babel,
``bash run.sh i18n``), ``digitize/locale/vi/LC_MESSAGES/digitize.po`` (the
Vietnamese, in the words of ``docs/thuat-ngu.md``, the glossary) and its
compiled ``.mo``, both kept in the repository.

Formats a person reads: dates ``dd/mm/yyyy`` and a decimal comma in Vietnamese;
times in Vietnam time (+07:00, the country has no daylight saving). JSON and
CSV keep ISO dates and a decimal point whatever the language.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gettext
from collections.abc import Iterator
from pathlib import Path

from babel import numbers

#: Vietnam time (UTC+7, no daylight saving): signing times, archive years, report days and every time a
#: person reads. Defined here, the module every other imports, and given on by :mod:`digitize.models`.
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")

DOMAIN = "digitize"
LOCALE_DIR = Path(__file__).with_name("locale")
#: The languages there are messages in; English is the code's own.
LANGUAGES = ("vi", "en")

_language = "en"
_translations: gettext.NullTranslations = gettext.NullTranslations()


def _load(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    # fallback=False: a missing catalog is a packaging fault, not English silently.
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])


def set_language(language: str) -> None:
    """Show every message from now on in ``language`` (``vi`` or ``en``); called by the edges."""
    global _language, _translations
    if language not in LANGUAGES:
        raise ValueError(f"no messages in {language!r}; there are {', '.join(LANGUAGES)}")
    _translations = _load(language)
    _language = language


def language() -> str:
    """The language messages are shown in now."""
    return _language


@contextlib.contextmanager
def using(language_code: str) -> Iterator[None]:
    """Show messages in ``language_code`` inside the block (a test, or a text written in a set language)."""
    before = _language
    set_language(language_code)
    try:
        yield
    finally:
        set_language(before)


def _(message: str, /, **params: object) -> str:
    """``message`` in the current language, its ``{placeholders}`` filled from ``params``."""
    text = _translations.gettext(message)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, /, **params: object) -> str:
    """The form of a message for ``n`` things (Vietnamese has one form), placeholders filled."""
    text = _translations.ngettext(singular, plural, n)
    return text.format(**params) if params else text


def N_(message: str, /) -> str:
    """Mark ``message`` for translation without translating it (constants; translate where shown)."""
    return message


def format_date(value: dt.date | dt.datetime) -> str:
    """A date as a person reads it: ``30/11/2026`` in Vietnamese, ``2026-11-30`` in English.

    A datetime is first put in Vietnam time, so the date is the one in Vietnam.
    """
    if isinstance(value, dt.datetime):
        value = to_vietnam_time(value)
    return value.strftime("%d/%m/%Y") if _language == "vi" else value.strftime("%Y-%m-%d")


def format_datetime(value: dt.datetime, *, seconds: bool = False) -> str:
    """A moment as a person reads it, in Vietnam time: ``30/11/2026 07:05`` (``+07:00`` in English)."""
    local = to_vietnam_time(value)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if _language == "vi":
        return f"{local.strftime('%d/%m/%Y')} {clock}"
    return f"{local.strftime('%Y-%m-%d')} {clock} +07:00"


def to_vietnam_time(value: dt.datetime) -> dt.datetime:
    """``value`` in Vietnam time; a naive datetime is taken as UTC (how the catalog stores times)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(VIETNAM)


def format_number(value: float, digits: int = 0) -> str:
    """A number with ``digits`` decimals: ``1.234,5`` in Vietnamese, ``1,234.5`` in English."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, format=pattern, locale=_language)


def format_percent(value: float, digits: int = 1) -> str:
    """A rate given as a percentage number (``42.5``) shown as ``42,5%`` in Vietnamese, ``42.5%`` in English."""
    return f"{format_number(value, digits)}%"


#: The operating system's words for the errors a person meets most, marked here so that they are
#: translated (``strerror`` is the C library's English); any other error keeps the system's words.
_OS_ERRORS = {
    errno.ENOENT: N_("no such file or folder"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("operation not permitted"),
    errno.EISDIR: N_("it is a folder"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
    errno.EEXIST: N_("it already exists"),
    errno.ENOSPC: N_("no space left on the disk"),
    errno.EDQUOT: N_("disk quota exceeded"),
    errno.EROFS: N_("the disk is read-only"),
    errno.EIO: N_("input/output error (the disk or the network share)"),
    errno.ENAMETOOLONG: N_("the name is too long"),
    errno.ELOOP: N_("too many levels of links"),
    errno.EBUSY: N_("the file or device is busy"),
    errno.ETIMEDOUT: N_("the connection timed out"),
    errno.ECONNREFUSED: N_("the connection was refused"),
}


def os_error(error: BaseException) -> str:
    """What went wrong in ``error`` (an ``OSError``: its errno's words) in the reader's language."""
    number = getattr(error, "errno", None)
    if number in _OS_ERRORS:
        return _(_OS_ERRORS[number])
    return getattr(error, "strerror", None) or str(error)
