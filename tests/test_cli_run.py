"""``digitize run``'s own Prefect server and its summary: unit tests with real processes, no Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.commands.run import print_locations, print_summary, print_totals
from cli.prefect_server import prefect_home, wait_until_healthy
from digitize import i18n
from digitize.errors import ToolError, ToolTimeoutError


def test_summary_reports_pages_per_minute_with_and_without_the_server_start(capsys):
    results = [{"document": "000.31.25.H08-261120-0001-KQ1", "status": "archived", "pages": 10}]
    print_totals(results, elapsed=60.0, server_seconds=20.0)
    line = capsys.readouterr().out
    assert "10 page(s) in 60 s (10.0 pages/min; 7.5 pages/min with the 20 s Prefect server start)" in line
    print_totals(results, elapsed=60.0)
    assert "(10.0 pages/min)" in capsys.readouterr().out


def test_summary_in_vietnamese_has_a_decimal_comma_and_vietnamese_words(capsys):
    results = [{"document": "000.31.25.H08-261120-0001-KQ1", "status": "archived", "pages": 10},
               {"document": "000.31.25.H08-261120-0002-KQ1", "status": "failed", "reason": "tệp rỗng"}]
    with i18n.using("vi"):
        print_totals(results, elapsed=60.0, server_seconds=20.0)
    out = capsys.readouterr().out
    assert ("đã xử lý 1, chuyển sang thư mục lỗi 1, trùng lặp 0, 10 trang trong 60 giây "
            "(10,0 trang/phút; 7,5 trang/phút tính cả 20 giây khởi động máy chủ Prefect)") in out
    assert "chuyển sang thư mục lỗi 000.31.25.H08-261120-0002-KQ1: tệp rỗng" in out


SUMMARY_ROWS = [
    {"document": "000.31.25.H08-261120-0001-KQ1", "level": "xa", "office": "phuoc-loc", "status": "archived",
     "pages": 3, "confidence": 91.25, "key": "xa/phuoc-loc/2026/000.31.25.H08-261120-0001-KQ1.pdf"},
    {"document": "giấy-tờ-không-tên.pdf", "level": "xa", "office": "phước-lộc", "status": "failed",
     "reason": "tên tệp không phải là mã hồ sơ"},
    {"document": "000.31.25.H08-261120-0003-KQ1", "level": "huyen", "office": "tan-an", "status": "retry-later",
     "reason": "kho lưu trữ tạm thời không kết nối được"},
]


@pytest.mark.parametrize("language", ["vi", "en"])
def test_summary_table_columns_line_up_with_vietnamese_text(language, capsys):
    from rich.cells import cell_len

    with i18n.using(language):
        print_summary(SUMMARY_ROWS)
    lines = capsys.readouterr().out.splitlines()
    table, counts = lines[:-1], lines[-1]
    last_cells = [table[0][table[0].rindex("  ") + 2:], *(r.get("key") or r["reason"] for r in SUMMARY_ROWS)]
    last_column = [cell_len(line) - cell_len(cell) for line, cell in zip(table, last_cells, strict=True)]
    assert len(set(last_column)) == 1, table  # every row's last cell starts at the same display column
    with i18n.using(language):
        words = [i18n._(w) for w in ("status", "archived", "failed", "retry later")]
    status_column = {cell_len(line[: line.index(word)]) for line, word in zip(table, words, strict=True)}
    assert len(status_column) == 1, table  # after an office written with Vietnamese letters too
    if language == "vi":
        assert table[0].startswith("mã hồ sơ") and "khóa lưu trữ / lý do" in table[0]
        assert "đã lưu trữ" in table[1] and "91,2" in table[1] and "thử lại sau" in table[3]
        assert counts == "1 đã lưu trữ, 1 lỗi, 1 thử lại sau (sự cố tạm thời); đã số hóa 3 trang"
    else:
        assert "91.2" in table[1] and "retry later" in table[3]
        assert counts == "1 archived, 1 failed, 1 retry later (an outage); 3 page(s) digitized"


@pytest.mark.parametrize("language", ["vi", "en"])
def test_run_ends_naming_the_bucket_and_the_database_in_use_never_the_password(language, tmp_path, capsys):
    from digitize.settings import load_settings

    settings = load_settings(environ={
        "DIGITIZE_ARCHIVE__BACKEND": "s3", "DIGITIZE_ARCHIVE__BUCKET": "luu-tru-binh-dinh",
        "DIGITIZE_ARCHIVE__ENDPOINT_URL": "http://minio.binhdinh.local:9000",
        "DIGITIZE_CATALOG__URL": "postgresql://thu-ky:Bí-mật-9@db.binhdinh.local:5433/danh_muc?sslmode=require",
    }, base_dir=tmp_path)
    with i18n.using(language):
        print_locations(settings, tmp_path / "var" / "reports" / "run-1.json")
    out = capsys.readouterr().out
    assert "luu-tru-binh-dinh" in out and "http://minio.binhdinh.local:9000" in out
    assert "danh_muc" in out and "db.binhdinh.local:5433" in out and "thu-ky" in out
    assert "Bí-mật-9" not in out and "var/archive" not in out and "catalog.sqlite" not in out
    if language == "vi":
        assert "Bản sao điện tử đã ký: bucket S3 luu-tru-binh-dinh tại http://minio.binhdinh.local:9000" in out
        assert "cơ sở dữ liệu PostgreSQL danh_muc trên db.binhdinh.local:5433 (người dùng thu-ky)" in out
    else:
        assert "Catalog:     PostgreSQL database danh_muc on db.binhdinh.local:5433 (user thu-ky)" in out


def test_run_ends_naming_the_local_folder_and_sqlite_file_by_default(tmp_path, capsys):
    from digitize.settings import load_settings

    settings = load_settings(environ={}, base_dir=tmp_path)
    print_locations(settings, "not written")
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Signed PDFs: {tmp_path / 'var' / 'archive'}",
                   f"Catalog:     SQLite file {tmp_path / 'var' / 'catalog.sqlite'}",
                   "Summary:     not written"]


def test_prefect_home_stays_under_var_unless_the_user_set_it(tmp_path):
    assert prefect_home(tmp_path / "var", {}) == tmp_path / "var" / "prefect"
    assert prefect_home(tmp_path / "var", {"PREFECT_HOME": "/srv/prefect"}) == Path("/srv/prefect")


def test_a_server_that_exits_while_starting_is_reported_with_what_it_said(tmp_path):
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-c", "print('database is locked'); raise SystemExit(3)"],
                                  stdout=out, stderr=subprocess.STDOUT)
    with pytest.raises(ToolError) as caught:
        wait_until_healthy("http://127.0.0.1:9/api", server, 60, log)
    assert "exit code 3" in str(caught.value) and "database is locked" in caught.value.stderr


def test_a_server_that_never_answers_times_out_saying_what_was_awaited_and_is_stopped(tmp_path):
    server = subprocess.Popen(["sleep", "60"])
    started = time.monotonic()
    with pytest.raises(ToolTimeoutError, match=r"did not answer /api/health within 1 s"):
        wait_until_healthy("http://127.0.0.1:9/api", server, 1, tmp_path / "server.log")
    assert time.monotonic() - started < 30
    assert server.poll() is not None


def test_a_child_started_with_die_with_parent_dies_when_its_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "from digitize.lifetime import die_with_parent\n"
        "child = subprocess.Popen(['sleep', '600'], preexec_fn=die_with_parent())\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, already dead, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_no_digitize_variable_reaches_the_server(monkeypatch, tmp_path):
    from cli.prefect_server import _server_env

    monkeypatch.setenv("DIGITIZE_SIGNING__PKCS12_PASSWORD", "Bí-mật")
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere/api")
    env = _server_env(tmp_path, 4321)
    assert not [k for k in env if k.startswith("DIGITIZE_")]
    assert "PREFECT_API_URL" not in env
    assert env["PREFECT_SERVER_API_PORT"] == "4321" and env["PREFECT_HOME"] == str(tmp_path)
    assert os.environ["DIGITIZE_SIGNING__PKCS12_PASSWORD"] == "Bí-mật"


def _prefect_settings_from(env: dict[str, str], monkeypatch):
    """Prefect's settings as a process with ``env`` reads them (what the server child sees)."""
    from prefect.settings.models.root import Settings

    for key in [k for k in os.environ if k.startswith("PREFECT_SERVER_SERVICES_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("PREFECT_SERVER_SERVICES_"):
            monkeypatch.setenv(key, value)
    return Settings().server.services


def test_a_server_for_one_run_goes_without_the_services_a_run_never_uses(monkeypatch, tmp_path):
    from cli.prefect_server import ONE_RUN_SERVICES_OFF, _server_env

    services = _prefect_settings_from(_server_env(tmp_path, 4321), monkeypatch)
    for name in ONE_RUN_SERVICES_OFF:  # each name is one Prefect knows: a misspelt variable would change nothing
        assert getattr(services, name.lower()).enabled is False, name
    # what the operator sees in the UI stays: task runs and their states, the events feed, cancellations
    assert services.task_run_recorder.enabled and services.event_persister.enabled
    assert services.cancellation_cleanup.enabled
    assert services.task_run_recorder.batch_size == 50 and services.task_run_recorder.flush_interval <= 1


def test_the_users_own_service_settings_win_over_the_one_run_defaults(monkeypatch, tmp_path):
    from cli.prefect_server import _server_env

    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "true")
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "7")
    services = _prefect_settings_from(_server_env(tmp_path, 4321), monkeypatch)
    assert services.triggers.enabled is True and services.task_run_recorder.batch_size == 7
    assert services.scheduler.enabled is False


