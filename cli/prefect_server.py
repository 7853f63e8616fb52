"""A Prefect server for one ``digitize run``, started by the CLI itself and never left behind.

Without ``PREFECT_API_URL`` Prefect would start its own temporary server, with a
20 s start-up limit that a first start (database migration) on a loaded machine
exceeds, and stop it from an exit hook that a SIGKILL skips (the server then
lives on, re-parented to init). Instead the CLI starts ``prefect server start``
as its own child:

- the child asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for SIGTERM when the
  CLI dies, however it dies, SIGKILL included;
- the CLI waits for ``/api/health`` with a generous limit, saying what it waits
  for, and sets ``PREFECT_API_URL`` before Prefect is imported;
- at the end the CLI drains Prefect's log and event queues, then stops the
  server with SIGTERM (SIGKILL after a grace period).

The child gets no ``DIGITIZE_*`` variables (they may hold secrets) and writes
what it says to ``<PREFECT_HOME>/server.log``.

Prefect builds an SSL context for every API client it makes (about one per
document of a run), from certifi's bundle of ~150 certificates: ~17 ms of CPU
each, 1-2 s a backlog. The run's own server speaks plain HTTP on 127.0.0.1,
where no certificate is ever checked, so while it runs Prefect's documented
``PREFECT_API_SSL_CERT_FILE`` names a file of one throwaway certificate
instead (0.3 ms a context); one the user set is left as it is.

A server that lives for one run needs less than a shared one: the CLI starts it
(never a server the user points ``PREFECT_API_URL`` at) without the background
services that act on deployments, workers and schedules, none of which a
``digitize run`` has, each of which wakes every 5-60 s and queries the
database (:data:`ONE_RUN_SERVICES_OFF`; a user's own value of each variable
wins). It keeps everything the operator sees in the UI: the flow runs, each
document's child run with its task runs and their states (the task run
recorder builds them from the client's events), logs, artifacts, and the events
feed (the event persister, and its hourly trim of old events), and the
cancellation cleanup (a run cancelled from the UI gets its children and task
runs marked cancelled too). The task run
recorder writes its events in batches (:data:`ONE_RUN_SERVICES_TUNED`: one
database transaction for up to 50 events, at most 1 s late) instead of one
transaction per event. Turned off, with why:

- scheduler (``SCHEDULER``): creates runs of deployments on their schedules; a
  run's own server has no deployments to schedule, and the runs it would create
  would have no worker while the server lives;
- late runs (``LATE_RUNS``): marks scheduled runs late; none are scheduled;
- foreman (``FOREMAN``): marks workers and work pools offline; no worker polls it;
- pause expirations (``PAUSE_EXPIRATIONS``): fails paused runs whose pause timed
  out; no flow of the project pauses;
- repossessor (``REPOSSESSOR``): reclaims expired concurrency-slot leases; the
  flows use no global concurrency limit;
- cleanup reconciler (``CLEANUP_RECONCILER``): re-delivers cleanup messages
  whose worker did not acknowledge them; there is no worker;
- triggers (``TRIGGERS``, which also runs automations' actions): evaluates
  automations against every event; the database of a run's own server holds
  none (automations belong on a shared server, where they are left alone);
- telemetry: off already (``PREFECT_SERVER_ANALYTICS_ENABLED=false``).

The client, talking to a server of its own run (:func:`one_run_client`), sends
no flow-run heartbeats (one event per document, a thread per flow run, and up to
1 s at each document's end joining it: heartbeats let a shared server's
automations find crashed runs, and this server dies with the run) and skips the
CSRF token each new client fetches (the server does not check it unless told to).

Measured on the 43-document backlog of ``bench/backlog.md`` (30 November 2026).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from digitize.errors import MissingToolError, ToolError, ToolTimeoutError
from digitize.i18n import _, format_number, os_error
from digitize.lifetime import die_with_parent

#: The one-certificate CA file the run's own clients load (see the module's description), in PREFECT_HOME.
LOOPBACK_CA_FILE = "loopback-api-ca.pem"
#: Background services a server started for one run goes without (see the module's docstring).
ONE_RUN_SERVICES_OFF = ("SCHEDULER", "LATE_RUNS", "FOREMAN", "PAUSE_EXPIRATIONS", "REPOSSESSOR",
                        "CLEANUP_RECONCILER", "TRIGGERS")
#: Batching of the task run recorder for a run's own server: a transaction per 50 events, at most 1 s late.
ONE_RUN_SERVICES_TUNED = {"TASK_RUN_RECORDER_BATCH_SIZE": "50", "TASK_RUN_RECORDER_READ_BATCH_SIZE": "10",
                          "TASK_RUN_RECORDER_FLUSH_INTERVAL": "1"}
#: Seconds to wait for a server to answer; a first start migrates its database (FIELD-NOTES).
START_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0


@dataclass
class ServerStart:
    """What the run summary says about the server: its URL and how long it took to answer."""

    api_url: str
    seconds: float = 0.0
    started_here: bool = False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect_home(var_dir: Path, environ: dict[str, str] | os._Environ[str]) -> Path:
    """``PREFECT_HOME`` as the user set it, else ``<var_dir>/prefect`` (the embedded set-up keeps all under var/)."""
    return Path(environ["PREFECT_HOME"]) if environ.get("PREFECT_HOME") else var_dir / "prefect"


@contextlib.contextmanager
def prefect_api(
    var_dir: Path,
    *,
    timeout: float = START_TIMEOUT_SECONDS,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
    meanwhile: Callable[[], None] | None = None,
) -> Iterator[ServerStart]:
    """Point Prefect at a server for the duration of the block.

    ``PREFECT_API_URL`` already set: that server is used as it is. Otherwise a
    ``prefect server start`` child is started on a free port of 127.0.0.1,
    with ``PREFECT_HOME`` under ``var_dir`` unless the user set it, and
    stopped when the block ends (or the CLI dies).

    ``meanwhile`` runs while the server starts (6-20 s), with ``PREFECT_API_URL``
    already naming it (its port is chosen before it starts): the caller's own
    start-up (importing Prefect and the flows, starting page workers) then costs
    no time of its own. It runs once, before the block, in every case.
    """
    if os.environ.get("PREFECT_API_URL"):
        if meanwhile is not None:
            meanwhile()
        yield ServerStart(os.environ["PREFECT_API_URL"])
        return
    home = prefect_home(var_dir, os.environ)
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    say(_("starting a Prefect server for this run on 127.0.0.1 (a first start prepares its database; waiting up "
          "to {seconds} s)", seconds=format_number(timeout)))
    started = time.monotonic()
    own_ca_file = not os.environ.get("PREFECT_API_SSL_CERT_FILE")
    try:
        if own_ca_file:  # read when Prefect is imported, as PREFECT_API_URL
            os.environ["PREFECT_API_SSL_CERT_FILE"] = str(loopback_ca_file(home))
        server, api_url = _start_server(home, timeout, meanwhile)
    except BaseException:
        _forget_server(own_ca_file)
        raise
    try:
        start = ServerStart(api_url, time.monotonic() - started, started_here=True)
        say(_("Prefect server ready at {url} in {seconds} s", url=api_url, seconds=format_number(start.seconds, 1)))
        yield start
    finally:
        _drain_prefect_queues()
        stop(server)
        _forget_server(own_ca_file)


def _forget_server(own_ca_file: bool) -> None:
    """Take away what pointed Prefect at the run's own server: its URL, and the CA file if set for it."""
    os.environ.pop("PREFECT_API_URL", None)
    if own_ca_file:
        os.environ.pop("PREFECT_API_SSL_CERT_FILE", None)


