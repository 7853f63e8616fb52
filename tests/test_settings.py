from pathlib import Path

import pytest

from digitize.errors import ConfigError, ExitCode
from digitize.settings import load_settings


def test_defaults_put_everything_under_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no digitize.toml there
    s = load_settings(environ={}, base_dir=tmp_path)
    assert s.paths.inbox == tmp_path / "var" / "inbox"
    assert s.archive.root == tmp_path / "var" / "archive"
    assert s.catalog.path == tmp_path / "var" / "catalog.sqlite"
    assert s.ocr.languages == "vie"
    assert s.signing.pades_level == "auto"  # B-LTA with a TSA, else B-B
    assert s.intake.levels == ("tinh", "huyen", "xa")
    assert s.source == "defaults"


def test_toml_values_are_read_and_paths_resolved_against_the_file(tmp_path):
    config = tmp_path / "conf" / "digitize.toml"
    config.parent.mkdir()
    config.write_text(
        '[ocr]\nlanguages = "vie+eng"\ntimeout_seconds = 60\n'
        '[archive]\nroot = "store"\n'
        '[signing]\nagency_name = "UBND xã Nhơn Bình"\ntrust_roots = ["ca.pem"]\n',
        encoding="utf-8",
    )
    s = load_settings(config, environ={})
    assert s.ocr.languages == "vie+eng"
    assert s.ocr.timeout_seconds == 60.0
    assert s.archive.root == config.parent / "store"
    assert s.signing.agency_name == "UBND xã Nhơn Bình"
    assert s.signing.trust_roots == (config.parent / "ca.pem",)


def test_environment_overrides_the_file(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text('[ocr]\nlanguages = "vie+eng"\n', encoding="utf-8")
    s = load_settings(config, environ={"DIGITIZE_OCR__LANGUAGES": "vie", "DIGITIZE_INTAKE__SETTLE_SECONDS": "0.5"})
    assert s.ocr.languages == "vie"
    assert s.intake.settle_seconds == 0.5
    assert "environment" in s.source


def test_moving_var_dir_moves_every_unset_folder(tmp_path):
    s = load_settings(environ={"DIGITIZE_PATHS__VAR_DIR": "data", "DIGITIZE_ARCHIVE__ROOT": "/srv/archive"},
                      base_dir=tmp_path)
    assert s.paths.inbox == tmp_path / "data" / "inbox"
    assert s.paths.failed == tmp_path / "data" / "failed"
    assert s.signing.demo_dir == tmp_path / "data" / "keys"
    assert s.catalog.path == tmp_path / "data" / "catalog.sqlite"
    assert s.archive.root == Path("/srv/archive")
    assert s.paths.font_cache == tmp_path / "data" / "cache" / "fonts"


def test_settings_are_frozen(tmp_path):
    s = load_settings(environ={}, base_dir=tmp_path)
    with pytest.raises(AttributeError):
        s.ocr.languages = "eng"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[ocr]\nlanguage = 'vie'\n", "ocr.language"),
        ("[orc]\nlanguages = 'vie'\n", "[orc]"),
    ],
)
def test_unknown_key_in_file_is_rejected_with_its_name(tmp_path, text, named):
    config = tmp_path / "digitize.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(config, environ={})
    assert named in str(e.value)
    assert e.value.exit_code == ExitCode.config


