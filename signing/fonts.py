"""The font of the visible signature: a TrueType font rescaled to 1000 units per em.

pyHanko 0.38 writes the embedded font's glyph widths (``/W``) in the font's own
units, while PDF reads them in thousandths of an em. For fonts drawn on a
2048-unit grid (Liberation Serif, Times New Roman, Arial) the widths come out
about twice too wide: the stamp text is letter-spaced and clipped, and the
widths disagree with the embedded program (a PDF/A violation). Rescaling the
font to 1000 units per em with fontTools makes the two units the same. The
rescaled copy is made once and cached on disk, and kept in memory per process.

A signature needs only the stamp's letters: :func:`load_stamp_font` with
``keep`` cuts the font down to them (about 70 glyphs of Liberation Serif's
2,600, renumbered, ~20 KB) before rescaling, so pyHanko parses and shapes a
small font for every signature (glyph ids retained, the cut kept all 2,600
slots). The glyphs, their advances and the kerning between them are the whole
font's, so the stamp looks the same. The subset pyHanko embeds is made once
per set of glyphs and reused (:class:`StampGlyphs`).
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator

from digitize.errors import SigningError
from digitize.files import write_atomically
from digitize.i18n import _, os_error

PDF_UNITS_PER_EM = 1000
# Liberation Serif has Times New Roman's metrics; version 2 covers Vietnamese,
# version 1 (Debian's fonts-liberation) does not.
DEFAULT_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"),
)
# tables fontTools' subsetter cannot subset (it warns, then drops them)
_DROPPED_TABLES = ("FFTM",)
_CACHE_VERSION = "v1"  # bump when the rescaling changes
_CUT_VERSION = "v2"  # bump when cutting down changes (v1, in memory only, kept every glyph slot)
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "digitize-fonts"


@dataclass(frozen=True, eq=False)
class StampFont:
    """A TrueType font on a 1000-unit em, ready to embed; ``source`` is the original."""

    source: Path
    path: Path
    data: bytes = field(repr=False)
    advances: dict[int, int] = field(repr=False)  # code point -> advance width (1/1000 em)
    #: the subset programs embedded so far, by the glyph ids they keep (see :class:`StampGlyphs`)
    programs: dict[tuple[int, ...], bytes] = field(default_factory=dict, repr=False)

    def missing_characters(self, text: str) -> str:
        """The characters of ``text`` this font cannot draw (spaces and line breaks aside)."""
        return "".join(sorted({c for c in text if c not in "\n\r" and ord(c) not in self.advances}))

    def text_width(self, line: str, size: float) -> float:
        """Width of one line in points at ``size``, from advance widths (no kerning)."""
        return sum(self.advances.get(ord(c), 0) for c in line) * size / PDF_UNITS_PER_EM


@dataclass(frozen=True)
class StampFontFactory(FontEngineFactory):
    """pyHanko font engine factory embedding ``font`` as a subset (a GlyphAccumulator).

    Like pyHanko's ``GlyphAccumulatorFactory``, but from bytes in memory, so no
    file handle is left open per signature.
    """

    font: StampFont
    font_size: int = 10
    bcp47_lang_code: str | None = "vi"

    def create_font_engine(self, writer, obj_stream=None) -> GlyphAccumulator:
        """Make a fresh glyph accumulator for one PDF writer."""
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return StampGlyphs(
            self.font.programs,
            writer=writer,
            font_handle=BytesIO(self.font.data),
            font_size=self.font_size,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


class StampGlyphs(GlyphAccumulator):
    """pyHanko's glyph accumulator, embedding a subset program made once per set of glyphs.

    Every signature of a session draws nearly the same letters (the agency's
    name, the digits of its time), and pyHanko would subset and write the font
    program again for each (two thirds of its font work): the program for a
    set of glyph ids is kept in ``programs`` (the font's, shared by its
    signatures) and embedded as it is. fontTools' subsetting is deterministic,
    so the bytes are those pyHanko would have written.
    """

    _KEPT = 64  # sets of glyphs kept per font (the time's digits vary: a few a day)

    def __init__(self, programs: dict[tuple[int, ...], bytes], **kwargs) -> None:
        super().__init__(**kwargs)
        self._programs = programs

    def _extract_subset(self, options=None) -> None:
        glyphs = tuple(sorted(self._glyphs))
        program = self._programs.get(glyphs)
        if program is None:
            super()._extract_subset(options)
            out = BytesIO()
            self.tt.save(out)
            program = out.getvalue()
            if len(self._programs) >= self._KEPT:
                self._programs.clear()
            self._programs[glyphs] = program
        assert isinstance(self.cidfont_obj, CIDFontType2)  # a StampFont is TrueType (glyf), never CFF
        self.cidfont_obj.__class__ = _KnownProgram
        self.cidfont_obj.program = program


class _KnownProgram(CIDFontType2):
    """A CIDFontType2 whose font program is given as bytes (pyHanko's saves its fontTools font)."""

    program: bytes

    def set_font_file(self, writer):
        """Embed :attr:`program` as the descriptor's ``/FontFile2`` (compressed, as pyHanko does)."""
        stream = generic.StreamObject(stream_data=self.program)
        stream.compress()
        ref = writer.add_object(stream)
        self._font_descriptor[generic.NameObject("/FontFile2")] = ref
        return ref


def default_font_path() -> Path:
    """The first installed default stamp font (Liberation Serif), or raise."""
    for candidate in DEFAULT_FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise SigningError(
        _("the signature font Liberation Serif is not installed"),
        hint=_("install the OS package fonts-liberation2"),
    )


def load_stamp_font(source: Path, cache_dir: Path | None = None, *, keep: str | None = None) -> StampFont:
    """Load ``source`` rescaled to 1000 units per em, from the cache when it is there.

    With ``keep``, only the glyphs of those characters are kept (with what
    their shaping needs: kerning, composites, ``.notdef``), renumbered, and
    that small font is rescaled and cached on its own (on disk, and once per
    process): pyHanko parses and subsets the font again for every signature,
    and with the whole font that was most of a B-B signature's cost.
    """
    try:
        stat = source.stat()
    except OSError as e:
        raise SigningError(_("could not read the signature font {source}: {error}",
                             source=source, error=os_error(e))) from e
    key = (source.resolve(), stat.st_mtime_ns, stat.st_size, cache_dir or DEFAULT_CACHE_DIR)
    if keep is None:
        return _load_cached(*key)
    return _load_cut_down(*key, "".join(sorted(set(keep) - {"\n", "\r"})))


@functools.lru_cache(maxsize=32)
def _load_cut_down(source: Path, mtime_ns: int, size: int, cache_dir: Path, characters: str) -> StampFont:
    original = _read(source)
    digest = hashlib.sha256(original + characters.encode("utf-8")).hexdigest()[:16]
    cut_path = cache_dir / f"{source.stem}-{PDF_UNITS_PER_EM}upem-cut-{_CUT_VERSION}-{digest}.ttf"
    if cut_path.is_file():
        return _stamp_font(source, cut_path, _read(cut_path))
    font = _parse(original, source)
    if "glyf" not in font:
        raise SigningError(_("the signature font {source} must be a TrueType (glyf) font", source=source))
    _cut(font, characters, source)
    data = _rescale(font, source)
    _write_cache(cut_path, data)
    return _stamp_font(source, cut_path, data)


def _cut(font: TTFont, characters: str, source: Path) -> None:
    """Keep in ``font`` only the glyphs ``characters`` need, renumbered (``.notdef`` first)."""
    from fontTools import subset

    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = ["*"]
    for table in _DROPPED_TABLES:
        if table in font:
            del font[table]
    try:
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(unicodes=[ord(c) for c in characters])
        subsetter.subset(font)
    except (TTLibError, KeyError, ValueError, AssertionError) as e:
        raise SigningError(_("could not cut the signature font {source} down to the stamp's letters: {error}",
                             source=source, error=e)) from e


@functools.lru_cache(maxsize=8)
def _load_cached(source: Path, mtime_ns: int, size: int, cache_dir: Path) -> StampFont:
    original = _read(source)
    font = _parse(original, source)
    if font["head"].unitsPerEm == PDF_UNITS_PER_EM:
        return _stamp_font(source, source, original)
    digest = hashlib.sha256(original).hexdigest()[:16]
    scaled_path = cache_dir / f"{source.stem}-{PDF_UNITS_PER_EM}upem-{_CACHE_VERSION}-{digest}.ttf"
    if scaled_path.is_file():
        return _stamp_font(source, scaled_path, _read(scaled_path))
    scaled = _rescale(font, source)
    _write_cache(scaled_path, scaled)
    return _stamp_font(source, scaled_path, scaled)


def _write_cache(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    except OSError as e:
        raise SigningError(_("could not write the font cache {scaled_path}: {error}",
                             scaled_path=path, error=os_error(e))) from e


def _rescale(font: TTFont, source: Path) -> bytes:
    """``font`` on a 1000-unit em (as it is when it already is), as bytes."""
    try:
        if font["head"].unitsPerEm != PDF_UNITS_PER_EM:
            scale_upem(font, PDF_UNITS_PER_EM)
        for table in _DROPPED_TABLES:
            if table in font:
                del font[table]
        out = BytesIO()
        font.save(out)
    except (TTLibError, KeyError, ValueError, AssertionError) as e:
        raise SigningError(_("could not rescale the signature font {source}: {error}", source=source, error=e)) from e
    return out.getvalue()


def _stamp_font(source: Path, path: Path, data: bytes) -> StampFont:
    font = _parse(data, path)
    if "glyf" not in font:
        raise SigningError(_("the signature font {source} must be a TrueType (glyf) font", source=source))
    hmtx = font["hmtx"]
    advances = {cp: hmtx[name][0] for cp, name in font.getBestCmap().items()}
    return StampFont(source=source, path=path, data=data, advances=advances)


def _parse(data: bytes, path: Path) -> TTFont:
    try:
        return TTFont(BytesIO(data), lazy=False)
    except (TTLibError, AssertionError, ValueError, KeyError) as e:
        raise SigningError(_("{path} is not a usable TrueType/OpenType font: {error}", path=path, error=e)) from e


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SigningError(_("could not read the signature font {path}: {error}", path=path,
                             error=os_error(e))) from e
