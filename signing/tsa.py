"""The timestamp authority: its client, and the one retry loop around it.

A signature above B-B and every archive-timestamp renewal ask the timestamp
authority (TSA) for an RFC 3161 token. A TSA that does not answer is tried
``signing.tsa_retries + 1`` times in all, waiting ``tsa_backoff_seconds``
before the second try and twice as long before each next one; then
:class:`TimestampUnavailableError` (transient) says how many tries were made.

This is the only retry layer for the TSA: the flows' task retries do not try a
:class:`TimestampUnavailableError` again (the input stays in the scanner
folder for the next run instead), so one document asks the TSA at most
``tsa_retries + 1`` times per run (4 with the defaults, with 1 + 2 + 4 s of
waits between them, and each try bounded by ``tsa_timeout_seconds`` per
request).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

from digitize.errors import TimestampUnavailableError
from digitize.i18n import ngettext
from digitize.settings import SigningSettings

T = TypeVar("T")


@dataclass(frozen=True)
class TsaPolicy:
    """How hard to try the timestamp authority."""

    timeout_seconds: float
    retries: int
    backoff_seconds: float

    @classmethod
    def of(cls, settings: SigningSettings) -> TsaPolicy:
        """The policy ``signing.tsa_timeout_seconds``, ``tsa_retries`` and ``tsa_backoff_seconds`` give."""
        return cls(settings.tsa_timeout_seconds, settings.tsa_retries, settings.tsa_backoff_seconds)

    @property
    def attempts(self) -> int:
        """How many tries in all: the first and the retries."""
        return self.retries + 1

    def backoff(self, attempt: int) -> float:
        """The wait after the failed try number ``attempt`` (0 for the first): the backoff, doubling."""
        return self.backoff_seconds * 2**attempt


def timestamper(settings: SigningSettings) -> RequestsHTTPTimeStamper | None:
    """The client of ``signing.tsa_url`` (each request within ``tsa_timeout_seconds``); None without one."""
    if not settings.tsa_url:
        return None
    return RequestsHTTPTimeStamper(settings.tsa_url, timeout=settings.tsa_timeout_seconds)


def with_retries(action: Callable[[], T], policy: TsaPolicy, *, sleep: Callable[[float], None] = time.sleep) -> T:
    """``action()``, tried again with backoff while it raises :class:`TimestampUnavailableError`.

    After the last of :attr:`TsaPolicy.attempts` tries the error is raised
    again, its message saying how many tries were made.
    """
    for attempt in range(policy.attempts):
        try:
            return action()
        except TimestampUnavailableError as e:
            if attempt + 1 == policy.attempts:
                message = ngettext("{reason} ({n} try)", "{reason} ({n} tries)", policy.attempts,
                                   reason=e.message, n=policy.attempts)
                raise TimestampUnavailableError(message, hint=e.hint) from e.__cause__
            sleep(policy.backoff(attempt))
    raise AssertionError("unreachable")


__all__ = ["TsaPolicy", "timestamper", "with_retries"]
