"""Tone-mark correction (issue 14): only unsure words change, by context, in the case they were read."""

from __future__ import annotations

import subprocess

import pytest

from digitize import tonemarks

TEXTS = [
    "Ủy ban nhân dân thành phố Quy Nhơn, thành phố Hà Nội, thành phố Huế.",
    "Phó Chủ tịch Ủy ban nhân dân; phó chủ tịch hội đồng.",
    "Tổ quốc Việt Nam. Hết hạn thì nộp lại.",
    "Làm việc tại thành phố; làm đơn.",
]


def model() -> tonemarks.ToneModel:
    return tonemarks.ToneModel.from_texts(TEXTS)


def test_skeleton_drops_every_mark_but_keeps_d_bar():
    assert tonemarks.skeleton("Phố") == "pho"
    assert tonemarks.skeleton("quốc") == tonemarks.skeleton("quôc") == "quoc"
    assert tonemarks.skeleton("Đồng") == "đong"


def test_an_unsure_syllable_gets_the_tone_its_neighbours_ask_for():
    m = model()
    assert tonemarks.correct(["thành", "phó", "Quy"], [96, 41, 95], m, below=70) == {1: "phố"}
    # the same letters after "Ủy ban" ... "Phó Chủ tịch" stay "Phó"
    assert tonemarks.correct(["Phó", "Chủ", "tịch"], [41, 95, 95], m, below=70) == {}
    # capitals and punctuation are kept
    assert tonemarks.correct(["THÀNH", "PHÓ,"], [96, 30], m, below=70) == {1: "PHỐ,"}
    assert tonemarks.correct(["Tô", "quôc", "Việt"], [40, 40, 95], m, below=70) == {0: "Tổ", 1: "quốc"}
    # a word the model never saw beside these neighbours is left as read
    assert tonemarks.correct(["mười", "lăm", "ngày"], [95, 40, 95], m, below=70) == {}


def test_a_word_tesseract_is_sure_of_is_never_changed():
    m = model()
    assert tonemarks.correct(["thành", "phó", "Quy"], [96, 70, 95], m, below=70) == {}
    assert tonemarks.correct(["thành", "phó", "Quy"], [96, 99, 95], m, below=100) == {1: "phố"}
    # numbers, codes and words of other letters are not syllables
    assert tonemarks.correct(["số", "412/QĐ-UBND", "Logistics"], [10, 10, 10], m, below=70) == {}


def test_the_shipped_model_loads_and_knows_the_city():
    shipped = tonemarks.load_model()
    assert len(shipped.unigrams) > 500
    assert tonemarks.correct(["thành", "phó", "Quy", "Nhơn"], [95, 40, 95, 95], shipped, below=70) == {1: "phố"}


@pytest.mark.tools
def test_in_the_text_layer_every_word_read_surely_is_left_as_tesseract_read_it(tmp_path):
    from digitize import ocr
    from tests.engine_fixtures import text_page

    page = text_page(dpi=200).save(tmp_path / "page.png")
    read = ocr.ocr_page(page, 1, 200, tmp_path / "page", languages="vie", timeout=120, tone_below=80)
    words = ocr.read_words((tmp_path / "page.tsv").read_text(encoding="utf-8"))
    layer = subprocess.run(["pdftotext", "-raw", str(read.text_pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(layer) == len(words) > 50
    assert all(shown == word.text for shown, word in zip(layer, words) if word.conf >= 80)
    assert "Phước Lộc" in read.text
