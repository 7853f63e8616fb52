"""The ``digitize`` command line: an edge, like ``flows/``, above the libraries.

``main`` reads the settings, runs one sub-command and turns errors into exit
codes; ``commands`` holds the sub-commands, one module per group; ``doctor``
checks every precondition (Tesseract, poppler, the signing key, the archive,
the catalog); ``prefect_server`` starts and stops the Prefect server of one
``digitize run``. Being an edge, this package may import ``flows``,
``pipeline``, ``signing``, ``storage`` and the ``digitize`` kernel; none of
them imports it (the import-linter contracts in ``pyproject.toml``, checked by
``tests/test_architecture.py``).
"""
