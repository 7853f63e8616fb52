"""One typed, frozen settings object, read once at the edge.

Sources, later ones winning:

1. the defaults below (the embedded set-up: everything under ``var/``);
2. a TOML file (``digitize.toml`` in the working folder, or the path given);
3. environment variables ``DIGITIZE_<SECTION>__<KEY>``, e.g.
   ``DIGITIZE_OCR__LANGUAGES=vie+eng``.

Unknown sections and keys are rejected with a message naming them. Library
functions never read the environment: :func:`load_settings` is called by the
CLI or a flow, and each function receives only the section it needs.

Relative paths are resolved against ``base_dir`` (the folder of the TOML file,
or the working folder when there is none).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from digitize.errors import ConfigError
from digitize.i18n import N_, _

ENV_PREFIX = "DIGITIZE_"
CONFIG_ENV = "DIGITIZE_CONFIG"
DEFAULT_CONFIG_NAME = "digitize.toml"
LEVELS = ("tinh", "huyen", "xa")
#: Languages of the user interface (``ui.language``); messages are written in English and translated.
LANGUAGES = ("vi", "en")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def _masked_repr(section: object) -> str:
    """A section's repr with its secrets left out and URL passwords replaced by ``***``."""
    name = next((n for n, cls in _SECTIONS.items() if cls is type(section)), "")
    shown = []
    for f in dataclasses.fields(section):
        key = f"{name}.{f.name}"
        value = getattr(section, f.name)
        if not f.repr or key in SECRET_KEYS:
            continue
        shown.append(f"{f.name}={redact_url(value) if key in URL_KEYS and value else value!r}")
    return f"{type(section).__name__}({', '.join(shown)})"


@dataclass(frozen=True)
class PathSettings:
    """Where the pipeline keeps its folders.

    Each folder left unset lies under ``var_dir``: ``inbox/``, ``work/``,
    ``done/``, ``failed/`` (and the archive, catalog and demo keys, see their
    sections), so moving ``var_dir`` moves the whole embedded set-up.
    """

    var_dir: Path = Path("var")
    inbox: Path | None = None
    backlog: Path | None = None
    work: Path | None = None
    done: Path | None = None
    failed: Path | None = None
    #: Keep every document's work folder (for diagnosis); by default a folder goes once its input is done.
    keep_work: bool = False
    #: A work folder kept from a failure is removed when untouched this many days.
    work_max_age_days: float = 14.0


@dataclass(frozen=True)
class IntakeSettings:
    """How files are taken from the scanner folders."""

    settle_seconds: float = 5.0
    #: An item (a file, or a folder's files together) larger than this is refused before it is hashed or copied.
    max_file_mb: float = 500.0
    claim_timeout_seconds: float = 6 * 3600.0
    default_dpi: int = 300
    levels: tuple[str, ...] = LEVELS
    #: An input of more pages is refused (exit 4) before any page is rendered.
    max_pages: int = 500


@dataclass(frozen=True)
class OcrSettings:
    """Tesseract options."""

    languages: str = "vie"
    #: Tesseract's model folder: "" (the OS package's folder: the "fast" vie model), "auto"
    #: (``<paths.var_dir>/tessdata`` when set-up installed the best_int vie model there, else the OS
    #: folder) or a folder. best_int measured about the same on vn-docs (bench/README.md): opt-in.
    tessdata_dir: str = ""
    timeout_seconds: float = 300.0
    #: Order of the text layer: "layout" (the Decree 30 blocks: header and closing columns read
    #: left, then right) or "tesseract" (as Tesseract read it). Words keep their places either way.
    reading_order: str = "layout"
    #: Words Tesseract read with a confidence below this get the tone marks their context asks
    #: for (digitize/tonemarks.py); 0: no correction. Words at or above it are never changed.
    tone_correction_below: float = 80.0
    #: Words read inside a red seal with a confidence below this stay out of the text layer
    #: (the image keeps them); 0: keep every word.
    seal_words_below: float = 50.0
    min_confidence: float = 60.0
    jpeg_quality: int = 80
    #: Processes that clean and OCR pages in parallel; 0: one per CPU core.
    workers: int = 0
    #: Documents of a run in flight at once, their pages sharing the run's workers; 0: 4 x workers.
    documents_in_flight: int = 0
    #: Limit for one whole page (render, clean, OCR) in a worker.
    page_timeout_seconds: float = 600.0
    #: A PDF page that already has text: "refuse" (exit 4), "redo" (OCR the rendered page
    #: again) or "skip" (keep the page as it is, no OCR).
    existing_text: str = "refuse"
    #: A PDF that already carries a digital signature: "refuse" (exit 7) or "keep-original"
    #: (digitize it and keep the signed original untouched beside the copy).
    signed_input: str = "refuse"
    #: Keep blank pages (a digital copy is a 100% copy); False drops them.
    keep_blank_pages: bool = True
    #: A page scanned without colour (Decree 30/2020 asks for colour): "warn" (reported) or "refuse" (exit 4).
    require_colour: str = "warn"


