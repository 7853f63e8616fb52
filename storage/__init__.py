"""Archive backends (a local folder, an S3 bucket), the SQL catalog (SQLite, PostgreSQL) and fixity.

Imports only the ``digitize`` kernel (boto3 and psycopg only when used), and the text of the rates'
summary tables and triggers (``storage.summary_schema``, which imports nothing else of the rates
package): schema version 2 of the catalog, applied whoever opens it. Public entry points::

    from storage.archive import open_archive                      # LocalArchive or S3Archive
    from storage.backend import Archive, ArchiveItem, ArchiveReceipt
    from storage.catalog import Catalog, open_catalog             # SQLite file or PostgreSQL URL
    from storage.fixity import check_fixity, FixityReport
    from storage.keys import archive_key, manifest_key
    from storage.manifest import build_manifest
"""
