"""Pages scanned without colour are reported, or refused (issue 12, point 6).

Decree 30/2020/NĐ-CP asks for a colour scan of a digital copy. A grey page is
kept as it is (its colour is not invented) and listed in the page report, the
manifest and ``ScanResult.grey_pages``; ``ocr.require_colour = "refuse"`` stops
the document with exit 4, naming the pages.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import numpy as np
import pikepdf
import pytest
from PIL import Image

from digitize import cleanup, engine
from digitize.errors import BadInputError, ConfigError
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings, load_settings
from storage.manifest import build_manifest
from tests.conftest import SAMPLES
from tests.engine_fixtures import text_page

META = DocumentMeta("000.31.25.H08-261120-0002", "HS", 1, "xa", "phuoc-loc")


# --- telling a grey page from a colour one (no tools) -------------------------------


def test_a_grey_image_is_grey_even_stored_as_colour_with_a_little_noise():
    grey = np.full((400, 300), 230, np.uint8)
    grey[100:110, 20:280] = 20
    assert cleanup.is_grey(grey)
    as_colour = np.dstack([grey, grey, grey]).copy()
    as_colour[5, 5] = (200, 240, 255)  # one stray coloured pixel (compression noise)
    assert cleanup.is_grey(as_colour)


def test_cream_paper_or_a_blue_signature_make_a_page_colour():
    cream = np.full((400, 300, 3), (238, 245, 247), np.uint8)  # BGR of paper tone (247, 245, 238)
    assert not cleanup.is_grey(cream)
    white = np.full((400, 300, 3), 250, np.uint8)
    white[300:306, 150:250] = (160, 60, 30)  # a blue pen stroke, 0.5% of the page
    assert not cleanup.is_grey(white)
    white[300:306, 150:250] = 30  # the same stroke in black
    assert cleanup.is_grey(white)


# --- the manifest ------------------------------------------------------------------


def _manifest(**changes) -> bytes:
    values = dict(
        page_count=3, ocr_confidence=91.5, pades_level="B-B", signer="CN=UBND xã Phước Lộc",
        signing_time=datetime(2026, 11, 28, 3, 0, tzinfo=timezone.utc),
        tool_versions={"tesseract": "5.3.0"}, input_sha256="a" * 64, output_sha256="b" * 64,
    )
    values.update(changes)
    return build_manifest(META, **values)


def test_the_manifest_lists_grey_pages_and_is_unchanged_without_any():
    manifest = json.loads(_manifest(grey_pages=[3, 2]))
    assert manifest["grey_pages"] == [2, 3]
    assert _manifest(grey_pages=[]) == _manifest()
    assert "grey_pages" not in json.loads(_manifest())
    with pytest.raises(BadInputError, match="not a page"):
        _manifest(grey_pages=[4])


def test_require_colour_is_a_setting_with_warn_as_default(tmp_path):
    assert OcrSettings().require_colour == "warn"
    config = tmp_path / "digitize.toml"
    config.write_text('[ocr]\nrequire_colour = "refuse"\n', encoding="utf-8")
    assert load_settings(config, environ={}).ocr.require_colour == "refuse"


def test_an_unknown_require_colour_value_is_a_config_error():
    with pytest.raises(ConfigError, match="require_colour"):
        engine.require_colour([], "sometimes")


# --- through the engine (Tesseract) ---------------------------------------------------


@pytest.fixture(scope="module")
def dossier(tmp_path_factory):
    """A folder dossier: page 1 in colour (cream paper), page 2 the same page scanned in grey."""
    folder = tmp_path_factory.mktemp("grey") / "000.31.25.H08-261120-0002-HS1"
    folder.mkdir()
    page = text_page(dpi=200)
    page.save(folder / "page-001.png")
    Image.fromarray(page.pixels).convert("L").save(folder / "page-002.png", dpi=(200, 200))
    return folder


@pytest.mark.tools
def test_a_grey_page_is_reported_and_kept_while_colour_stays_colour(dossier, tmp_path):
    result = engine.scan_to_pdfa(dossier, META, tmp_path / "work", OcrSettings(workers=1), default_dpi=300)
    assert [p.grey for p in result.pages] == [False, True]
    assert result.grey_pages == [2]
    assert dataclasses.asdict(result.pages[1])["grey"] is True  # what a run summary reads
    with pikepdf.open(result.pdf) as pdf:
        spaces = [p.Resources.XObject.Im0.ColorSpace for p in pdf.pages]
    assert spaces == [pikepdf.Name.DeviceRGB, pikepdf.Name.DeviceGray]


@pytest.mark.tools
def test_require_colour_refuse_stops_the_document_naming_the_grey_page(dossier, tmp_path):
    settings = OcrSettings(workers=1, require_colour="refuse")
    with pytest.raises(BadInputError) as info:
        engine.scan_to_pdfa(dossier, META, tmp_path / "work", settings, default_dpi=300)
    assert info.value.exit_code == 4
    assert "page-002.png" in info.value.message and "page-001.png" not in info.value.message
    assert "colour" in info.value.message and "colour" in info.value.hint
    assert str(tmp_path) not in info.value.message  # the page as dropped, not a work path


@pytest.mark.tools
@pytest.mark.slow
def test_the_grey_page_of_sample_0002_hs1_is_reported(tmp_path):
    folder = SAMPLES / "inbox" / "xa" / "phuoc-loc" / "000.31.25.H08-261120-0002-HS1"
    result = engine.scan_to_pdfa(folder, META, tmp_path / "work", OcrSettings(workers=1), default_dpi=300)
    assert result.grey_pages == [2]
