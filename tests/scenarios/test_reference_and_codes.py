"""Reference data and dossier codes over real HTTP between ``motcua serve`` processes: a catalogue
version the district publishes reaches a commune by sync and changes which procedures it accepts;
a block the district leases turns the commune's provisional code into a final one at the sync,
and the final code goes back up to the district."""

from __future__ import annotations

import copy
import json
import re

import pytest

from node.reference import seed_catalogue_data
from tests.scenarios.harness import RealNode, call, certify

AGENCY = "000.17.22.H56"


def receive(node: RealNode, code: str) -> tuple[int, dict]:
    return call(node, "POST", "/api/v1/dossiers", {
        "procedure": {"code": code}, "applicant": {"name": "Lò Văn Páo", "id_number": "040090007777"}})


@pytest.fixture
def pair(tmp_path, district_ca):
    quiet = {"MOTCUA_SYNC_INTERVAL_SECONDS": "3600"}  # the test decides when to sync
    district = RealNode("Hub", "district", "40", tmp_path / "district", env=quiet)
    commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune",
                       env={**quiet, "MOTCUA_AGENCY_ID": AGENCY})
    district.init()
    certify(district, district_ca)
    district.start()
    commune.init(district.url)
    certify(commune, district_ca)
    commune.start()
    yield commune, district
    commune.stop()
    district.stop()


def test_a_published_catalogue_and_a_leased_block_reach_the_commune_by_sync(pair, tmp_path):
    commune, district = pair
    status, body = receive(commune, "1.999999")
    assert status == 422 and body["error"]["field"] == "procedure.code"
    status, first = receive(commune, "1.001193")
    assert status == 201 and first["code"].startswith("TAM-") and "mã tạm" in first["notices"][0]
    commune.cli("sync")  # the district now knows the commune (its unit, for the lease)

    catalogue = copy.deepcopy(seed_catalogue_data())
    catalogue["version"] = "tinh-2026.2"
    catalogue["procedures"] = [p for p in catalogue["procedures"] if p["national_code"] != "1.001193"]
    extra = copy.deepcopy(catalogue["procedures"][0])
    extra.update(key="thu-nghiem.moi", national_code="1.999999", code_confidence="unverified",
                 name="Thủ tục thử nghiệm của tỉnh", sector="Thử nghiệm")
    extra.pop("local_code", None)
    catalogue["procedures"].append(extra)
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    out = district.cli("reference", "publish", "--catalogue", str(path), "--kind", "catalogue").stdout
    assert "tinh-2026.2" in out and "published revision 1" in out
    out = district.cli("codes", "lease", "--node", commune.node_id, "--days", "2", "--size", "20",
                       "--agency", AGENCY).stdout
    assert "unit 17272" in out and "0001-0020" in out

    commune.cli("sync")
    versions = {r["kind"]: r for r in call(commune, "GET", "/api/v1/reference")[1]["items"]}
    assert versions["catalogue"]["version"] == "tinh-2026.2" and versions["catalogue"]["source"] != "seed"
    status, second = receive(commune, "1.999999")
    assert status == 201 and second["catalogue_version"] == "tinh-2026.2" and "notices" not in second
    status, body = receive(commune, "1.001193")
    assert status == 422 and "tinh-2026.2" in body["error"]["message"]

    final = call(commune, "GET", f"/api/v1/dossiers/{first['id']}")[1]
    assert re.fullmatch(rf"{re.escape(AGENCY)}-\d{{6}}-0001", final["code"]), final["code"]
    assert final["timeline"][-1]["type"] == "dossier.code_assigned"
    assert second["code"] == final["code"][:-4] + "0002"  # numbering goes on after the assigned one

    commune.cli("sync")  # the assignment goes up
    assert call(district, "GET", f"/api/v1/dossiers/{first['id']}")[1]["code"] == final["code"]
    assert "usable" in commune.cli("codes", "status").stdout
