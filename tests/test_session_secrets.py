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


def test_wrong_password_from_a_file_names_the_file_and_where_it_was_set(tmp_path):
    from datetime import UTC, datetime, timedelta

    from digitize.errors import ExitCode, SigningError
    from digitize.settings import load_settings
    from tests.signing_helpers import make_ca, make_p12

    now = datetime.now(UTC)
    p12 = make_p12(tmp_path / "agency.p12", b"dung", not_before=now - timedelta(days=1),
                   not_after=now + timedelta(days=9), ca=make_ca("CA thử"))
    secret_file = tmp_path / "mật khẩu.txt"
    secret_file.write_text("sai-mật-khẩu\n", encoding="utf-8")
    settings = load_settings(environ={"DIGITIZE_SIGNING__PKCS12": str(p12),
                                      "DIGITIZE_SIGNING__PKCS12_PASSWORD_FILE": str(secret_file)},
                             base_dir=tmp_path)
    with pytest.raises(SigningError) as caught:
        open_signing_session(settings.signing, font_cache_dir=tmp_path / "fonts")
    text = str(caught.value)
    assert caught.value.exit_code == ExitCode.signing
    assert f"the file {secret_file}" in text and "DIGITIZE_SIGNING__PKCS12_PASSWORD_FILE" in text
    assert "sai-mật-khẩu" not in text


def test_wrong_password_in_vietnamese_names_the_environment_variable_it_came_from(tmp_path):
    from datetime import UTC, datetime, timedelta

    from digitize.errors import SigningError
    from digitize.i18n import using
    from digitize.settings import load_settings
    from tests.signing_helpers import make_ca, make_p12

    now = datetime.now(UTC)
    p12 = make_p12(tmp_path / "khóa cơ quan.p12", b"dung", not_before=now - timedelta(days=1),
                   not_after=now + timedelta(days=9), ca=make_ca("CA thử"))
    settings = load_settings(environ={"DIGITIZE_SIGNING__PKCS12": str(p12),
                                      "DIGITIZE_SIGNING__PKCS12_PASSWORD": "sai-mật-khẩu"}, base_dir=tmp_path)
    with using("vi"), pytest.raises(SigningError) as caught:
        open_signing_session(settings.signing, font_cache_dir=tmp_path / "fonts")
    text = str(caught.value)
    assert "mật khẩu" in text and "biến môi trường DIGITIZE_SIGNING__PKCS12_PASSWORD" in text, text
    assert "the environment variable" not in text and "wrong password" not in text
    assert "sai-mật-khẩu" not in text


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (SigningSettings(pkcs11_module=Path("/t.so"), pkcs11_key_label="k", pkcs11_pin="1234",
                         sources=(("pkcs11_pin", "env", "DIGITIZE_SIGNING__PKCS11_PIN"),)),
         "the token PIN was taken from the environment variable DIGITIZE_SIGNING__PKCS11_PIN (not shown)"),
        (SigningSettings(pkcs11_module=Path("/t.so"), pkcs11_key_label="k", pkcs11_pin_file=Path("/etc/pin")),
         "the token PIN was taken from the first line of the file /etc/pin"),
        (SigningSettings(pkcs11_module=Path("/t.so"), pkcs11_key_label="k"),
         "no token PIN is set: set the environment variable DIGITIZE_SIGNING__PKCS11_PIN"),
    ],
)
def test_a_wrong_pin_hint_says_where_the_pin_came_from(settings, expected):
    from signing.session import secret_hint

    hint = secret_hint(settings, "pin")
    assert expected in hint
    assert "1234" not in hint
