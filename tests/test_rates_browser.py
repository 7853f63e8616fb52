"""The HTML rates report in a real browser (headless Chromium): charts and tables drawn, nothing off an A4 page.

Chromium lays the page out at the width of an A4 page's printable area (210 mm
less the 12 mm margins each side: 186 mm, 703 CSS pixels); a script added to
a copy of the page records every element's box, which ``--dump-dom`` hands
back. The screenshot of the same layout shows the pixels of the charts and
the tables, and ``--print-to-pdf`` the printed pages (size and count read with
pikepdf). Skipped, with the reason, where Chromium is not installed (Debian
package ``chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from digitize import i18n
from rates.html import render_html
from rates.queries import rates_report
from rates.targets import load_schedule
from tests.rates_fixtures import LEVELS, build_catalog

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium) for the browser test"),
]
A4_POINTS = (595.28, 841.89)
PRINTABLE_PX = 703  # 186 mm at 96 px per inch
BLUE = (0x1F, 0x5F, 0xA8)  # the rate reached
GREY = (0xC9, 0xCE, 0xD6)  # the target
BOXES = """<script>
const boxes = [...document.querySelectorAll("body *")].map(e => {
  const r = e.getBoundingClientRect();
  return {tag: e.tagName.toLowerCase(), cls: e.getAttribute("class") || "", left: r.left, right: r.right,
          top: r.top, bottom: r.bottom, width: r.width, height: r.height};
});
const out = document.createElement("pre");
out.id = "boxes";
out.textContent = JSON.stringify({inner: window.innerWidth, scroll: document.documentElement.scrollWidth, boxes});
document.body.appendChild(out);
</script>"""


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with its own profile (several test runs may share the machine)."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The Vietnamese report of the fixture catalog, laid out, shot and printed by Chromium."""
    folder = tmp_path_factory.mktemp("browser")
    with build_catalog(folder) as catalog:
        catalog.upsert_office("prov", "Trung tâm Phục vụ hành chính công tỉnh Bình Định", "tinh")  # a real name's length
        report = rates_report(catalog, date(2025, 6, 30), load_schedule(), LEVELS)
    with i18n.using("vi"):
        html = render_html(report)
    (folder / "report.html").write_text(html, encoding="utf-8")
    (folder / "measured.html").write_text(html.replace("</body>", BOXES + "</body>"), encoding="utf-8")
    size = f"--window-size={PRINTABLE_PX},4000"
    dom = _chromium(folder / "profile", size, "--virtual-time-budget=3000", "--dump-dom",
                    (folder / "measured.html").as_uri()).stdout
    found = re.search(r'<pre id="boxes">(.*?)</pre>', dom, flags=re.S)
    assert found, "the measuring script did not run"
    layout = json.loads(found[1].replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&amp;", "&"))
    _chromium(folder / "profile", size, f"--screenshot={folder / 'shot.png'}", (folder / "report.html").as_uri())
    _chromium(folder / "profile", "--no-pdf-header-footer", f"--print-to-pdf={folder / 'report.pdf'}",
              (folder / "report.html").as_uri())
    return {"layout": layout, "shot": Image.open(folder / "shot.png").convert("RGB"), "pdf": folder / "report.pdf"}


def _boxes(page, tag: str, cls: str = "") -> list[dict]:
    return [b for b in page["layout"]["boxes"] if b["tag"] == tag and (not cls or cls in b["cls"].split())]


def _count(image: Image.Image, box: dict, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels of ``colour`` inside ``box`` of the screenshot."""
    area = np.asarray(image.crop((int(box["left"]), int(box["top"]), int(box["right"]), int(box["bottom"]))))
    return int((np.abs(area.astype(int) - np.array(colour)) <= tolerance).all(axis=-1).sum())


def test_nothing_is_wider_than_the_printable_width_of_an_a4_page(page):
    layout = page["layout"]
    assert layout["inner"] == PRINTABLE_PX
    assert layout["scroll"] <= layout["inner"]
    off = [(b["tag"], b["cls"], b["left"], b["right"]) for b in layout["boxes"]
           if b["right"] > layout["inner"] + 0.5 or b["left"] < -0.5]
    assert off == []


def test_the_charts_are_drawn(page):
    charts = _boxes(page, "figure", "span-chart")
    assert len(charts) == 3 and all(c["width"] > 250 and c["height"] > 120 for c in charts)
    for chart in charts:  # the plan's years: grey target bars, and the blue rate reached where there is one
        assert _count(page["shot"], chart, GREY) > 500
    assert sum(_count(page["shot"], chart, BLUE) for chart in charts) > 500
    trend = _boxes(page, "figure", "trend-chart")
    assert len(trend) == 3 and sum(_count(page["shot"], c, BLUE) for c in trend) > 100  # the rate lines


def test_the_tables_are_drawn(page):
    tables = _boxes(page, "table")
    assert len(tables) == 7  # rates, span, trend, forecast, intake, backlog, orphans
    rates = _boxes(page, "table", "rates")[0]
    assert rates["height"] > 150
    cells = [b for b in _boxes(page, "td") if rates["top"] <= b["top"] and b["bottom"] <= rates["bottom"]]
    assert len(cells) == 9 * 12  # 3 levels, the total, 5 offices; 12 columns
    shot = page["shot"]
    if rates["bottom"] <= shot.height:  # the borders and the header's shade are painted
        assert _count(shot, rates, (0xBB, 0xBB, 0xBB), tolerance=20) > 500
        assert _count(shot, rates, (0xEE, 0xF1, 0xF5), tolerance=3) > 500


def test_it_prints_on_a4_pages(page):
    with pikepdf.open(page["pdf"]) as pdf:
        sizes = [(float(p.mediabox[2]), float(p.mediabox[3])) for p in pdf.pages]
        count = len(pdf.pages)
    assert all(size == pytest.approx(A4_POINTS, abs=1) for size in sizes)  # 210 x 297 mm
    assert 2 <= count <= 6  # the charts, then the tables from a new page
