"""No message a clerk or an operator reads is left in English (issue 15): an AST scan of the product's code.

What it scans: the message and the ``hint=`` of every error of :mod:`digitize.errors` raised, what
``print`` writes, and the action a catalog or archive error names (``transaction``, ``_errors``). A text there (a string or an f-string with words) must be marked, ``_("...")``. Values
marked elsewhere (``_(LABELS[k])``, a variable) and bare placeholders (``f"{a}: {b}"``) pass.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from digitize import errors

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("digitize", "signing", "storage", "pipeline", "rates", "flows", "cli")
MARKERS = {"_", "ngettext", "N_"}
#: The product's errors: what they say reaches a clerk or an operator.
PRODUCT_ERRORS = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
                  if issubclass(cls, errors.DigitizeError)}
#: Calls whose first argument a reader sees: printed, or the action named in a storage error.
SHOWN_CALLS = {"print", "transaction", "_errors"}
WORD = re.compile(r"[A-Za-z]{2,}")


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _words(node: ast.expr) -> str:
    """The literal words in ``node`` (a string, an f-string, a concatenation, a conditional), "" if none."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if WORD.search(node.value) else ""
    if isinstance(node, ast.JoinedStr):
        return "".join(_words(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _words(node.left) + _words(node.right)
    if isinstance(node, ast.IfExp):
        return _words(node.body) + _words(node.orelse)
    return ""


def unmarked_messages(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each error message, hint or printed text in ``source`` that is not marked."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _name(node.func) in MARKERS:
            continue
        texts = []
        if _name(node.func) in PRODUCT_ERRORS or _name(node.func) in SHOWN_CALLS:
            texts += node.args[:1]
        texts += [k.value for k in node.keywords if k.arg == "hint"]
        found += [(text.lineno, words) for text in texts if (words := _words(text))]
    return found


def test_every_error_message_hint_and_printed_text_is_marked_for_translation():
    left = [f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            for line, text in unmarked_messages(path.read_text(encoding="utf-8"))]
    assert left == [], "messages a reader sees still in English: mark them _(\"...\") and translate them"


def test_the_scan_finds_an_unmarked_error_a_hint_and_a_print_and_passes_marked_ones():
    source = '''
raise BadInputError(f"cannot read {path}")
raise ConfigError(_("setting {key} is wrong", key=k), hint="set it again")
print("3 documents archived")
raise CsvImportError(_("{file}: bad lines", file=f), errors)
print(f"{label}: {value}")
raise ValueError(f"a caller's mistake {x}")
with catalog.transaction(f"import offices from {path}"):
    pass
with catalog.transaction(N_("recount the rates summary")):
    pass
'''
    assert [line for line, _text in unmarked_messages(source)] == [2, 3, 4, 8]
