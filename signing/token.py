"""Keys on PKCS#11 tokens: the USB tokens of the government CA, HSMs, SoftHSM2 in tests.

A token session is opened once (PIN entered once) and kept for a whole batch;
:class:`OpenToken` closes it. The signing certificate is read from the token
(by ``cert_label``), and so is every other certificate on it, so that the
intermediate CA travels in the signature as a USB token usually carries it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from digitize.errors import SigningError
from digitize.i18n import _
from signing.identity import LoadedSigner, TokenKey, describe_signer


@dataclass(frozen=True)
class OpenToken:
    """An open token session and the signer over it; call :meth:`close` when the batch ends."""

    loaded: LoadedSigner
    session: object = field(repr=False)

    def close(self) -> None:
        """Log out and close the token session (errors on closing are ignored: nothing to save)."""
        try:
            self.session.close()
        except Exception:  # noqa: BLE001 - a token pulled out mid-close leaves nothing to clean up
            pass


def open_token(key: TokenKey, *, now: datetime | None = None) -> OpenToken:
    """Open the token, log in with the PIN and find the key and its certificate.

    Raises :class:`SigningError` (without the PIN) for a missing module or
    token, a wrong or badly sized PIN, a missing key or certificate, and a
    certificate that is not valid ``now``.
    """
    try:
        from pkcs11 import exceptions as p11
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Error, PKCS11Signer, open_pkcs11_session
    except ImportError as e:
        raise SigningError(_("PKCS#11 support is not installed"), hint=_("pip install 'pyhanko[pkcs11]'")) from e
    if not key.module.is_file():
        raise SigningError(_("the PKCS#11 module {module} does not exist", module=key.module),
                           hint=_("check signing.pkcs11_module"))
    criteria = TokenCriteria(label=key.token_label) if key.token_label else None
    try:
        session = open_pkcs11_session(str(key.module), token_criteria=criteria, user_pin=key.pin)
    except (p11.PinIncorrect, p11.PinLenRange) as e:
        raise SigningError(_("wrong PIN for the token {token}", token=key.token_label or "").strip(),
                           hint=_("check signing.pkcs11_pin_file")) from e
    except p11.PinLocked as e:
        raise SigningError(_("the token {token} is locked: too many wrong PINs", token=key.token_label or "")
                           .replace("  ", " ")) from e
    except (PKCS11Error, p11.PKCS11Error, OSError, RuntimeError) as e:
        raise SigningError(_("could not open the PKCS#11 token {token} with {module}: {kind} {error}",
                             token=key.token_label or "", module=key.module, kind=type(e).__name__,
                             error=e).rstrip().replace("  ", " ")) from e
    try:
        signer = PKCS11Signer(session, key_label=key.key_label, cert_label=key.cert_label, other_certs_to_pull=None)
        loaded = describe_signer(signer, now=now)
        # many tokens (SoftHSM2 among them) offer plain CKM_ECDSA but not CKM_ECDSA_SHA256:
        # hash on the host and let the token sign the digest
        signer.use_raw_mechanism = signer.signing_cert.public_key.algorithm == "ec"
    except (PKCS11Error, p11.PKCS11Error) as e:
        session.close()
        raise SigningError(_("the token has no usable key {key!r} with certificate {certificate!r}: {kind} {error}",
                             key=key.key_label, certificate=key.cert_label, kind=type(e).__name__,
                             error=e).rstrip()) from e
    except SigningError:
        session.close()
        raise
    return OpenToken(loaded=loaded, session=session)
