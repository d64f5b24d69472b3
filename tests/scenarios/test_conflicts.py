"""Concurrent decisions on a commune node and the district over real HTTP: the conflict is
detected on both, with the same provisional winner, and its resolution closes it everywhere."""

from __future__ import annotations

import pytest

from tests.scenarios.harness import RealNode, call, certify


@pytest.fixture
def pair(tmp_path, district_ca):
    district = RealNode("Hub", "district", "40", tmp_path / "district")
    commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune")
    district.init()
    certify(district, district_ca)
    district.start()
    commune.init(district.url)
    certify(commune, district_ca)
    commune.start()
    yield commune, district
    commune.stop()
    district.stop()


def new_processing_dossier(commune: RealNode) -> str:
    status, d = call(commune, "POST", "/api/v1/dossiers", {
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applicant": {"name": "Lò Văn Páo", "id_number": "040090007777"},
    })
    assert status == 201, d
    assert call(commune, "POST", f"/api/v1/dossiers/{d['id']}/status", {"to": "processing"})[0] == 200
    return d["id"]


def test_conflict_detected_alike_and_resolution_replicates(pair):
    commune, district = pair
    dossier = new_processing_dossier(commune)
    commune.cli("sync")
    # offline from each other: the commune asks for a supplement, the district approves
    supplement = {"to": "supplement_requested", "reason": "Thiếu bản sao giấy chứng sinh"}
    assert call(commune, "POST", f"/api/v1/dossiers/{dossier}/status", supplement)[0] == 200
    assert call(district, "POST", f"/api/v1/dossiers/{dossier}/status", {"to": "resolved"})[0] == 200
    commune.cli("sync")

    seen = [call(n, "GET", "/api/v1/conflicts")[1]["items"] for n in (commune, district)]
    assert seen[0] == seen[1] and len(seen[0]) == 1
    conflict = seen[0][0]
    assert (conflict["winner_value"], conflict["loser_value"]) == ("supplement_requested", "resolved")
    for node in (commune, district):
        assert call(node, "GET", f"/api/v1/dossiers/{dossier}")[1]["status"] == "supplement_requested"

    status, done = call(district, "POST", f"/api/v1/conflicts/{conflict['id']}/resolve",
                        {"choose": conflict["loser"], "reason": "Hồ sơ đã đủ, giữ kết quả phê duyệt"})
    assert status == 200 and done["status"] == "resolved"
    commune.cli("sync")
    for node in (commune, district):
        assert call(node, "GET", "/api/v1/conflicts")[1]["items"] == []
        assert call(node, "GET", f"/api/v1/dossiers/{dossier}")[1]["status"] == "resolved"
        resolved = call(node, "GET", "/api/v1/conflicts?status=resolved")[1]["items"]
        assert [c["chosen"] for c in resolved] == [conflict["loser"]]


def test_an_office_without_authority_cannot_resolve(pair):
    commune, district = pair
    dossier = new_processing_dossier(commune)
    # liên thông: the commune hands the stage to the district office
    status, moved = call(commune, "POST", f"/api/v1/dossiers/{dossier}/status",
                         {"to": "processing", "target_office": "40"})
    assert status == 200 and moved["owner"] == "40"
    commune.cli("sync")
    stop = {"to": "stopped", "reason": "Công dân xin dừng"}
    assert call(commune, "POST", f"/api/v1/dossiers/{dossier}/status", stop)[0] == 200
    assert call(district, "POST", f"/api/v1/dossiers/{dossier}/status", {"to": "resolved"})[0] == 200
    commune.cli("sync")
    (conflict,) = call(commune, "GET", "/api/v1/conflicts")[1]["items"]
    assert conflict["winner_value"] == "resolved"  # the owning office's decision stands
    status, refusal = call(commune, "POST", f"/api/v1/conflicts/{conflict['id']}/resolve",
                           {"choose": conflict["loser"], "reason": "x"})
    assert status == 422 and "only the office owning" in refusal["error"]["message"]
    assert call(commune, "GET", "/api/v1/conflicts")[1]["items"] == [conflict]  # nothing changed
    status, _ = call(district, "POST", f"/api/v1/conflicts/{conflict['id']}/resolve",
                     {"choose": conflict["winner"], "reason": "Giữ kết quả"})
    assert status == 200
