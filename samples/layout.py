"""The building blocks of a sample page: paragraphs, gaps and the page's regions.

A page follows the layout of Decree 30/2020/NĐ-CP (the form of administrative
documents): issuing body top left, national motto top right, title and body
across the page, recipients bottom left, signature block bottom right.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

BODY_PT = 12.0
TITLE_PT = 14.0
SMALL_PT = 11.0


def nfc(text: str) -> str:
    """Vietnamese text is kept in Unicode NFC everywhere."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Text:
    """One paragraph, wrapped to its column's width when it is rendered."""

    text: str
    face: str = "regular"  # regular, bold, italic, bolditalic
    size: float = BODY_PT
    align: str = "justify"  # left, center, right, justify
    indent_mm: float = 0.0  # first-line indent
    space_after_pt: float = 2.0
    underline: bool = False  # a rule under the line, as under the motto

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", nfc(self.text))


@dataclass(frozen=True)
class Gap:
    """Blank vertical space; ``signature`` marks the space a signature is drawn in."""

    mm: float
    signature: bool = False


Block = tuple[Text | Gap, ...]


@dataclass(frozen=True)
class Page:
    """The content of one page, region by region, in reading order."""

    header_left: Block = ()
    header_right: Block = ()
    body: Block = ()
    footer_left: Block = ()
    footer_right: Block = ()
    seal: str | None = None  # ring text of the red seal stamped over the signature


@dataclass(frozen=True)
class Scan:
    """One page as the scanner produced it: content plus defects."""

    page: Page
    skew_deg: float  # counter-clockwise, as the paper lay on the glass
    rotation: int = 0  # clockwise turn of the stored image: 0, 90 or 180
    grayscale: bool = False  # the scanner's auto-colour chose grey (no seal on the page)
    image_format: str = "jpeg"  # for folder dossiers: jpeg or png


@dataclass(frozen=True)
class Document:
    """One input of the scanner folder: a PDF, a multi-page TIFF or a folder of pages."""

    path: str  # relative to inbox/, without extension for folders
    container: str  # pdf, tiff or folder
    dpi: int
    scans: tuple[Scan, ...]
    sidecar: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The document code, e.g. ``000.31.25.H08-261120-0001-KQ1``."""
        leaf = self.path.rsplit("/", 1)[-1]
        return leaf.rsplit(".", 1)[0] if self.container != "folder" else leaf


# Blocks that recur across the samples.

MOTTO: Block = (
    Text("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "bold", align="center", space_after_pt=0),
    Text("Độc lập - Tự do - Hạnh phúc", "bold", align="center", underline=True, space_after_pt=10),
)


def motto_with_date(place_and_date: str) -> Block:
    """The motto with the place and date line under it, as on the right of the header."""
    return MOTTO + (Text(place_and_date, "italic", align="center"),)


def issuing_body(*lines: str, number: str | None = None) -> Block:
    """The issuing body's name (last line bold, ruled) and the document number."""
    block: list[Text | Gap] = [Text(line, align="center", space_after_pt=0) for line in lines[:-1]]
    block.append(Text(lines[-1], "bold", align="center", underline=True, space_after_pt=10))
    if number:
        block.append(Text(number, align="center"))
    return tuple(block)


def signature_block(*titles: str, signer: str, note: str | None = None) -> Block:
    """Signer's titles (bold), a space for the signature and the signer's name."""
    block: list[Text | Gap] = [Text(title, "bold", align="center", space_after_pt=0) for title in titles]
    if note:
        block.append(Text(note, "italic", align="center", space_after_pt=0))
    block.append(Gap(24, signature=True))
    block.append(Text(signer, "bold", align="center"))
    return tuple(block)


def recipients(*lines: str) -> Block:
    """The 'Nơi nhận' list at the bottom left."""
    head = Text("Nơi nhận:", "bolditalic", SMALL_PT, align="left", space_after_pt=0)
    return (head,) + tuple(Text(line, size=SMALL_PT, align="left", space_after_pt=0) for line in lines)


def para(text: str, face: str = "regular", indent_mm: float = 10.0) -> Text:
    """A justified body paragraph with a first-line indent."""
    return Text(text, face, indent_mm=indent_mm)


def field_line(text: str) -> Text:
    """A form field ('Họ, chữ đệm, tên: ...'), left-aligned, wrapped if long."""
    return Text(text, align="left", indent_mm=0, space_after_pt=2)


def title(*lines: str) -> Block:
    """The document's title: first line large and bold, the rest bold."""
    first = Text(lines[0], "bold", TITLE_PT, align="center", space_after_pt=0)
    rest = tuple(Text(line, "bold", BODY_PT + 1, align="center", space_after_pt=0) for line in lines[1:])
    return (Gap(4), first) + rest + (Gap(5),)
