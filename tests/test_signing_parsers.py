"""The signature checks read PDF dates, ToUnicode maps, DER lengths and XMP with pyHanko's, pikepdf's and
asn1crypto's own parsers: the same results as the hand-written readers they replace, on the inputs that matter."""

from __future__ import annotations

from datetime import datetime

import pikepdf
import pytest
from asn1crypto import core

from digitize.models import VIETNAM
from signing.integrity import der_length
from signing.pdfa_check import _metadata_problems
from signing.stamp_check import _pdf_date, _text, _to_unicode

SIGNED_AT = datetime(2026, 11, 30, 9, 30, 15, tzinfo=VIETNAM)


# --- PDF dates (the signature's /M) -------------------------------------------------


@pytest.mark.parametrize("text", [
    "D:20261130093015+07'00'",   # what pyHanko writes for Vietnam time
    "D:20261130093015+07'00",    # the apostrophe after the minutes left out
    "D:20261130023015Z",         # UTC
    "D:20261129213015-05'00'",   # another zone, the day before
    "D:20261130023015",          # no zone: taken as UTC, as before
])
def test_pdf_dates_with_and_without_a_zone_read_as_the_same_moment_in_vietnam_time(text):
    when = _pdf_date(text)
    assert when == SIGNED_AT
    assert when.utcoffset() == SIGNED_AT.utcoffset()  # shown in +07:00


@pytest.mark.parametrize("text", ["", "hôm qua", "20261130093015+07'00'", "D:2026113009301+07'00'x"])
def test_what_is_not_a_pdf_date_reads_as_none(text):
    assert _pdf_date(text) is None


# --- ToUnicode ----------------------------------------------------------------------


_CMAP = """/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
3 beginbfchar
<0003> <0053>
<0004> <1ED8>
<0005> <01B0>
endbfchar
2 beginbfrange
<0010> <0012> <0041>
<0020> <0022> [<0111> <1EA1> <0020>]
endbfrange
1 beginbfchar
<0030> <00540072>
endbfchar
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def _font(pdf: pikepdf.Pdf, cmap: str) -> pikepdf.Dictionary:
    return pikepdf.Dictionary(Type=pikepdf.Name.Font, ToUnicode=pdf.make_stream(cmap.encode("ascii")))


def test_tounicode_bfchar_and_both_bfrange_forms_map_codes_to_vietnamese_letters():
    with pikepdf.new() as pdf:
        cmap = _to_unicode(_font(pdf, _CMAP))
    assert cmap == {
        0x03: "S", 0x04: "Ộ", 0x05: "ư",
        0x10: "A", 0x11: "B", 0x12: "C",          # a range counted up from its target
        0x20: "đ", 0x21: "ạ", 0x22: " ",          # a range given as an array
        0x30: "Tr",                               # one code to two letters
    }


def test_stamp_text_is_decoded_through_the_map_two_bytes_a_glyph():
    with pikepdf.new() as pdf:
        cmap = _to_unicode(_font(pdf, _CMAP))
    shown = pikepdf.String(bytes.fromhex("0030 0005 0020 0004 0003".replace(" ", "")))
    assert _text(shown, cmap) == "Trưđ" + "ỘS"
    assert _text(pikepdf.Array([shown, -250, pikepdf.String(b"\x00\x10")]), cmap) == "TrưđỘSA"


def test_a_font_without_tounicode_maps_nothing():
    with pikepdf.new() as pdf:
        assert _to_unicode(pikepdf.Dictionary(Type=pikepdf.Name.Font)) == {}
        assert _text(pikepdf.String(b"\x00\x03"), {}) == "\ufffd"
        del pdf


# --- DER lengths (the CMS blob inside /Contents) ------------------------------------


@pytest.mark.parametrize("size", [0, 5, 127, 128, 255, 300, 70000])
def test_der_length_is_the_element_alone_whatever_the_length_form(size):
    element = core.OctetString(b"\x5a" * size).dump()
    assert der_length(element + b"\x00" * 64) == len(element)


@pytest.mark.parametrize("blob", [b"", b"\x30", b"\x30\x82\x01", b"\x30\x05\x02\x01"])
def test_a_truncated_der_header_or_body_has_no_length(blob):
    assert der_length(blob) is None


# --- XMP -----------------------------------------------------------------------------


def _pdf_with_xmp(part: str, conformance: str, producer: str, info_producer: str) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
        xmp["pdfaid:part"] = part
        xmp["pdfaid:conformance"] = conformance
        xmp["pdf:Producer"] = producer
        xmp["dc:title"] = "Giấy xác nhận tình trạng hôn nhân"
    pdf.docinfo["/Producer"] = info_producer
    return pdf


def test_xmp_declaring_pdfa_2b_passes_and_another_flavour_is_named():
    with _pdf_with_xmp("2", "B", "Phần mềm số hóa", "Phần mềm số hóa") as pdf:
        assert _metadata_problems(pdf, "2b") == []
        assert _metadata_problems(pdf, "3b") == ["the XMP no longer declares PDF/A-3B"]


def test_xmp_in_attribute_form_is_read_too():
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="2" '
              'pdfaid:conformance="B"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    with pikepdf.new() as pdf:
        pdf.Root.Metadata = pdf.make_stream(packet.encode("utf-8"), Type=pikepdf.Name.Metadata,
                                            Subtype=pikepdf.Name.XML)
        assert _metadata_problems(pdf, "2b") == []


def test_pdfa_1_producer_with_diacritics_compared_as_text():
    with _pdf_with_xmp("1", "B", "Phần mềm số hóa", "Phần mềm số hoá") as pdf:
        assert _metadata_problems(pdf, "1b") == [
            "Info /Producer 'Phần mềm số hoá' differs from XMP pdf:Producer 'Phần mềm số hóa'"]
    with _pdf_with_xmp("1", "B", "Sở Nội vụ & UBND tỉnh", "Sở Nội vụ & UBND tỉnh") as pdf:
        assert _metadata_problems(pdf, "1b") == []  # the XMP's "&amp;" is read as "&"
