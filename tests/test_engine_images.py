"""Image inputs of every kind a scanner or an editor writes, decoded as they look (no Tesseract).

Each input is made in the test: a sheet of paper with a block of black "ink" in the
middle, stored as 16-bit grey or colour, with alpha, a palette, CMYK or an ICC
profile. It goes through the engine's own path (``pages.plan_pages``,
``pages.render_page``, then OpenCV's read as in ``engine.process_page``), and the
decoded pixels must still show black ink on white paper.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageChops, ImageCms

from digitize import pages, split
from digitize.errors import BadInputError

WIDTH, HEIGHT = 160, 100
INK = (slice(35, 65), slice(50, 110))  # rows, columns of the ink block
PAPER = (slice(2, 20), slice(2, 40))


def mask() -> np.ndarray:
    """True where the sheet has ink."""
    ink = np.zeros((HEIGHT, WIDTH), bool)
    ink[INK] = True
    return ink


def decode(path: Path, work: Path) -> list[np.ndarray]:
    """Every page of ``path`` as the engine reads it (BGR, 8-bit)."""
    work.mkdir(exist_ok=True)
    images = []
    for page in pages.plan_pages(path, default_dpi=300).pages:
        source = pages.render_page(page, work, timeout=60)
        image = cv2.imread(str(source), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert image is not None and image.dtype == np.uint8
        images.append(image)
    return images


def assert_black_on_white(image: np.ndarray, what: str) -> None:
    assert image.shape[:2] == (HEIGHT, WIDTH), what
    assert image[PAPER].min() >= 235, f"{what}: the paper is not white ({image[PAPER].min()})"
    assert image[INK].max() <= 40, f"{what}: the ink is not black ({image[INK].max()})"


def sheet_16bit(paper: int = 60000, ink: int = 8000) -> np.ndarray:
    pixels = np.full((HEIGHT, WIDTH), paper, np.uint16)
    pixels[mask()] = ink
    return pixels


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_is_scaled_not_clipped_to_a_blank_page(tmp_path, suffix):
    path = tmp_path / f"grey16{suffix}"
    Image.fromarray(sheet_16bit(paper=65535, ink=3000)).save(path)
    assert Image.open(path).mode.startswith("I;16")
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "16-bit grey")
    mid = tmp_path / f"mid16{suffix}"
    Image.fromarray(sheet_16bit(paper=65535, ink=32896)).save(mid)  # 32896 / 257 = 128
    (image,) = decode(mid, tmp_path / "work2")
    assert abs(int(image[INK].mean()) - 128) <= 1 and image[PAPER].min() == 255


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_colour_is_read_at_8_bits_with_its_colours(tmp_path, suffix):
    bgr = np.full((HEIGHT, WIDTH, 3), 65535, np.uint16)
    bgr[mask()] = (2000, 2000, 60000)  # red ink, BGR
    path = tmp_path / f"colour16{suffix}"
    assert cv2.imwrite(str(path), bgr)
    (image,) = decode(path, tmp_path / "work")
    assert image[PAPER].min() >= 250
    blue, green, red = (int(c) for c in image[INK].reshape(-1, 3).mean(axis=0))
    assert red > 220 and blue < 20 and green < 20


def test_16_bit_page_whose_samples_vary_but_decode_flat_is_refused_not_blank(tmp_path):
    path = tmp_path / "faint16.png"
    Image.fromarray(sheet_16bit(paper=65535, ink=65500)).save(path)  # both become 255
    page = pages.plan_pages(path, default_dpi=300).pages[0]
    with pytest.raises(BadInputError, match="faint16.png could not be read as it is"):
        pages.render_page(page, tmp_path, timeout=60)


def test_a_truly_flat_16_bit_page_is_a_page(tmp_path):
    path = tmp_path / "white16.png"
    Image.fromarray(np.full((HEIGHT, WIDTH), 65535, np.uint16)).save(path)
    (image,) = decode(path, tmp_path / "work")
    assert image.min() == 255


def _transparent_sheet(mode: str) -> Image.Image:
    """Ink opaque black; the paper fully transparent and stored black (as many editors do)."""
    alpha = np.where(mask(), 255, 0).astype(np.uint8)
    black = np.zeros((HEIGHT, WIDTH), np.uint8)
    if mode == "LA":
        return Image.merge("LA", [Image.fromarray(black), Image.fromarray(alpha)])
    return Image.merge("RGBA", [Image.fromarray(black)] * 3 + [Image.fromarray(alpha)])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_pixels_stored_black_become_white_paper(tmp_path, mode):
    path = tmp_path / f"{mode}.png"
    _transparent_sheet(mode).save(path)
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, mode)


def test_half_transparent_ink_is_laid_on_white(tmp_path):
    sheet = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    sheet[mask()] = (0, 0, 0, 128)
    path = tmp_path / "half.png"
    Image.fromarray(sheet, "RGBA").save(path)
    (image,) = decode(path, tmp_path / "work")
    assert image[PAPER].min() == 255 and abs(int(image[INK].mean()) - 127) <= 2


def _palette_sheet() -> Image.Image:
    indices = np.where(mask(), 1, 0).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # index 0 black (the paper, transparent), 1 black ink
    return image


def test_palette_png_with_a_transparent_colour_is_laid_on_white(tmp_path):
    path = tmp_path / "palette-trns.png"
    _palette_sheet().save(path, transparency=0)
    assert "transparency" in Image.open(path).info
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "P with tRNS")


def test_palette_png_without_transparency_reads_its_colours(tmp_path):
    sheet = _palette_sheet()
    sheet.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    path = tmp_path / "palette.png"
    sheet.save(path)
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "P")


def test_rgb_png_with_a_transparent_colour_key_is_laid_on_white(tmp_path):
    sheet = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    sheet[~mask()] = (0, 255, 0)  # the paper stored as the key colour
    path = tmp_path / "key.png"
    Image.fromarray(sheet).save(path, transparency=(0, 255, 0))
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "RGB with tRNS")


def _cmyk_sheet() -> Image.Image:
    sheet = Image.new("CMYK", (WIDTH, HEIGHT), (0, 0, 0, 0))  # no ink: white
    sheet.paste((0, 0, 0, 255), (INK[1].start, INK[0].start, INK[1].stop, INK[0].stop))
    return sheet


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_reads_as_black_on_white(tmp_path, suffix):
    path = tmp_path / f"cmyk{suffix}"
    _cmyk_sheet().save(path, **({"quality": 95} if suffix == ".jpg" else {}))
    if suffix == ".jpg":
        assert "adobe" in Image.open(path).info  # Pillow writes Adobe's inverted CMYK
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, f"CMYK {suffix}")


def _without_adobe_marker(jpeg: bytes) -> bytes:
    """The JPEG with its Adobe APP14 segment taken out."""
    at = jpeg.index(b"\xff\xee")
    length = struct.unpack(">H", jpeg[at + 2:at + 4])[0]
    return jpeg[:at] + jpeg[at + 2 + length:]


def test_plain_cmyk_jpeg_without_adobe_marker_is_not_read_inverted(tmp_path):
    buffer = io.BytesIO()
    ImageChops.invert(_cmyk_sheet()).save(buffer, "JPEG", quality=95)  # stored samples: plain CMYK
    path = tmp_path / "plain-cmyk.jpg"
    path.write_bytes(_without_adobe_marker(buffer.getvalue()))
    assert "adobe" not in Image.open(path).info
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "plain CMYK JPEG")


def _red_blue_swapped_profile() -> bytes:
    """An RGB ICC profile whose red and blue primaries are sRGB's blue and red."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", icc[128:132])[0]
    entries = {bytes(icc[132 + 12 * i:136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    icc[red + 4:red + 12], icc[blue + 4:blue + 12] = icc[blue + 4:blue + 12], icc[red + 4:red + 12]
    return bytes(icc)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_embedded_icc_profile_is_converted_to_srgb(tmp_path, suffix):
    sheet = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    sheet[mask()] = (0, 0, 255)  # stored "blue": red under the embedded profile
    path = tmp_path / f"icc{suffix}"
    Image.fromarray(sheet).save(path, icc_profile=_red_blue_swapped_profile(),
                                **({"quality": 95} if suffix == ".jpg" else {}))
    (image,) = decode(path, tmp_path / "work")
    assert image[PAPER].min() >= 245
    blue, _green, red = (int(c) for c in image[INK].reshape(-1, 3).mean(axis=0))
    assert red > 200 and blue < 60, (red, blue)


def test_srgb_profiled_jpeg_is_taken_as_it_is(tmp_path):
    path = tmp_path / "srgb.jpg"
    Image.fromarray(np.full((HEIGHT, WIDTH, 3), 200, np.uint8)).save(
        path, icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    page = pages.plan_pages(path, default_dpi=300).pages[0]
    assert pages.render_page(page, tmp_path, timeout=60) == path  # the scanner's JPEG, not re-encoded


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_one_bit_scan_reads_black_on_white(tmp_path, suffix):
    path = tmp_path / f"bilevel{suffix}"
    Image.fromarray(~mask()).convert("1").save(path)
    assert Image.open(path).mode == "1"
    (image,) = decode(path, tmp_path / "work")
    assert_black_on_white(image, "1-bit")


def test_multi_page_tiff_of_mixed_kinds_reads_each_page(tmp_path):
    frames = [Image.fromarray(sheet_16bit(65535, 0)), _cmyk_sheet(), Image.fromarray(~mask()).convert("1")]
    path = tmp_path / "mixed.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    images = decode(path, tmp_path / "work")
    assert len(images) == 3
    for n, image in enumerate(images, 1):
        assert_black_on_white(image, f"page {n}")


# --- corrupt, truncated, empty and oversized images: BadInputError (exit 4) with the file's name --------------

def _jpeg(path: Path) -> bytes:
    Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8)).resize((800, 500)).save(path, quality=90)
    return path.read_bytes()


def test_truncated_jpeg_is_refused_not_read_as_half_a_grey_page(tmp_path):
    data = _jpeg(tmp_path / "whole.jpg")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    page = pages.plan_pages(path, default_dpi=300).pages[0]  # its header is whole
    with pytest.raises(BadInputError, match="cut.jpg is not a readable image .corrupt or truncated"):
        pages.render_page(page, tmp_path, timeout=60)


def test_png_with_a_bad_checksum_is_refused(tmp_path):
    path = tmp_path / "crc.png"
    Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF  # one byte of the image data changed: its CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="crc.png"):
        for page in pages.plan_pages(path, default_dpi=300).pages:
            pages.render_page(page, tmp_path, timeout=60)


def test_png_of_zero_pixels_is_refused(tmp_path):
    path = tmp_path / "zero.png"
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:20] = struct.pack(">I", 0)  # IHDR width 0 (its CRC then fails too)
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="zero.png"):
        pages.plan_pages(path, default_dpi=300)


