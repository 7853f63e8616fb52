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

How: each section is a frozen pydantic dataclass (value types from
:mod:`digitize.settings_types`, ranges as ``Field(ge=, le=)``, unknown keys refused by
``extra="forbid"``), so callers keep ``settings.ocr.workers``, ``dataclasses.replace`` and
``asdict``; pydantic-settings' environment source reads the ``DIGITIZE_*`` variables into
sections (prefix, ``__`` nesting, any case), which are laid over the TOML file's tables. Kept by hand, each for a reason: reading the TOML file (a byte order
mark is tolerated, and where each signing key came from is remembered for password errors);
the layering itself, two dictionaries merged per section (``BaseSettings()``, even its
``model_validate``, reads ``os.environ``, not the mapping :func:`load_settings` is given);
refusing
a ``DIGITIZE_*`` variable that names no section (pydantic-settings ignores it: a typo would
be dropped silently); turning pydantic's errors into one ``ConfigError`` in the reader's
language that names the key and what it allows, never a secret; and the choices and
cross-key rules in :func:`_check`, so that a section built by hand (a test, a library
caller) is not refused for a choice its user checks itself.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import annotated_types
import pydantic
import pydantic.dataclasses
from pydantic import Field
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from digitize.errors import ConfigError
from digitize.i18n import LANGUAGES, _
from digitize.models import COPY_FORMS, PADES_LEVELS
from digitize.settings_types import Flag, FolderPath, Number, OptionalPath, OptionalText, Paths, Text, Whole, Words

ENV_PREFIX = "DIGITIZE_"
CONFIG_ENV = "DIGITIZE_CONFIG"
#: Kinds of the place a setting came from (:func:`describe_origin` words them).
ORIGIN_ENV, ORIGIN_FILE = "env", "file"
#: The parts of ``Settings.source`` besides a settings file's path (:func:`describe_source` words them).
SOURCE_DEFAULTS, SOURCE_ENVIRONMENT = "defaults", "environment"
DEFAULT_CONFIG_NAME = "digitize.toml"
LEVELS = ("tinh", "huyen", "xa")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


_section = pydantic.dataclasses.dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid"))


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


@_section
class PathSettings:
    """Where the pipeline keeps its folders.

    Each folder left unset lies under ``var_dir``: ``inbox/``, ``work/``,
    ``done/``, ``failed/`` (and the archive, catalog and demo keys, see their
    sections), so moving ``var_dir`` moves the whole embedded set-up.
    """

    var_dir: FolderPath = Path("var")
    inbox: OptionalPath = None
    backlog: OptionalPath = None
    work: OptionalPath = None
    done: OptionalPath = None
    failed: OptionalPath = None
    #: Keep every document's work folder (for diagnosis); by default a folder goes once its input is done.
    keep_work: Flag = False
    #: A work folder kept from a failure is removed when untouched this many days.
    work_max_age_days: Annotated[Number, Field(ge=0, le=3650)] = 14.0

    @property
    def font_cache(self) -> Path:
        """Where the stamp font's 1000-units-per-em copies are cached: ``<var_dir>/cache/fonts``."""
        return self.var_dir / "cache" / "fonts"


@_section
class IntakeSettings:
    """How files are taken from the scanner folders."""

    settle_seconds: Annotated[Number, Field(ge=0, le=86_400)] = 5.0
    #: An item (a file, or a folder's files together) larger than this is refused before it is hashed or copied.
    max_file_mb: Annotated[Number, Field(ge=1, le=1_000_000)] = 500.0
    claim_timeout_seconds: Annotated[Number, Field(ge=60, le=30 * 86_400)] = 6 * 3600.0
    default_dpi: Annotated[Whole, Field(ge=72, le=1200)] = 300
    levels: Words = LEVELS
    #: An input of more pages is refused (exit 4) before any page is rendered.
    max_pages: Annotated[Whole, Field(ge=1, le=100_000)] = 500


