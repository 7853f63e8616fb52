"""PAdES signing and verification of the finished PDF/A files (pyHanko).

A plain library: imports only the ``digitize`` kernel, never Prefect, never the
environment. ``identity`` makes or opens the key (``token`` for PKCS#11),
``session`` keeps key, timestamp client and validation context for a batch,
``sign`` signs with the Decree 30/2020 visible signature, ``verify`` returns a
report of named checks (``report``: :class:`Check` and :class:`VerifyReport`;
``stamp_check`` and ``pdfa_check`` make two of them),
``renew`` adds a fresh archive timestamp to a B-LTA file.
"""

from signing.identity import (
    DemoIdentity,
    LoadedSigner,
    SigningIdentity,
    TokenKey,
    ensure_demo_identity,
    load_signer,
    read_password,
    resolve_identity,
)
from signing.renew import RenewResult, renew_timestamp
from signing.report import Check, VerifyReport
from signing.session import SigningSession, open_signing_session
from signing.sign import SignResult, sign_pdf
from signing.verify import validation_context_for, verify_pdf

__all__ = [
    "Check",
    "DemoIdentity",
    "LoadedSigner",
    "RenewResult",
    "SignResult",
    "SigningIdentity",
    "SigningSession",
    "TokenKey",
    "VerifyReport",
    "ensure_demo_identity",
    "load_signer",
    "open_signing_session",
    "read_password",
    "renew_timestamp",
    "resolve_identity",
    "sign_pdf",
    "validation_context_for",
    "verify_pdf",
]