def test_unknown_environment_variable_is_rejected_with_its_name(tmp_path):
    with pytest.raises(ConfigError, match="DIGITIZE_OCR_LANGUAGES"):
        load_settings(environ={"DIGITIZE_OCR_LANGUAGES": "vie"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="ocr.langs"):
        load_settings(environ={"DIGITIZE_OCR__LANGS": "vie"}, base_dir=tmp_path)


def test_wrong_types_and_values_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="ocr.timeout_seconds"):
        load_settings(environ={"DIGITIZE_OCR__TIMEOUT_SECONDS": "soon"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="pades_level"):
        load_settings(environ={"DIGITIZE_SIGNING__PADES_LEVEL": "B-X"}, base_dir=tmp_path)


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_password_is_not_shown_in_repr(tmp_path):
    s = load_settings(environ={"DIGITIZE_SIGNING__PKCS12_PASSWORD": "hunter2"}, base_dir=tmp_path)
    assert s.signing.pkcs12_password == "hunter2"
    assert "hunter2" not in repr(s)


def test_broken_toml_is_a_config_error(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text("[ocr\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(Path(config), environ={})


# --- every numeric setting has a range; nan, infinity, booleans and fractions are refused -------

import dataclasses  # noqa: E402
import math  # noqa: E402
import typing  # noqa: E402

from digitize.settings import NUMERIC_RANGES, Settings  # noqa: E402


def _numeric_keys() -> list[tuple[str, type]]:
    keys = []
    for section, cls in typing.get_type_hints(Settings).items():
        if section == "source":
            continue
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float):
                keys.append((f"{section}.{f.name}", hints[f.name]))
    return keys


NUMERIC_KEYS = _numeric_keys()


def _env(key: str, value: str) -> dict[str, str]:
    section, name = key.split(".")
    return {f"DIGITIZE_{section.upper()}__{name.upper()}": value}


def _toml(tmp_path, key: str, value: str):
    section, name = key.split(".")
    config = tmp_path / "digitize.toml"
    config.write_text(f"[{section}]\n{name} = {value}\n", encoding="utf-8")
    return config


def test_every_numeric_setting_has_a_range_and_its_default_is_in_it():
    defaults = load_settings(environ={}, base_dir=Path("/nonexistent"))
    for key, _ in NUMERIC_KEYS:
        assert key in NUMERIC_RANGES, f"{key} needs an entry in NUMERIC_RANGES"
        low, high = NUMERIC_RANGES[key]
        section, name = key.split(".")
        assert low <= getattr(getattr(defaults, section), name) <= high, key


@pytest.mark.parametrize(("key", "kind"), NUMERIC_KEYS, ids=[k for k, _ in NUMERIC_KEYS])
def test_out_of_range_and_odd_numbers_are_refused_naming_the_key_and_the_range(tmp_path, key, kind):
    low, high = NUMERIC_RANGES[key]
    below = low - 1 if kind is int else low - 0.5
    toml_values = ["nan", "inf", "-inf", "true", f"{below!r}", f"{high * 2 + 1!r}", '"ten"', "[1]"]
    if kind is int:
        toml_values.append(f"{low + 0.5!r}")  # a fraction where a whole number is wanted
    for value in toml_values:
        with pytest.raises(ConfigError) as e:
            load_settings(_toml(tmp_path, key, value), environ={})
        assert key in str(e.value), value
        assert f"{low:g}" in str(e.value) and f"{high:g}" in str(e.value), (value, str(e.value))
        assert e.value.exit_code == ExitCode.config
    env_values = ["nan", "inf", "1e999", "", "true", str(below), str(high * 2 + 1)]
    if kind is int:
        env_values.append("2.7")
    for value in env_values:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_settings(environ=_env(key, value), base_dir=tmp_path)


@pytest.mark.parametrize(("key", "kind"), NUMERIC_KEYS, ids=[k for k, _ in NUMERIC_KEYS])
def test_both_ends_of_each_range_are_accepted(tmp_path, key, kind):
    section, name = key.split(".")
    for end in NUMERIC_RANGES[key]:
        value = kind(end) if kind is int else float(end)
        extra = {}
        if key == "archive.multipart_chunk_mb":
            extra = _env("archive.multipart_threshold_mb", str(NUMERIC_RANGES["archive.multipart_threshold_mb"][1]))
        if key == "archive.multipart_threshold_mb" and value < 16:
            extra = _env("archive.multipart_chunk_mb", "5")
        s = load_settings(environ={**_env(key, str(value)), **extra}, base_dir=tmp_path)
        got = getattr(getattr(s, section), name)
        assert got == value and type(got) is kind and math.isfinite(got)


def test_default_dpi_zero_and_workers_fraction_are_config_errors_not_crashes(tmp_path):
    with pytest.raises(ConfigError, match=r"intake\.default_dpi.*72 to 1200"):
        load_settings(environ={"DIGITIZE_INTAKE__DEFAULT_DPI": "0"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"ocr\.workers' must be a whole number from 0 to 256, not 2.7"):
        load_settings(_toml(tmp_path, "ocr.workers", "2.7"), environ={})
    with pytest.raises(ConfigError, match=r"ocr\.page_timeout_seconds"):
        load_settings(_toml(tmp_path, "ocr.page_timeout_seconds", "nan"), environ={})


def test_booleans_given_as_numbers_in_a_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"ocr\.keep_blank_pages' must be true or false"):
        load_settings(_toml(tmp_path, "ocr.keep_blank_pages", "1"), environ={})
    s = load_settings(environ={"DIGITIZE_OCR__KEEP_BLANK_PAGES": "false"}, base_dir=tmp_path)
    assert s.ocr.keep_blank_pages is False


def test_sources_is_no_setting_a_user_can_set(tmp_path):
    with pytest.raises(ConfigError, match="signing.sources"):
        load_settings(environ={"DIGITIZE_SIGNING__SOURCES": "x"}, base_dir=tmp_path)


def test_settings_remember_where_each_signing_secret_came_from(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text('[signing]\npkcs12_password_file = "p12.pass"\npkcs11_pin = "2468"\n', encoding="utf-8")
    s = load_settings(config, environ={"DIGITIZE_SIGNING__PKCS12_PASSWORD": "Mật-khẩu-1"})
    assert s.signing.source_of("pkcs12_password") == "the environment variable DIGITIZE_SIGNING__PKCS12_PASSWORD"
    assert s.signing.source_of("pkcs12_password_file") == f"the settings file {config}"
    assert s.signing.source_of("pkcs11_pin") == f"the settings file {config}"
    assert s.signing.source_of("tsa_url") is None
    assert "Mật-khẩu-1" not in repr(s) and "2468" not in repr(s)


def test_where_a_setting_came_from_is_kept_in_no_language_and_worded_when_shown(tmp_path):
    from digitize.i18n import using
    from digitize.settings import describe_source

    config = tmp_path / "cấu hình.toml"
    config.write_text('[signing]\npkcs11_pin = "2468"\n', encoding="utf-8")
    s = load_settings(config, environ={"DIGITIZE_SIGNING__PKCS12_PASSWORD": "x"})
    assert s.signing.origin_of("pkcs12_password") == ("env", "DIGITIZE_SIGNING__PKCS12_PASSWORD")
    assert s.signing.origin_of("pkcs11_pin") == ("file", str(config))
    with using("vi"):  # the settings were read in English: the words follow the language of the moment
        assert s.signing.source_of("pkcs12_password") == "biến môi trường DIGITIZE_SIGNING__PKCS12_PASSWORD"
        assert s.signing.source_of("pkcs11_pin") == f"tệp cấu hình {config}"
        assert describe_source(s.source) == f"mặc định + tệp cấu hình {config} + biến môi trường"
    assert describe_source(s.source) == f"the defaults + the settings file {config} + environment variables"


@pytest.mark.parametrize("key", ["signing.pkcs12_password", "signing.pkcs11_pin", "catalog.url",
                                 "archive.endpoint_url", "signing.tsa_url"])
def test_a_secret_of_the_wrong_type_is_refused_without_showing_it(tmp_path, key):
    secret = "postgresql://thu-ky:Bí-mật-42@db/catalog" if key.endswith("url") else "Bí-mật-42"
    with pytest.raises(ConfigError) as e:
        load_settings(_toml(tmp_path, key, f'["{secret}"]'), environ={})
    assert key in str(e.value)
    assert "Bí-mật-42" not in str(e.value)


def test_url_passwords_are_masked_in_the_repr(tmp_path):
    s = load_settings(environ={"DIGITIZE_SIGNING__TSA_URL": "http://tsa:Bí-mật-42@tsa.example/tsr",
                               "DIGITIZE_ARCHIVE__ENDPOINT_URL": "http://minio:Bí-mật-43@minio:9000"},
                      base_dir=tmp_path)
    text = repr(s)
    assert "Bí-mật-42" not in text and "Bí-mật-43" not in text
    assert "http://tsa:***@tsa.example/tsr" in text and "http://minio:***@minio:9000" in text


# --- what the move to pydantic-settings could break, and the messages in the reader's language ---------------

import pydantic  # noqa: E402

from digitize.i18n import using  # noqa: E402
from digitize.settings import OcrSettings  # noqa: E402


def test_lists_are_arrays_in_a_file_and_comma_separated_in_a_variable(tmp_path):
    s = load_settings(environ={"DIGITIZE_INTAKE__LEVELS": "xa, huyen,", "DIGITIZE_SIGNING__TRUST_ROOTS": "a.pem,/etc/b.pem"},
                      base_dir=tmp_path)
    assert s.intake.levels == ("xa", "huyen")
    assert s.signing.trust_roots == (tmp_path / "a.pem", Path("/etc/b.pem"))
    config = _toml(tmp_path, "signing.algorithm_sunsets", '["sha1=2020-01-01"]')
    assert load_settings(config, environ={}).signing.algorithm_sunsets == ("sha1=2020-01-01",)


def test_a_pin_written_as_a_number_is_text_and_an_empty_value_means_unset(tmp_path):
    config = tmp_path / "digitize.toml"
    config.write_text('[signing]\npkcs11_pin = 2468\ntsa_url = ""\npkcs12 = ""\n', encoding="utf-8")
    s = load_settings(config, environ={"DIGITIZE_SIGNING__PKCS11_TOKEN_LABEL": ""})
    assert s.signing.pkcs11_pin == "2468"
    assert s.signing.tsa_url is None and s.signing.pkcs12 is None and s.signing.pkcs11_token_label is None


def test_variable_names_are_read_whatever_the_case_of_the_key(tmp_path):
    s = load_settings(environ={"DIGITIZE_OCR__Workers": "3"}, base_dir=tmp_path)
    assert s.ocr.workers == 3


@pytest.mark.parametrize("value", ["yes", "1", "on", "TRUE"])
def test_a_variable_may_say_yes_or_1_for_true(tmp_path, value):
    s = load_settings(environ={"DIGITIZE_PATHS__KEEP_WORK": value}, base_dir=tmp_path)
    assert s.paths.keep_work is True


def test_config_errors_are_in_the_language_set_and_name_the_key(tmp_path):
    with using("vi"), pytest.raises(ConfigError) as e:
        load_settings(environ={"DIGITIZE_OCR__WORKERS": "300"}, base_dir=tmp_path)
    assert "cấu hình 'ocr.workers' phải là một số nguyên từ 0 đến 256" in str(e.value)
    with using("vi"), pytest.raises(ConfigError) as e:
        load_settings(environ={"DIGITIZE_OCR__LANGS": "vie"}, base_dir=tmp_path)
    assert "không có cấu hình 'ocr.langs'" in str(e.value) and "languages" in str(e.value)


def test_a_section_built_by_hand_refuses_a_value_out_of_its_range():
    with pytest.raises(pydantic.ValidationError, match="workers"):
        OcrSettings(workers=300)
    assert OcrSettings(workers=2).workers == 2


def test_only_the_variables_given_are_read_not_the_process_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITIZE_OCR__WORKERS", "7")  # pydantic-settings reads os.environ unless told otherwise
    assert load_settings(environ={}, base_dir=tmp_path).ocr.workers == 0
    assert load_settings(environ={"DIGITIZE_OCR__WORKERS": "3"}, base_dir=tmp_path).ocr.workers == 3
    monkeypatch.chdir(tmp_path)
    assert load_settings().ocr.workers == 7  # environ None: the process environment