@dataclass(frozen=True)
class SigningSettings:
    """The signing identity and the form of the visible signature.

    With ``pkcs12`` left empty the demo identity under ``var/keys/`` is used,
    created on first run and marked as a test key.
    """

    __repr__ = _masked_repr

    pkcs12: Path | None = None
    pkcs12_password: str | None = field(default=None, repr=False)
    pkcs12_password_file: Path | None = None
    demo_dir: Path | None = None
    #: the agency the stamp names; empty: the signing certificate's O (else CN)
    agency_name: str = ""
    #: print a configured agency_name that is not the certificate's (refused otherwise)
    agency_name_override: bool = False
    copy_form: str = "SAO Y"
    pades_level: str = "auto"
    trust_roots: tuple[Path, ...] = ()
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = None
    pkcs11_key_label: str | None = None
    pkcs11_cert_label: str | None = None
    pkcs11_pin: str | None = field(default=None, repr=False)
    pkcs11_pin_file: Path | None = None
    tsa_url: str | None = None
    tsa_timeout_seconds: float = 10.0
    tsa_retries: int = 3
    tsa_backoff_seconds: float = 1.0
    fetch_revocation: bool = True
    revocation_mode: str = "hard-fail"
    #: renew a B-LTA file's archive timestamp when its newest one keeps it provable for less than this
    renew_within_days: int = 365
    #: algorithms no longer trusted from a date on ("sha1=2020-01-01"): a timestamp using one is renewed
    algorithm_sunsets: tuple[str, ...] = ()
    #: Where each key of this section was set ("the environment variable ...", "the settings
    #: file ..."), so that a wrong password can be traced without showing it. Not a setting.
    sources: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False,
                                                 metadata={"internal": True})

    def source_of(self, key: str) -> str | None:
        """Where ``key`` of [signing] was set, in words; None when it kept its default."""
        return dict(self.sources).get(key)


@dataclass(frozen=True)
class ArchiveSettings:
    """Where signed files are kept: the folder ``var/archive`` (``local``) or an S3 bucket (``s3``).

    S3 credentials come from boto3's standard chain (environment, shared
    files, instance role); they are never settings, so never logged.
    """

    __repr__ = _masked_repr

    backend: str = "local"
    root: Path | None = None
    bucket: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    addressing_style: str = "auto"
    on_conflict: str = "refuse"
    conditional_writes: bool = True
    object_lock_mode: str = ""
    retention_years: int = 0
    sse: str = ""
    sse_kms_key_id: str = ""
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    multipart_concurrency: int = 4
    max_attempts: int = 3
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0


@dataclass(frozen=True)
class CatalogSettings:
    """The SQL catalog: a SQLite file (WAL mode), by default ``var/catalog.sqlite``.

    ``url`` set to ``postgresql://...`` uses PostgreSQL instead (the password
    is best left to ``PGPASSWORD`` or ``~/.pgpass``, not the URL).
    """

    __repr__ = _masked_repr

    path: Path | None = None
    url: str = field(default="", repr=False)


