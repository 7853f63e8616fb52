"""The pipeline at PAdES B-LTA against the real test PKI, then the maintenance flows:
archive-timestamp renewal and fixity checks."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from digitize.errors import ArchiveError
from tests.conftest import SAMPLES
from tests.signing_helpers import start_test_pki

pytestmark = [pytest.mark.slow, pytest.mark.tools]

SAMPLE = "000.00.12.H08-261115-0003-KQ1"
PASSWORD = "mật-khẩu-thử"


@pytest.fixture(scope="module")
def lta_run(prefect_harness, tmp_path_factory):
    from flows.dossier import process_inbox

    root = tmp_path_factory.mktemp("lta")
    with start_test_pki(root / "pki") as pki:
        p12 = pki.write_p12("agency", PASSWORD.encode())
        (root / "digitize.toml").write_text(
            "[intake]\nsettle_seconds = 0\n"
            "[signing]\n"
            f'pkcs12 = "{p12}"\n'
            f'pkcs12_password = "{PASSWORD}"\n'
            f'trust_roots = ["{pki.root_pem}"]\n'
            f'tsa_url = "{pki.tsa_url}"\n',
            encoding="utf-8",
        )
        office = root / "var" / "inbox" / "tinh" / "ttpvhcc"
        office.mkdir(parents=True)
        shutil.copy2(SAMPLES / "inbox" / "tinh" / "ttpvhcc" / f"{SAMPLE}.pdf", office)
        results = process_inbox(level="tinh", config=str(root / "digitize.toml"))
        yield root, results


def test_the_archive_default_with_a_tsa_is_b_lta(lta_run):
    _root, results = lta_run
    assert [(r["status"], r["pades_level"]) for r in results] == [("archived", "B-LTA")]


def test_renewal_adds_an_archive_timestamp_and_keeps_the_original(lta_run):
    from flows.maintenance import renew_timestamps
    from storage.catalog import Catalog

    root, results = lta_run
    config = str(root / "digitize.toml")
    original = root / "var" / "archive" / results[0]["key"]
    original_bytes = original.read_bytes()

    assert renew_timestamps(level="tinh", config=config) == []  # provable until 2040: not due within a year
    toml = root / "digitize.toml"  # renew with the TSA whose certificate outlives the first one's
    toml.write_text(toml.read_text(encoding="utf-8").replace('/tsa/tsa"', '/tsa/tsa2"'), encoding="utf-8")
    [renewed] = renew_timestamps(level="tinh", config=config, within_days=365 * 20)

    assert renewed["timestamps"] == 2 and "chưa đến 7300 ngày" in renewed["reason"]  # the flow speaks ui.language: Vietnamese
    assert renewed["key"] != results[0]["key"] and ".renewed-" in renewed["key"]
    assert original.read_bytes() == original_bytes  # write-once: the original stays
    copy = root / "var" / "archive" / renewed["key"]
    with Catalog.open(root / "var" / "catalog.sqlite") as catalog:
        row = catalog.find_document(SAMPLE)
        events = [e.kind for e in catalog.events(SAMPLE)]
    assert row.archive_key == renewed["key"]
    assert row.output_sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert "renewed" in events


def _run_name(state) -> str:  # noqa: ANN001 - a Prefect state
    """The name the Prefect UI shows for the flow run that ended in ``state``."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def test_fixity_passes_then_catches_a_tampered_copy(lta_run):
    from flows.maintenance import fixity_check
    from storage.catalog import Catalog

    root, _results = lta_run
    config = str(root / "digitize.toml")
    sound = fixity_check(config=config, return_state=True)
    assert sound.result()["problems"] == 0
    assert _run_name(sound) == "kiểm tra tính toàn vẹn — tất cả nguyên vẹn; đã kiểm tra 1 đối tượng"

    with Catalog.open(root / "var" / "catalog.sqlite") as catalog:
        key = catalog.find_document(SAMPLE).archive_key
    target = root / "var" / "archive" / key
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="1 vấn đề trong 1 đối tượng"):  # the flow speaks ui.language (vi)
        fixity_check(config=config)
