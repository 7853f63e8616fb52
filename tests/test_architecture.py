"""The drawing of the packages stays true (issue 16 point 1).

The import contracts of ``pyproject.toml`` (``[tool.importlinter]``): the edges
(``cli``, ``flows``) over the ``pipeline``, over the libraries (``signing``,
``storage``), over the kernel (``digitize``); no library importing an edge or
Prefect; only ``storage`` importing boto3; no import cycle inside a package.
And the style rule that library code never reads environment variables.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from importlinter import configuration
from importlinter.adapters.building import GraphBuilder
from importlinter.application import use_cases
from importlinter.application.app_config import settings as importlinter_settings

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LIBRARIES = ("digitize", "signing", "storage", "pipeline")
#: Library modules that may touch the environment, and why.
ENVIRONMENT_ALLOWED = {
    "digitize/settings.py": "load_settings is the one settings reader; the edges (cli, flows) call it, and it "
                            "takes DIGITIZE_CONFIG and the DIGITIZE_* overrides from the environment it is given "
                            "(the process's when given none)",
    "digitize/tools.py": "run() hands the process's environment on to the external program it starts, plus the "
                         "variables the caller sets (OMP_THREAD_LIMIT); it reads no setting from it",
}
_ENVIRONMENT_NAMES = {"environ", "environb", "getenv", "getenvb"}


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), str(PYPROJECT), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


class _GraphWithOneMoreImport(GraphBuilder):
    """The real import graph of the tree, plus the import ``importer -> imported``."""

    def __init__(self, importer: str, imported: str) -> None:
        self.importer, self.imported = importer, imported

    def build(self, *args, **kwargs):
        graph = super().build(*args, **kwargs)
        graph.add_import(importer=self.importer, imported=self.imported)
        return graph


@pytest.mark.parametrize(("importer", "imported", "contract"), [
    ("digitize.models", "signing.sign", "layers"),            # the kernel reaching up to a library
    ("digitize.settings", "storage.catalog", "layers"),
    ("signing.sign", "storage.archive", "layers"),            # the two libraries are independent
    ("storage.catalog", "pipeline", "layers"),                # a library reaching up to the pipeline
    ("pipeline", "flows.dossier", "no-edges-below"),
    ("storage.keys", "cli.main", "no-edges-below"),
    ("signing.sign", "prefect", "no-prefect-below"),
    ("pipeline", "prefect", "no-prefect-below"),
    ("cli.doctor", "boto3", "boto3-in-storage"),
    ("signing.report", "signing.verify", "no-cycles"),        # verify imports report: a cycle
    ("storage.backend", "storage.s3", "no-cycles"),
    ("cli.prefect_server", "cli.main", "no-cycles"),
])
def test_each_contract_catches_the_import_it_forbids(importer, imported, contract, capsys):
    kept = _lint_with(importer, imported, contract)
    report = capsys.readouterr().out
    assert not kept and "1 broken" in report, f"{importer} -> {imported} went through {contract!r}:\n{report}"


def _lint_with(importer: str, imported: str, contract: str) -> bool:
    """Whether the contract ``contract`` of pyproject.toml is kept by the tree's graph plus one import."""
    configuration.configure()
    importlinter_settings.configure(GRAPH_BUILDER=_GraphWithOneMoreImport(importer, imported))
    try:
        return use_cases.lint_imports(str(PYPROJECT), limit_to_contracts=(contract,), cache_dir=None, no_logo=True)
    finally:
        configuration.configure()


def test_the_console_script_and_python_m_digitize_run_the_cli():
    """The CLI moved out of the kernel (issue 16): ``digitize`` and ``python -m digitize`` still reach it."""
    from cli.main import main

    script = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["scripts"]["digitize"]
    module, _, function = script.partition(":")
    assert getattr(importlib.import_module(module), function) is main
    result = subprocess.run([sys.executable, "-m", "digitize", "--version"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("digitize "), result.stdout + result.stderr


def environment_reads(source: str) -> list[int]:
    """Lines of ``source`` that read the process environment (``os.environ``, ``os.getenv``, imported or not)."""
    tree = ast.parse(source)
    os_names = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {alias.asname or alias.name for alias in node.names if alias.name == "os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in os_names \
                and node.attr in _ENVIRONMENT_NAMES:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(alias.name in _ENVIRONMENT_NAMES for alias in node.names):
            lines.append(node.lineno)
    return sorted(lines)


@pytest.mark.parametrize("source", [
    "import os\nvalue = os.environ['DIGITIZE_X']\n",
    "import os\nvalue = os.getenv('DIGITIZE_X')\n",
    "import os as system\nvalue = system.environ.get('DIGITIZE_X')\n",
    "from os import environ\n",
    "from os import getenv as read\n",
])
def test_an_environment_read_is_found(source):
    assert environment_reads(source) != []


def test_no_environment_read_where_there_is_none():
    assert environment_reads("import os\npath = os.path.join('a', 'b')\nenviron = {}\nvalue = environ.get('X')\n") == []


def test_library_code_never_reads_the_environment():
    found = []
    for package in LIBRARIES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            lines = environment_reads(path.read_text(encoding="utf-8"))
            if lines and name not in ENVIRONMENT_ALLOWED:
                found.append(f"{name}: line {', '.join(map(str, lines))}")
    assert not found, ("library code reads the environment (read it at the edge, in cli/ or flows/, and pass "
                       f"the value in): {found}")


@pytest.mark.parametrize("name", sorted(ENVIRONMENT_ALLOWED))
def test_each_allowed_environment_read_is_still_there(name):
    assert environment_reads((ROOT / name).read_text(encoding="utf-8")), \
        f"{name} no longer reads the environment: remove it from ENVIRONMENT_ALLOWED"
