"""Secrets never shown, and a wrong signing password stopping ``digitize run`` before it takes anything:
through the real command, with a real PKCS#12 key made in the test."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH
from tests.signing_helpers import make_ca, make_p12, write_pem

SECRET = "Bí-mật-Phước-Lộc-7391"  # a password no message may ever show
RIGHT = b"dung-mat-khau"


def digitize(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_API_URL"))} | ENGLISH
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=300)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def agency_key(tmp_path) -> tuple[Path, Path]:
    """A real PKCS#12 agency key (password ``RIGHT``) and its CA certificate."""
    ca = make_ca("CA thử nghiệm")
    now = datetime.now(UTC)
    p12 = make_p12(tmp_path / "agency.p12", RIGHT, not_before=now - timedelta(days=1),
                   not_after=now + timedelta(days=30), ca=ca)
    return p12, write_pem(tmp_path / "ca.pem", ca[1])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("signing.pkcs12_password", f'["{SECRET}"]'),
        ("signing.pkcs12_password", f"{{ value = \"{SECRET}\" }}"),
        ("signing.pkcs11_pin", f'["{SECRET}"]'),
        ("catalog.url", f'["postgresql://thu-ky:{SECRET}@db/catalog"]'),
        ("catalog.url", f'"mysql://thu-ky:{SECRET}@db/catalog"'),
        ("archive.endpoint_url", f'["http://minio:{SECRET}@127.0.0.1:9"]'),
        ("signing.tsa_url", f'["http://tsa:{SECRET}@127.0.0.1:9/tsr"]'),
    ],
)
def test_a_secret_with_a_wrong_type_or_value_exits_3_without_showing_it(tmp_path, key, value):
    section, name = key.split(".")
    (tmp_path / "digitize.toml").write_text(f"[{section}]\n{name} = {value}\n", encoding="utf-8")
    result = digitize("doctor", cwd=tmp_path)
    assert result.returncode == ExitCode.config, shown(result)
    assert key in result.stderr
    assert SECRET not in shown(result)


