"""Shared fixtures. Prefect keeps its state in a temporary folder, set before it is imported."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="digitize-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``tools`` are skipped, with the reason, when Tesseract or poppler is missing."""
    missing = [p for p in ("tesseract", "pdftoppm", "pdftotext") if shutil.which(p) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (bash run.sh test installs them)")
    for item in items:
        if "tools" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _messages_in_english_unless_a_test_chooses():
    """Library code reads English until an edge (the CLI, a flow) sets ``ui.language``; the CLI and
    flows set it process-wide, so each test starts and ends in English, whatever the last one chose."""
    from digitize import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it costs ~17 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    """A digitize.toml in a fresh folder, with every path under it; returns the file."""
    config = tmp_path / "digitize.toml"
    config.write_text(
        "[intake]\nsettle_seconds = 0\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("DIGITIZE_"):
            monkeypatch.delenv(name)
    return config
