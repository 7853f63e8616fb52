"""Make a held-out-like backlog: dossiers of 1-4 scanned pages in a scanner inbox, with their exact text.

Built from the sample generator (``samples/render.py``, ``samples/dossiers.py``,
``samples/layout.py``), but never the sample images themselves: every page is
drawn again at 300 dpi with its own randomness, names and numbers changed, so
no two pages (and no two inputs) are the same bytes. What a duplex scanner at a
commune's one-stop unit writes for a catch-up of old results:

- dossiers of 1-3 pages of text; a quarter of them (chosen at random) also
  carry a **blank back page** (paper tone, grain and dust specks, nothing
  written): 1-4 pages;
- each page skewed uniformly within **+-4 degrees**; **15 %** of all pages
  (text pages picked at random) **upside down** (fed the wrong way round);
- pages are JPEG (q75, 300 dpi in the file); most dossiers are image-only PDFs
  holding those very JPEG bytes (as scanners write them), some single pages
  are bare ``.jpg`` files and some dossiers multi-page JPEG-in-TIFF.

Layout (under ``--out``, default ``var/bench/backlog-<pages>-s<seed>``)::

    inbox/xa/<office>/<dossier code>-KQ1.pdf|.jpg|.tif   the scanner folder
    pages/<document>-NNN.jpg       each page's JPEG as the scanner wrote it (the raw-Tesseract floor reads these)
    truth/<document>/page-NNN.txt  the text drawn on each page, NFC, one line per drawn line ("" for a blank)
    backlog.json                   per document: file, office, and per page: image, skew, rotation, blank

The same ``--seed`` and ``--pages`` give the same set (with the same Pillow,
libjpeg and fonts). The set is made once: a complete set made from the same
plan is kept (``backlog.json`` is written last).
Never commit it (``var/`` is ignored).

    .venv/bin/python bench/make_backlog.py [--pages 100] [--seed 13] [--out DIR] [--jobs 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import re
import shutil
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "samples"))
sys.dont_write_bytecode = True  # keep samples/ free of __pycache__

import dossiers  # noqa: E402
from layout import Page, Scan, Text  # noqa: E402
from render import render_page, scan  # noqa: E402

DPI = 300
JPEG_QUALITY = 75
BLANK_BACK_SHARE = 0.25
UPSIDE_DOWN_SHARE = 0.15  # of all pages (text pages chosen at random)
MAX_SKEW_DEG = 4.0
#: Commune offices of the set and their dossier-code prefixes (invented, as in samples/).
OFFICES = (("phuoc-loc", "000.31.25.H08"), ("nhon-binh", "000.31.26.H08"), ("phuoc-thanh", "000.31.27.H08"))
#: The text pages of the samples a dossier's pages are drawn from.
TEMPLATES = (
    "MARITAL_STATUS_CERTIFICATE", "CONTROL_SLIP", "BIRTH_REGISTRATION_FORM", "BIRTH_CERTIFICATE",
    "ALLOWANCE_DECISION_1", "ALLOWANCE_DECISION_2", "HOUSEHOLD_BUSINESS_CERTIFICATE", "CRIMINAL_RECORD_CERTIFICATE",
)
#: The people named on the sample pages, each given another name on every page (place names stay).
SAMPLE_PEOPLE = (
    "Huỳnh Thị Tám", "Hồ Thị Lệ", "Lê Thị Thanh Tâm", "Lê Văn Thành", "Nguyễn Hoàng Phúc", "Nguyễn Thị Kim Oanh",
    "Nguyễn Thị Thu Hà", "Phạm Minh Tuấn", "Phạm Thị Ngọc Lan", "Trần Thị Mỹ Hạnh", "Trần Quốc Bảo",
    "Võ Ngọc Bảo An", "Võ Văn Hùng", "Đặng Quốc Việt", "Đỗ Minh Khang",
)
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Võ", "Huỳnh", "Hồ", "Đặng", "Đỗ", "Bùi", "Ngô", "Dương", "Hoàng", "Phan")
MIDDLE = ("Thị", "Văn", "Minh", "Quốc", "Ngọc", "Hữu", "Thị Thu", "Thị Kim", "Đức", "Xuân")
GIVEN = ("Thành", "Hạnh", "Hà", "Tuấn", "Khang", "Lan", "Bảo", "Phúc", "Oanh", "Tám", "Tâm", "Hùng", "Việt",
         "Dũng", "Hương", "Quỳnh", "Lộc", "Nghĩa", "Trường", "Phượng", "Thảo", "Đức", "Nhân", "Yến")


@dataclass(frozen=True)
class PagePlan:
    """One page to draw: which template (None: a blank back), its skew and turn."""

    document: str
    number: int
    template: str | None
    skew_deg: float
    rotation: int


@dataclass(frozen=True)
class DocumentPlan:
    """One input of the inbox: its code, office, container (pdf, jpg, tif) and pages."""

    document: str
    office: str
    container: str
    pages: tuple[PagePlan, ...]

    @property
    def file(self) -> str:
        return f"inbox/xa/{self.office}/{self.document}.{self.container}"


def plan_backlog(pages: int, seed: int) -> list[DocumentPlan]:
    """Dossiers until ``pages`` pages are reached; the same seed gives the same plan.

    A quarter of the dossiers (rounded, chosen at random) end with a blank back; 15 % of all pages
    (rounded, text pages chosen at random) are upside down."""
    rng = np.random.default_rng(seed)
    drafts: list[tuple[str, str, list[str | None]]] = []
    while sum(len(t) for *_, t in drafts) + round(BLANK_BACK_SHARE * len(drafts)) < pages:
        n = len(drafts) + 1
        office, prefix = OFFICES[n % len(OFFICES)]
        day = 240101 + int(rng.integers(0, 12)) * 100 + int(rng.integers(0, 28))
        chosen = rng.choice(len(TEMPLATES), size=int(rng.integers(1, 4)), replace=False)
        drafts.append((f"{prefix}-{day}-{n:04d}-KQ1", office, [TEMPLATES[t] for t in chosen]))
    for d in rng.choice(len(drafts), size=round(BLANK_BACK_SHARE * len(drafts)), replace=False):
        drafts[d][2].append(None)
    total = sum(len(t) for *_, t in drafts)
    text = [(d, i) for d, (*_, t) in enumerate(drafts) for i, template in enumerate(t) if template is not None]
    upside_down = {text[k] for k in rng.choice(len(text), size=round(UPSIDE_DOWN_SHARE * total), replace=False)}
    plans = []
    for d, (document, office, templates) in enumerate(drafts):
        page_plans = tuple(
            PagePlan(document, i + 1, template, round(float(rng.uniform(-MAX_SKEW_DEG, MAX_SKEW_DEG)), 2),
                     180 if (d, i) in upside_down else 0)
            for i, template in enumerate(templates))
        form = rng.random()
        container = ("jpg" if len(page_plans) == 1 and form < 0.5
                     else "tif" if len(page_plans) > 1 and form < 0.15 else "pdf")
        plans.append(DocumentPlan(document, office, container, page_plans))
    return plans


def varied(page: Page, rng: np.random.Generator) -> Page:
    """``page`` with other numbers (3 digits or more; years, days and months stay) and other people (each
    keeps one new name on the page, in the same case), so its text is new."""
    people = {}
    for name in SAMPLE_PEOPLE:
        new = " ".join(str(rng.choice(words)) for words in (FAMILY, MIDDLE, GIVEN))
        people[name], people[name.upper()] = new, new.upper()
    pattern = re.compile("|".join(map(re.escape, sorted(people, key=len, reverse=True))))

    def new_text(text: str) -> str:
        text = pattern.sub(lambda m: people[m.group(0)], text)
        return re.sub(r"\d{3,}", lambda m: m.group(0) if re.fullmatch(r"(19|20)\d\d", m.group(0))
                      else "".join(str(int(d)) for d in rng.integers(0, 10, len(m.group(0)))), text)

    def block(items: tuple) -> tuple:
        return tuple(dataclasses.replace(i, text=new_text(i.text)) if isinstance(i, Text) else i for i in items)

    return dataclasses.replace(
        page, header_left=block(page.header_left), header_right=block(page.header_right), body=block(page.body),
        footer_left=block(page.footer_left), footer_right=block(page.footer_right),
    )


def draw(plan: PagePlan, seed: int) -> tuple[bytes, list[str]]:
    """The page's JPEG (q75, 300 dpi) as a scanner writes it, and the lines of text drawn on it."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{plan.document}/{plan.number}".encode())])
    content = Page() if plan.template is None else getattr(dossiers, plan.template)
    if plan.template is not None:
        try:
            rendered = render_page(varied(content, rng), DPI, rng)
        except ValueError:  # the new names made the page overflow: keep its own text
            rendered = render_page(content, DPI, rng)
    else:
        rendered = render_page(content, DPI, rng)
    image = scan(rendered, Scan(content, plan.skew_deg, plan.rotation), DPI, rng)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, dpi=(DPI, DPI))
    return out.getvalue(), rendered.lines