@pytest.mark.parametrize(
    "env",
    [
        # a wrong value of each secret, reaching the part that uses it
        {"DIGITIZE_CATALOG__URL": f"postgresql://thu-ky:{SECRET}@127.0.0.1:9/catalog"},
        {"DIGITIZE_ARCHIVE__BACKEND": "s3", "DIGITIZE_ARCHIVE__BUCKET": "ho-so",
         "DIGITIZE_ARCHIVE__ENDPOINT_URL": f"http://minio:{SECRET}@127.0.0.1:9",
         "DIGITIZE_ARCHIVE__MAX_ATTEMPTS": "1", "DIGITIZE_ARCHIVE__CONNECT_TIMEOUT_SECONDS": "1",
         "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
        {"DIGITIZE_ARCHIVE__BACKEND": "s3", "DIGITIZE_ARCHIVE__BUCKET": "ho-so",
         "DIGITIZE_ARCHIVE__ENDPOINT_URL": f"http://127.0.0.1:9/{SECRET}",
         "DIGITIZE_ARCHIVE__MAX_ATTEMPTS": "1", "DIGITIZE_ARCHIVE__CONNECT_TIMEOUT_SECONDS": "1",
         "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": f"/{SECRET}"},
        {"DIGITIZE_SIGNING__PKCS11_MODULE": "/nonexistent/libtoken.so", "DIGITIZE_SIGNING__PKCS11_KEY_LABEL": "k",
         "DIGITIZE_SIGNING__PKCS11_PIN": SECRET},
        {"DIGITIZE_SIGNING__TSA_URL": f"http://tsa:{SECRET}@127.0.0.1:9/tsr"},
    ],
    ids=["catalog-url", "s3-endpoint", "s3-secret-key", "pkcs11-pin", "tsa-url"],
)
def test_doctor_never_shows_a_secret_of_a_wrong_value(tmp_path, env):
    result = digitize("doctor", cwd=tmp_path, env=env)
    assert SECRET not in shown(result)


def test_doctor_with_a_wrong_pkcs12_password_says_where_it_came_from_not_what_it_is(tmp_path, agency_key):
    p12, ca = agency_key
    env = {"DIGITIZE_SIGNING__PKCS12": str(p12), "DIGITIZE_SIGNING__TRUST_ROOTS": str(ca),
           "DIGITIZE_SIGNING__PKCS12_PASSWORD": SECRET}
    result = digitize("doctor", cwd=tmp_path, env=env)
    assert result.returncode != ExitCode.ok
    assert "DIGITIZE_SIGNING__PKCS12_PASSWORD" in result.stdout
    assert SECRET not in shown(result)


def _inbox_with_one_document(root: Path) -> Path:
    office = root / "var" / "inbox" / "xa" / "phuoc-loc"
    office.mkdir(parents=True)
    scan = office / "000.31.25.H08-261120-0001-KQ1.png"
    from PIL import Image

    Image.new("L", (400, 560), 255).save(scan, dpi=(200, 200))
    return scan


@pytest.mark.parametrize("where", ["environment", "password-file", "toml"])
def test_run_with_a_wrong_pkcs12_password_exits_9_before_taking_anything(tmp_path, agency_key, where):
    p12, ca = agency_key
    scan = _inbox_with_one_document(tmp_path)
    env = {"DIGITIZE_SIGNING__PKCS12": str(p12), "DIGITIZE_SIGNING__TRUST_ROOTS": str(ca),
           "DIGITIZE_INTAKE__SETTLE_SECONDS": "0", "PREFECT_HOME": str(tmp_path / "prefect")}
    if where == "environment":
        env["DIGITIZE_SIGNING__PKCS12_PASSWORD"] = SECRET
        expected = "the environment variable DIGITIZE_SIGNING__PKCS12_PASSWORD"
    elif where == "password-file":
        secret_file = tmp_path / "agency.pass"
        secret_file.write_text(SECRET + "\n", encoding="utf-8")
        env["DIGITIZE_SIGNING__PKCS12_PASSWORD_FILE"] = str(secret_file)
        expected = f"the file {secret_file}"
    else:
        config = tmp_path / "digitize.toml"
        config.write_text(f'[signing]\npkcs12_password = "{SECRET}"\n', encoding="utf-8")
        expected = f"the settings file {config}"
    result = digitize("run", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.signing, shown(result)
    assert expected in result.stderr
    assert "wrong password" in result.stderr
    assert SECRET not in shown(result)
    assert scan.is_file(), "the input must stay in the scanner folder"
    assert not (tmp_path / "var" / "failed").exists() and not (tmp_path / "var" / "work").exists()
    assert "Prefect server" not in result.stderr  # it stopped before starting anything


def test_a_wrong_pkcs12_password_is_told_in_vietnamese_naming_the_environment_variable(tmp_path, agency_key):
    p12, ca = agency_key
    scan = _inbox_with_one_document(tmp_path)
    env = {"DIGITIZE_SIGNING__PKCS12": str(p12), "DIGITIZE_SIGNING__TRUST_ROOTS": str(ca),
           "DIGITIZE_SIGNING__PKCS12_PASSWORD": SECRET, "DIGITIZE_INTAKE__SETTLE_SECONDS": "0",
           "DIGITIZE_UI__LANGUAGE": "vi", "PREFECT_HOME": str(tmp_path / "prefect")}
    result = digitize("run", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.signing, shown(result)
    assert "mật khẩu PKCS#12 được lấy từ biến môi trường DIGITIZE_SIGNING__PKCS12_PASSWORD" in result.stderr, \
        result.stderr
    assert "the environment variable" not in result.stderr and "wrong password" not in result.stderr
    assert SECRET not in shown(result)
    assert scan.is_file()


def test_run_with_an_unreadable_key_file_exits_9_naming_where_it_was_set(tmp_path):
    scan = _inbox_with_one_document(tmp_path)
    missing = tmp_path / "khóa" / "agency.p12"
    result = digitize("run", cwd=tmp_path, env={"DIGITIZE_SIGNING__PKCS12": str(missing),
                                                 "DIGITIZE_SIGNING__PKCS12_PASSWORD": SECRET})
    assert result.returncode == ExitCode.signing, shown(result)
    assert str(missing) in result.stderr and "DIGITIZE_SIGNING__PKCS12" in result.stderr
    assert SECRET not in shown(result)
    assert scan.is_file()
