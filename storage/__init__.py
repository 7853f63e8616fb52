"""Archive backends (local folder; S3 later) and the SQL catalog.

Imports only the ``digitize`` kernel. Public entry points::

    from storage.archive import ArchiveReceipt, open_archive
    from storage.catalog import Catalog
    from storage.keys import archive_key, manifest_key
    from storage.manifest import build_manifest
"""