def test_the_client_of_a_runs_own_server_sends_no_heartbeats_and_fetches_no_csrf_token(monkeypatch):
    from prefect.settings import get_current_settings

    from cli.prefect_server import ServerStart, one_run_client

    monkeypatch.delenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", raising=False)
    monkeypatch.delenv("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", raising=False)
    before = get_current_settings()
    assert before.flows.heartbeat_frequency is not None and before.client.csrf_support_enabled
    with one_run_client(ServerStart("http://127.0.0.1:4321/api", started_here=True)):
        assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().client.csrf_support_enabled is False
    assert get_current_settings().flows.heartbeat_frequency == before.flows.heartbeat_frequency
    with one_run_client(ServerStart("http://shared:4200/api", started_here=False)):  # the user's server
        assert get_current_settings().flows.heartbeat_frequency == before.flows.heartbeat_frequency
        assert get_current_settings().client.csrf_support_enabled is True


@pytest.mark.parametrize(
    "argv",
    [["run", "--limit", "-1"], ["run", "--limit", "0"], ["run", "--limit", "2.5"],
     ["ocr", "x.png", "-o", "y.pdf", "--jobs", "-3"], ["ocr", "x.png", "-o", "y.pdf", "--jobs", "100000"],
     ["archive", "fixity", "--sample", "0"]],
)
def test_numbers_out_of_range_on_the_command_line_are_usage_errors(argv, capsys, monkeypatch, tmp_path):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITIZE_UI__LANGUAGE", "en")

    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "whole number" in capsys.readouterr().err