def loopback_ca_file(home: Path) -> Path:
    """``home``'s file of one throwaway self-signed certificate (made once; its key is not kept).

    Only for clients of a plain-HTTP server, where Prefect builds an SSL
    context it never uses: loading one certificate costs 0.3 ms, certifi's bundle 17.
    """
    path = home / LOOPBACK_CA_FILE
    if path.is_file() and path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----"):
        return path
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from digitize.files import write_atomically

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digitize run: plain-HTTP Prefect API on 127.0.0.1")])
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(key, hashes.SHA256()))
    write_atomically(path, certificate.public_bytes(serialization.Encoding.PEM))
    return path


@contextlib.contextmanager
def one_run_client(server: ServerStart) -> Iterator[None]:
    """Prefect client settings for the block when ``server`` was started for this run (see the module's
    docstring): no flow-run heartbeats, no CSRF token requests; a value the user set wins. A server the user
    runs is talked to as Prefect's defaults say. Enter it after Prefect is imported, around the flow call
    (its threads inherit the settings through the flow's context)."""
    if not server.started_here:
        yield
        return
    from prefect.settings import get_current_settings, temporary_settings

    settings = get_current_settings()
    updates: dict[str, object] = {}
    if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" not in os.environ and "PREFECT_RUNNER_HEARTBEAT_FREQUENCY" not in os.environ:
        updates["flows.heartbeat_frequency"] = None
    if not settings.server.api.csrf_protection_enabled and "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED" not in os.environ:
        updates["client.csrf_support_enabled"] = False
    with temporary_settings(updates=updates):
        yield


