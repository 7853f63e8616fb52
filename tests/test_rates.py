"""Rates against plan 4521/QĐ-UBND: the target schedule and the report on a hand-computed catalog."""

from __future__ import annotations

from datetime import date

import pytest

from digitize.errors import ConfigError
from rates import model as rates
from rates.html import render_html
from rates.queries import orphans, rates_report, result_counts
from rates.targets import load_schedule, parse_schedule
from tests.rates_fixtures import LEVELS, build_catalog

END = date(2025, 6, 30)


@pytest.mark.parametrize(("year", "expected"), [
    (2022, (50, 40, 35)), (2023, (70, 60, 55)), (2024, (90, 80, 75)), (2025, (100, 100, 95)), (2026, (100, 100, 100)),
])
def test_packaged_schedule_gives_the_plan_targets(year, expected):
    schedule = load_schedule()
    assert tuple(schedule.digitization_target(level, year) for level in LEVELS) == expected


def test_intake_coverage_schedule_starts_at_the_centre_and_rises_30_points():
    schedule = load_schedule()
    assert [schedule.intake_target(level, 2022) for level in LEVELS] == [100, 60, 30]
    assert [schedule.intake_target(level, 2023) for level in LEVELS] == [100, 90, 60]
    assert schedule.exempt_area_types == ("remote",)


def test_no_target_before_the_first_year():
    assert load_schedule().digitization_target("xa", 2021) is None


def test_override_replaces_the_rule_for_one_year_and_level():
    schedule = parse_schedule({
        "digitization": {"first_year": 2022, "step_points": 20, "cap": 100, "baseline": {"xa": 35},
                         "overrides": {"2024": {"xa": 70}}},
        "intake_coverage": {"first_year": 2022, "step_points": 30, "cap": 100, "baseline": {"xa": 30}},
    })
    assert [schedule.digitization_target("xa", y) for y in (2023, 2024, 2025)] == [55, 70, 95]


def test_schedule_with_a_wrong_key_is_refused_naming_it():
    with pytest.raises(ConfigError, match="step_point"):
        parse_schedule({"digitization": {"first_year": 2022, "step_point": 20, "cap": 100, "baseline": {"xa": 1}},
                        "intake_coverage": {"first_year": 2022, "step_points": 30, "cap": 100,
                                            "baseline": {"xa": 30}}})


_SCHEDULE_ERRORS = [  # (TOML, the Vietnamese, the English)
    ('[digitization]\nfirst_year = 2022\n', "thiếu mục [intake_coverage]", "the section [intake_coverage] is missing"),
    ('[digitisation]\n[digitization]\n[intake_coverage]\n', "mục không xác định digitisation",
     "unknown section(s) digitisation"),
    ('[digitization]\nfirst_year = 2022\nstep_points = "hai mươi"\ncap = 100\nbaseline = {xa = 35}\n'
     '[intake_coverage]\nfirst_year = 2022\nstep_points = 30\ncap = 100\nbaseline = {xa = 30}\n',
     "[digitization]: step_points phải là số nguyên từ 0 đến 100, không phải 'hai mươi'",
     "[digitization]: step_points must be a whole number from 0 to 100, not 'hai mươi'"),
    ('[digitization]\nfirst_year = 2022\nstep_points = 20\ncap = 100\nbaseline = {}\n'
     '[intake_coverage]\nfirst_year = 2022\nstep_points = 30\ncap = 100\nbaseline = {xa = 30}\n',
     "baseline: ghi tỷ lệ phần trăm cho từng cấp, ví dụ tinh = 50", "baseline: give a percentage per level"),
    ("[digitization\n", "không phải TOML hợp lệ", "is not valid TOML"),
]


@pytest.mark.parametrize(("toml", "vietnamese", "english"), _SCHEDULE_ERRORS)
def test_target_schedule_errors_name_the_file_in_the_readers_language(tmp_path, toml, vietnamese, english):
    from digitize.i18n import using

    path = tmp_path / "chỉ tiêu tỉnh.toml"
    path.write_text(toml, encoding="utf-8")
    with using("vi"), pytest.raises(ConfigError) as in_vietnamese:
        load_schedule(path)
    assert vietnamese in str(in_vietnamese.value) and str(path) in str(in_vietnamese.value)
    with pytest.raises(ConfigError) as in_english:
        load_schedule(path)
    assert english in str(in_english.value)


