"""PAdES signing and verification of the finished PDF/A files (pyHanko).

A plain library: imports only the ``digitize`` kernel, never Prefect, never the
environment. ``identity`` makes or opens the key, ``sign`` signs with the
Decree 30/2020 visible signature, ``verify`` returns a report of named checks.
"""

from signing.identity import (
    DemoIdentity,
    LoadedSigner,
    SigningIdentity,
    ensure_demo_identity,
    load_signer,
    read_password,
    resolve_identity,
)
from signing.sign import SignResult, sign_pdf
from signing.verify import Check, VerifyReport, validation_context_for, verify_pdf

__all__ = [
    "Check",
    "DemoIdentity",
    "LoadedSigner",
    "SignResult",
    "SigningIdentity",
    "VerifyReport",
    "ensure_demo_identity",
    "load_signer",
    "read_password",
    "resolve_identity",
    "sign_pdf",
    "validation_context_for",
    "verify_pdf",
]