@_section
class OcrSettings:
    """Tesseract options."""

    languages: Text = "vie"
    #: Tesseract's model folder: "" (the OS package's folder: the "fast" vie model), "auto"
    #: (``<paths.var_dir>/tessdata`` when set-up installed the best_int vie model there, else the OS
    #: folder) or a folder. best_int measured about the same on vn-docs (bench/README.md): opt-in.
    tessdata_dir: Text = ""
    timeout_seconds: Annotated[Number, Field(ge=1, le=86_400)] = 300.0
    #: Order of the text layer: "layout" (the Decree 30 blocks: header and closing columns read
    #: left, then right) or "tesseract" (as Tesseract read it). Words keep their places either way.
    reading_order: Text = "layout"
    #: Words Tesseract read with a confidence below this get the tone marks their context asks
    #: for (digitize/tonemarks.py); 0: no correction. Words at or above it are never changed.
    tone_correction_below: Annotated[Number, Field(ge=0, le=100)] = 80.0
    #: Words read inside a red seal with a confidence below this stay out of the text layer
    #: (the image keeps them); 0: keep every word.
    seal_words_below: Annotated[Number, Field(ge=0, le=100)] = 50.0
    min_confidence: Annotated[Number, Field(ge=0, le=100)] = 60.0
    jpeg_quality: Annotated[Whole, Field(ge=1, le=100)] = 80
    #: Processes that clean and OCR pages in parallel; 0: one per CPU core.
    workers: Annotated[Whole, Field(ge=0, le=256)] = 0
    #: Documents of a run in flight at once, their pages sharing the run's workers; 0: 4 x workers.
    documents_in_flight: Annotated[Whole, Field(ge=0, le=256)] = 0
    #: Limit for one whole page (render, clean, OCR) in a worker.
    page_timeout_seconds: Annotated[Number, Field(ge=1, le=86_400)] = 600.0
    #: A PDF page that already has text: "refuse" (exit 4), "redo" (OCR the rendered page
    #: again) or "skip" (keep the page as it is, no OCR).
    existing_text: Text = "refuse"
    #: A PDF that already carries a digital signature: "refuse" (exit 7) or "keep-original"
    #: (digitize it and keep the signed original untouched beside the copy).
    signed_input: Text = "refuse"
    #: Keep blank pages (a digital copy is a 100% copy); False drops them.
    keep_blank_pages: Flag = True
    #: A page scanned without colour (Decree 30/2020 asks for colour): "warn" (reported) or "refuse" (exit 4).
    require_colour: Text = "warn"


@_section
class SigningSettings:
    """The signing identity and the form of the visible signature.

    With ``pkcs12`` left empty the demo identity under ``var/keys/`` is used,
    created on first run and marked as a test key.
    """

    __repr__ = _masked_repr

    pkcs12: OptionalPath = None
    pkcs12_password: OptionalText = field(default=None, repr=False)
    pkcs12_password_file: OptionalPath = None
    demo_dir: OptionalPath = None
    #: the agency the stamp names; empty: the signing certificate's O (else CN)
    agency_name: Text = ""
    #: print a configured agency_name that is not the certificate's (refused otherwise)
    agency_name_override: Flag = False
    copy_form: Text = "SAO Y"
    pades_level: Text = "auto"
    trust_roots: Paths = ()
    pkcs11_module: OptionalPath = None
    pkcs11_token_label: OptionalText = None
    pkcs11_key_label: OptionalText = None
    pkcs11_cert_label: OptionalText = None
    pkcs11_pin: OptionalText = field(default=None, repr=False)
    pkcs11_pin_file: OptionalPath = None
    tsa_url: OptionalText = None
    tsa_timeout_seconds: Annotated[Number, Field(ge=0.1, le=600)] = 10.0
    tsa_retries: Annotated[Whole, Field(ge=0, le=10)] = 3
    tsa_backoff_seconds: Annotated[Number, Field(ge=0, le=600)] = 1.0
    fetch_revocation: Flag = True
    revocation_mode: Text = "hard-fail"
    #: renew a B-LTA file's archive timestamp when its newest one keeps it provable for less than this
    renew_within_days: Annotated[Whole, Field(ge=1, le=36_500)] = 365
    #: algorithms no longer trusted from a date on ("sha1=2020-01-01"): a timestamp using one is renewed
    algorithm_sunsets: Words = ()
    #: Where each key of this section was set, as ``(key, kind, name)``: kind ``env`` (name: the
    #: variable) or ``file`` (name: the settings file), so that a wrong password can be traced without
    #: showing it. A record in no language: :func:`describe_origin` words it when shown. Not a setting.
    sources: tuple[tuple[str, str, str], ...] = field(default=(), repr=False, compare=False,
                                                      metadata={"internal": True})

    def origin_of(self, key: str) -> tuple[str, str] | None:
        """Where ``key`` of [signing] was set, as ``(kind, name)``; None when it kept its default."""
        return next(((kind, name) for k, kind, name in self.sources if k == key), None)

    def source_of(self, key: str) -> str | None:
        """Where ``key`` of [signing] was set, in the reader's words now; None when it kept its default."""
        origin = self.origin_of(key)
        return None if origin is None else describe_origin(*origin)