@dataclass(frozen=True)
class UiSettings:
    """What the people who read the messages read them in."""

    #: Language of every message a clerk or operator reads (``vi`` or ``en``); JSON keys, CSV headers,
    #: exit codes and developers' log records are the same in both.
    language: str = "vi"


@dataclass(frozen=True)
class Settings:
    """All settings; sections are passed separately to the parts that use them."""

    paths: PathSettings = field(default_factory=PathSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    signing: SigningSettings = field(default_factory=SigningSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    source: str = "defaults"


#: Allowed range (inclusive) of every numeric setting; nan and infinity are always refused.
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "intake.settle_seconds": (0, 86_400),
    "intake.claim_timeout_seconds": (60, 30 * 86_400),
    "intake.default_dpi": (72, 1200),
    "intake.max_file_mb": (1, 1_000_000),
    "intake.max_pages": (1, 100_000),
    "paths.work_max_age_days": (0, 3650),
    "ocr.timeout_seconds": (1, 86_400),
    "ocr.min_confidence": (0, 100),
    "ocr.jpeg_quality": (1, 100),
    "ocr.workers": (0, 256),
    "ocr.documents_in_flight": (0, 256),
    "ocr.tone_correction_below": (0, 100),
    "ocr.seal_words_below": (0, 100),
    "ocr.page_timeout_seconds": (1, 86_400),
    "signing.tsa_timeout_seconds": (0.1, 600),
    "signing.tsa_retries": (0, 10),
    "signing.tsa_backoff_seconds": (0, 600),
    "signing.renew_within_days": (1, 36_500),
    "archive.retention_years": (0, 100),
    "archive.multipart_threshold_mb": (5, 5 * 1024 * 1024),
    "archive.multipart_chunk_mb": (5, 5 * 1024),
    "archive.multipart_concurrency": (1, 64),
    "archive.max_attempts": (1, 20),
    "archive.connect_timeout_seconds": (0.1, 600),
    "archive.read_timeout_seconds": (0.1, 3600),
}

#: Settings whose values are secrets: never shown in a message, a log or a repr.
SECRET_KEYS = frozenset({"signing.pkcs12_password", "signing.pkcs11_pin", "catalog.url"})
#: Settings holding a URL that may carry a password (``scheme://user:password@host``).
URL_KEYS = frozenset({"catalog.url", "archive.endpoint_url", "signing.tsa_url"})

_SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Settings).items() if name != "source"
}


def load_settings(
    config_path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Settings:
    """Read the settings from defaults, a TOML file and ``DIGITIZE_*`` variables.

    ``config_path`` None means: the file named by ``DIGITIZE_CONFIG``, else
    ``digitize.toml`` in the working folder if it exists, else no file.
    """
    environ = os.environ if environ is None else environ
    explicit = config_path is not None or CONFIG_ENV in environ
    path = Path(config_path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)
    raw: dict[str, dict[str, object]] = {}
    origins: dict[str, str] = {}
    sources = []
    if path.is_file():
        raw = _read_toml(path)
        sources.append(str(path))
        # Where each value came from, in words signing/session.py puts into its own (English) messages:
        # worded when the settings are read, so not translated here (the language may change after).
        origins = {f"{section}.{key}": f"the settings file {path.resolve()}"
                   for section, values in raw.items() for key in values}
        base = base_dir or path.resolve().parent
    elif explicit:
        raise ConfigError(_("configuration file {path} does not exist", path=path))
    else:
        base = base_dir or Path.cwd()
    env_values = _env_overrides(environ)
    if env_values:
        sources.append("environment")
    for section, values in env_values.items():
        raw.setdefault(section, {}).update(values)
        origins.update({f"{section}.{key}": f"the environment variable {ENV_PREFIX}{section.upper()}__{key.upper()}"
                        for key in values})
    settings = _build(raw, base, origins)
    return dataclasses.replace(settings, source=" + ".join(["defaults", *sources]))


def _read_toml(path: Path) -> dict[str, dict[str, object]]:
    try:
        # A byte order mark (Windows Notepad writes one) is not TOML, but it is not a mistake either.
        data = tomllib.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(_("{path}: not UTF-8 text (byte {byte}); save it as UTF-8", path=path, byte=e.start)) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_("{path}: not valid TOML: {error}", path=path, error=e)) from e
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(_("{path}: unknown section [{section}]; known: {known}", path=path, section=section,
                                known=", ".join(_SECTIONS)))
        if not isinstance(values, dict):
            raise ConfigError(_("{path}: '{section}' must be a [section] table", path=path, section=section))
    return data


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section, sep, key = rest.partition("__")
        if not sep or section not in _SECTIONS:
            raise ConfigError(_(
                "environment variable {name}: unknown setting; "
                "use DIGITIZE_<SECTION>__<KEY> with a section among {known}", name=name, known=", ".join(_SECTIONS),
            ))
        out.setdefault(section, {})[key] = value
    return out


