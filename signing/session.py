"""A signing session: the key, the timestamp client and the validation context, opened once per batch.

Opening the key (a PKCS#12 file to parse, a token to log in to) and building a
validation context are the slow parts of signing; a batch opens them once and
signs every document with them. The level comes from the settings:

- no timestamp authority configured: B-B (the demo set-up says so in
  :attr:`SignResult.pades_level` and :attr:`SigningSession.note`);
- ``signing.tsa_url`` set: B-T, B-LT or B-LTA (``auto``: B-LTA).

A timestamp authority that does not answer is retried with exponential
backoff (:mod:`signing.tsa`, the one retry layer); after the last try
:class:`TimestampUnavailableError` (transient) is raised and no signed file is
written, so nothing is archived as if signed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from digitize.errors import SigningError
from digitize.i18n import _
from digitize.settings import SigningSettings
from signing.identity import LoadedSigner, SigningIdentity, load_signer, resolve_agency, resolve_identity
from signing.report import VerifyReport
from signing.sign import SignResult, is_long_term, resolve_level, sign_pdf
from signing.trust import load_trust_roots, validation_context
from signing.tsa import TsaPolicy, timestamper, with_retries
from signing.verify import verify_pdf

#: a validation context older than this is rebuilt (its cached OCSP answers go stale)
CONTEXT_MAX_AGE_SECONDS = 600.0


class SigningSession:
    """Signs and verifies a batch of documents with one loaded key.

    Made by :func:`open_signing_session`; use it as a context manager (or call
    :meth:`close`) so that a token session is logged out at the end. ``sign``
    may be called from several threads at once (network waits overlap).
    """

    def __init__(
        self,
        settings: SigningSettings,
        identity: SigningIdentity,
        loaded: LoadedSigner,
        *,
        font_cache_dir: Path,
        close: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._identity = identity
        self._loaded = loaded
        self._font_cache_dir = font_cache_dir
        self._close = close
        self._sleep = sleep
        self._roots = load_trust_roots(identity.trust_roots)
        self._tsa = TsaPolicy.of(settings)
        self._timestamper = timestamper(settings)
        self._local = threading.local()
        self.level = resolve_level(settings.pades_level, self._timestamper)
        #: the agency the stamp names (the certificate's until :meth:`bind_agency` checks the configured one)
        self.agency_name = loaded.agency

    # --- what the flows read -------------------------------------------------------

    @property
    def signer_name(self) -> str:
        """The signing certificate's subject, most specific part first."""
        return self._loaded.subject

    @property
    def demo(self) -> bool:
        """True when signing with the demo identity (never for real documents)."""
        return self._identity.demo

    @property
    def note(self) -> str:
        """One line on what this session signs with, for logs and the CLI (no secrets)."""
        if self.demo:
            key = _("the demo key (not for real documents) of {signer}", signer=self.signer_name)
        elif self._identity.token:
            key = _("the token key of {signer}", signer=self.signer_name)
        else:
            key = _("the PKCS#12 key of {signer}", signer=self.signer_name)
        if self.level == "B-B":
            tsa = _("no timestamp (B-B)") if self._timestamper else _("no timestamp authority")
        else:
            tsa = _("timestamps from {url}", url=self._settings.tsa_url)
        return _("PAdES {level} with {key}; stamp names {agency}; {tsa}", level=self.level, key=key,
                 agency=self.agency_name, tsa=tsa)

    # --- operations ----------------------------------------------------------------

    def sign(self, src: Path, dst: Path, *, when: datetime | None = None) -> SignResult:
        """Sign ``src`` into ``dst`` at the session's level (see :func:`signing.sign.sign_pdf`).

        A timestamp authority that does not answer is retried with backoff
        (:func:`signing.tsa.with_retries`); then :class:`TimestampUnavailableError`
        is raised and ``dst`` is not written.
        """
        if self._timestamper is None:
            return self._sign_once(src, dst, when)
        return with_retries(lambda: self._sign_once(src, dst, when), self._tsa, sleep=self._sleep)

    def verify(self, path: Path, *, expected_sha256: str | None = None,
               validated_pdfa_sha256: str | None = None) -> VerifyReport:
        """The report of named checks on ``path``, requiring this session's level and agency.

        ``validated_pdfa_sha256``: see :func:`signing.verify.verify_pdf` (the PDF/A is validated once).
        """
        return verify_pdf(
            path,
            self._identity.trust_roots,
            expected_sha256=expected_sha256,
            min_pades_level=self.level,
            fetch_revocation=self._settings.fetch_revocation,
            revocation_mode=self._settings.revocation_mode,
            fetch_timeout=self._tsa.timeout_seconds,
            agency_name=self.agency_name,
            validated_pdfa_sha256=validated_pdfa_sha256,
        )

    def validation_context(self) -> ValidationContext:
        """This thread's validation context (reused while fresh: its fetched OCSP/CRL stay cached)."""
        # None means "never made": time.monotonic() counts from boot, so right after a
        # reboot it is small and "now - 0.0 > max age" would be False (FIELD-NOTES).
        made = getattr(self._local, "made", None)
        if made is None or time.monotonic() - made > CONTEXT_MAX_AGE_SECONDS:
            self._local.context = self._new_context()
            self._local.made = time.monotonic()
        return self._local.context

    def check_signer(self) -> None:
        """Refuse a signing certificate that is revoked or does not chain to the trust roots."""
        signer = self._loaded.signer
        validator = CertificateValidator(
            signer.signing_cert,
            intermediate_certs=list(signer.cert_registry),
            validation_context=self._new_context(),
        )
        try:
            asyncio.run(validator.async_validate_usage(set()))
        except RevokedError as e:
            raise SigningError(_("the signing certificate of {signer_name} is revoked: {error}",
                                 signer_name=self.signer_name, error=e),
                               hint=_("the agency needs a new certificate")) from e
        except (PathBuildingError, PathValidationError, InvalidCertificateError) as e:
            raise SigningError(_("the signing certificate of {signer_name} cannot be validated: {error}",
                                 signer_name=self.signer_name, error=e),
                               hint=_("check signing.trust_roots and the certificate chain")) from e

    def bind_agency(self) -> None:
        """Fix the agency the stamp names from the key: refuse a configured ``signing.agency_name``
        that is not the certificate's, unless ``signing.agency_name_override`` (see
        :func:`signing.identity.resolve_agency`)."""
        self.agency_name = resolve_agency(
            self._settings.agency_name, self._loaded,
            override=self._settings.agency_name_override, demo=self._identity.demo,
        )

    def close(self) -> None:
        """Release the key (log out of a token)."""
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> SigningSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- inside --------------------------------------------------------------------

    def _sign_once(self, src: Path, dst: Path, when: datetime | None) -> SignResult:
        try:
            return self._sign_pdf(src, dst, when, is_long_term(self.level))
        except RuntimeError as e:  # python-pkcs11's errors: the token failed or was pulled out
            if self._identity.token is None:
                raise
            raise SigningError(_("the token could not sign: {kind} {error}", kind=type(e).__name__,
                                 error=e).rstrip()) from e

    def _sign_pdf(self, src: Path, dst: Path, when: datetime | None, long_term: bool) -> SignResult:
        return sign_pdf(
            src,
            dst,
            self._loaded,
            agency_name=self.agency_name,
            copy_form=self._settings.copy_form,
            pades_level=self.level,
            when=when,
            font_cache_dir=self._font_cache_dir,
            timestamper=self._timestamper,
            validation_context=self.validation_context() if long_term else None,
        )

    def _new_context(self) -> ValidationContext:
        return validation_context(self._roots, fetch=self._settings.fetch_revocation,
                                  revocation_mode=self._settings.revocation_mode, timeout=self._tsa.timeout_seconds)


