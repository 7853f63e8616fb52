"""digitize: scanned dossiers to signed, searchable PDF/A.

This package is the kernel (settings, errors and exit codes, tool wrapper,
models, files, messages) and the scan engine (intake, pages, cleanup, OCR,
PDF/A), with the rates. It is the bottom layer: it imports none of the other
packages (``signing``, ``storage``, ``pipeline``, ``flows``, ``cli``), all of
which may import it. The command line lives in ``cli/``; ``python -m digitize``
runs it (``__main__``).
"""

__version__ = "0.1.0"
