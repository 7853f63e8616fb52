"""Fixtures for the archive tests: a real S3 HTTP endpoint (moto's threaded server) on 127.0.0.1.

moto keeps buckets in process memory, shared by every server started in this
process, so a second server on another port sees the same objects: the outage
test stops its own server while the shared one stays up to look.

PostgreSQL: a throwaway cluster (initdb + pg_ctl in a temporary folder, on a
free port, as the ``postgres`` user when run as root), one per session, one
fresh database per test; skipped with the reason when it cannot start.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from digitize.settings import ArchiveSettings
from storage.s3 import S3Archive

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_bucket_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Endpoint:
    """A running moto server: its URL and a way to stop it."""

    url: str
    server: object

    def stop(self) -> None:
        self.server.stop()  # type: ignore[attr-defined]


def start_s3_endpoint() -> S3Endpoint:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Endpoint(f"http://127.0.0.1:{port}", server)


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials through boto3's standard chain (environment), never through settings."""
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """A moto S3 server on a free loopback port for the module."""
    endpoint = start_s3_endpoint()
    yield endpoint
    endpoint.stop()


def s3_settings(endpoint_url: str, bucket: str, **changes: object) -> ArchiveSettings:
    base = ArchiveSettings(
        backend="s3", bucket=bucket, endpoint_url=endpoint_url, addressing_style="path",
        multipart_threshold_mb=8, multipart_chunk_mb=5, max_attempts=3, connect_timeout_seconds=1.0,
        read_timeout_seconds=10.0,
    )
    return replace(base, **changes)


def new_bucket(archive: S3Archive, *, object_lock: bool = False, versioning: bool = False) -> None:
    """Create the archive's bucket (object lock implies versioning)."""
    archive.client.create_bucket(Bucket=archive.bucket, ObjectLockEnabledForBucket=object_lock)
    if versioning and not object_lock:
        archive.client.put_bucket_versioning(Bucket=archive.bucket, VersioningConfiguration={"Status": "Enabled"})


def unique_bucket(name: str) -> str:
    return f"{name}-{next(_bucket_numbers)}"


@pytest.fixture
def s3_archive(s3_endpoint: S3Endpoint, s3_credentials: None) -> S3Archive:
    """An S3 archive on a fresh bucket of the module's endpoint."""
    archive = S3Archive(s3_settings(s3_endpoint.url, unique_bucket("archive")))
    new_bucket(archive)
    return archive


# --- PostgreSQL: a throwaway cluster ---------------------------------------------------

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_command(*args: str, user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else list(args)


def _start_postgres(folder: Path) -> tuple[str, Callable[[], None]]:
    """initdb + pg_ctl start in ``folder`` on a free port; returns the URL and a stop function.

    As root the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as root).
    Raises RuntimeError with the reason when it cannot start.
    """
    if not PG_BIN_DIRS:
        raise RuntimeError("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    if importlib.util.find_spec("psycopg") is None:
        raise RuntimeError("psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = PG_BIN_DIRS[0]
    user = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as e:
            raise RuntimeError("running as root and there is no 'postgres' user to run the cluster") from e
        user = "postgres"
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port = folder / "data", free_port()
    steps = [
        [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "30", "-o",
         f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start"],
    ]
    for step in steps:
        done = subprocess.run(_pg_command(*step, user=user), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(step[0]).name} failed: {(done.stderr or done.stdout).strip()[-300:]}")

    def stop() -> None:
        subprocess.run(_pg_command(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop", user=user),
                       capture_output=True, timeout=60)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a throwaway PostgreSQL cluster for the session; skipped (with the reason) when none can start."""
    folder = Path(tempfile.mkdtemp(prefix="digitize-pg-"))
    try:
        url, stop = _start_postgres(folder)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server for the catalog tests: {e}")
    try:
        yield url
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's cluster; dropped afterwards."""
    import psycopg

    name = f"catalog_{next(_bucket_numbers)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
