"""The backlog benchmark's set (bench/make_backlog.py) is what issue 13 asks for: its plan, no drawing."""

from __future__ import annotations

import sys
from pathlib import Path

from digitize.models import parse_document_code

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
_bytecode = sys.dont_write_bytecode
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