def _build(raw: Mapping[str, Mapping[str, object]], base: Path, origins: Mapping[str, str] | None = None) -> Settings:
    origins = origins or {}
    sections = {}
    for name, cls in _SECTIONS.items():
        values = raw.get(name, {})
        known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        kwargs: dict[str, object] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(_(
                    "unknown setting '{key}'; known keys in [{section}]: {known}",
                    key=name + "." + key, section=name, known=", ".join(known),
                ))
            kwargs[key] = _coerce(f"{name}.{key}", value, typing.get_type_hints(cls)[key])
        if cls is SigningSettings:
            kwargs["sources"] = tuple((key, origins[f"{name}.{key}"]) for key in values
                                      if f"{name}.{key}" in origins)
        section = cls(**kwargs)
        if name == "ocr" and section.tessdata_dir not in ("", "auto") and not Path(section.tessdata_dir).is_absolute():
            section = dataclasses.replace(section, tessdata_dir=str(base / section.tessdata_dir))
        sections[name] = _resolve_paths(section, base)
    settings = _under_var_dir(Settings(**sections))
    _check(settings)
    return settings


def _under_var_dir(settings: Settings) -> Settings:
    """Put every folder left unset under ``paths.var_dir``."""
    var = settings.paths.var_dir
    paths = settings.paths
    paths = dataclasses.replace(
        paths,
        inbox=paths.inbox or var / "inbox",
        backlog=paths.backlog or var / "backlog",
        work=paths.work or var / "work",
        done=paths.done or var / "done",
        failed=paths.failed or var / "failed",
    )
    return dataclasses.replace(
        settings,
        paths=paths,
        signing=dataclasses.replace(settings.signing, demo_dir=settings.signing.demo_dir or var / "keys"),
        archive=dataclasses.replace(settings.archive, root=settings.archive.root or var / "archive"),
        catalog=dataclasses.replace(settings.catalog, path=settings.catalog.path or var / "catalog.sqlite"),
        ocr=dataclasses.replace(settings.ocr, tessdata_dir=_tessdata_dir(settings.ocr.tessdata_dir, var)),
    )


def _tessdata_dir(value: str, var: Path) -> str:
    """``ocr.tessdata_dir`` made concrete: "auto" is ``var/tessdata`` when set-up installed a Vietnamese
    model there, else "" (the OS default folder)."""
    if value != "auto":
        return value
    folder = var / "tessdata"
    return str(folder) if (folder / "vie.traineddata").is_file() else ""