@_section
class ArchiveSettings:
    """Where signed files are kept: the folder ``var/archive`` (``local``) or an S3 bucket (``s3``).

    S3 credentials come from boto3's standard chain (environment, shared
    files, instance role); they are never settings, so never logged.
    """

    __repr__ = _masked_repr

    backend: Text = "local"
    root: OptionalPath = None
    bucket: Text = ""
    endpoint_url: Text = ""
    region: Text = "us-east-1"
    addressing_style: Text = "auto"
    on_conflict: Text = "refuse"
    conditional_writes: Flag = True
    object_lock_mode: Text = ""
    retention_years: Annotated[Whole, Field(ge=0, le=100)] = 0
    sse: Text = ""
    sse_kms_key_id: Text = ""
    multipart_threshold_mb: Annotated[Whole, Field(ge=5, le=5 * 1024 * 1024)] = 64
    multipart_chunk_mb: Annotated[Whole, Field(ge=5, le=5 * 1024)] = 16
    multipart_concurrency: Annotated[Whole, Field(ge=1, le=64)] = 4
    max_attempts: Annotated[Whole, Field(ge=1, le=20)] = 3
    connect_timeout_seconds: Annotated[Number, Field(ge=0.1, le=600)] = 5.0
    read_timeout_seconds: Annotated[Number, Field(ge=0.1, le=3600)] = 60.0


@_section
class CatalogSettings:
    """The SQL catalog: a SQLite file (WAL mode), by default ``var/catalog.sqlite``.

    ``url`` set to ``postgresql://...`` uses PostgreSQL instead (the password
    is best left to ``PGPASSWORD`` or ``~/.pgpass``, not the URL).
    """

    __repr__ = _masked_repr

    path: OptionalPath = None
    url: Text = field(default="", repr=False)


@_section
class UiSettings:
    """What the people who read the messages read them in."""

    #: Language of every message a clerk or operator reads (``vi`` or ``en``); JSON keys, CSV headers,
    #: exit codes and developers' log records are the same in both.
    language: Text = "vi"


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
    source: str = SOURCE_DEFAULTS  # a record, worded by describe_source



#: Settings whose values are secrets: never shown in a message, a log or a repr.
SECRET_KEYS = frozenset({"signing.pkcs12_password", "signing.pkcs11_pin", "catalog.url"})
#: Settings holding a URL that may carry a password (``scheme://user:password@host``).
URL_KEYS = frozenset({"catalog.url", "archive.endpoint_url", "signing.tsa_url"})
#: The values a setting of a fixed set of choices may take.
CHOICES: dict[str, tuple[str, ...]] = {
    "ocr.reading_order": ("layout", "tesseract"),
    "ocr.require_colour": ("warn", "refuse"),
    "ocr.existing_text": ("refuse", "redo", "skip"),
    "ocr.signed_input": ("refuse", "keep-original"),
    "signing.pades_level": (*PADES_LEVELS, "auto"),
    "signing.revocation_mode": ("soft-fail", "hard-fail", "require"),
    "signing.copy_form": COPY_FORMS,
    "archive.backend": ("local", "s3"),
    "archive.addressing_style": ("auto", "path", "virtual"),
    "archive.on_conflict": ("refuse", "version"),
    "archive.object_lock_mode": ("", "GOVERNANCE", "COMPLIANCE"),
    "archive.sse": ("", "AES256", "aws:kms"),
    "ui.language": LANGUAGES,
}

_SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Settings).items() if name != "source"
}


def _numeric_ranges() -> dict[str, tuple[float, float]]:
    """The ``Field(ge=..., le=...)`` of every numeric setting, by ``section.key``."""
    ranges = {}
    for section, cls in _SECTIONS.items():
        for key, info in cls.__pydantic_fields__.items():
            low = [m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)]
            high = [m.le for m in info.metadata if isinstance(m, annotated_types.Le)]
            if low and high:
                ranges[f"{section}.{key}"] = (low[0], high[0])
    return ranges


#: Allowed range (inclusive) of every numeric setting; nan and infinity are always refused.
NUMERIC_RANGES: dict[str, tuple[float, float]] = _numeric_ranges()


def _public_keys(section: str) -> list[str]:
    """The keys of ``[section]`` a user may set (not the internal ``signing.sources``)."""
    return [f.name for f in dataclasses.fields(_SECTIONS[section]) if not f.metadata.get("internal")]


class _SourcesBase(BaseSettings):
    """The shape pydantic-settings' environment source reads ``DIGITIZE_<SECTION>__<KEY>`` variables into:
    one field per section. Never built itself (that would read ``os.environ``); each section is."""

    # enable_decoding=False: a list variable is "a,b" (split by Words/Paths), not JSON.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid",
                                      case_sensitive=False, enable_decoding=False)


