"""The product's dependencies are declared as they are used: every third-party package the
product's modules import is declared in pyproject.toml, and every declared package is imported."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Declared before the code that imports it lands, each with the reason.
DECLARED_AHEAD = {
    "pytesseract": "the OCR call moves to pytesseract.run_tesseract (issue 16, point 4)",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distributions [project].dependencies names, without extras and versions."""
    return {_canonical(re.match(r"[A-Za-z0-9._-]+", spec).group()) for spec in PYPROJECT["project"]["dependencies"]}


def _product_packages() -> list[Path]:
    """The top-level packages the wheel holds ([tool.setuptools.packages.find] include)."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return [folder for folder in sorted(ROOT.iterdir())
            if (folder / "__init__.py").is_file() and any(fnmatch.fnmatch(folder.name, p) for p in patterns)]


def _third_party_imports() -> dict[str, set[str]]:
    """Each top-level module the product imports that is neither the standard library nor its own,
    with the files importing it."""
    own = {folder.name for folder in _product_packages()}
    found: dict[str, set[str]] = {}
    for folder in _product_packages():
        for file in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in own:
                        found.setdefault(top, set()).add(str(file.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_the_product_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, files in _third_party_imports().items():
        providers = {_canonical(d) for d in distributions.get(module, [])}
        if not providers & declared:
            undeclared[module] = (sorted(providers) or ["(not installed)"], sorted(files)[:3])
    assert not undeclared, f"imported but not declared in [project].dependencies: {undeclared}"


def test_every_declared_dependency_is_imported_by_the_product():
    distributions = importlib.metadata.packages_distributions()
    imported = {_canonical(d) for module in _third_party_imports() for d in distributions.get(module, [])}
    unused = _declared() - imported - set(DECLARED_AHEAD)
    assert not unused, f"declared in [project].dependencies but imported nowhere in the product: {sorted(unused)}"


def test_the_product_packages_are_found_and_import_something():
    assert {"digitize", "signing", "storage", "flows"} <= {p.name for p in _product_packages()}
    assert {"pikepdf", "pyhanko", "prefect"} <= set(_third_party_imports())
