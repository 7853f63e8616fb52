"""Make the sample scanner inbox, its ground-truth text and the registers.

Run from anywhere: ``python samples/make_samples.py``. Every output goes under
this script's own folder and is rebuilt from scratch; the same seed gives the
same bytes on every run (with the same Pillow, libjpeg and fonts).

Outputs (see README.md):

- ``inbox/<level>/<office>/...``  the scanned documents (PDF, TIFF, page folder)
- ``truth/<document>/page-NNN.txt``  the text of each page as drawn
- ``truth/pages.csv``  each page's DPI and defects (skew, turn), for tests
- ``inventory.csv``, ``offices.csv``  the registers the rates report reads
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep samples/ free of __pycache__

from dossiers import DOCUMENTS  # noqa: E402
from layout import Document  # noqa: E402
from registers import INVENTORY_HEADER, OFFICES, OFFICES_HEADER, inventory_rows  # noqa: E402
from render import render_page, scan  # noqa: E402

SEED = 20261128
JPEG_QUALITY = 75
PDF_DATE = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc).utctimetuple()  # Pillow takes a struct_time
PAGES_HEADER = ("document", "page", "file", "dpi", "skew_deg", "rotation", "seal", "colour")


def page_rng(document: Document, index: int) -> np.random.Generator:
    """A generator per page, so editing one page leaves the others' bytes alone."""
    return np.random.default_rng([SEED, zlib.crc32(f"{document.name}/{index}".encode())])


def page_images(document: Document) -> tuple[list[Image.Image], list[list[str]]]:
    """Render and "scan" every page of ``document``: the images and each page's text lines."""
    images, texts = [], []
    for index, spec in enumerate(document.scans, start=1):
        rng = page_rng(document, index)
        rendered = render_page(spec.page, document.dpi, rng)
        images.append(scan(rendered, spec, document.dpi, rng))
        texts.append(rendered.lines)
    return images, texts


def write_pdf(path: Path, images: list[Image.Image], dpi: int) -> None:
    """An image-only PDF, one JPEG per page; the page size is pixels / dpi, so the DPI survives.

    The dates are fixed (Pillow would write the current time), so re-runs give the same bytes.
    """
    first, rest = images[0], images[1:]
    first.save(
        path,
        "PDF",
        save_all=True,
        append_images=rest,
        resolution=float(dpi),
        quality=JPEG_QUALITY,
        creationDate=PDF_DATE,
        modDate=PDF_DATE,
    )


def write_tiff(path: Path, images: list[Image.Image], dpi: int) -> None:
    """A multi-page TIFF, JPEG-compressed, with the DPI in each page's tags.

    Pages are stored as YCbCr (photometric 6), as scanners do: JPEG of RGB planes is
    about twice the size.
    """
    first, *rest = [image.convert("YCbCr") for image in images]
    first.save(path, "TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi), compression="jpeg", quality=JPEG_QUALITY)


def folder_page_names(document: Document) -> list[str]:
    """``page-001.jpg``, ``page-002.png``...: the scanner's names for a folder dossier."""
    suffix = {"jpeg": "jpg", "png": "png"}
    return [f"page-{i:03d}.{suffix[s.image_format]}" for i, s in enumerate(document.scans, start=1)]


def write_folder(path: Path, images: list[Image.Image], document: Document) -> None:
    """A folder of page images, each with its DPI in the file's metadata."""
    path.mkdir(parents=True)
    dpi = (document.dpi, document.dpi)
    for name, image in zip(folder_page_names(document), images):
        if name.endswith(".png"):
            image.save(path / name, "PNG", dpi=dpi, optimize=True)
        else:
            image.save(path / name, "JPEG", dpi=dpi, quality=JPEG_QUALITY)


def write_document(inbox: Path, document: Document, images: list[Image.Image]) -> None:
    """Write ``document`` where a scanner would, with its JSON sidecar if it has one."""
    path = inbox / document.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if document.container == "pdf":
        write_pdf(path, images, document.dpi)
    elif document.container == "tiff":
        write_tiff(path, images, document.dpi)
    elif document.container == "folder":
        write_folder(path, images, document)
    else:
        raise ValueError(f"unknown container {document.container!r}")
    if document.sidecar:
        sidecar = path.with_suffix(".json")
        sidecar.write_text(json.dumps(document.sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_truth(truth: Path, document: Document, texts: list[list[str]]) -> None:
    """One UTF-8 file per page: the lines in reading order, as drawn."""
    folder = truth / document.name
    folder.mkdir(parents=True)
    for index, lines in enumerate(texts, start=1):
        (folder / f"page-{index:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def page_rows(document: Document) -> list[tuple]:
    """The ``truth/pages.csv`` rows of ``document``: where each page is and what was done to it."""
    names = folder_page_names(document) if document.container == "folder" else [""] * len(document.scans)
    return [
        (
            document.name,
            index,
            f"{document.path}/{name}" if name else document.path,
            document.dpi,
            f"{spec.skew_deg:+.1f}",
            spec.rotation,
            "yes" if spec.page.seal else "no",
            "grey" if spec.grayscale else "colour",
        )
        for index, (spec, name) in enumerate(zip(document.scans, names), start=1)
    ]


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    """UTF-8 CSV with Unix line ends."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    """Rebuild every sample output under this folder."""
    inbox, truth = HERE / "inbox", HERE / "truth"
    for folder in (inbox, truth):
        shutil.rmtree(folder, ignore_errors=True)
    truth.mkdir(parents=True)
    rows = []
    for document in DOCUMENTS:
        images, texts = page_images(document)
        write_document(inbox, document, images)
        write_truth(truth, document, texts)
        rows.extend(page_rows(document))
        print(f"wrote {document.path} ({len(images)} page(s), {document.dpi} dpi)")
    write_csv(truth / "pages.csv", PAGES_HEADER, rows)
    write_csv(HERE / "offices.csv", OFFICES_HEADER, list(OFFICES))
    write_csv(HERE / "inventory.csv", INVENTORY_HEADER, inventory_rows(SEED))


if __name__ == "__main__":
    main()