def _draw_job(job: tuple[PagePlan, int, str]) -> None:
    plan, seed, root = job
    jpeg, lines = draw(plan, seed)
    base = Path(root)
    (base / "pages" / f"{plan.document}-{plan.number:03d}.jpg").write_bytes(jpeg)
    truth = base / "truth" / plan.document / f"page-{plan.number:03d}.txt"
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def write_input(root: Path, plan: DocumentPlan) -> None:
    """The document as the scanner leaves it in the inbox, from its page JPEGs."""
    import img2pdf  # the bench extra; the plan alone (tests) needs none of it

    jpegs = [root / "pages" / f"{p.document}-{p.number:03d}.jpg" for p in plan.pages]
    target = root / plan.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if plan.container == "jpg":
        shutil.copyfile(jpegs[0], target)
    elif plan.container == "pdf":  # the JPEG bytes themselves, page size from the DPI
        target.write_bytes(img2pdf.convert([str(j) for j in jpegs]))
    else:  # multi-page TIFF, JPEG-compressed YCbCr as scanners store it
        images = [Image.open(j).convert("YCbCr") for j in jpegs]
        images[0].save(target, "TIFF", save_all=True, append_images=images[1:], dpi=(DPI, DPI),
                       compression="jpeg", quality=JPEG_QUALITY)