_Sources = pydantic.create_model(  # one field per section of Settings
    "_Sources", __base__=_SourcesBase,
    **{name: (cls, Field(default_factory=cls)) for name, cls in _SECTIONS.items()},
)


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` at the edge, a dict in tests)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_Sources)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The hook where pydantic-settings takes its variables (os.environ; its .env source overrides it
        # too). Names lower-cased: the source matches them case-insensitively (case_sensitive=False).
        return {name.lower(): value for name, value in self._environ.items()}


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
    file_values: dict[str, dict[str, object]] = {}
    origins: dict[str, tuple[str, str]] = {}  # "section.key": (kind, name), worded when shown
    sources = [SOURCE_DEFAULTS]
    if path.is_file():
        file_values = _read_toml(path)
        sources.append(str(path))
        origins = {f"{section}.{key}": (ORIGIN_FILE, str(path.resolve()))
                   for section, values in file_values.items() for key in values}
        base = base_dir or path.resolve().parent
    elif explicit:
        raise ConfigError(_("configuration file {path} does not exist", path=path))
    else:
        base = base_dir or Path.cwd()
    _check_variable_names(environ)
    environment = _Environment(environ)
    env_values = environment()
    if env_values:
        sources.append(SOURCE_ENVIRONMENT)
    for section, values in env_values.items():
        origins.update({f"{section}.{key}": (ORIGIN_ENV, f"{ENV_PREFIX}{section.upper()}__{key.upper()}")
                        for key in values})
    for key in origins:
        section, _sep, name = key.partition(".")
        if name not in _public_keys(section):
            raise _unknown_key(section, name)
    sections = {}
    for name, cls in _SECTIONS.items():  # a variable wins over the file
        try:
            sections[name] = cls(**{**file_values.get(name, {}), **env_values.get(name, {})})
        except pydantic.ValidationError as e:
            # from None: pydantic's own text repeats the input, which may be a secret.
            raise _config_error(name, e) from None
    settings = _finish(sections, base, origins)
    return dataclasses.replace(settings, source=" + ".join(sources))


def _read_toml(path: Path) -> dict[str, dict[str, object]]:
    """The TOML file's tables, each a known section."""
    try:
        # A byte order mark (Windows Notepad writes one) is not TOML, but it is not a mistake either.
        data = tomllib.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(_("{path}: not UTF-8 text (byte {byte}); save it as UTF-8", path=path, byte=e.start)) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_("{path}: not valid TOML: {error}", path=path, error=e)) from e
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(_("{path}: unknown section [{section}]; known: {known}",
                                path=path, section=section, known=", ".join(_SECTIONS)))
        if not isinstance(values, dict):
            raise ConfigError(_("{path}: '{section}' must be a [section] table", path=path, section=section))
    return data


def _check_variable_names(environ: Mapping[str, str]) -> None:
    """Every ``DIGITIZE_*`` variable names a section (pydantic-settings would silently ignore a typo)."""
    for name in environ:
        if not name.upper().startswith(ENV_PREFIX) or name.upper() == CONFIG_ENV:
            continue
        section, sep, _key = name[len(ENV_PREFIX):].lower().partition("__")
        if not sep or section not in _SECTIONS:
            raise ConfigError(_("environment variable {name}: unknown setting; use DIGITIZE_<SECTION>__<KEY> "
                                "with a section among {known}", name=name, known=", ".join(_SECTIONS)))


def _unknown_key(section: str, key: str) -> ConfigError:
    """The error for ``key``, which ``[section]`` does not have, listing the keys it has."""
    name = f"{section}.{key}"
    return ConfigError(_("unknown setting '{key}'; known keys in [{section}]: {known}",
                         key=name, section=section, known=", ".join(_public_keys(section))))


def _config_error(section: str, error: pydantic.ValidationError) -> ConfigError:
    """pydantic's first complaint about ``[section]`` as a message naming the key and what it allows,
    never a secret."""
    first = error.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] in ("extra_forbidden", "unexpected_keyword_argument") or key not in _public_keys(section):
        return _unknown_key(section, key)
    name = f"{section}.{key}"
    value = shown_value(name, first["input"])
    hint = typing.get_type_hints(_SECTIONS[section])[key]
    kinds = set(typing.get_args(hint)) - {type(None), Ellipsis} or {hint}
    if int in kinds or float in kinds:
        low, high = (f"{end:g}" for end in NUMERIC_RANGES[name])
        if int in kinds:
            return ConfigError(_("setting '{key}' must be a whole number from {low} to {high}, not {value}",
                                 key=name, low=low, high=high, value=value))
        return ConfigError(_("setting '{key}' must be a number from {low} to {high}, not {value}",
                             key=name, low=low, high=high, value=value))
    if typing.get_origin(hint) is tuple:
        return ConfigError(_("setting '{key}' must be a list, not {value}", key=name, value=value))
    if bool in kinds:
        return ConfigError(_("setting '{key}' must be true or false, not {value}", key=name, value=value))
    if Path in kinds:
        return ConfigError(_("setting '{key}' must be a path (a string), not {value}", key=name, value=value))
    return ConfigError(_("setting '{key}' must be a string, not {value}", key=name, value=value))


def _finish(sections: dict[str, Any], base: Path, origins: Mapping[str, tuple[str, str]]) -> Settings:
    """The validated sections made concrete: paths resolved, unset folders under ``var_dir``, rules checked."""
    sections["signing"] = dataclasses.replace(sections["signing"], sources=tuple(
        (key.partition(".")[2], kind, name) for key, (kind, name) in origins.items() if key.startswith("signing.")))
    ocr = sections["ocr"]
    if ocr.tessdata_dir not in ("", "auto") and not Path(ocr.tessdata_dir).is_absolute():
        sections["ocr"] = dataclasses.replace(ocr, tessdata_dir=str(base / ocr.tessdata_dir))
    settings = _under_var_dir(Settings(**{name: _resolve_paths(s, base) for name, s in sections.items()}))
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


def describe_origin(kind: str, name: str) -> str:
    """Where a setting came from, in the reader's words: ``the environment variable DIGITIZE_...`` (kind
    ``env``) or ``the settings file /etc/digitize.toml`` (kind ``file``)."""
    if kind == ORIGIN_ENV:
        return _("the environment variable {name}", name=name)
    if kind == ORIGIN_FILE:
        return _("the settings file {name}", name=name)
    raise ValueError(f"unknown kind of origin {kind!r}")  # a caller's mistake


def describe_source(source: str) -> str:
    """``Settings.source`` (``defaults + digitize.toml + environment``) in the reader's words."""
    words = {SOURCE_DEFAULTS: _("the defaults"), SOURCE_ENVIRONMENT: _("environment variables")}
    return " + ".join(words.get(part) or _("the settings file {name}", name=part) for part in source.split(" + "))


def shown_value(name: str, value: object) -> str:
    """``value`` as a message may show it: a secret or a URL that may carry a password is never shown."""
    if name in SECRET_KEYS or name in URL_KEYS:
        return _("a value of type {kind} (not shown: it may hold a secret)", kind=type(value).__name__)
    return repr(value)


def redact_url(url: str) -> str:
    """``url`` with the password of ``scheme://user:password@host`` replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return _("(a URL that could not be read)")
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
    """The rules across keys, and the choices (kept here, not in the field types: see the module docstring)."""
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(settings, section), name)
        if value not in allowed:
            raise ConfigError(_("{key} must be one of {allowed}, not {value}",
                                key=key, allowed=", ".join(repr(a) for a in allowed), value=repr(value)))
    if not settings.intake.levels:
        raise ConfigError(_('intake.levels is empty: name at least one level of office, e.g. ["xa"]'))
    for level in settings.intake.levels:
        if not _SLUG.fullmatch(level):
            raise ConfigError(_("intake.levels: {level} is not a level code (lower-case letters, digits, '-')",
                                level=repr(level)))
    signing = settings.signing
    if signing.pades_level not in ("B-B", "auto") and not signing.tsa_url:
        raise ConfigError(_("signing.pades_level {level} needs a timestamp authority: set signing.tsa_url",
                            level=signing.pades_level))
    if signing.pkcs11_module is not None and signing.pkcs12 is not None:
        raise ConfigError(_("set either signing.pkcs12 or signing.pkcs11_module, not both"))
    if signing.pkcs11_module is not None and not signing.pkcs11_key_label:
        raise ConfigError(_("signing.pkcs11_module needs signing.pkcs11_key_label (the key's label on the token)"))
    archive = settings.archive
    if archive.backend == "s3" and not archive.bucket:
        raise ConfigError(_("archive.bucket is required when archive.backend is 's3'"))
    if archive.object_lock_mode and archive.retention_years < 1:
        raise ConfigError(_("archive.retention_years must be at least 1 when archive.object_lock_mode is set"))
    if archive.multipart_threshold_mb < archive.multipart_chunk_mb:
        raise ConfigError(_("archive.multipart_chunk_mb must not be larger than archive.multipart_threshold_mb"))
    if settings.catalog.url and not settings.catalog.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(_("catalog.url must be a postgresql:// URL "
                            "(leave it empty for the SQLite file catalog.path)"))
