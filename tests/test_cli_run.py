"""``digitize run``'s own Prefect server and its summary: unit tests with real processes, no Prefect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitize.commands.prefect_server import prefect_home, wait_until_healthy
from digitize.commands.run import print_totals
from digitize.errors import ToolError, ToolTimeoutError


def test_summary_reports_pages_per_minute_with_and_without_the_server_start(capsys):
    results = [{"document": "000.31.25.H08-261120-0001-KQ1", "status": "archived", "pages": 10}]
    print_totals(results, elapsed=60.0, server_seconds=20.0)
    line = capsys.readouterr().out
    assert "10 page(s) in 60 s (10.0 pages/min; 7.5 pages/min with the 20 s Prefect server start)" in line
    print_totals(results, elapsed=60.0)
    assert "(10.0 pages/min)" in capsys.readouterr().out


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
    from digitize.commands.prefect_server import _server_env

    monkeypatch.setenv("DIGITIZE_SIGNING__PKCS12_PASSWORD", "Bí-mật")
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere/api")
    env = _server_env(tmp_path, 4321)
    assert not [k for k in env if k.startswith("DIGITIZE_")]
    assert "PREFECT_API_URL" not in env
    assert env["PREFECT_SERVER_API_PORT"] == "4321" and env["PREFECT_HOME"] == str(tmp_path)
    assert os.environ["DIGITIZE_SIGNING__PKCS12_PASSWORD"] == "Bí-mật"


@pytest.mark.parametrize(
    "argv",
    [["run", "--limit", "-1"], ["run", "--limit", "0"], ["run", "--limit", "2.5"],
     ["ocr", "x.png", "-o", "y.pdf", "--jobs", "-3"], ["ocr", "x.png", "-o", "y.pdf", "--jobs", "100000"],
     ["archive", "fixity", "--sample", "0"]],
)
def test_numbers_out_of_range_on_the_command_line_are_usage_errors(argv, capsys):
    from digitize.cli import main

    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "whole number" in capsys.readouterr().err


def test_the_run_summary_file_never_holds_a_secret(tmp_path):
    from digitize.commands.run import write_summary
    from digitize.settings import load_settings

    settings = load_settings(environ={"DIGITIZE_CATALOG__URL": "postgresql://thu-ky:Bí-mật-9@db/catalog",
                                      "DIGITIZE_PATHS__VAR_DIR": str(tmp_path / "var")}, base_dir=tmp_path)
    results = [{"document": "000.31.25.H08-261120-0001-KQ1", "status": "retry-later",
                "reason": "cannot open the catalog postgresql://thu-ky:Bí-mật-9@db/catalog"}]
    text = write_summary(results, settings).read_text(encoding="utf-8")
    assert "Bí-mật-9" not in text and "thu-ky:***@db" in text


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

    from digitize.commands import prefect_server

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


def test_a_start_up_that_fails_while_the_server_starts_stops_the_server(tmp_path, monkeypatch):
    from digitize.commands import prefect_server

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

    from digitize.commands.run import few_malloc_arenas

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert few_malloc_arenas() is True  # mallopt refused (0) an unknown parameter or value: the call would be wrong