def test_a_missing_target_schedule_says_so_in_vietnamese(tmp_path):
    from digitize.i18n import using

    with using("vi"), pytest.raises(ConfigError) as caught:
        load_schedule(tmp_path / "không có.toml")
    assert "không đọc được lộ trình chỉ tiêu" in str(caught.value)
    assert "kiểm tra đường dẫn đã ghi sau --targets" in str(caught.value)


def test_checkpoints_are_month_ends_then_the_period_end():
    points = rates.checkpoints(date(2026, 3, 15), months=4)
    assert points == (date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15))


def test_period_end_is_the_year_end_or_today():
    assert rates.period_end(2024, date(2026, 5, 1)) == date(2024, 12, 31)
    assert rates.period_end(2026, date(2026, 5, 1)) == date(2026, 5, 1)


def test_a_year_not_begun_is_refused_in_the_readers_language():
    from digitize.errors import BadInputError
    from digitize.i18n import using

    with using("vi"), pytest.raises(BadInputError, match=r"năm 2027 chưa bắt đầu \(hôm nay là 01/05/2026\)"):
        rates.period_end(2027, date(2026, 5, 1))
    with pytest.raises(BadInputError, match=r"year 2027 has not begun \(today is 2026-05-01\)"):
        rates.period_end(2027, date(2026, 5, 1))


@pytest.fixture
def report(tmp_path):
    with build_catalog(tmp_path) as catalog:
        yield rates_report(catalog, END, load_schedule(), LEVELS)


def _office(report, code):
    return next(r for r in report.offices if r.office_code == code)


def test_rates_per_office_match_the_hand_computed_figures(report):
    figures = {r.office_code: (r.in_force, r.digitized, r.target, r.status, r.needed) for r in report.offices}
    assert figures == {
        "prov": (2, 1, 100, "behind", 1),
        "dist": (1, 1, 100, "met", 0),
        "comm-a": (4, 1, 95, "behind", 3),
        "comm-r": (1, 1, 95, "met", 0),
        "empty": (0, 0, 95, "no results", 0),
    }


def test_rates_per_level_add_up_the_offices(report):
    figures = {r.level: (r.in_force, r.digitized, r.needed, r.status) for r in report.levels}
    assert figures == {"tinh": (2, 1, 1, "behind"), "huyen": (1, 1, 0, "met"), "xa": (5, 2, 3, "behind")}
    assert report.levels[2].rate == pytest.approx(40.0)
    assert (report.total.in_force, report.total.digitized) == (8, 4)


def test_result_expiring_before_the_end_is_not_counted_but_its_last_day_is(report):
    backlog = [b.document_code for b in report.backlog]
    assert "P3-KQ1" in backlog and "P2-KQ1" not in backlog


def test_document_archived_after_midnight_vietnam_time_is_not_counted(report):
    assert "A2-KQ1" in [b.document_code for b in report.backlog]


def test_merged_office_keeps_its_history(report):
    assert _office(report, "dist").office_status == "merged"
    assert _office(report, "dist").digitized == 1


def test_backlog_lists_missing_results_oldest_first(report):
    assert [b.document_code for b in report.backlog] == ["A2-KQ1", "A3-KQ1", "A4-KQ1", "P3-KQ1"]
    assert report.backlog_total == 4


def test_documents_without_inventory_are_counted_apart(report):
    assert [o.document_code for o in report.orphans] == ["A1-KQ2", "ORPHAN-KQ1"]
    assert report.orphans_total == 2


def test_trend_counts_results_in_force_at_each_month_end(report):
    may = next(t for t in report.trend if t.level == "tinh" and t.at == date(2025, 5, 31))
    assert (may.in_force, may.digitized) == (3, 1)  # P1, P2, P3 in force; P2 archived in March
    end = next(t for t in report.trend if t.level == "tinh" and t.at == END)
    assert (end.in_force, end.digitized) == (2, 1)


def test_forecast_uses_the_pace_of_the_last_30_days(report):
    forecasts = {f.level: f for f in report.forecasts}
    assert (forecasts["tinh"].recent, forecasts["tinh"].reaches_target) == (1, date(2025, 7, 30))
    assert (forecasts["xa"].recent, forecasts["xa"].reaches_target) == (2, date(2025, 8, 14))
    assert forecasts["huyen"].reaches_target == END


def test_remote_commune_is_exempt_from_intake_coverage(report):
    xa = next(i for i in report.intake if i.level == "xa")
    assert (xa.eligible, xa.covered, xa.exempt, xa.status) == (2, 1, 1, "behind")
    assert _office(report, "comm-r").intake == "exempt"


