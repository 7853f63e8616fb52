"""The rates report a person reads, in Vietnamese and in English: HTML, text, the flow's summary; and the stable
forms (CSV, JSON) that stay English, ISO and with a decimal point whatever the language."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date

import pytest

from cli.main import main
from digitize import i18n
from rates.html import render_html
from rates.queries import rates_report
from rates.tables import human_tables, render_text
from rates.targets import load_schedule
from tests.conftest import SAMPLES
from tests.rates_fixtures import LEVELS, build_catalog

END = date(2025, 6, 30)


@pytest.fixture
def report(tmp_path):
    with build_catalog(tmp_path) as catalog:
        yield rates_report(catalog, END, load_schedule(), LEVELS)


def _text(html: str) -> str:
    """The words of a page (tags, styles and attribute values dropped)."""
    body = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_the_html_report_is_vietnamese_by_the_readers_language(report):
    with i18n.using("vi"):
        html = render_html(report)
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"vi\">")
    assert unicodedata.is_normalized("NFC", html)
    words = _text(html)
    assert "Số hóa kết quả giải quyết TTHC: tỷ lệ số hóa đến ngày 30/06/2025" in words
    assert "cấp xã: 40,0% trên 5 kết quả còn hiệu lực, chỉ tiêu 95%" in words  # decimal comma
    assert "Chỉ tiêu và kết quả thực hiện theo cấp" in words and "chưa đạt" in words
    for english in ("in force", "digitized", "behind", "target", "Backlog", "level", "office"):
        assert not re.search(rf"\b{english}\b", words), english
    assert "2025-06-30" not in words and "40.0%" not in words


def test_the_html_report_is_english_when_the_reader_chose_english(report):
    with i18n.using("en"):
        html = render_html(report)
    assert '<html lang="en">' in html
    words = _text(html)
    assert "Digitization of administrative procedure results: rates at 2025-06-30" in words
    assert "commune level: 40.0% of 5 results in force, target 95%" in words
    assert "chỉ tiêu" not in words


def test_the_html_report_shows_the_plans_whole_span_per_level_target_against_actual(report):
    with i18n.using("vi"):
        html = render_html(report)
    charts = re.findall(r'<figure class="chart span-chart">.*?</figure>', html, flags=re.S)
    assert len(charts) == 3  # tinh, huyen, xa
    for chart in charts:
        years = re.findall(r'<text class="year"[^>]*>([^<]+)</text>', chart)
        assert years == ["2022", "2023", "2024", "30/06/2025"]
        assert chart.count('class="target"') == chart.count('class="actual"') == 4
    tinh = charts[0]
    # 2022 target 50% of the plot height, the 2025 rate 50% (1 of 2): equal heights; 2025's target 100%.
    heights = [float(h) for h in re.findall(r'class="target" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"',
                                            tinh)]
    actual = [float(h) for h in re.findall(r'class="actual" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"',
                                           tinh)]
    assert heights[0] == actual[-1] and heights[-1] == pytest.approx(2 * heights[0])
    assert "<script" not in html and "http" not in html and "src=" not in html


def test_the_html_report_is_laid_out_for_a4(report):
    html = render_html(report)
    assert "@page { size: A4 portrait;" in html
    assert "max-width: 186mm" in html  # 210 mm less the page's margins
    assert "break-inside: avoid" in html and "thead { display: table-header-group; }" in html


@pytest.mark.parametrize(("language", "expected", "absent"), [
    ("vi", ["Kết quả còn hiệu lực đến ngày 30/06/2025: số hóa so với chỉ tiêu năm 2025", "cấp xã", "40,0%",
            "chưa đạt", "Tồn đọng: kết quả còn hiệu lực chưa được số hóa", "30/07/2025"], ["40.0%", "2025-06-30"]),
    ("en", ["Results in force at 2025-06-30: digitized against the 2025 target", "commune level", "40.0%",
            "behind", "Backlog: results in force not digitized", "2025-07-30"], ["40,0%", "30/06/2025"]),
])
def test_the_text_report_is_in_the_readers_language(report, language, expected, absent):
    with i18n.using(language):
        text = render_text(human_tables(report))
    for words in expected:
        assert words in text, words
    for words in absent:
        assert words not in text, words
    assert all(line == line.rstrip() for line in text.splitlines())


def test_csv_and_json_stay_english_iso_and_decimal_point_in_vietnamese(settings_env, capsys):
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    capsys.readouterr()
    assert main(["report", "--as-of", "2025-06-15", "--format", "json"]) == 0  # ui.language is vi
    data = json.loads(capsys.readouterr().out)
    assert data["period_end"] == "2025-06-15"
    xa = next(r for r in data["rates"] if r["scope"] == "level" and r["level"] == "xa")
    assert set(xa) >= {"in force", "digitized", "rate", "target", "status"} and xa["status"] == "behind"
    assert re.fullmatch(r"\d+\.\d%|-", xa["rate"])
    assert [p["at"] for p in data["span"] if p["level"] == "xa"] == ["2022-12-31", "2023-12-31", "2024-12-31",
                                                                       "2025-06-15"]
    assert main(["report", "--as-of", "2025-06-15", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:6] == ["scope", "level", "office", "name", "office status", "in force"]


def test_the_cli_text_report_is_vietnamese_by_default(settings_env, capsys):
    assert main(["offices", "import", str(SAMPLES / "offices.csv")]) == 0
    assert main(["inventory", "import", str(SAMPLES / "inventory.csv")]) == 0
    capsys.readouterr()
    assert main(["report", "--as-of", "2025-06-15"]) == 0
    out = capsys.readouterr().out
    assert "Kết quả còn hiệu lực đến ngày 15/06/2025" in out and "Trung tâm Phục vụ hành chính công tỉnh" in out


@pytest.mark.parametrize(("language", "expected"), [
    ("vi", ["# Tỷ lệ số hóa đến ngày 30/06/2025", "| xã | 5 | 2 | 40,0% | 95% | chưa đạt | 3 | 14/08/2025 |",
            "Tồn đọng: 4 kết quả"]),
    ("en", ["# Digitization rates at 2025-06-30", "| commune | 5 | 2 | 40.0% | 95% | behind | 3 | 2025-08-14 |",
            "Backlog: 4 result(s)"]),
])
def test_the_flows_summary_is_in_the_readers_language(report, language, expected):
    from flows.rates import summary_markdown

    with i18n.using(language):
        markdown = summary_markdown(report)
    for words in expected:
        assert words in markdown, words