def _coerce(name: str, value: object, hint: object) -> object:
    """Turn a TOML or environment value into the declared type, or refuse (naming the key, never a secret)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value in (None, ""):
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(name, value, inner)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(_("setting '{key}' must be a list, not {value}", key=name, value=shown_value(name, value)))
        return tuple(_coerce(name, item.strip() if isinstance(item, str) else item, args[0])
                     for item in items if item != "")
    if hint in (int, float):
        return _number(name, value, hint)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is Path:
            if not isinstance(value, str):
                raise ValueError(value)
            return Path(value)
        if hint is str:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError(value)
            return str(value)
    except (TypeError, ValueError) as e:
        wanted = {bool: N_("true or false"), Path: N_("a path (a string)"), str: N_("a string")}.get(hint, hint)
        raise ConfigError(_("setting '{key}' must be {wanted}, not {value}", key=name,
                            wanted=_(wanted) if isinstance(wanted, str) else wanted,
                            value=shown_value(name, value))) from e
    raise ConfigError(_("setting '{key}' has an unsupported type {type}", key=name, type=repr(hint)))


def _number(name: str, value: object, hint: type) -> int | float:
    """A finite number of type ``hint`` within :data:`NUMERIC_RANGES`; a bool, a fraction for a
    whole number, nan and infinity are refused."""
    low, high = NUMERIC_RANGES.get(name, (0, float("inf")))
    low_text, high_text = f"{low:g}", f"{high:g}"
    if hint is int:
        allowed = (_("a whole number from {low} to {high}", low=low_text, high=high_text) if high != float("inf")
                   else _("a whole number of at least {low}", low=low_text))
    else:
        allowed = (_("a number from {low} to {high}", low=low_text, high=high_text) if high != float("inf")
                   else _("a number of at least {low}", low=low_text))
    error = ConfigError(_("setting '{key}' must be {wanted}, not {value}", key=name, wanted=allowed,
                          value=shown_value(name, value)))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise error
    if hint is int and isinstance(value, float):
        raise error
    try:
        number = hint(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise error from None
    if not math.isfinite(number) or not low <= number <= high:
        raise error
    return number


def shown_value(name: str, value: object) -> str:
    """``value`` as a message may show it: a secret or a URL that may carry a password is never shown."""
    if name in SECRET_KEYS or name in URL_KEYS:
        return _("a {type} (value not shown: it may hold a secret)", type=type(value).__name__)
    return repr(value)


def redact_url(url: str) -> str:
    """``url`` with the password of ``scheme://user:password@host`` replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(a URL that could not be read)"
    if password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@")))


def secret_values(settings: Settings) -> tuple[str, ...]:
    """Every secret the settings hold (passwords, PINs, URL passwords), to mask in any text shown."""
    values = [settings.signing.pkcs12_password, settings.signing.pkcs11_pin]
    for url in (settings.catalog.url, settings.archive.endpoint_url, settings.signing.tsa_url):
        try:
            values.append(urlsplit(url or "").password)
        except ValueError:
            continue
    return tuple(sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True))


def mask_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _resolve_paths(section: object, base: Path) -> object:
    changes = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if isinstance(value, Path) and not value.is_absolute():
            changes[f.name] = base / value
        elif isinstance(value, tuple) and value and all(isinstance(v, Path) for v in value):
            changes[f.name] = tuple(v if v.is_absolute() else base / v for v in value)
    return dataclasses.replace(section, **changes)


