"""The Vietnamese guides in ``docs/`` say what the code does.

Checked against the code itself, so a renamed command, option, setting, error class or exit code
fails here instead of leaving a guide wrong: every command line a guide quotes is parsed by the
CLI's own parser (nothing runs); every setting key named exists in the settings; every error class
and exit code is covered (the clerks' guide: every error an input can end in ``failed/`` or stay in
the scanner folder with); every English key phrase the clerks' guide quotes from a reason is still
in the code; the files are UTF-8 NFC and their relative links resolve.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
import shlex
import tomllib
import typing
import unicodedata
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from cli.main import build_parser
from digitize import errors
from digitize.errors import DigitizeError, ExitCode
from digitize.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLERK = DOCS / "huong-dan-can-bo-mot-cua.md"
OPERATOR = DOCS / "huong-dan-van-hanh.md"
REPORT = DOCS / "huong-dan-bao-cao.md"
INDEX = DOCS / "README.md"
GUIDES = (CLERK, OPERATOR, REPORT, INDEX)
#: Every Markdown file a reader of the guides is sent to (links, encoding).
ALL_MARKDOWN = (*GUIDES, DOCS / "thuat-ngu.md", ROOT / "README.md")
#: Errors no input of a scanner folder can end with: command-line, settings and CSV-import errors.
NOT_FOR_CLERKS = {"UsageError", "ConfigError", "CsvImportError"}
#: The modules that judge an input: every refusal they write has its row in the clerks' guide.
INPUT_MODULES = ("digitize/intake.py", "digitize/models.py", "digitize/pages.py", "digitize/split.py",
                 "digitize/engine.py", "digitize/pdfa.py")
#: Where the reasons a clerk reads are written.
REASON_SOURCES = ("digitize", "signing", "storage", "pipeline", "rates", "flows", "cli")

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SETTING = re.compile(r"(?<![\w./-])([a-z]+)\.([a-z][a-z0-9_]*)\b")
ENV_SETTING = re.compile(r"\bDIGITIZE_([A-Z0-9]+)__([A-Z0-9_]+)\b")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


# --- reading Markdown -------------------------------------------------------------------------------

def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of each fenced code block."""
    return FENCE.findall(text)


def prose(text: str) -> str:
    """``text`` without its fenced code blocks."""
    return FENCE.sub("", text)


def code_spans(text: str) -> list[str]:
    """Inline code spans outside the fenced blocks."""
    return SPAN.findall(prose(text))


def command_lines(text: str) -> list[str]:
    """Every ``digitize`` command line quoted: shell block lines (comments and leading variable
    assignments dropped) and inline code spans that start with ``digitize``."""
    found = []
    for language, body in fenced_blocks(text):
        if language not in ("sh", "bash", "shell"):
            continue
        for line in body.splitlines():
            words = shlex.split(line, comments=True)
            while words and ENV_ASSIGNMENT.match(words[0]):
                words = words[1:]
            if words and words[0] in ("digitize", ".venv/bin/digitize"):
                found.append(shlex.join(words))
    found += [span for span in code_spans(text) if span.startswith("digitize ")]
    return found


def command_error(line: str) -> str | None:
    """Why the CLI's own parser refuses ``line`` (None when it accepts it); nothing is run.

    A bare command name (``digitize archive fixity``: words, no option or argument) names the
    command rather than a command line to type: it must exist (its ``--help`` is accepted).
    """
    words = shlex.split(line)
    if re.fullmatch(r"digitize( [a-z]+)+", line):
        words.append("--help")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            build_parser().parse_args(words[1:])
    except SystemExit as e:
        if e.code not in (0, None):  # --help and --version exit 0
            return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


def run_sh_commands(text: str) -> list[str]:
    """The sub-commands of ``bash run.sh X`` quoted anywhere."""
    return re.findall(r"\bbash run\.sh (\w+)", text)


# --- the settings -----------------------------------------------------------------------------------

