"""The backlog benchmark (issue 13): its set (bench/make_backlog.py) is what the issue asks for (its plan, no
drawing), and its repeated rounds (bench/backlog_bench.py --repeat) pair each contender with the floor of its
own round (the arithmetic, nothing run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from digitize.models import parse_document_code

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
_bytecode = sys.dont_write_bytecode
import backlog_bench  # noqa: E402
from make_backlog import plan_backlog  # noqa: E402

sys.dont_write_bytecode = _bytecode  # the generator turns it off to keep samples/ clean; only for itself


def test_backlog_plan_has_the_issues_mix_of_dossiers_and_is_the_same_for_a_seed():
    plans = plan_backlog(100, seed=13)
    pages = [page for plan in plans for page in plan.pages]

    assert len(pages) >= 100
    assert all(1 <= len(plan.pages) <= 4 for plan in plans)
    blank_backs = [plan for plan in plans if plan.pages[-1].template is None]
    assert len(blank_backs) == round(0.25 * len(plans))  # a quarter of the dossiers
    assert all(page.template is not None for plan in plans for page in plan.pages[:-1])  # blank only at the back
    upside_down = [page for page in pages if page.rotation == 180]
    assert len(upside_down) == round(0.15 * len(pages)) and all(p.template for p in upside_down)
    assert all(abs(page.skew_deg) <= 4.0 for page in pages)
    assert {plan.container for plan in plans} == {"pdf", "jpg", "tif"}
    for plan in plans:  # named as a scanner folder expects: xa/<office>/<dossier code>-KQ1.<ext>
        assert plan.file.startswith(f"inbox/xa/{plan.office}/")
        assert parse_document_code(plan.document)[1:] == ("KQ", 1)
    assert len({plan.document for plan in plans}) == len(plans)
    assert plan_backlog(100, seed=13) == plans
    assert plan_backlog(100, seed=14) != plans


def _outcome(contender: str, seconds: float, cpu: float, **extra: object) -> backlog_bench.Outcome:
    """An outcome as a round reports it, with the figures a test sets; 100 pages."""
    fields = {"pages": 100, "pages_per_minute": round(6000 / seconds, 1), "peak_rss_mb": 0, "peak_pss_mb": 0,
              "cer": None, "load_before": 1.0, "load_after": 1.0, **extra}
    return backlog_bench.Outcome(contender, f"{contender} command", seconds=seconds, cpu_seconds=cpu, **fields)


def test_rounds_run_the_contenders_in_turn_the_floor_first_each_on_its_own_measurement():
    calls = []

    def contender(name: str) -> list[backlog_bench.Outcome]:
        calls.append(name)
        return [_outcome(name, 10.0 + len(calls), 20.0)]

    ended = []
    rounds = backlog_bench.in_rounds(["run", "floor", "ocr-set"], 3, contender,
                                     ended=lambda k, outcomes: ended.append((k, [o.contender for o in outcomes])))

    assert calls == ["floor", "run", "ocr-set"] * 3  # A B C A B C A B C, not A A A B B B
    assert [[o.contender for o in outcomes] for outcomes in rounds] == [["floor", "run", "ocr-set"]] * 3
    assert [o.seconds for o in rounds[1]] == [14.0, 15.0, 16.0]  # each call measured anew
    assert ended == [(k, ["floor", "run", "ocr-set"]) for k in (1, 2, 3)]
    # one round keeps the order given, as the single run always did
    calls.clear()
    assert [o.contender for o in backlog_bench.in_rounds(["run", "floor"], 1, contender)[0]] == ["run", "floor"]


def test_each_ratio_is_taken_against_the_floor_of_its_own_round_and_the_median_of_the_pairs_is_quoted():
    # The host's speed drifts from round to round. Pair by pair the run is 1.2x, 1.5x, 1.3x the floor: median
    # 1.3x; the median run over the median floor (90 / 60) would say 1.5x, one round's run over another's floor
    # anything from 0.75x to 2.1x.
    rounds = [
        [_outcome("floor", 50.0, 90.0), _outcome("run", 60.0, 108.0, cer=0.44), _outcome("steps", 5.0, 0.0)],
        [_outcome("floor", 60.0, 100.0), _outcome("run", 90.0, 150.0, cer=0.44), _outcome("steps", 6.0, 0.0)],
        [_outcome("floor", 80.0, 80.0), _outcome("run", 104.0, 96.0, cer=0.50), _outcome("steps", 5.5, 0.0)],
    ]

    pairs = backlog_bench.pair_ratios(rounds)
    assert pairs.keys() == {"run", "steps"}  # not the floor against itself
    assert pairs["run"]["wall"] == pytest.approx([1.2, 1.5, 1.3])
    assert pairs["run"]["cpu"] == pytest.approx([1.2, 1.5, 1.2])
    assert pairs["steps"]["cpu"] == [None, None, None]  # no CPU measured: no CPU ratio

    summary = backlog_bench.summarize(rounds)
    assert list(summary) == ["floor", "run", "steps"]
    run = summary["run"]
    assert run["rounds"] == 3
    assert run["x_floor_wall"] == {"per_round": [1.2, 1.5, 1.3], "median": 1.3, "min": 1.2, "max": 1.5, "n": 3}
    assert run["x_floor_cpu"]["median"] == 1.2
    assert run["figures"]["seconds"] == {"median": 90.0, "min": 60.0, "max": 104.0, "n": 3}
    assert run["figures"]["cer"]["median"] == 0.44
    assert "x_floor_wall" not in summary["floor"]
    assert summary["steps"]["x_floor_cpu"] == {"per_round": [None, None, None]}

    table = backlog_bench.print_summary(summary, 3)
    row = next(line for line in table.splitlines() if line.startswith("| run |"))
    assert "| 1.30 (1.20-1.50) | 1.20 (1.20-1.50) |" in row
    assert "| 90.0 (60.0-104.0) |" in row
    steps_row = next(line for line in table.splitlines() if line.startswith("| steps |"))
    assert steps_row.split(" | ")[3] == "-"  # CPU not measured, not "0.0"


def test_a_round_without_a_floor_gives_no_ratio_and_the_notes_figures_get_their_medians_by_key():
    notes = [{"cpu_by_process": {"tesseract": 70.0, "digitize": 12.0}, "totals": "processed 43", "flag": True,
              "per_document_s": {"p95": 0.17, "count": 43}},
             {"cpu_by_process": {"tesseract": 78.0}, "totals": "processed 43", "flag": True,
              "per_document_s": {"p95": 0.19, "count": 43}},
             {"cpu_by_process": {"tesseract": 68.0, "digitize": 14.0}, "totals": "processed 43", "flag": False,
              "per_document_s": {"p95": 0.16, "count": 43}}]
    rounds = [[_outcome("floor", 50.0, 90.0), _outcome("run", 60.0, 100.0, notes=notes[0])],
              [_outcome("run", 65.0, 110.0, notes=notes[1])],  # the floor was not run in this round
              [_outcome("floor", 40.0, 80.0), _outcome("run", 60.0, 96.0, notes=notes[2])]]

    summary = backlog_bench.summarize(rounds)
    assert summary["run"]["x_floor_wall"] == {"per_round": [1.2, None, 1.5], "median": 1.35, "min": 1.2,
                                              "max": 1.5, "n": 2}
    got = summary["run"]["figures"]["notes"]
    assert got["cpu_by_process"]["tesseract"] == {"median": 70.0, "min": 68.0, "max": 78.0, "n": 3}
    assert got["cpu_by_process"]["digitize"] == {"median": 13.0, "min": 12.0, "max": 14.0, "n": 2}
    assert got["per_document_s"]["p95"]["median"] == 0.17
    assert "totals" not in got and "flag" not in got  # texts and flags have no median
    assert "per document p95 s 0.170 (0.160-0.190)" in backlog_bench.print_summary(summary, 3)


def test_one_rounds_table_is_the_single_runs_table():
    floor, run, steps = _outcome("floor", 50.0, 90.0), _outcome("run", 65.0, 117.0, cer=0.44), \
        _outcome("steps", 5.0, 0.0)
    lines = backlog_bench.print_table([floor, run, steps]).splitlines()

    assert lines[0].startswith("| contender | pages | wall s | CPU s | pages/min | x floor wall | x floor CPU |")
    assert lines[2] == "| floor | 100 | 50.0 | 90.0 | 120.0 | 1.00 | 1.00 | - | - | - | 1.0/1.0 |"
    assert lines[3] == "| run | 100 | 65.0 | 117.0 | 92.3 | 1.30 | 1.30 | - | - | 0.44 | 1.0/1.0 |"
    assert lines[4] == "| steps | 100 | 5.0 | - | 1200.0 | 0.10 | - | - | - | - | 1.0/1.0 |"
    assert "| run | 100 | 65.0 | 117.0 | 92.3 | - | - |" in backlog_bench.print_table([run])
