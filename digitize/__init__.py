"""digitize: scanned dossiers to signed, searchable PDF/A."""

__version__ = "0.1.0"