def _check(settings: Settings) -> None:
    if not settings.intake.levels:
        raise ConfigError(_("intake.levels is empty: name at least one level of office, e.g. [\"xa\"]"))
    for level in settings.intake.levels:
        if not _SLUG.fullmatch(level):
            raise ConfigError(_("intake.levels: {value} is not a level code (lower-case letters, digits, '-')",
                                value=repr(level)))
    if settings.signing.pades_level not in ("B-B", "B-T", "B-LT", "B-LTA", "auto"):
        raise _not_one_of("signing.pades_level", ("B-B", "B-T", "B-LT", "B-LTA", "auto"), settings.signing.pades_level)
    if settings.signing.pades_level not in ("B-B", "auto") and not settings.signing.tsa_url:
        raise ConfigError(_("signing.pades_level {level} needs a timestamp authority: set signing.tsa_url",
                            level=settings.signing.pades_level))
    if settings.signing.pkcs11_module is not None and settings.signing.pkcs12 is not None:
        raise ConfigError(_("set either signing.pkcs12 or signing.pkcs11_module, not both"))
    if settings.signing.pkcs11_module is not None and not settings.signing.pkcs11_key_label:
        raise ConfigError(_("signing.pkcs11_module needs signing.pkcs11_key_label (the key's label on the token)"))
    if settings.signing.revocation_mode not in ("soft-fail", "hard-fail", "require"):
        raise _not_one_of("signing.revocation_mode", ("soft-fail", "hard-fail", "require"),
                          settings.signing.revocation_mode)
    if settings.signing.tsa_timeout_seconds <= 0 or settings.signing.tsa_retries < 0 or settings.signing.tsa_backoff_seconds < 0:
        raise ConfigError(_("signing.tsa_timeout_seconds must be positive, tsa_retries and tsa_backoff_seconds not negative"))
    if settings.signing.copy_form not in ("SAO Y", "SAO LỤC", "TRÍCH SAO"):
        raise _not_one_of("signing.copy_form", ("SAO Y", "SAO LỤC", "TRÍCH SAO"), settings.signing.copy_form)
    _check_archive(settings.archive)
    if settings.ui.language not in LANGUAGES:
        raise _not_one_of("ui.language", LANGUAGES, settings.ui.language)
    if settings.catalog.url and not settings.catalog.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(_("catalog.url must be a postgresql:// URL (leave it empty for the SQLite file catalog.path)"))
    if settings.ocr.timeout_seconds <= 0:
        raise ConfigError(_("ocr.timeout_seconds must be positive"))
    if settings.ocr.page_timeout_seconds <= 0 or settings.ocr.workers < 0:
        raise ConfigError(_("ocr.page_timeout_seconds must be positive and ocr.workers >= 0"))
    if settings.ocr.reading_order not in ("layout", "tesseract"):
        raise _not_one_of("ocr.reading_order", ("layout", "tesseract"), settings.ocr.reading_order)
    if settings.ocr.require_colour not in ("warn", "refuse"):
        raise _not_one_of("ocr.require_colour", ("warn", "refuse"), settings.ocr.require_colour)
    if settings.ocr.existing_text not in ("refuse", "redo", "skip"):
        raise _not_one_of("ocr.existing_text", ("refuse", "redo", "skip"), settings.ocr.existing_text)
    if settings.ocr.signed_input not in ("refuse", "keep-original"):
        raise _not_one_of("ocr.signed_input", ("refuse", "keep-original"), settings.ocr.signed_input)


def _not_one_of(key: str, allowed: tuple[str, ...], value: object) -> ConfigError:
    """The error for a setting ``key`` whose ``value`` is not among ``allowed``."""
    return ConfigError(_("{key} must be one of {allowed}, not {value}", key=key,
                         allowed=", ".join(repr(a) for a in allowed), value=repr(value)))


def _check_archive(archive: ArchiveSettings) -> None:
    """The archive settings are consistent (backend, S3 options, sizes)."""
    if archive.backend not in ("local", "s3"):
        raise _not_one_of("archive.backend", ("local", "s3"), archive.backend)
    if archive.backend == "s3" and not archive.bucket:
        raise ConfigError(_("archive.bucket is required when archive.backend is 's3'"))
    choices = {
        "addressing_style": ("auto", "path", "virtual"),
        "on_conflict": ("refuse", "version"),
        "object_lock_mode": ("", "GOVERNANCE", "COMPLIANCE"),
        "sse": ("", "AES256", "aws:kms"),
    }
    for name, allowed in choices.items():
        if getattr(archive, name) not in allowed:
            raise _not_one_of(f"archive.{name}", allowed, getattr(archive, name))
    if archive.object_lock_mode and archive.retention_years < 1:
        raise ConfigError(_("archive.retention_years must be at least 1 when archive.object_lock_mode is set"))
    if archive.multipart_chunk_mb < 5 or archive.multipart_threshold_mb < archive.multipart_chunk_mb:
        raise ConfigError(_("archive.multipart_chunk_mb must be >= 5 (S3 minimum part size) and <= multipart_threshold_mb"))
    if archive.multipart_concurrency < 1:
        raise ConfigError(_("archive.multipart_concurrency must be at least 1"))
    if archive.max_attempts < 1 or archive.retention_years < 0:
        raise ConfigError(_("archive.max_attempts must be >= 1 and archive.retention_years >= 0"))