def open_signing_session(settings: SigningSettings, *, font_cache_dir: Path) -> SigningSession:
    """Open the configured key (PKCS#11 token, PKCS#12 file or the demo identity) for a batch.

    Refuses (:class:`SigningError`) a wrong password or PIN, an expired, not yet
    valid or revoked certificate, one that does not chain to the trust roots,
    and a ``signing.agency_name`` that is not the certificate's agency (unless
    ``signing.agency_name_override``).
    """
    identity = resolve_identity(settings)
    loaded, close = _open_key(identity, settings)
    session = SigningSession(settings, identity, loaded, font_cache_dir=font_cache_dir, close=close)
    try:
        session.check_signer()
        session.bind_agency()
    except BaseException:
        session.close()
        raise
    return session


def _open_key(identity: SigningIdentity, settings: SigningSettings) -> tuple[LoadedSigner, Callable[[], None] | None]:
    """Open the key; a wrong password or PIN, or an unreadable key file, says where the secret
    or the file name came from (never the secret itself)."""
    try:
        if identity.token is not None:
            from signing.token import open_token

            token = open_token(identity.token)
            return token.loaded, token.close
        return load_signer(identity.pkcs12, identity.password), None
    except SigningError as e:
        cause = e.__cause__
        if type(cause).__name__ in ("PinIncorrect", "PinLenRange"):
            raise SigningError(e.message, hint=secret_hint(settings, "pin")) from cause
        if identity.token is None and isinstance(cause, ValueError):
            raise SigningError(
                _("could not open the signing key {pkcs12}: wrong password, or the file is not a PKCS#12 key",
                  pkcs12=identity.pkcs12), hint=secret_hint(settings, "password")) from cause
        if identity.token is None and isinstance(cause, OSError):
            where = settings.source_of("pkcs12")
            hint = _("signing.pkcs12 is set in {where}; check the path and that this user may read the file",
                     where=where) if where else None
            raise SigningError(e.message, hint=hint) from cause
        raise


def secret_hint(settings: SigningSettings, kind: str) -> str:
    """Where the PKCS#12 password (``kind`` "password") or the token PIN ("pin") was taken from,
    in words an operator can act on; the secret itself is never part of it."""
    name = _("PKCS#12 password") if kind == "password" else _("token PIN")
    value_key, file_key = ("pkcs12_password", "pkcs12_password_file") if kind == "password" else (
        "pkcs11_pin", "pkcs11_pin_file")
    if kind == "password" and settings.pkcs12 is None:
        return _("the demo key's password is read from {file}; delete that folder to make a new demo key",
                 file=Path(settings.demo_dir or ".") / "demo-agency.pass")
    if getattr(settings, value_key) is not None:
        where = settings.source_of(value_key) or f"signing.{value_key}"
        return _("the {secret} was taken from {where} (not shown); correct it there", secret=name, where=where)
    secret_file = getattr(settings, file_key)
    if secret_file is not None:
        named = settings.source_of(file_key)
        if named:
            return _("the {secret} was taken from the first line of the file {file} (named in {where}); correct it "
                     "there", secret=name, file=secret_file, where=named)
        return _("the {secret} was taken from the first line of the file {file}; correct it there", secret=name,
                 file=secret_file)
    variable = "DIGITIZE_SIGNING__" + value_key.upper()
    return _("no {secret} is set: set the environment variable {variable} or signing.{setting}", secret=name,
             variable=variable, setting=file_key)


__all__ = ["SigningSession", "TsaPolicy", "open_signing_session"]
