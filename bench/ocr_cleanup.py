"""What each cleanup step does to Tesseract's accuracy, and vie against vie+eng.

For every sample page (turned upright and deskewed by the engine's own
functions, so only the cleanup differs) and for the real scans of
``../shared/data/ocrmypdf-resources`` (when present), Tesseract reads the page
in several variants of the OCR image:

- ``raw``: the page as stored (no upright, no deskew): plain Tesseract;
- ``luma``: upright, deskewed, ordinary grey (BT.601 luma);
- ``red``: upright, deskewed, red channel (seals and red ink fade);
- ``red+border``: and dark scanner borders whitened;
- ``red+border+flat``: and illumination flattened, always;
- ``red+border+flat-if-uneven``: flattened only when the background is uneven;
- ``full``: that and median despeckle: what ``digitize`` uses.

It prints the CER against the known text (samples, ``linn.png``) and the mean
word confidence (all pages). ``--langs vie,vie+eng`` repeats the ``full``
variant for each language set.

    .venv/bin/python bench/ocr_cleanup.py [--langs vie,vie+eng] [--no-real]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.ocr_bench import cer  # noqa: E402
from digitize import cleanup, ocr, pages  # noqa: E402

SAMPLES = REPO / "samples"
REAL = REPO.parent / "shared" / "data" / "ocrmypdf-resources"
REAL_FILES = ("linn.png", "skew.pdf", "rotated_skew.pdf", "epson.pdf", "kcs.pdf", "c02-22.pdf", "baiona_gray.png")
ENV = {"OMP_THREAD_LIMIT": "1"}


def variants(image: np.ndarray, rotation: int) -> dict[str, np.ndarray]:
    """The OCR images compared, from a BGR (or grey) page and its known quarter turn."""
    upright = cleanup.rotate_quarter(image, rotation)
    red = cleanup.ocr_gray(upright)
    skew = cleanup.estimate_skew(red)
    luma = cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY) if upright.ndim == 3 else upright
    luma, red = cleanup.rotate_small(luma, -skew), cleanup.rotate_small(red, -skew)
    border = cleanup.remove_dark_borders(red)
    flat = cleanup.flatten_illumination(border, always=True)
    if_uneven = cleanup.flatten_illumination(border)
    raw = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return {"raw": raw, "luma": luma, "red": red, "red+border": border, "red+border+flat": flat,
            "red+border+flat-if-uneven": if_uneven, "full": cleanup.despeckle(if_uneven)}


def read(gray: np.ndarray, dpi: float, work: Path, lang: str) -> tuple[str, float]:
    path = work / "v.png"
    cv2.imwrite(str(path), gray)
    result = ocr.ocr_page(path, 1, dpi, work / "v", languages=lang, timeout=600)
    return result.text, result.confidence


def sample_pages(work: Path):
    for row in csv.DictReader((SAMPLES / "truth" / "pages.csv").open(encoding="utf-8")):
        plan = pages.plan_pages(SAMPLES / "inbox" / row["file"], default_dpi=300)
        page = plan.pages[int(row["page"]) - 1] if len(plan.pages) > 1 else plan.pages[0]
        image = cv2.imread(str(pages.render_page(page, work, timeout=600)), cv2.IMREAD_COLOR)
        truth = (SAMPLES / "truth" / row["document"] / f"page-{int(row['page']):03d}.txt").read_text(encoding="utf-8")
        # pages.csv gives the clockwise turn of the stored image; undo it
        undo = (360 - int(row["rotation"])) % 360
        yield f"{row['document']} p{row['page']}", cleanup.maybe_gray(image), page.dpi, undo, truth


def real_pages(work: Path):
    for name in REAL_FILES:
        path = REAL / name
        if not path.is_file():
            continue
        plan = pages.plan_pages(path, default_dpi=300)
        for page in plan.pages:
            image = cv2.imread(str(pages.render_page(page, work, timeout=600)), cv2.IMREAD_COLOR)
            rotation = ocr.detect_rotation(cleanup.ocr_gray(image), page.dpi, work / "osd.png", timeout=600)
            truth = path.with_suffix(".txt").read_text(encoding="utf-8") if path.with_suffix(".txt").is_file() else None
            yield page.origin, cleanup.maybe_gray(image), page.dpi, rotation, truth


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--langs", default="vie")
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()
    langs = args.langs.split(",")
    with tempfile.TemporaryDirectory(prefix="ocr-cleanup-") as tmp:
        work = Path(tmp)
        sets = [("samples", sample_pages(work))] + ([] if args.no_real else [("real", real_pages(work))])
        for label, source in sets:
            totals: dict[str, list[float]] = {}
            print(f"\n## {label}\n\n| page | variant | lang | CER % | confidence |\n|---|---|---|---|---|")
            for name, image, dpi, rotation, truth in source:
                for variant, gray in variants(image, rotation).items():
                    for lang in (langs if variant == "full" else langs[:1]):
                        text, conf = read(gray, dpi, work, lang)
                        error = cer(text, truth) * 100 if truth is not None else float("nan")
                        key = f"{variant} {lang}"
                        totals.setdefault(key, []).extend([error, conf])
                        print(f"| {name} | {variant} | {lang} | {error:.2f} | {conf:.1f} |", flush=True)
            print(f"\n| {label}: variant | mean CER % (pages with truth) | mean confidence |\n|---|---|---|")
            for key, values in totals.items():
                errors = [e for e in values[0::2] if e == e]
                mean_cer = f"{sum(errors) / len(errors):.2f}" if errors else "-"
                print(f"| {key} | {mean_cer} | {sum(values[1::2]) / len(values[1::2]):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
