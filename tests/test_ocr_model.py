"""The Tesseract model folder (issue 14): ocr.tessdata_dir, passed as --tessdata-dir, and doctor's word on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli import doctor
from digitize import ocr, tools
from digitize.errors import MissingToolError
from digitize.settings import load_settings
from tests.engine_fixtures import text_page


def test_auto_is_var_tessdata_once_set_up_put_a_model_there_else_the_os_folder(tmp_path):
    auto = {"DIGITIZE_OCR__TESSDATA_DIR": "auto"}
    assert load_settings(environ=auto, base_dir=tmp_path).ocr.tessdata_dir == ""
    (tmp_path / "var" / "tessdata").mkdir(parents=True)
    (tmp_path / "var" / "tessdata" / "vie.traineddata").write_bytes(b"model")
    assert load_settings(environ=auto, base_dir=tmp_path).ocr.tessdata_dir == str(tmp_path / "var" / "tessdata")
    assert load_settings(environ={}, base_dir=tmp_path).ocr.tessdata_dir == ""  # the default: the OS model
    # "" always means the OS folder; a relative folder is the configuration's
    assert load_settings(environ={"DIGITIZE_OCR__TESSDATA_DIR": ""}, base_dir=tmp_path).ocr.tessdata_dir == ""
    mine = load_settings(environ={"DIGITIZE_OCR__TESSDATA_DIR": "models"}, base_dir=tmp_path).ocr.tessdata_dir
    assert mine == str(tmp_path / "models")


def _model_folder(folder: Path, *, vie: bool = True) -> Path:
    """A tessdata folder as set-up makes it: links to the OS package's files (Vietnamese only if ``vie``)."""
    os_folder = tools.tessdata_folder("")
    assert os_folder is not None
    folder.mkdir()
    for entry in os_folder.iterdir():
        if vie or entry.name != "vie.traineddata":
            os.symlink(entry, folder / entry.name)
    return folder


@pytest.mark.tools
def test_tesseract_reads_with_the_models_of_the_folder_given(tmp_path):
    folder = _model_folder(tmp_path / "tessdata")
    tools.require_languages("vie", str(folder))
    assert {"vie", "osd", "eng"} <= tools.tesseract_languages(str(folder))
    assert ocr.vie_model(str(folder)) == "other"  # the OS file, but not in the OS folder
    assert ocr.vie_model("") == "fast (OS package)"
    page = text_page(dpi=200).save(tmp_path / "page.png")
    read = ocr.ocr_page(page, 1, 200, tmp_path / "out", languages="vie", timeout=120, tessdata_dir=str(folder))
    assert "Phước Lộc" in read.text


@pytest.mark.tools
def test_a_missing_model_is_named_with_its_folder_and_doctor_says_so(tmp_path):
    without = _model_folder(tmp_path / "no-vie", vie=False)
    with pytest.raises(MissingToolError, match="no-vie"):
        tools.require_languages("vie", str(without))
    with pytest.raises(MissingToolError, match="does not exist"):
        tools.require_languages("vie", str(tmp_path / "nowhere"))

    settings = load_settings(environ={"DIGITIZE_OCR__TESSDATA_DIR": str(without)}, base_dir=tmp_path)
    check = doctor.check_languages(settings)
    assert not check.ok and "vie" in check.detail and str(without) in check.detail
    fine = doctor.check_languages(load_settings(environ={}, base_dir=tmp_path))
    assert fine.ok and "Vietnamese model fast (OS package)" in fine.detail
