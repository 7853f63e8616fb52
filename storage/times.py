"""Times as stored in the catalog and manifests: ISO 8601 UTC text."""

from __future__ import annotations

from datetime import UTC, datetime

from digitize.errors import BadInputError
from digitize.i18n import _


def to_utc_text(moment: datetime) -> str:
    """``moment`` (timezone-aware) as ISO 8601 UTC text, e.g. ``2025-11-28T10:15:00Z``."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise BadInputError(_("time {moment!r} must be a datetime with a timezone", moment=moment))
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_utc_text(text: str | None) -> datetime | None:
    """The aware datetime stored as ``text`` by :func:`to_utc_text` (None stays None)."""
    return None if text is None else datetime.fromisoformat(text)


def utc_now_text() -> str:
    """The current time as ISO 8601 UTC text."""
    return to_utc_text(datetime.now(UTC))