def test_tiff_with_no_page_is_refused(tmp_path):
    path = tmp_path / "none.tif"
    path.write_bytes(b"II*\x00\x08\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x00")  # an IFD of no entries
    with pytest.raises(BadInputError, match="none.tif"):
        pages.plan_pages(path, default_dpi=300)


def _tiff_with_huge_page(path: Path, huge_first: bool = False) -> Path:
    small = Image.new("1", (800, 600), 1)
    huge = Image.new("1", (12000, 9000), 1)  # 108 Mpx: more than a page scan
    frames = [huge, small] if huge_first else [small, huge]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4")
    return path


def test_oversized_page_in_a_tiff_is_refused_as_too_large(tmp_path):
    path = _tiff_with_huge_page(tmp_path / "batch.tif")
    with pytest.raises(BadInputError, match="batch.tif page 2 is too large to be a page scan"):
        pages.plan_pages(path, default_dpi=300)


def test_oversized_page_in_a_tiff_batch_is_refused_when_covers_are_read(tmp_path):
    with pytest.raises(BadInputError, match="batch.tif page 2 is too large"):
        split.read_covers(_tiff_with_huge_page(tmp_path / "batch.tif"), timeout=60)
    with pytest.raises(BadInputError, match="too large"):
        split.has_cover_first(_tiff_with_huge_page(tmp_path / "first.tif", huge_first=True), timeout=60)