def test_the_run_summary_file_never_holds_a_secret(tmp_path):
    from cli.commands.run import write_summary
    from digitize.settings import load_settings

    settings = load_settings(environ={"DIGITIZE_CATALOG__URL": "postgresql://thu-ky:Bí-mật-9@db/catalog",
                                      "DIGITIZE_PATHS__VAR_DIR": str(tmp_path / "var")}, base_dir=tmp_path)
    results = [{"document": "000.31.25.H08-261120-0001-KQ1", "status": "retry-later",
                "reason": "cannot open the catalog postgresql://thu-ky:Bí-mật-9@db/catalog"}]
    text = write_summary(results, settings).read_text(encoding="utf-8")
    assert "Bí-mật-9" not in text and "thu-ky:***@db" in text


def test_a_catalog_on_a_local_socket_is_named_without_host_or_password():
    from digitize.settings import CatalogSettings
    from storage.catalog import describe_catalog

    with i18n.using("vi"):
        said = describe_catalog(CatalogSettings(url="postgresql:///danh_muc?password=Bí-mật-9"))
    assert said == "cơ sở dữ liệu PostgreSQL danh_muc trên socket cục bộ"


def test_ocr_page_notes_read_vietnamese_with_a_decimal_comma():
    from types import SimpleNamespace

    from cli.commands.scan import page_notes

    page = SimpleNamespace(rotation=90, skew=-1.25, blank=False, meets_decree30=False, dpi_from="paper size",
                           kept_as_is=False, grey=True)
    with i18n.using("vi"):
        notes = page_notes(page)
    assert notes == ["đã xoay 90", "đã chỉnh nghiêng -1,25°", "dưới 200 dpi (Nghị định 30)", "dpi lấy từ paper size",
                     "ảnh xám, không có màu (Nghị định 30 yêu cầu bản quét màu)"]
    assert page_notes(page)[1] == "deskewed -1.25°"


