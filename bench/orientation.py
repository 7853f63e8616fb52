"""How often the orientation guess is right, unsure or wrong: every page in all four quarter turns.

Pages: the sample pages and, with ``--extra DIR``, every PDF/PNG in DIR (e.g.
the OCRmyPDF test files of ../shared/data). Upright is what Tesseract OSD
says of the page as stored (check the sheet it writes with ``--sheet``).

    .venv/bin/python bench/orientation.py [--extra ../shared/data/ocrmypdf-resources] [--sheet var/bench/up.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from digitize import cleanup, ocr, pages  # noqa: E402
from digitize.errors import DigitizeError  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "inbox"


def upright_pages(sources: list[Path], work: Path) -> list[tuple[str, np.ndarray]]:
    found = []
    for source in sources:
        try:
            plan = pages.plan_pages(source, default_dpi=300, existing_text="redo", signed_input="keep-original")
        except DigitizeError as e:
            print(f"skipped {source.name}: {e.message}")
            continue
        for page in plan.pages:
            image = cv2.imread(str(pages.render_page(page, work, timeout=120)), cv2.IMREAD_COLOR)
            gray = cleanup.ocr_gray(cleanup.maybe_gray(image))
            turn = ocr.detect_rotation(gray, page.dpi, work / "osd.png", timeout=120)
            found.append((page.origin, cleanup.rotate_quarter(gray, turn)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=Path, help="a folder of more pages (PDF, PNG, TIFF, JPEG)")
    parser.add_argument("--sheet", type=Path, help="write thumbnails of the upright pages here, to check them")
    args = parser.parse_args()
    sources = sorted(p for p in SAMPLES.rglob("*") if p.suffix.lower() in pages.INPUT_SUFFIXES
                     and p.parent.suffix == "" and not p.parent.name.endswith("-HS1"))
    sources += sorted(SAMPLES.rglob("*-HS1"))
    if args.extra:
        sources += sorted(p for p in args.extra.iterdir() if p.suffix.lower() in pages.INPUT_SUFFIXES)
    with tempfile.TemporaryDirectory() as tmp:
        upright = upright_pages(sources, Path(tmp))
    outcome: Counter[str] = Counter()
    seconds = []
    for origin, page in upright:
        row = []
        for turn in (0, 90, 180, 270):
            start = time.perf_counter()
            guess = cleanup.guess_orientation(cleanup.rotate_quarter(page, turn))
            seconds.append(time.perf_counter() - start)
            verdict = "unsure" if guess.rotation is None else \
                "right" if guess.rotation == (360 - turn) % 360 else "WRONG"
            outcome[verdict] += 1
            row.append(f"{turn:3d}: {verdict:6s} {guess.score:+.2f}/{guess.lines}")
        print(f"{origin[:40]:40s} " + " | ".join(row))
    print(f"{len(upright)} pages x 4 turns: {dict(outcome)}; mean {1000 * np.mean(seconds):.0f} ms a guess")
    if args.sheet:
        tiles = []
        for _origin, page in upright:
            scale = 200 / max(page.shape)
            tile = np.full((200, 200), 255, np.uint8)
            small = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            tile[: small.shape[0], : small.shape[1]] = small
            tiles.append(tile)
        tiles += [np.full((200, 200), 255, np.uint8)] * (-len(tiles) % 7)
        cv2.imwrite(str(args.sheet), np.vstack([np.hstack(tiles[i:i + 7]) for i in range(0, len(tiles), 7)]))


if __name__ == "__main__":
    main()
