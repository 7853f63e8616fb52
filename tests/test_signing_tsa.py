"""The timestamp authority's one retry layer: how many tries, how long between them, and that the flow adds none."""

from __future__ import annotations

import pytest

from digitize.errors import SigningError, TimestampUnavailableError, ToolTimeoutError
from signing.tsa import TsaPolicy, with_retries


def _down(calls: list[int]):
    def action():
        calls.append(1)
        raise TimestampUnavailableError("the timestamp authority did not answer: 503 Service Unavailable")

    return action


def test_a_tsa_that_never_answers_is_tried_retries_plus_one_times_with_doubling_waits():
    calls, waits = [], []
    with pytest.raises(TimestampUnavailableError) as caught:
        with_retries(_down(calls), TsaPolicy(timeout_seconds=5, retries=3, backoff_seconds=1.5), sleep=waits.append)
    assert len(calls) == 4
    assert waits == [1.5, 3.0, 6.0]
    assert caught.value.transient
    assert caught.value.message == "the timestamp authority did not answer: 503 Service Unavailable (4 tries)"


def test_no_retries_means_one_try_and_no_wait():
    calls, waits = [], []
    with pytest.raises(TimestampUnavailableError, match=r"\(1 try\)$"):
        with_retries(_down(calls), TsaPolicy(timeout_seconds=5, retries=0, backoff_seconds=1.0), sleep=waits.append)
    assert (len(calls), waits) == (1, [])


def test_a_tsa_that_answers_on_the_second_try_gives_the_result_after_one_wait():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise TimestampUnavailableError("the timestamp authority did not answer: timed out")
        return b"signed"

    assert with_retries(flaky, TsaPolicy(5, 3, 0.25), sleep=waits.append) == b"signed"
    assert (len(calls), waits) == (2, [0.25])


def test_other_signing_errors_are_not_retried():
    calls = []

    def broken():
        calls.append(1)
        raise SigningError("pyHanko could not sign the document")

    with pytest.raises(SigningError):
        with_retries(broken, TsaPolicy(5, 3, 0.0), sleep=lambda _: None)
    assert len(calls) == 1


class _Failed:
    """A task state whose result raises ``error``, as Prefect hands it to a retry condition."""

    def __init__(self, error: Exception):
        self.error = error

    def result(self):
        raise self.error


def test_the_flow_does_not_retry_what_the_signing_session_already_retried():
    from flows.dossier import retry_if_transient

    unanswered = TimestampUnavailableError("the timestamp authority did not answer (4 tries)")
    assert not retry_if_transient(None, None, _Failed(unanswered))
    # other transient errors keep the task's own retries
    assert retry_if_transient(None, None, _Failed(ToolTimeoutError("pdftoppm did not finish within 60 s")))
