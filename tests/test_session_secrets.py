"""The signing session on a fresh machine and with a wrong secret: real keys, no mocks of pyHanko."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitize.settings import SigningSettings
from signing import session as session_module
from signing.session import open_signing_session

AGENCY = "UBND xã Phước Lộc"


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory) -> SigningSettings:
    return SigningSettings(demo_dir=tmp_path_factory.mktemp("keys"), agency_name=AGENCY)


def test_validation_context_is_made_on_first_use_right_after_boot(demo_settings, tmp_path, monkeypatch):
    clock = [300.0]  # time.monotonic() counts from boot: a few hundred seconds after a reboot
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    with open_signing_session(demo_settings, font_cache_dir=tmp_path / "fonts") as session:
        first = session.validation_context()
        assert first is not None
        clock[0] += 10
        assert session.validation_context() is first
        clock[0] += session_module.CONTEXT_MAX_AGE_SECONDS + 1
        assert session.validation_context() is not first
