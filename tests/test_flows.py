"""The Prefect flows on a mixed scanner folder, a killed run, and two workers at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest

from tests.cli_fixtures import ENGLISH
from tests.intake_fixtures import cover_page, save_pdf, text_page

pytestmark = [pytest.mark.slow, pytest.mark.tools]

OFFICE = ("xa", "phuoc-loc")
CODE = "000.31.25.H08-261120-{:04d}-KQ1"


def _setup(root: Path) -> tuple[Path, Path]:
    config = root / "digitize.toml"
    config.write_text("[intake]\nsettle_seconds = 0\n", encoding="utf-8")
    office = root / "var" / "inbox" / OFFICE[0] / OFFICE[1]
    office.mkdir(parents=True)
    return config, office


def _good(office: Path, n: int, title: str = "") -> Path:
    return save_pdf([text_page(title or f"số {n}")], office / f"{CODE.format(n)}.pdf")


def _archived_rows(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "var" / "catalog.sqlite") as db:
        return db.execute("SELECT document_code, archive_key FROM documents ORDER BY document_code").fetchall()


def test_mixed_inbox_gives_the_right_counts_and_reasons_and_loses_nothing(prefect_harness, tmp_path):
    from flows.dossier import process_inbox

    config, office = _setup(tmp_path)
    good = _good(office, 101)
    (office / f"{CODE.format(102)}.pdf").write_bytes(good.read_bytes()[:300])
    locked = pikepdf.open(good)
    locked.save(office / f"{CODE.format(103)}.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    (office / f"{CODE.format(104)}.pdf").write_bytes(b"")
    shutil.copy2(good, office / f"{CODE.format(105)}.pdf")
    batch = []
    for n in (201, 202, 203):
        batch += [cover_page(f"dossier_code=000.31.25.H08-261120-{n:04d};kind=HS;number=1"), text_page(f"hồ sơ {n}")]
    save_pdf(batch, office / "lo-quet-buoi-sang.pdf")
    inputs = sorted(p.name for p in office.iterdir())

    results = process_inbox(level="xa", config=str(config))

    status = {r["document"]: r["status"] for r in results}
    # 101 and 105 are the same bytes under two codes, digitized at once: whichever holds the scan first is
    # archived; the other is not a duplicate but quarantined, naming the code the scan is archived as.
    first, second = (101, 105) if status.get(CODE.format(101)) == "archived" else (105, 101)
    assert sorted(d for d, s in status.items() if s == "archived") == sorted([
        CODE.format(first), *(f"000.31.25.H08-261120-{n:04d}-HS1" for n in (201, 202, 203))
    ])
    assert "duplicate" not in status.values()
    failed_dir = tmp_path / "var" / "failed" / "xa" / "phuoc-loc"
    reports = {p.name.removesuffix(".error.json"): json.loads(p.read_text(encoding="utf-8"))
               for p in failed_dir.glob("*.error.json")}
    assert {name: r["exit_code"] for name, r in reports.items()} == {
        f"{CODE.format(102)}.pdf": 4, f"{CODE.format(103)}.pdf": 6, f"{CODE.format(104)}.pdf": 4,
        f"{CODE.format(second)}.pdf": 4,
    }
    assert CODE.format(first) in reports[f"{CODE.format(second)}.pdf"]["reason"]
    assert "đã bị mã hóa" in reports[f"{CODE.format(103)}.pdf"]["reason"]  # in ui.language: Vietnamese by default
    assert "rỗng (0 byte)" in reports[f"{CODE.format(104)}.pdf"]["reason"]
    # Nothing lost: every input is in done/ or failed/, none left in the scanner folder.
    done_dir = tmp_path / "var" / "done" / "xa" / "phuoc-loc"
    kept = sorted(p.name for d in (done_dir, failed_dir) for p in d.iterdir() if not p.name.endswith(".error.json"))
    assert kept == inputs
    assert not [p for p in office.rglob("*") if p.is_file()]
    assert len(_archived_rows(tmp_path)) == 4


@pytest.fixture
def api_url(prefect_harness) -> str:
    """The test server's API, for worker processes: like workers sharing one Prefect server."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def _run_cli(root: Path, *args: str, prefect_home: str, api_url: str, path: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_API"))} | ENGLISH
    env.update(PREFECT_HOME=prefect_home, PREFECT_API_URL=api_url, DIGITIZE_INTAKE__SETTLE_SECONDS="0",
               PATH=path or os.environ["PATH"])
    return subprocess.Popen([sys.executable, "-m", "digitize", "run", "--level", "xa", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_run_killed_midway_then_run_again_archives_every_document_exactly_once(tmp_path, api_url):
    _config, office = _setup(tmp_path)
    for n in range(301, 305):
        _good(office, n)
    first = _run_cli(tmp_path, prefect_home=str(tmp_path / "p1"), api_url=api_url)
    archive = tmp_path / "var" / "archive"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(archive.rglob("*-KQ1.pdf")):
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert list(archive.rglob("*-KQ1.pdf")), "the first run archived nothing before the deadline"

    second = _run_cli(tmp_path, prefect_home=str(tmp_path / "p2"), api_url=api_url)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out[-3000:]
    rows = _archived_rows(tmp_path)
    assert [code for code, _key in rows] == [CODE.format(n) for n in range(301, 305)]
    assert len(list(archive.rglob("*-KQ1.pdf"))) == 4
    assert sorted(p.name for p in (tmp_path / "var" / "done" / "xa" / "phuoc-loc").iterdir()) == [
        f"{CODE.format(n)}.pdf" for n in range(301, 305)
    ]


def test_two_workers_at_once_never_process_a_document_twice(tmp_path, api_url):
    _config, office = _setup(tmp_path)
    for n in range(401, 407):
        _good(office, n)
    workers = [_run_cli(tmp_path, prefect_home=str(tmp_path / f"w{i}"), api_url=api_url) for i in (1, 2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    rows = _archived_rows(tmp_path)
    assert [code for code, _key in rows] == [CODE.format(n) for n in range(401, 407)]
    archived_by = [sum(f"{CODE.format(n)} " in out and "archived" in out for n in range(401, 407)) for out in outputs]
    assert sum(archived_by) == 6
    assert len(list((tmp_path / "var" / "archive").rglob("*-KQ1.pdf"))) == 6


def _prefect(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prefect", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parent.parent)


def test_two_workers_on_one_pool_run_the_deployment_and_share_the_archive(tmp_path, api_url):
    """The deployment of prefect.yaml, run twice at once by two process workers on one pool."""
    config, office = _setup(tmp_path)
    for n in range(501, 505):
        _good(office, n)
    pool = f"digitize-test-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_API"))} | ENGLISH
    env.update(PREFECT_API_URL=api_url, DIGITIZE_CONFIG=str(config), PREFECT_HOME=str(tmp_path / "prefect"))
    yaml = tmp_path / "prefect.yaml"
    repo_yaml = (Path(__file__).resolve().parent.parent / "prefect.yaml").read_text(encoding="utf-8")
    yaml.write_text(repo_yaml.replace("name: digitize\n    work_queue_name", f"name: {pool}\n    work_queue_name"),
                    encoding="utf-8")
    assert _prefect("work-pool", "create", pool, "--type", "process", env=env).returncode == 0
    deployed = _prefect("--no-prompt", "deploy", "--prefect-file", str(yaml), "-n", "inbox-xa", env=env)
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
    workers = [subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "1"],
                                env=env, cwd=Path(__file__).resolve().parent.parent,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in (1, 2)]
    try:
        for _ in (1, 2):
            started = _prefect("deployment", "run", "process-inbox/inbox-xa", env=env)
            assert started.returncode == 0, started.stderr[-2000:]
        deadline = time.monotonic() + 400
        done = tmp_path / "var" / "done" / "xa" / "phuoc-loc"
        while time.monotonic() < deadline and len(list(done.glob("*.pdf"))) < 4:
            time.sleep(1)
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a worker still winding a flow run down on a loaded machine
                os.killpg(w.pid, signal.SIGKILL)
                w.wait(timeout=30)
    assert sorted(p.name for p in done.glob("*.pdf")) == [f"{CODE.format(n)}.pdf" for n in range(501, 505)]
    assert [code for code, _key in _archived_rows(tmp_path)] == [CODE.format(n) for n in range(501, 505)]
    assert len(list((tmp_path / "var" / "archive").rglob("*-KQ1.pdf"))) == 4


def test_a_slow_page_does_not_hold_back_other_documents(tmp_path, api_url):
    """The first document's page takes 25 s more (a Tesseract that waits): the others are archived meanwhile."""
    _config, office = _setup(tmp_path)
    for n in range(501, 505):
        _good(office, n)
    slow_code = CODE.format(501)
    wrapper = tmp_path / "bin" / "tesseract"
    wrapper.parent.mkdir()
    real = shutil.which("tesseract")
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *{slow_code}*.ocr.*) sleep 25;; esac\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    run = _run_cli(tmp_path, prefect_home=str(tmp_path / "p"), api_url=api_url,
                   path=f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    out, _ = run.communicate(timeout=600)
    assert run.returncode == 0, out[-3000:]
    with sqlite3.connect(tmp_path / "var" / "catalog.sqlite") as db:
        archived_at = dict(db.execute("SELECT document_code, archived_at FROM documents").fetchall())
    assert sorted(archived_at) == [CODE.format(n) for n in range(501, 505)]
    others = [archived_at[CODE.format(n)] for n in range(502, 505)]
    # Taken first, finished last: at least two of the others were archived before the slow one.
    assert sum(at < archived_at[slow_code] for at in others) >= 2, archived_at


def test_the_largest_inputs_start_first_and_the_summary_keeps_the_inbox_order(prefect_harness, tmp_path,
                                                                              monkeypatch):
    from flows import dossier

    config, office = _setup(tmp_path)
    config.write_text("[intake]\nsettle_seconds = 0\n[ocr]\ndocuments_in_flight = 1\n", encoding="utf-8")
    for n, size in ((1, 10), (2, 3000), (3, 500)):
        (office / f"{CODE.format(n)}.pdf").write_bytes(b"%" * size)
    started = []

    def run_one(item, settings, config_path):  # records the order; digitizes nothing
        started.append(item.stem)
        return [{"document": item.stem, "status": "would-digitize"}]

    monkeypatch.setattr(dossier, "_run_one", run_one)
    results = dossier.process_inbox(level="xa", config=str(config))
    assert started == [CODE.format(2), CODE.format(3), CODE.format(1)]  # one at a time, the largest first
    assert [r["document"] for r in results] == [CODE.format(n) for n in (1, 2, 3)]