def setting_keys() -> dict[str, set[str]]:
    """Section -> keys of the typed settings."""
    sections = {}
    for name, hint in typing.get_type_hints(Settings).items():
        if is_dataclass(hint):
            sections[name] = {f.name for f in fields(hint)}
    return sections


def unknown_settings(text: str) -> list[str]:
    """Setting keys named in ``text`` (code spans, code blocks, ``DIGITIZE_*__*`` variables, TOML
    blocks) that the settings do not have."""
    sections = setting_keys()
    bad = []
    code = "\n".join(code_spans(text)) + "\n" + "\n".join(
        body for language, body in fenced_blocks(text) if language != "toml")
    for section, key in SETTING.findall(code):
        if section in sections and key not in sections[section]:
            bad.append(f"{section}.{key}")
    for section, key in ENV_SETTING.findall(text):
        section, key = section.lower(), key.lower()
        if key not in sections.get(section, set()):
            bad.append(f"DIGITIZE_{section.upper()}__{key.upper()}")
    for language, body in fenced_blocks(text):
        if language != "toml":
            continue
        for section, table in tomllib.loads(body).items():
            if section not in sections:
                bad.append(f"[{section}]")
                continue
            bad += [f"{section}.{key}" for key in table if key not in sections[section]]
    return bad


# --- errors and exit codes --------------------------------------------------------------------------

def error_classes() -> dict[str, type[DigitizeError]]:
    """Every error class of the product (the base aside)."""
    return {name: cls for name, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, DigitizeError) and cls is not DigitizeError}


def clerk_classes() -> dict[str, type[DigitizeError]]:
    """The errors an input of a scanner folder can meet."""
    return {name: cls for name, cls in error_classes().items() if name not in NOT_FOR_CLERKS}


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row outside code blocks (separator rows left out)."""
    rows = []
    for line in prose(text).splitlines():
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def documented_error_classes(text: str) -> dict[str, tuple[int, bool]]:
    """Class -> (exit code, transient) from the rows ``| `A` / `B` | code | không / có |``."""
    found = {}
    for cells in table_rows(text):
        if len(cells) != 3 or not re.fullmatch(r"\d+", cells[1]) or "`" not in cells[0]:
            continue
        groups, flags = cells[0].split("/"), [f.strip() for f in cells[2].split("/")]
        if len(flags) == 1:
            flags *= len(groups)
        for group, flag in zip(groups, flags, strict=True):
            for name in re.findall(r"`(\w+)`", group):
                found[name] = (int(cells[1]), flag == "có")
    return found


def documented_exit_codes(text: str) -> set[int]:
    """The codes of the rows ``| code | meaning |``."""
    return {int(cells[0]) for cells in table_rows(text) if len(cells) == 2 and re.fullmatch(r"\d+", cells[0])}


def quoted_phrases(text: str) -> list[str]:
    """English key phrases quoted from the reasons: code spans written ``"..."``."""
    return [span[1:-1] for span in code_spans(text) if len(span) > 2 and span[0] == span[-1] == '"']


def reason_source() -> str:
    """The product's code, where every reason a clerk can read is written."""
    return "\n".join(read(path) for package in REASON_SOURCES for path in sorted((ROOT / package).rglob("*.py")))


def phrases_not_in(source: str, phrases: list[str]) -> list[str]:
    return [phrase for phrase in phrases if phrase not in source]


def reason_sites(source: str, where: str, classes: set[str]) -> list[tuple[str, str]]:
    """``(place, text)`` of every ``raise X(...)`` / ``return X(...)`` of a class in ``classes`` in
    ``source``: the text is the call's string literals (message and hint), joined by NUL. A call whose
    literals hold fewer than three words only wraps a message made elsewhere (``f"{name}: {e.message}"``)
    and is left out: the message it wraps has its own site."""
    sites = []
    for node in ast.walk(ast.parse(source)):
        call = node.exc if isinstance(node, ast.Raise) else node.value if isinstance(node, ast.Return) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in classes):
            continue
        text = "\0".join(n.value for n in ast.walk(call) if isinstance(n, ast.Constant) and isinstance(n.value, str))
        if len(re.findall(r"[A-Za-z]+", text)) >= 3:
            sites.append((node.lineno, f"{where}:{node.lineno} {call.func.id}", text))
    return [(place, text) for _line, place, text in sorted(sites)]