def make_backlog(out: Path, pages: int, seed: int, jobs: int) -> list[DocumentPlan]:
    """Write the set under ``out`` (kept when already complete); returns its plan."""
    plans = plan_backlog(pages, seed)
    index = out / "backlog.json"
    documents = [{**dataclasses.asdict(d), "file": d.file} for d in plans]
    if index.is_file() and json.loads(index.read_text(encoding="utf-8"))["documents"] == json.loads(
            json.dumps(documents)):  # made already, from this very plan
        return plans
    shutil.rmtree(out, ignore_errors=True)
    (out / "pages").mkdir(parents=True)
    todo = [(p, seed, str(out)) for d in plans for p in d.pages]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_draw_job, todo))
    for plan in plans:
        write_input(out, plan)
    index.write_text(json.dumps({
        "seed": seed, "pages": sum(len(d.pages) for d in plans), "dpi": DPI,
        "documents": documents,
    }, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="at least this many pages in all")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, help="default: var/bench/backlog-<pages>-s<seed>")
    parser.add_argument("--jobs", type=int, default=2, help="processes drawing pages")
    args = parser.parse_args()
    out = args.out or REPO / "var" / "bench" / f"backlog-{args.pages}-s{args.seed}"
    plans = make_backlog(out, args.pages, args.seed, args.jobs)
    pages = [p for d in plans for p in d.pages]
    print(f"{out}: {len(plans)} dossiers, {len(pages)} pages "
          f"({sum(p.template is None for p in pages)} blank backs, {sum(p.rotation == 180 for p in pages)} upside down; "
          f"{sum(d.container == 'pdf' for d in plans)} PDF, {sum(d.container == 'jpg' for d in plans)} JPEG, "
          f"{sum(d.container == 'tif' for d in plans)} TIFF)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
