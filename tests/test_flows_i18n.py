"""What a clerk and an operator read from a run, in their language: the quarantine reasons, the run's
name and state in the Prefect UI, its artifacts; an outage told apart from bad inputs."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from tests.intake_fixtures import save_pdf, text_page

pytestmark = [pytest.mark.slow, pytest.mark.tools]

OFFICE = ("xa", "phuoc-loc")
CODE = "000.31.25.H08-261130-{:04d}-KQ1"
#: The pipeline's own folders: a reason names the file as the clerk dropped it, never these.
INTERNAL = re.compile(r"var/work|\.claimed|/input/|[0-9a-f]{20}")


def _setup(root: Path, settings: str = "") -> tuple[Path, Path]:
    config = root / "digitize.toml"
    config.write_text("[intake]\nsettle_seconds = 0\n" + settings, encoding="utf-8")
    office = root / "var" / "inbox" / OFFICE[0] / OFFICE[1]
    office.mkdir(parents=True)
    return config, office


def _bad_inputs(office: Path) -> dict[str, Path]:
    """Three inputs a clerk might drop by mistake, each refused at a different point."""
    empty = office / f"{CODE.format(1)}.pdf"
    empty.write_bytes(b"")
    word = office / f"{CODE.format(2)}.docx"
    word.write_bytes(b"PK\x03\x04 not a scan")
    unnamed = save_pdf([text_page("không tên")], office / "ho-so-khong-ten.pdf")
    return {"empty": empty, "word": word, "unnamed": unnamed}


def _reports(root: Path) -> dict[str, dict]:
    failed = root / "var" / "failed" / OFFICE[0] / OFFICE[1]
    return {p.name.removesuffix(".error.json"): json.loads(p.read_text(encoding="utf-8"))
            for p in failed.glob("*.error.json")}


@pytest.mark.parametrize(("language", "settings", "expected"), [
    ("vi", "", {
        "empty": "{name} rỗng (0 byte); hãy quét lại",
        "word": "{name}: loại tệp '.docx' không được hỗ trợ; hãy quét ra PDF, TIFF, JPEG hoặc PNG",
        "unnamed": "{name}: tên 'ho-so-khong-ten' không theo dạng '<mã hồ sơ>-KQ<n>' hoặc '<mã hồ sơ>-HS<n>'",
    }),
    ("en", '[ui]\nlanguage = "en"\n', {
        "empty": "{name} is empty (0 bytes); scan it again",
        "word": "{name}: unsupported file type '.docx'; scan to PDF, TIFF, JPEG or PNG",
        "unnamed": "{name}: the name 'ho-so-khong-ten' does not follow '<dossier code>-KQ<n>' or '<dossier code>-HS<n>'",
    }),
])
def test_a_quarantined_input_is_told_why_in_the_runs_language(prefect_harness, tmp_path, language, settings,
                                                              expected):
    from flows.dossier import process_inbox

    config, office = _setup(tmp_path, settings)
    inputs = _bad_inputs(office)

    results = process_inbox(level="xa", config=str(config))

    assert sorted(r["status"] for r in results) == ["failed"] * 3
    reports = _reports(tmp_path)
    assert set(reports) == {p.name for p in inputs.values()}
    for what, path in inputs.items():
        report = reports[path.name]
        reason = report["reason"]
        assert reason.startswith(expected[what].format(name=path.name)), reason
        assert unicodedata.normalize("NFC", reason) == reason
        assert not INTERNAL.search(reason), reason
        # The stable fields, the same in every language.
        assert report["file"] == path.name and report["exit_code"] == 4 and report["transient"] is False
        assert report["language"] == language and report["error"] == "BadInputError"
        assert report["at"].endswith("+07:00")


def test_a_run_is_named_for_what_it_did_and_an_outage_is_told_apart_from_bad_input(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
    )

    from flows.dossier import process_inbox

    # The catalog is down (nothing listens there): a document to digitize waits for the next run, an input
    # that is wrong whatever the catalog does is set aside with its reason.
    config, office = _setup(tmp_path, '[catalog]\nurl = "postgresql://digitize@127.0.0.1:9/digitize"\n')
    good = save_pdf([text_page("Giấy xác nhận")], office / f"{CODE.format(7)}.pdf")
    unnamed = save_pdf([text_page("không tên")], office / "ban-quet-thieu-ma.pdf")

    state = process_inbox(level="xa", config=str(config), return_state=True)

    results = state.result()
    assert {r["document"]: r["status"] for r in results} == {good.name: "retry-later", unnamed.name: "failed"}
    assert good.is_file()  # back in the scanner folder for the next run
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        artifacts = {a.key: a for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))}
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(
            any_=[f"{CODE.format(7)} (xa/phuoc-loc) — thử lại sau (sự cố tạm thời)",
                  "ban-quet-thieu-ma (xa/phuoc-loc) — lỗi (đã chuyển sang thư mục lỗi)"])))
    what = "1 lỗi, 1 thử lại sau (sự cố tạm thời)"
    assert re.fullmatch(rf"inbox-xa \d\d/\d\d \d\d:\d\d — {re.escape(what)}", run.name), run.name
    assert run.state.is_completed() and run.state.message == what
    # Each document's run is named by its code and where it came from, then how it ended.
    assert len(children) == 2

    table = json.loads(artifacts["digitize-run"].data)
    rows = {row["mã hồ sơ"]: row for row in table}
    assert rows[good.name]["trạng thái"] == "thử lại sau (sự cố tạm thời)"
    assert rows[unnamed.name]["trạng thái"] == "lỗi (đã chuyển sang thư mục lỗi)"
    assert rows[unnamed.name]["lý do"].startswith("ban-quet-thieu-ma.pdf: tên 'ban-quet-thieu-ma' không theo dạng")

    overview = artifacts["digitize-run-overview"].data
    outage, bad = overview.split("## Đã chuyển sang thư mục lỗi")
    assert "## Sự cố tạm thời: thử lại sau" in outage and good.name in outage and unnamed.name not in outage
    assert unnamed.name in bad and good.name not in bad
    assert re.search(r"Bắt đầu \d\d/\d\d/\d{4} \d\d:\d\d:\d\d, kết thúc .* \(giờ Việt Nam\)", overview), overview