def undocumented_reasons(sites: list[tuple[str, str]], phrases: list[str]) -> list[str]:
    """The sites whose text holds none of ``phrases``."""
    return [place for place, text in sites if not any(phrase in text for phrase in phrases)]


# --- links and encoding -----------------------------------------------------------------------------

def broken_links(path: Path, text: str) -> list[str]:
    """Relative links of ``text`` (a file at ``path``) that lead nowhere or out of the repository."""
    bad = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.exists() or ROOT not in resolved.parents:
            bad.append(target)
    return bad


# --- the tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_every_quoted_command_line_is_accepted_by_the_cli(path):
    lines = command_lines(read(path))
    refused = {line: command_error(line) for line in lines}
    assert {line: why for line, why in refused.items() if why} == {}


def test_the_guides_quote_the_commands_people_run():
    quoted = {" ".join(line.split()[:2]) for path in GUIDES for line in command_lines(read(path))}
    assert {"digitize run", "digitize doctor", "digitize verify", "digitize report", "digitize renew",
            "digitize archive"} <= quoted


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_bash_run_sh_commands_exist(path):
    cases = set(re.findall(r"^\s*(\w+)\)", read(ROOT / "run.sh"), re.M))
    assert set(run_sh_commands(read(path))) - cases == set()


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_every_setting_key_named_exists(path):
    assert unknown_settings(read(path)) == []


def test_the_operator_guide_names_the_settings_that_matter():
    text = read(OPERATOR)
    for key in ("ui.language", "paths.inbox", "paths.failed", "archive.backend", "catalog.url",
                "signing.pkcs12", "signing.pkcs11_module", "signing.tsa_url"):
        assert f"`{key}`" in text, key


def test_every_exit_code_is_in_the_operator_guide():
    assert documented_exit_codes(read(OPERATOR)) == {int(code) for code in ExitCode}


def test_every_error_class_is_in_the_operator_guide_with_its_exit_code_and_transient_flag():
    documented = documented_error_classes(read(OPERATOR))
    expected = {name: (int(cls.exit_code), cls.transient) for name, cls in error_classes().items()}
    assert documented == expected


def test_every_error_an_input_can_meet_is_in_the_clerks_guide_with_its_exit_code():
    text = read(CLERK)
    missing = [name for name, cls in clerk_classes().items()
               if not re.search(rf"`{name}`[^`\n]{{0,20}}?\b{int(cls.exit_code)}\b", text)]
    assert missing == []
    assert re.search(r"^\| [^|]+ \| 1 \|", text, re.M), "the unexpected error (exit 1) has no row"


def test_the_reasons_quoted_in_the_clerks_guide_are_still_in_the_code():
    phrases = quoted_phrases(read(CLERK))
    assert len(phrases) >= 60  # one or more per reason of the tables
    assert phrases_not_in(reason_source(), phrases) == []


def test_every_reason_an_input_is_refused_with_is_in_the_clerks_guide():
    """Each refusal written in the modules that judge an input (its name, sidecar, pages, cover
    sheets, colour) and each document conflict of the catalog has a row whose phrase it holds."""
    judged = {name for name, cls in clerk_classes().items() if issubclass(cls, errors.BadInputError)}
    judged |= {"DigitizeError", "ToolTimeoutError"}
    sites = [site for module in INPUT_MODULES for site in reason_sites(read(ROOT / module), module, judged)]
    sites += reason_sites(read(ROOT / "storage/catalog.py"), "storage/catalog.py", {"DocumentConflictError"})
    assert len(sites) >= 50
    assert undocumented_reasons(sites, quoted_phrases(read(CLERK))) == []