# --- the page limit (intake.max_pages), before any page is rendered -----------------------------------------------

def test_more_pages_than_the_limit_are_refused_with_the_count_and_the_limit(tmp_path):
    frames = [Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8))] * 6
    path = tmp_path / "six.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert len(pages.plan_pages(path, default_dpi=300, max_pages=6).pages) == 6
    with pytest.raises(BadInputError, match=r"six.tif has 6 pages, more than the limit of 5 \(intake.max_pages\)"):
        pages.plan_pages(path, default_dpi=300, max_pages=5)


def test_page_limit_counts_every_file_of_a_folder(tmp_path):
    folder = tmp_path / "000.31.25.H08-261120-0001-HS1"
    folder.mkdir()
    for n in range(4):
        Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8)).save(folder / f"{n}.png")
    with pytest.raises(BadInputError, match="has 4 pages, more than the limit of 3"):
        pages.plan_pages(folder, default_dpi=300, max_pages=3)


def test_page_limit_of_a_pdf_is_checked_from_its_page_count(tmp_path):
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(3):
        pdf.add_blank_page()
    pdf.save(tmp_path / "three.pdf")
    with pytest.raises(BadInputError, match="three.pdf has 3 pages, more than the limit of 2"):
        pages.plan_pages(tmp_path / "three.pdf", default_dpi=300, max_pages=2)