def test_report_for_one_office_only(tmp_path):
    with build_catalog(tmp_path) as catalog:
        one = rates_report(catalog, END, load_schedule(), LEVELS, office="comm-a", level="xa")
    assert [r.office_code for r in one.offices] == ["comm-a"]
    assert (one.levels[0].in_force, one.levels[0].digitized) == (4, 1)
    assert [o.document_code for o in one.orphans] == ["A1-KQ2", "ORPHAN-KQ1"]


def test_html_report_is_self_contained_with_charts(report):
    html = render_html(report)
    assert html.count("<svg") == 7  # per level the plan's span and the last 12 months, then the gap ranking
    assert "<script" not in html and "http" not in html and "src=" not in html
    assert "UBND xã A" in html and "Trung tâm Phục vụ hành chính công tỉnh" in html


def test_lists_stop_at_the_limit_but_totals_count_everything(tmp_path):
    with build_catalog(tmp_path) as catalog:
        short = rates_report(catalog, END, load_schedule(), LEVELS, list_limit=1)
    assert ([b.document_code for b in short.backlog], short.backlog_total) == (["A2-KQ1"], 4)
    assert ([o.document_code for o in short.orphans], short.orphans_total) == (["A1-KQ2"], 2)


def test_orphan_count_from_the_cells_matches_the_direct_count(tmp_path):
    with build_catalog(tmp_path) as catalog:
        report = rates_report(catalog, END, load_schedule(), LEVELS)
        found, total = orphans(catalog, END, limit=None)
    assert total == report.orphans_total == 2
    assert [o.document_code for o in found] == [o.document_code for o in report.orphans]


def test_counts_on_a_day_inside_a_month_add_that_month_up_to_the_day(tmp_path):
    with build_catalog(tmp_path) as catalog:
        counts = result_counts(catalog, date(2025, 6, 29))
    now = {t.office_code: (t.in_force[-1], t.digitized[-1], t.recent) for t in counts.tallies}
    # P2's last day in force is 06-29; A1 is archived on 06-30 Vietnam time; R1 and P1 in the pace window.
    assert now == {"prov": (3, 2, 1), "dist": (1, 1, 0), "comm-a": (4, 0, 0), "comm-r": (1, 1, 1)}
    assert counts.orphans == 2


def test_an_office_with_no_result_in_force_yet_still_has_its_tally(tmp_path):
    with build_catalog(tmp_path) as catalog:
        counts = result_counts(catalog, date(2024, 12, 31))
    prov = next(t for t in counts.tallies if t.office_code == "prov")
    assert set(prov.in_force) == set(prov.digitized) == {0}
    assert "empty" not in {t.office_code for t in counts.tallies}  # no inventory at all: only in the registry


@pytest.mark.parametrize(("level", "figures", "orphan_codes"), [
    ("huyen", (1, 1), []),  # a small level: read by its index
    ("xa", (5, 2), ["A1-KQ2", "ORPHAN-KQ1"]),  # half the inventory: table scan, cut in Python
])
def test_report_for_one_level_matches_the_full_report(tmp_path, level, figures, orphan_codes):
    with build_catalog(tmp_path) as catalog:
        one = rates_report(catalog, END, load_schedule(), LEVELS, level=level)
    assert (one.levels[0].in_force, one.levels[0].digitized) == figures
    assert [o.document_code for o in one.orphans] == orphan_codes
    assert {b.level for b in one.backlog} <= {level}


def test_forecast_days_are_counted_in_whole_numbers():
    """11 results needed at 11 in 30 days is 30 days, not 31 (11 / (11 / 30) is 30.000000000000004 in floats)."""
    from digitize.offices import Office

    end = date(2026, 6, 30)
    tally = rates.OfficeTally("xa", "comm-a", in_force=(100,), digitized=(89,), recent=11)
    report = rates.build_report(end, [tally], [Office("comm-a", "UBND xã A", "xa")], load_schedule(), levels=["xa"],
                                points=[end])
    assert (report.forecasts[0].needed, report.forecasts[0].reaches_target) == (11, date(2026, 7, 30))


def test_the_plan_span_gives_each_level_every_year_from_2022(report):
    tinh = [(p.at, p.in_force, p.digitized, p.target) for p in report.span if p.level == "tinh"]
    assert tinh == [(date(2022, 12, 31), 0, 0, 50), (date(2023, 12, 31), 0, 0, 70), (date(2024, 12, 31), 0, 0, 90),
                    (END, 2, 1, 100)]
    assert [p.in_force for p in report.span if p.level == "huyen"] == [0, 0, 1, 1]  # D1 resolved 2024-05-01
