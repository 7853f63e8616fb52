"""Each documented exit code, produced by a real failure through the real command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from digitize.errors import ExitCode

DIGITIZE = [sys.executable, "-m", "digitize"]


def digitize(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")}
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
    assert "encrypted" in result.stderr


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


@pytest.mark.tools
def test_doctor_passes_on_a_complete_install_and_makes_the_demo_key(tmp_path):
    result = digitize("doctor", cwd=tmp_path)
    assert result.returncode == ExitCode.ok, result.stdout + result.stderr
    assert "DEMO" in result.stdout
    assert (tmp_path / "var" / "keys" / "demo-agency.p12").is_file()


def test_doctor_reports_missing_tesseract_with_exit_5(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = digitize("doctor", cwd=tmp_path, env={"PATH": str(bin_dir)})
    assert result.returncode == ExitCode.missing_tool
    assert "fix: install it with: apt-get install tesseract-ocr" in result.stdout
