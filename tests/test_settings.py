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
