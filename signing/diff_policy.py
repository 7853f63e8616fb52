"""A stricter modification analysis for signed files: after signing, metadata stays as signed.

pyHanko's default diff policy accepts any change to the document information
dictionary (/Info) and any well-formed XMP after a signature, filed under
``ModificationLevel.LTA_UPDATES``: the level a B-LT/B-LTA file needs for its
DSS and document timestamps. So a title, keywords or ``dc:identifier`` naming
another document code passed as VALID. :data:`STRICT_DIFF_POLICY` is the
default policy with two rules specialised: after signing, only what pyHanko's
own writer touches in a DSS or timestamp revision may change in the metadata
(``/ModDate`` and ``/Producer`` in /Info; ``xmp:ModifyDate``,
``xmp:MetadataDate`` and ``pdf:Producer`` in the XMP). Anything else raises
:class:`SuspiciousModification`, which the ``modifications`` check reports.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)

from digitize.i18n import _

#: /Info keys pyHanko's incremental writer sets in every revision it writes
WRITER_INFO_KEYS = frozenset({"/ModDate", "/Producer"})
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMP = "http://ns.adobe.com/xap/1.0/"
_PDF = "http://ns.adobe.com/pdf/1.3/"
#: XMP properties pyHanko's writer updates in every revision it writes
WRITER_XMP_PROPERTIES = frozenset({f"{{{_XMP}}}ModifyDate", f"{{{_XMP}}}MetadataDate", f"{{{_PDF}}}Producer"})
_PREFIXES = {_XMP: "xmp:", _PDF: "pdf:", "http://purl.org/dc/elements/1.1/": "dc:",
             "http://www.aiim.org/pdfa/ns/id/": "pdfaid:", "http://ns.adobe.com/xap/1.0/mm/": "xmpMM:"}


class StrictDocInfoRule(DocInfoRule):
    """/Info may be rewritten after signing, but only its /ModDate and /Producer may change."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        """Refuse any other /Info change; then approve the rewritten dictionary as pyHanko does."""
        before, after = _info_entries(old), _info_entries(new)
        changed = sorted(k for k in before.keys() | after.keys()
                         if k not in WRITER_INFO_KEYS and before.get(k) != after.get(k))
        if changed:
            raise SuspiciousModification(
                _("the document information (Info {entries}) was changed after signing", entries=", ".join(changed)))
        yield from super().apply(old, new)


class StrictMetadataUpdateRule(MetadataUpdateRule):
    """The XMP may be rewritten after signing, but only its modify/metadata dates and producer may change."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterable[ReferenceUpdate]:
        """Refuse any other XMP change; then approve the stream as pyHanko does (well-formed XML)."""
        updates = list(super().apply(old, new))
        before, after = _xmp_properties(old), _xmp_properties(new)
        changed = sorted(_short(k) for k in before.keys() | after.keys()
                         if k not in WRITER_XMP_PROPERTIES and before.get(k) != after.get(k))
        if changed:
            raise SuspiciousModification(
                _("the XMP metadata ({properties}) was changed after signing", properties=", ".join(changed)))
        yield from updates


def _info_entries(resolver: HistoricalResolver) -> dict[str, str]:
    """/Info as it is in ``resolver``'s revision (objects resolved there, not in the newest one)."""
    try:
        ref = resolver.trailer_view.get_value_as_reference("/Info", optional=True)
    except misc.IndirectObjectExpected as e:
        raise SuspiciousModification(_("/Info should be an indirect reference")) from e
    if ref is None:
        return {}
    info = resolver(ref)
    if not isinstance(info, generic.DictionaryObject):
        raise SuspiciousModification(_("/Info is not a dictionary"))
    return {str(k): _plain(resolver, info.raw_get(k)) for k in info}


def _plain(resolver: HistoricalResolver, value: generic.PdfObject) -> str:
    if isinstance(value, generic.IndirectObject):
        value = resolver(value.reference)
    return str(value) if isinstance(value, (generic.TextStringObject, generic.ByteStringObject)) else repr(value)


def _xmp_properties(resolver: HistoricalResolver) -> dict[str, tuple[str, ...]]:
    """Every top-level XMP property (namespace URI + name) with its value, independent of layout."""
    try:
        ref = resolver.root.get_value_as_reference("/Metadata")
    except KeyError:
        return {}
    except misc.IndirectObjectExpected as e:
        raise SuspiciousModification(_("/Metadata should be an indirect reference")) from e
    stream = resolver(ref)
    if not isinstance(stream, generic.StreamObject):
        raise SuspiciousModification(_("/Metadata should be a stream"))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(stream.read_data(DecodePurpose.XMP_METADATA), parser=parser)
    except etree.XMLSyntaxError as e:
        raise SuspiciousModification(_("the XMP metadata cannot be read: {error}", error=e)) from e
    props: dict[str, tuple[str, ...]] = {}
    for description in root.iter(f"{{{_RDF}}}Description"):
        parent = description.getparent()
        if parent is None or parent.tag != f"{{{_RDF}}}RDF":
            continue  # a nested structure: part of its property's value
        for name, value in description.attrib.items():
            if not name.startswith(f"{{{_RDF}}}"):
                props[name] = (*props.get(name, ()), value)
        for child in description:
            if isinstance(child.tag, str):
                props[child.tag] = (*props.get(child.tag, ()), _value(child))
    return props


def _value(element) -> str:
    """A property's value as text: its structure and text, not its layout or namespace prefixes."""
    children = [c for c in element if isinstance(c.tag, str)]
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    attrs = " ".join(f"@{k}={v}" for k, v in sorted(element.attrib.items()))
    inner = " ".join(f"{c.tag}({_value(c)})" for c in children)
    return " ".join(p for p in (attrs, text, inner) if p)


def _short(name: str) -> str:
    namespace, _, local = name[1:].partition("}")
    return _PREFIXES.get(namespace, f"{{{namespace}}}") + local


STRICT_DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(),
        StrictDocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
        XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
        StrictMetadataUpdateRule().as_qualified(ModificationLevel.LTA_UPDATES),
    ],
    form_rule=FormUpdatingRule(
        field_rules=[SigFieldCreationRule(), SigFieldModificationRule(), GenericFieldModificationRule()],
    ),
)
"""pyHanko's default policy, with /Info and XMP frozen after signing but for the writer's own fields."""
