"""``motcua serve`` with a parent syncs by itself, and reports its sync status."""

from __future__ import annotations

import time

from tests.scenarios.harness import RealNode, call, certify


def get(node: RealNode, path: str) -> dict:
    status, body = call(node, "GET", path)
    assert status == 200, body
    return body


def test_served_commune_syncs_in_the_background_and_reports_status(tmp_path, district_ca):
    district = RealNode("Hub", "district", "40", tmp_path / "district")
    district.init()
    certify(district, district_ca)
    district.start()
    every_second = {"MOTCUA_SYNC_INTERVAL_SECONDS": "1"}
    commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune", env=every_second)
    try:
        commune.init(district.url)
        certify(commune, district_ca)
        commune.cli("seed-demo", "--count", "3")
        commune.api_token()  # made now, so the deadline below measures the sync alone
        written = commune.own_events()
        commune.start()
        deadline = time.monotonic() + 30
        while not written <= district.events():
            assert time.monotonic() < deadline, "the background sync did not deliver within 30 s"
            time.sleep(0.2)
        # the district commits before the commune reads its answer: wait for the client's side too
        status = get(commune, "/api/v1/sync/status")
        while status["link"] != "up":
            assert time.monotonic() < deadline, f"sync status never showed the link up: {status}"
            time.sleep(0.2)
            status = get(commune, "/api/v1/sync/status")
        assert status["pending_up"] == 0
        assert status["scheduler"]["running"] and status["last_success"] > 0
        assert call(commune, "POST", "/api/v1/sync/now")[0] == 202
    finally:
        commune.stop()
        district.stop()
    log = commune.cli("sync-log").stdout
    assert "client" in log and " ok " in log