def _slow_health_server(port: int) -> list[str]:
    """A stand-in for ``prefect server start``: answers /api/health, but only 2 s after it starts."""
    return [sys.executable, "-c", (
        "import http.server, time\n"
        "time.sleep(2)\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'true')\n"
        "    def log_message(self, *a): pass\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )]


def test_the_run_starts_up_while_the_server_starts_with_the_api_url_already_set(tmp_path, monkeypatch):
    import urllib.request

    from cli import prefect_server

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setattr(prefect_server, "_server_command", _slow_health_server)
    seen = {}

    def meanwhile() -> None:
        seen["url"] = os.environ.get("PREFECT_API_URL")
        try:
            urllib.request.urlopen(f"{seen['url']}/health", timeout=1)
            seen["answered"] = True
        except OSError:
            seen["answered"] = False  # the server was still starting: the start-up overlapped it

    with prefect_server.prefect_api(tmp_path / "var", say=lambda text: None, meanwhile=meanwhile) as server:
        assert seen == {"url": server.api_url, "answered": False}
        with urllib.request.urlopen(f"{server.api_url}/health", timeout=5) as response:
            assert response.status == 200
    assert "PREFECT_API_URL" not in os.environ


def test_the_runs_own_server_spares_prefect_clients_certifis_bundle(tmp_path, monkeypatch):
    """Prefect makes an SSL context per API client; for the plain-HTTP loopback server it loads one
    certificate (PREFECT_API_SSL_CERT_FILE), not certifi's ~150, and a CA file the user set is kept."""
    import ssl

    from cli import prefect_server

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setattr(prefect_server, "_server_command", _slow_health_server)
    seen = []
    meanwhile = lambda: seen.append(os.environ.get("PREFECT_API_SSL_CERT_FILE"))  # noqa: E731  when Prefect is imported
    with prefect_server.prefect_api(tmp_path / "var", say=lambda text: None, meanwhile=meanwhile) as server:
        assert server.api_url.startswith("http://127.0.0.1:")
        (ca_file,) = seen
        assert ca_file == os.environ["PREFECT_API_SSL_CERT_FILE"] and ca_file.startswith(str(tmp_path / "prefect"))
        assert ssl.create_default_context(cafile=ca_file).cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
    assert "PREFECT_API_SSL_CERT_FILE" not in os.environ

    mine = str(tmp_path / "my-ca.pem")
    monkeypatch.setenv("PREFECT_API_SSL_CERT_FILE", mine)
    with prefect_server.prefect_api(tmp_path / "var", say=lambda text: None, meanwhile=meanwhile):
        assert seen[-1] == mine
    assert os.environ["PREFECT_API_SSL_CERT_FILE"] == mine


def test_a_start_up_that_fails_while_the_server_starts_stops_the_server(tmp_path, monkeypatch):
    from cli import prefect_server

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setattr(prefect_server, "_server_command", _slow_health_server)
    started = []
    popen = subprocess.Popen
    monkeypatch.setattr(prefect_server.subprocess, "Popen",
                        lambda *a, **k: started.append(popen(*a, **k)) or started[-1])

    def meanwhile() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with prefect_server.prefect_api(tmp_path / "var", say=lambda text: None, meanwhile=meanwhile):
            raise AssertionError("the block must not run")
    assert len(started) == 1 and started[0].poll() is not None
    assert "PREFECT_API_URL" not in os.environ


def test_the_run_shares_two_malloc_arenas_between_its_threads():
    import platform

    from cli.commands.run import few_malloc_arenas

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert few_malloc_arenas() is True  # mallopt refused (0) an unknown parameter or value: the call would be wrong
