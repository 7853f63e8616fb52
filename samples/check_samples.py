"""OCR every sample page (upright, deskewed) with Tesseract and print its character error rate.

Run after ``make_samples.py``: ``python samples/check_samples.py``. Needs
``tesseract`` (with ``vie``) and ``pdftoppm`` on the PATH. The known turn and
skew of each page come from ``truth/pages.csv``; the pipeline must find them
itself, this only checks that the samples are readable and the truth matches.

CER = Levenshtein distance / length of the truth, after NFC and collapsing all
whitespace (line breaks included) to single spaces.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
TIMEOUT_SECONDS = 300


def normalize(text: str) -> str:
    """NFC, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), two-row dynamic programming."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def load_page(row: dict[str, str], work: Path) -> Image.Image:
    """The stored image of one page, as RGB or L."""
    path = HERE / "inbox" / row["file"]
    index = int(row["page"])
    if path.suffix == ".pdf":
        prefix = work / "page"
        subprocess.run(
            ["pdftoppm", "-r", row["dpi"], "-f", str(index), "-l", str(index), "-png", "-singlefile", str(path), str(prefix)],
            check=True,
            timeout=TIMEOUT_SECONDS,
        )
        return Image.open(prefix.with_suffix(".png")).copy()
    image = Image.open(path)
    image.seek(index - 1 if path.suffix == ".tif" else 0)
    return image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()


def upright(image: Image.Image, rotation: int, skew_deg: float) -> Image.Image:
    """Undo the known turn and skew."""
    undo = {0: None, 90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180}[rotation]
    if undo is not None:
        image = image.transpose(undo)
    fill = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(-skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=fill)


def ocr(image: Image.Image, dpi: str, work: Path) -> str:
    """Tesseract's text for ``image`` (vie, page segmentation 3)."""
    path = work / "upright.png"
    image.save(path)
    result = subprocess.run(
        ["tesseract", str(path), "-", "-l", "vie", "--dpi", dpi],
        check=True,
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
    )
    return result.stdout.decode("utf-8")


def cer(image: Image.Image, truth: str, dpi: str, work: Path) -> float:
    """Character error rate of Tesseract on ``image`` against ``truth`` (normalized)."""
    return levenshtein(normalize(ocr(image, dpi, work)), truth) / len(truth)


def check_page(row: dict[str, str], work: Path) -> tuple[float, float]:
    """The CER of one page as scanned, and of its red channel (where a red seal nearly vanishes)."""
    truth = normalize((HERE / "truth" / row["document"] / f"page-{int(row['page']):03d}.txt").read_text(encoding="utf-8"))
    image = upright(load_page(row, work), int(row["rotation"]), float(row["skew_deg"]))
    red = image.getchannel("R") if image.mode == "RGB" else image
    return cer(image, truth, row["dpi"], work), cer(red, truth, row["dpi"], work)


def main() -> int:
    """Print one line per page; exit 1 if any page's red channel reads worse than 5% CER."""
    with (HERE / "truth" / "pages.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            as_scanned, red_channel = check_page(row, Path(tmp))
            worst = max(worst, red_channel)
            print(
                f"{row['document']} page {row['page']}: {row['dpi']} dpi, seal {row['seal']:3}  "
                f"CER {as_scanned:6.2%}  red channel {red_channel:6.2%}"
            )
    return 1 if worst >= 0.05 else 0


if __name__ == "__main__":
    sys.exit(main())