def _start_server(
    home: Path, timeout: float, meanwhile: Callable[[], None] | None = None, attempts: int = 3
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``prefect server start`` on a free port and wait for it; another port when the
    chosen one was taken meanwhile (unless Prefect was already imported pointing at it).
    ``meanwhile`` runs once, after the first start, while the server comes up."""
    log_path = home / "server.log"
    for attempt in range(attempts):
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        try:
            with log_path.open("ab") as log:
                server = subprocess.Popen(
                    _server_command(port), env=_server_env(home, port), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=die_with_parent(signal.SIGTERM),
                    start_new_session=True,  # Ctrl-C in the terminal is for the CLI; it stops the server last
                )
        except OSError as e:
            raise MissingToolError(_("could not start the Prefect server: {error}", error=os_error(e)),
                                   hint=_("reinstall the project: bash run.sh setup")) from e
        os.environ["PREFECT_API_URL"] = api_url  # Prefect reads it once, when imported
        try:
            if attempt == 0 and meanwhile is not None:
                meanwhile()
            wait_until_healthy(api_url, server, timeout, log_path)
            return server, api_url
        except ToolError as e:
            stop(server)
            if attempt + 1 < attempts and "already in use" in e.stderr and "prefect" not in sys.modules:
                continue
            raise
        except BaseException:
            stop(server)
            raise
    raise AssertionError("unreachable")


def _server_command(port: int) -> list[str]:
    prefect = Path(sys.executable).with_name("prefect")
    program = [str(prefect)] if prefect.is_file() else [sys.executable, "-m", "prefect"]
    return [*program, "server", "start", "--host", "127.0.0.1", "--port", str(port)]


def _server_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_") and k != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),  # --port does not reach the UI (FIELD-NOTES)
        PREFECT_SERVER_ANALYTICS_ENABLED=env.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        DO_NOT_TRACK=env.get("DO_NOT_TRACK", "1"),
    )
    for service in ONE_RUN_SERVICES_OFF:
        env.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")
    for name, value in ONE_RUN_SERVICES_TUNED.items():
        env.setdefault(f"PREFECT_SERVER_SERVICES_{name}", value)
    return env


def wait_until_healthy(api_url: str, server: subprocess.Popen[bytes], timeout: float, log_path: Path) -> None:
    """Return once ``<api_url>/health`` answers 200; raise if the server exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        code = server.poll()
        if code is not None:
            raise ToolError(_("the Prefect server stopped while starting (exit code {code})", code=code),
                            stderr=_tail(log_path), hint=_("see {log_path}", log_path=log_path))
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop(server)
            raise ToolTimeoutError(_("the Prefect server at {api_url} did not answer /api/health within "
                                     "{timeout:.0f} s",
                                     api_url=api_url, timeout=timeout),
                                   stderr=_tail(log_path), hint=_("see {log_path}; or start a server and set "
                                                                  "PREFECT_API_URL",
                                                                  log_path=log_path))
        time.sleep(0.25)


def stop(server: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the server, then SIGKILL it if it has not exited within ``grace`` seconds."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(grace)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _drain_prefect_queues() -> None:
    """Send the logs and events Prefect still holds before their server goes away."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(RuntimeError, OSError):
            worker.drain_all(timeout=10)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


__all__ = ["ServerStart", "free_port", "one_run_client", "prefect_api", "prefect_home", "stop"]