@pytest.mark.parametrize("path", ALL_MARKDOWN, ids=lambda p: p.name)
def test_files_are_utf8_nfc_without_machine_paths(path):
    text = path.read_bytes().decode("utf-8")  # strict: a byte that is not UTF-8 fails here
    assert unicodedata.is_normalized("NFC", text)
    assert not re.search(r"(?<![\w.-])/work/", text), "names a machine path"


def test_the_guides_are_vietnamese_with_diacritics():
    for path in GUIDES:
        assert re.search(r"hồ sơ|số hóa", read(path)), path.name


@pytest.mark.parametrize("path", ALL_MARKDOWN, ids=lambda p: p.name)
def test_relative_links_resolve(path):
    assert broken_links(path, read(path)) == []


def test_the_readme_links_every_guide():
    readme = read(ROOT / "README.md")
    for path in GUIDES:
        assert f"]({path.relative_to(ROOT).as_posix()})" in readme, path.name


# --- the checks themselves fail on a wrong guide ------------------------------------------------------

WRONG_GUIDE = """\
Chạy `digitize run --levle xa`, rồi `digitize reprot`, đặt `ocr.langauges` và `ui.language`.

```sh
DIGITIZE_UI__LANGAUGE=en digitize doctor   # chú thích
digitize archive get 000.31.25.H08-261120-0001-KQ1
.venv/bin/digitize report --format text
digitize run --level xa
```

```toml
[ui]
languag = "vi"
[paths]
inbox = "var/inbox"
[nothing]
x = 1
```

Xem [hướng dẫn](khong-co.md), [bảng thuật ngữ](thuat-ngu.md) và [web](https://example.vn).
"""


def test_the_command_check_refuses_wrong_commands_and_accepts_right_ones():
    lines = command_lines(WRONG_GUIDE)
    refused = [line for line in lines if command_error(line)]
    assert refused == ["digitize archive get 000.31.25.H08-261120-0001-KQ1",
                       ".venv/bin/digitize report --format text", "digitize run --levle xa", "digitize reprot"]
    assert set(lines) - set(refused) == {"digitize doctor", "digitize run --level xa"}
    assert command_error("digitize report --help") is None


def test_the_setting_check_names_every_wrong_key():
    assert sorted(unknown_settings(WRONG_GUIDE)) == sorted(
        ["ocr.langauges", "DIGITIZE_UI__LANGAUGE", "ui.languag", "[nothing]"])


def test_the_error_table_check_reads_codes_and_flags():
    table = ("| loại lỗi | mã thoát | tạm thời |\n|---|---|---|\n"
             "| `ToolError` / `ToolTimeoutError` | 8 | không / có |\n")
    assert documented_error_classes(table) == {"ToolError": (8, False), "ToolTimeoutError": (8, True)}
    wrong = table.replace("| 8 |", "| 9 |")
    assert documented_error_classes(wrong) == {"ToolError": (9, False), "ToolTimeoutError": (9, True)}


def test_the_phrase_check_finds_a_phrase_the_code_no_longer_has():
    source = 'raise BadInputError(f"{name} is encrypted (password protected)")'
    assert phrases_not_in(source, ["is encrypted (password protected)", "is locked with a password"]) == [
        "is locked with a password"]


def test_the_link_check_finds_a_broken_link():
    assert broken_links(DOCS / "x.md", WRONG_GUIDE) == ["khong-co.md"]


def test_the_reason_check_finds_a_refusal_the_guide_does_not_explain():
    source = (
        'def f(name, e):\n'
        '    if e:\n'
        '        raise BadInputError(f"{name}: {e.message}")\n'  # wraps a message made elsewhere
        '    if name:\n'
        '        raise BadInputError(f"{name} is encrypted (password protected); save it without a password")\n'
        '    raise BadInputError(_("{name} is a new kind of fault", name=name))\n'
    )
    sites = reason_sites(source, "x.py", {"BadInputError"})
    assert [place for place, _text in sites] == ["x.py:5 BadInputError", "x.py:6 BadInputError"]
    assert undocumented_reasons(sites, ["is encrypted (password protected)"]) == ["x.py:6 BadInputError"]
