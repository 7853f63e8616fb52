"""The [archive] and [catalog] settings: S3 options read from TOML and DIGITIZE_* variables, and checked."""

from __future__ import annotations

import pytest

from digitize.errors import ConfigError
from digitize.settings import load_settings


def test_s3_settings_are_read_from_the_environment(tmp_path):
    s = load_settings(environ={
        "DIGITIZE_ARCHIVE__BACKEND": "s3", "DIGITIZE_ARCHIVE__BUCKET": "ho-so-so",
        "DIGITIZE_ARCHIVE__ENDPOINT_URL": "http://minio:9000", "DIGITIZE_ARCHIVE__OBJECT_LOCK_MODE": "COMPLIANCE",
        "DIGITIZE_ARCHIVE__RETENTION_YEARS": "20", "DIGITIZE_ARCHIVE__CONDITIONAL_WRITES": "false",
    }, base_dir=tmp_path)
    a = s.archive
    assert (a.backend, a.bucket, a.endpoint_url, a.object_lock_mode, a.retention_years) == (
        "s3", "ho-so-so", "http://minio:9000", "COMPLIANCE", 20)
    assert a.conditional_writes is False and a.multipart_threshold_mb == 64


def test_the_defaults_keep_the_local_folder_and_the_sqlite_file(tmp_path):
    s = load_settings(environ={}, base_dir=tmp_path)
    assert s.archive.backend == "local" and s.catalog.url == ""


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[archive]\nbackend = "ftp"\n', "archive.backend"),
        ('[archive]\nbackend = "s3"\n', "archive.bucket"),
        ('[archive]\nobject_lock_mode = "FOREVER"\n', "archive.object_lock_mode"),
        ('[archive]\nobject_lock_mode = "GOVERNANCE"\n', "retention_years"),
        ('[archive]\naddressing_style = "sideways"\n', "archive.addressing_style"),
        ('[archive]\non_conflict = "overwrite"\n', "archive.on_conflict"),
        ('[archive]\nsse = "rot13"\n', "archive.sse"),
        ('[archive]\nmultipart_chunk_mb = 1\n', "multipart_chunk_mb"),
        ('[archive]\nmultipart_concurrency = 0\n', "multipart_concurrency"),
        ('[catalog]\nurl = "mysql://x"\n', "catalog.url"),
    ],
)
def test_inconsistent_archive_settings_are_refused(tmp_path, toml, message):
    config = tmp_path / "digitize.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_the_catalog_url_is_not_shown_in_the_settings_repr(tmp_path):
    s = load_settings(environ={"DIGITIZE_CATALOG__URL": "postgresql://clerk:s3cret@db/catalog"}, base_dir=tmp_path)
    assert "s3cret" not in repr(s)
