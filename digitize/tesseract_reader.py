"""The reader process of :mod:`digitize.tesseract_api`: libtesseract through ``ctypes``, page after page.

``python -m digitize.tesseract_reader LIBRARY`` loads the libtesseract at ``LIBRARY`` (the one the
``tesseract`` on PATH links to), then answers one JSON request a line on stdin with one JSON answer a
line on stdout (:func:`serve`); what Tesseract prints on stderr goes to the file each request names.
Only the standard library is imported here: a page worker keeps one such process for its pages.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

#: Tesseract's page segmentation as its program sets it by default (fully automatic, no OSD);
#: the library's own default would be 6 (one block), which reads the page differently.
PSM_AUTO = 3


class _Tesseract:
    """The few calls of libtesseract's C API that the ``tesseract`` program makes to read one page."""

    def __init__(self, library: str) -> None:
        lib = ctypes.CDLL(library)
        handle, text = ctypes.c_void_p, ctypes.c_char_p
        for name, result, arguments in (
            ("TessBaseAPICreate", handle, []),
            ("TessBaseAPIInit3", ctypes.c_int, [handle, text, text]),
            ("TessBaseAPIEnd", None, [handle]),
            ("TessBaseAPISetVariable", ctypes.c_int, [handle, text, text]),
            ("TessBaseAPISetPageSegMode", None, [handle, ctypes.c_int]),
            ("TessBaseAPIGetDatapath", text, [handle]),
            ("TessBaseAPIProcessPages", ctypes.c_int, [handle, text, text, ctypes.c_int, handle]),
            ("TessPDFRendererCreate", handle, [text, text, ctypes.c_int]),
            ("TessTsvRendererCreate", handle, [text]),
            ("TessResultRendererInsert", None, [handle, handle]),
            ("TessDeleteResultRenderer", None, [handle]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = result, arguments
        self._lib = lib
        self._api = lib.TessBaseAPICreate()
        self._models: tuple[str, str] | None = None  # (tessdata folder, languages) loaded

    def load(self, tessdata: str, languages: str) -> bool:
        """Load the models of ``languages`` (``vie+eng``) from ``tessdata`` ("" for the default folder),
        unless they are loaded already; False when Tesseract could not (it said why on stderr)."""
        if self._models == (tessdata, languages):
            return True
        if self._models is not None:
            self._lib.TessBaseAPIEnd(self._api)
            self._models = None
        if self._lib.TessBaseAPIInit3(self._api, os.fsencode(tessdata) if tessdata else None,
                                      languages.encode()) != 0:
            return False
        self._lib.TessBaseAPISetPageSegMode(self._api, PSM_AUTO)
        self._lib.TessBaseAPISetVariable(self._api, b"textonly_pdf", b"1")
        self._models = (tessdata, languages)
        return True

    def read(self, image: str, out_base: str, dpi: int) -> bool:
        """Read ``image`` into ``<out_base>.pdf`` (text only) and ``<out_base>.tsv``; False when Tesseract failed."""
        lib = self._lib
        lib.TessBaseAPISetVariable(self._api, b"user_defined_dpi", str(dpi).encode())
        base = os.fsencode(out_base)
        renderer = lib.TessPDFRendererCreate(base, lib.TessBaseAPIGetDatapath(self._api), 1)
        if not renderer:
            return False
        tsv = lib.TessTsvRendererCreate(base)
        if tsv:
            lib.TessResultRendererInsert(renderer, tsv)  # deleted with the first
        try:
            return bool(tsv) and bool(lib.TessBaseAPIProcessPages(self._api, os.fsencode(image), None, 0, renderer))
        finally:
            lib.TessDeleteResultRenderer(renderer)


def serve(library: str) -> int:
    """The reader: answer each request line on stdin until it closes.

    A request is ``{"image", "out", "dpi", "tessdata", "languages", "stderr"}``; the answer is
    ``{"ok": true}`` or ``{"ok": false}``, with Tesseract's messages in the file ``stderr`` names.
    """
    tesseract = None
    for line in sys.stdin:
        request = json.loads(line)
        with open(request["stderr"], "wb") as stderr:
            os.dup2(stderr.fileno(), 2)
        try:
            if tesseract is None:
                tesseract = _Tesseract(library)
            done = tesseract.load(request["tessdata"], request["languages"]) and tesseract.read(
                request["image"], request["out"], request["dpi"])
        except OSError as e:  # the library would not load
            print(f"{library}: {e}", file=sys.stderr, flush=True)
            done = False
        sys.stdout.write(json.dumps({"ok": done}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
