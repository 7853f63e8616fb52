"""Each documented exit code, produced by a real failure through the real command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageDraw

from digitize.errors import ExitCode
from tests.cli_fixtures import ENGLISH

DIGITIZE = [sys.executable, "-m", "digitize"]


def digitize(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    full_env.update(env or {})
    return subprocess.run([*DIGITIZE, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def test_usage_error_exits_2(tmp_path):
    result = digitize("ocr", cwd=tmp_path)
    assert result.returncode == ExitCode.usage


def test_unknown_config_key_exits_3_and_names_the_key(tmp_path):
    (tmp_path / "digitize.toml").write_text("[ocr]\nlanguage = 'vie'\n", encoding="utf-8")
    result = digitize("check", "x.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.config
    assert "ocr.language" in result.stderr


def test_bad_environment_variable_exits_3(tmp_path):
    result = digitize("doctor", cwd=tmp_path, env={"DIGITIZE_NOPE__X": "1"})
    assert result.returncode == ExitCode.config
    assert "DIGITIZE_NOPE__X" in result.stderr


@pytest.mark.tools
def test_missing_tesseract_exits_5_with_install_advice(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("pdftoppm", "pdfinfo"):
        os.symlink(shutil.which(program), bin_dir / program)
    page = tmp_path / "page.png"
    Image.new("L", (200, 200), 255).save(page, dpi=(200, 200))
    result = digitize("ocr", str(page), "-o", "out.pdf", cwd=tmp_path, env={"PATH": str(bin_dir)})
    assert result.returncode == ExitCode.missing_tool
    assert "apt-get install tesseract-ocr" in result.stderr


@pytest.mark.tools
def test_empty_file_exits_4(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    result = digitize("ocr", "empty.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.bad_input
    assert "empty" in result.stderr
    assert not (tmp_path / "out.pdf").exists()


@pytest.mark.tools
def test_truncated_pdf_exits_4(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "whole.pdf")
    data = (tmp_path / "whole.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    result = digitize("ocr", "cut.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.bad_input
    assert not (tmp_path / "out.pdf").exists()


@pytest.mark.tools
def test_encrypted_pdf_exits_6(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    result = digitize("ocr", "locked.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.encrypted_input
    assert "is encrypted (password protected)" in result.stderr


def test_file_that_is_no_image_exits_4(tmp_path):
    (tmp_path / "notes.png").write_text("not an image at all", encoding="utf-8")
    result = digitize("ocr", "notes.png", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode in (ExitCode.bad_input, ExitCode.missing_tool)
    if shutil.which("tesseract"):
        assert result.returncode == ExitCode.bad_input


def test_check_of_a_plain_pdf_exits_15_and_names_the_rule(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "plain.pdf")
    result = digitize("check", "plain.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.pdfa
    assert "ISO_19005" in result.stdout or "pikepdf:" in result.stdout


def test_sign_refuses_a_pdf_that_is_not_pdfa_with_exit_15_before_opening_the_key(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "plain.pdf")
    result = digitize("sign", "plain.pdf", "-o", "signed.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.pdfa, result.stderr
    assert "plain.pdf is not PDF/A-2b (" in result.stderr and "can never be made PDF/A afterwards" in result.stderr
    assert "digitize ocr plain.pdf -o plain-pdfa.pdf" in result.stderr  # what to do instead
    assert not (tmp_path / "signed.pdf").exists()
    assert not (tmp_path / "var" / "keys").exists()  # refused before the (demo) key is made or opened
    in_vietnamese = digitize("sign", "plain.pdf", "-o", "signed.pdf", cwd=tmp_path,
                             env={"DIGITIZE_UI__LANGUAGE": "vi"})
    assert in_vietnamese.returncode == ExitCode.pdfa
    assert "plain.pdf không phải là PDF/A-2b" in in_vietnamese.stderr


def test_sign_still_says_encrypted_or_unreadable_for_an_input_it_cannot_judge(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    (tmp_path / "junk.pdf").write_bytes(b"not a pdf at all")
    assert digitize("sign", "locked.pdf", "-o", "out.pdf", cwd=tmp_path).returncode == ExitCode.encrypted_input
    assert digitize("sign", "junk.pdf", "-o", "out.pdf", cwd=tmp_path).returncode == ExitCode.bad_input


@pytest.mark.tools
def test_sign_signs_a_pdfa(tmp_path):
    from tests.signing_helpers import make_pdfa

    make_pdfa(tmp_path / "scan.pdf")
    result = digitize("sign", "scan.pdf", "-o", "signed.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.ok, result.stderr
    assert "PAdES B-B" in result.stdout and (tmp_path / "signed.pdf").is_file()

@pytest.mark.tools
def test_doctor_passes_on_a_complete_install_and_makes_the_demo_key(tmp_path):
    result = digitize("doctor", cwd=tmp_path)
    assert result.returncode == ExitCode.ok, result.stdout + result.stderr
    assert "DEMO" in result.stdout
    assert (tmp_path / "var" / "keys" / "demo-agency.p12").is_file()
    assert "loaded once per page worker" in result.stdout  # the tesseract on PATH links libtesseract


def test_doctor_reports_missing_tesseract_with_exit_5(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = digitize("doctor", cwd=tmp_path, env={"PATH": str(bin_dir)})
    assert result.returncode == ExitCode.missing_tool
    assert "install it with: apt-get install tesseract-ocr" in result.stdout


def test_doctor_speaks_vietnamese_by_default(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = digitize("doctor", cwd=tmp_path, env={"PATH": str(bin_dir), "DIGITIZE_UI__LANGUAGE": "vi"})
    assert result.returncode == ExitCode.missing_tool
    assert "[LỖI] tesseract: chưa được cài đặt" in result.stdout
    assert "[LỖI] ngôn ngữ tesseract: thiếu tesseract" in result.stdout
    assert "cách xử lý: " in result.stdout and "fix:" not in result.stdout
    assert "[đạt] khóa ký số:" in result.stdout and "[đạt] kho lưu trữ: thư mục cục bộ" in result.stdout
    assert "phát hiện 3 vấn đề (cấu hình lấy từ mặc định + biến môi trường)" in result.stderr


def test_usage_errors_are_in_vietnamese_by_default_and_in_english_on_request(tmp_path):
    vietnamese = digitize("run", "--limit", "0", cwd=tmp_path, env={"DIGITIZE_UI__LANGUAGE": "vi"})
    assert vietnamese.returncode == ExitCode.usage
    assert "0 nằm ngoài khoảng cho phép: hãy nhập số nguyên từ 1 trở lên" in vietnamese.stderr
    english = digitize("run", "--limit", "0", cwd=tmp_path)
    assert "0 is out of range: give a whole number of at least 1" in english.stderr
    missing = digitize("run", "--inbox", "không-có", cwd=tmp_path, env={"DIGITIZE_UI__LANGUAGE": "vi"})
    assert missing.returncode == ExitCode.usage
    assert "digitize: lỗi: --inbox không-có không phải là thư mục" in missing.stderr


def test_settings_that_cannot_be_read_are_reported_in_the_language_asked_for(tmp_path):
    english = digitize("doctor", cwd=tmp_path, env={"DIGITIZE_NOPE__X": "1"})
    assert english.returncode == ExitCode.config and english.stderr.startswith("digitize: error: ")
    vietnamese = digitize("doctor", cwd=tmp_path, env={"DIGITIZE_NOPE__X": "1", "DIGITIZE_UI__LANGUAGE": "vi"})
    assert vietnamese.returncode == ExitCode.config and vietnamese.stderr.startswith("digitize: lỗi: ")


def test_help_is_vietnamese_by_default_and_follows_the_settings_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")}

    def help_text(*args: str) -> str:
        return subprocess.run([*DIGITIZE, *args, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300).stdout

    assert "Số hóa hồ sơ từ bản quét thành PDF/A tìm kiếm được" in help_text()
    assert "chỉ cấp này (tinh, huyen, xa)" in help_text("archive", "ls")
    (tmp_path / "digitize.toml").write_text('[ui]\nlanguage = "en"\n', encoding="utf-8")
    assert "only this level (tinh, huyen, xa)" in help_text("archive", "ls")


def _demo_signed_pdf(tmp_path: Path) -> tuple[Path, Path]:
    """A small PDF signed with a demo identity made under ``tmp_path/var/keys``; returns (pdf, ca)."""
    from signing.identity import ensure_demo_identity, load_signer, read_password
    from signing.sign import sign_pdf
    from tests.signing_helpers import make_pdf

    demo = ensure_demo_identity(tmp_path / "var" / "keys", "UBND xã Phước Lộc (DEMO)")
    signer = load_signer(demo.pkcs12, read_password(None, demo.password_file))
    plain = make_pdf(tmp_path / "plain.pdf")
    signed = tmp_path / "signed.pdf"
    sign_pdf(plain, signed, signer, agency_name="UBND xã Phước Lộc (DEMO)", font_cache_dir=tmp_path / "fonts")
    return signed, demo.ca_cert


@pytest.mark.tools
def test_already_signed_pdf_exits_7(tmp_path):
    signed, _ca = _demo_signed_pdf(tmp_path)
    result = digitize("ocr", "signed.pdf", "-o", "out.pdf", cwd=tmp_path)
    assert result.returncode == ExitCode.signed_input
    assert "already carries a digital signature" in result.stderr


@pytest.mark.tools
def test_tesseract_that_crashes_exits_8_with_its_message(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("pdftoppm"), bin_dir / "pdftoppm")
    real = shutil.which("tesseract")
    fake = bin_dir / "tesseract"
    # A fault double: answers the version and language probes, crashes on real work.
    fake.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version|--list-langs) exec {real} "$@";; esac\n'
        "echo 'Error in pixReadStream: simulated crash' >&2\nexit 134\n"
    )
    fake.chmod(0o755)
    page = tmp_path / "page.png"
    image = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(image).rectangle((40, 60, 360, 80), fill=0)  # a mark: a blank page is never read at all
    image.save(page, dpi=(200, 200))
    result = digitize("ocr", str(page), "-o", "out.pdf", cwd=tmp_path, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert result.returncode == ExitCode.tool_failed
    assert "simulated crash" in result.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_wrong_key_password_exits_9(tmp_path):
    from signing.identity import ensure_demo_identity

    demo = ensure_demo_identity(tmp_path / "keys", "UBND xã Phước Lộc (DEMO)")
    env = {"DIGITIZE_SIGNING__PKCS12": str(demo.pkcs12), "DIGITIZE_SIGNING__PKCS12_PASSWORD": "wrong-password"}
    result = digitize("doctor", cwd=tmp_path, env=env)
    assert result.returncode in (ExitCode.signing, ExitCode.missing_tool)
    assert "wrong password" in result.stdout
    assert "wrong-password" not in result.stdout + result.stderr


def test_verify_passes_a_signed_file_and_exits_10_on_one_flipped_byte(tmp_path):
    signed, _ca = _demo_signed_pdf(tmp_path)
    ok = digitize("verify", "signed.pdf", cwd=tmp_path)
    assert ok.returncode == ExitCode.ok, ok.stdout
    data = bytearray(signed.read_bytes())
    data[len(data) // 4] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(data))
    bad = digitize("verify", "tampered.pdf", "--json", cwd=tmp_path)
    assert bad.returncode == ExitCode.verification
    assert '"integrity"' in bad.stdout


def test_verify_speaks_vietnamese_by_default_and_its_json_stays_english(tmp_path):
    signed, _ca = _demo_signed_pdf(tmp_path)
    vietnamese = {"DIGITIZE_UI__LANGUAGE": "vi"}
    ok = digitize("verify", "signed.pdf", cwd=tmp_path, env=vietnamese)
    assert ok.returncode == ExitCode.ok, ok.stdout
    assert "signed.pdf: HỢP LỆ" in ok.stdout
    assert "[đạt ] tính toàn vẹn: giá trị băm sha256 của nội dung đã ký khớp" in ok.stdout
    assert "[đạt ] phạm vi ký: chữ ký số bao phủ toàn bộ tệp" in ok.stdout
    data = bytearray(signed.read_bytes())
    data[len(data) // 4] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(data))
    bad = digitize("verify", "tampered.pdf", cwd=tmp_path, env=vietnamese)
    assert bad.returncode == ExitCode.verification
    assert "tampered.pdf: KHÔNG HỢP LỆ" in bad.stdout
    assert "[LỖI ] tính toàn vẹn: " in bad.stdout and "FAIL" not in bad.stdout
    english = digitize("verify", "tampered.pdf", cwd=tmp_path)
    assert "tampered.pdf: NOT VALID" in english.stdout
    assert "[FAIL] integrity: " in english.stdout and "LỖI" not in english.stdout
    as_json = digitize("verify", "tampered.pdf", "--json", cwd=tmp_path, env=vietnamese)
    assert as_json.stdout == digitize("verify", "tampered.pdf", "--json", cwd=tmp_path).stdout
    assert '"name": "integrity"' in as_json.stdout and "LỖI" not in as_json.stdout and "chứng thư" not in as_json.stdout


@pytest.mark.slow
@pytest.mark.tools
def test_run_with_one_bad_item_exits_13_and_keeps_going(tmp_path):
    office = tmp_path / "var" / "inbox" / "tinh" / "ttpvhcc"
    office.mkdir(parents=True)
    sample = Path(__file__).parent.parent / "samples" / "inbox" / "tinh" / "ttpvhcc"
    for f in sample.iterdir():
        shutil.copy2(f, office)
    (office / "000.00.12.H08-261115-0099-KQ1.pdf").write_bytes(b"")
    result = digitize("run", "--level", "tinh", cwd=tmp_path,
                      env={"DIGITIZE_INTAKE__SETTLE_SECONDS": "0", "PREFECT_HOME": str(tmp_path / "prefect")})
    assert result.returncode == ExitCode.partial, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 archived, 1 failed" in result.stdout
    assert "Signed PDFs:" in result.stdout
    assert (tmp_path / "var" / "failed" / "tinh" / "ttpvhcc" / "000.00.12.H08-261115-0099-KQ1.pdf.error.json").is_file()


@pytest.mark.slow
def test_run_with_the_archive_on_s3_ends_naming_the_bucket_and_its_endpoint(tmp_path, monkeypatch):
    from storage.s3 import S3Archive
    from tests.storage_fixtures import TEST_CREDENTIALS, new_bucket, s3_settings, start_s3_endpoint, unique_bucket

    for name, value in TEST_CREDENTIALS.items():  # boto3 reads them from the environment, here and in the command
        monkeypatch.setenv(name, value)
    endpoint = start_s3_endpoint()
    try:
        archive = S3Archive(s3_settings(endpoint.url, unique_bucket("luu-tru")))
        new_bucket(archive)
        (tmp_path / "var" / "inbox").mkdir(parents=True)
        env = {**TEST_CREDENTIALS, "PREFECT_HOME": str(tmp_path / "prefect"), "DIGITIZE_UI__LANGUAGE": "vi",
               "DIGITIZE_ARCHIVE__BACKEND": "s3", "DIGITIZE_ARCHIVE__BUCKET": archive.bucket,
               "DIGITIZE_ARCHIVE__ENDPOINT_URL": endpoint.url, "DIGITIZE_ARCHIVE__ADDRESSING_STYLE": "path"}
        result = digitize("run", cwd=tmp_path, env=env)
    finally:
        endpoint.stop()
    assert result.returncode == ExitCode.ok, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"Bản sao điện tử đã ký: bucket S3 {archive.bucket} tại {endpoint.url}" in result.stdout
    assert f"tệp SQLite {tmp_path / 'var' / 'catalog.sqlite'}" in result.stdout
    assert "var/archive" not in result.stdout


def test_work_list_is_read_from_a_backlog_csv_or_a_plain_list(tmp_path):
    from cli.commands.run import read_work_list

    csv_file = tmp_path / "backlog.csv"
    csv_file.write_text("document,level,office\n000.31.25.H08-261120-0001-KQ1,xa,phuoc-loc\n", encoding="utf-8")
    plain = tmp_path / "list.txt"
    plain.write_text("000.31.25.H08-261120-0001-KQ1\n\n000.31.25.H08-261120-0002-KQ1\n", encoding="utf-8")
    assert read_work_list(csv_file) == ["000.31.25.H08-261120-0001-KQ1"]
    assert read_work_list(plain) == ["000.31.25.H08-261120-0001-KQ1", "000.31.25.H08-261120-0002-KQ1"]


@pytest.mark.slow
@pytest.mark.tools
def test_dry_run_lists_items_and_changes_nothing(tmp_path):
    office = tmp_path / "var" / "inbox" / "tinh" / "ttpvhcc"
    office.mkdir(parents=True)
    sample = Path(__file__).parent.parent / "samples" / "inbox" / "tinh" / "ttpvhcc"
    for f in sample.iterdir():
        shutil.copy2(f, office)
    before = sorted(p.name for p in office.iterdir())
    result = digitize("run", "--dry-run", cwd=tmp_path,
                      env={"DIGITIZE_INTAKE__SETTLE_SECONDS": "0", "PREFECT_HOME": str(tmp_path / "prefect")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "would be digitized" in result.stdout and "dry run" in result.stdout
    assert sorted(p.name for p in office.iterdir()) == before
    assert not (tmp_path / "var" / "archive").exists()
