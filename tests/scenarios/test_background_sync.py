"""``motcua serve`` with a parent syncs by itself, and reports its sync status."""

from __future__ import annotations

import json
import time
import urllib.request

from tests.scenarios.harness import INSECURE, RealNode, certify


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5, context=INSECURE) as r:
        return json.load(r)


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
        written = commune.own_events()
        commune.start()
        deadline = time.monotonic() + 30
        while not written <= district.events():
            assert time.monotonic() < deadline, "the background sync did not deliver within 30 s"
            time.sleep(0.2)
        # the district commits before the commune reads its answer: wait for the client's side too
        status = get(commune.url + "/api/v1/sync/status")
        while status["link"] != "up":
            assert time.monotonic() < deadline, f"sync status never showed the link up: {status}"
            time.sleep(0.2)
            status = get(commune.url + "/api/v1/sync/status")
        assert status["pending_up"] == 0
        assert status["scheduler"]["running"] and status["last_success"] > 0
        req = urllib.request.Request(commune.url + "/api/v1/sync/now", method="POST")
        with urllib.request.urlopen(req, timeout=5, context=INSECURE) as r:
            assert r.status == 202
    finally:
        commune.stop()
        district.stop()
    log = commune.cli("sync-log").stdout
    assert "client" in log and " ok " in log