def test_tiff_batch_of_ordinary_pages_is_still_read_and_cut(tmp_path):
    from tests.intake_fixtures import cover_page
    from tests.intake_fixtures import text_page as intake_page

    frames = [cover_page("000.31.25.H08-261120-0003-KQ1"), intake_page("Trang 1").convert("L")]
    path = tmp_path / "batch.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(200, 200))
    assert split.has_cover_first(path, timeout=60)
    covers = split.read_covers(path, timeout=60)
    assert covers[0] is not None and covers[1] is None
    (part,) = split.cut(path, split.plan_split(covers), tmp_path / "parts")
    assert part.name == "000.31.25.H08-261120-0003-KQ1.tif" and Image.open(part).n_frames == 1


def test_pdf_whose_scanned_jpeg_is_cut_short_is_refused_not_half_grey(tmp_path):
    import pikepdf

    Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8)).resize((1654, 2339)).save(
        tmp_path / "scan.pdf", resolution=200)
    with pikepdf.open(tmp_path / "scan.pdf") as pdf:
        (image,) = pdf.pages[0].get_images().values()
        data = image.read_raw_bytes()
        image.write(data[: len(data) // 2], filter=pikepdf.Name.DCTDecode)
        pdf.save(tmp_path / "cut.pdf")
    page = pages.plan_pages(tmp_path / "cut.pdf", default_dpi=300).pages[0]
    with pytest.raises(BadInputError, match="cut.pdf page 1: its scanned image is cut short"):
        pages.render_page(page, tmp_path, timeout=60)
    whole = pages.plan_pages(tmp_path / "scan.pdf", default_dpi=300).pages[0]
    assert pages.render_page(whole, tmp_path, timeout=60).suffix == ".jpg"  # taken out as it is
