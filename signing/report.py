"""What a verification finds: named checks and the report that combines them.

A :class:`Check` is one verdict (``signed``, ``trust``, ``stamp``, ``pdfa``,
``identity``...) with a readable reason; a :class:`VerifyReport` holds all the
checks made on one file. They live apart from :mod:`signing.verify` so that the
modules that make single checks (:mod:`signing.pdfa_check`,
:mod:`signing.stamp_check`, :mod:`signing.document_check`) and those that read
reports (:mod:`signing.renew`, the pipeline) need not import the verifier, and
the verifier can import them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    """One named verdict with a readable reason."""

    name: str
    ok: bool
    detail: str
    #: a failed check whose verdict is open (not enough data now), not a proof that something is wrong
    indeterminate: bool = False


@dataclass(frozen=True)
class VerifyReport:
    """All checks made on one file; ``ok`` only when every check passed."""

    path: Path
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def outcome(self) -> str:
        """``valid``; ``indeterminate`` when every failed check is open for want of data; else ``invalid``."""
        failed = self.failed()
        if self.ok:
            return "valid"
        if failed and all(c.indeterminate for c in failed):
            return "indeterminate"
        return "invalid"

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it was not made)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def failed(self) -> tuple[Check, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: path, ok, and the checks in order."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "outcome": self.outcome,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "indeterminate": c.indeterminate}
                       for c in self.checks],
        }
