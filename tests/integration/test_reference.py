"""Reference data as versioned events: the seed until a publication is held, district-only
publication in the shared scope, the newest valid revision in force, and a published catalogue,
calendar or status mapping changing what a commune does once it has synced."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime

import pytest

from node import reference
from node.domain.authority import Authority, Certified
from node.domain.errors import DomainError
from node.domain.vietnam_time import VIETNAM
from node.models import ProcedureRow, ReferenceRow
from sync.wire import build_event
from tests.factories import FakeClock, approve_calendar, sample_dossier
from tests.integration.web_helpers import give_token
from tests.multinode import carry, make_node, use


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(vn(2026, 5, 18, 9))


@pytest.fixture
def pair(tmp_path, clock):
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "commune", clock)
    yield district, commune
    district.close()
    commune.close()


def province_catalogue() -> dict:
    """The seed without birth registration, plus one procedure the seed does not have."""
    data = copy.deepcopy(reference.seed_catalogue_data())
    data["version"] = "tinh-2026.2"
    data["procedures"] = [p for p in data["procedures"] if p["national_code"] != "1.001193"]
    new = copy.deepcopy(data["procedures"][0])
    new.update(key="thu-nghiem.moi", national_code="1.999999", code_confidence="unverified",
               name="Thủ tục thử nghiệm của tỉnh", sector="Thử nghiệm",
               processing_time={"amount": 2, "unit": "working_days"})
    new.pop("local_code", None)
    data["procedures"].append(new)
    return data


def test_a_fresh_node_uses_the_seed(sqlite_node):
    status = {r["kind"]: r for r in sqlite_node.reference_status()}
    assert status["catalogue"]["version"] == "seed-2026.1" and status["catalogue"]["source"] == "seed"
    assert status["calendar"]["version"].startswith("VN-2025-2028-holidays")
    assert status["status_mapping"]["version"] == "default-2026.1"
    assert status["units"]["version"].startswith("vietnam-provinces")
    assert ReferenceRow.select().count() == ProcedureRow.select().count() == 0  # derived from events only
    assert len(sqlite_node.procedures()) == 26


def test_only_a_district_publishes(sqlite_node):
    with pytest.raises(DomainError, match="only a district"):
        sqlite_node.publish_reference("x")


def test_publishing_is_versioned_and_not_repeated(pair):
    district, _ = pair
    use(district)
    with pytest.raises(DomainError, match="chưa được rà soát"):  # issue 12.1: publishing requires the review
        district.publish_reference("admin")
    approve_calendar(district)
    first = district.publish_reference("admin")
    assert [(d["kind"], d["revision"], d["published"]) for d in first] == [
        ("catalogue", 1, True), ("calendar", 1, True), ("status_mapping", 1, True)]
    assert [d["published"] for d in district.publish_reference("admin")] == [False, False, False]
    again = district.publish_reference("admin", catalogue=province_catalogue(), kinds=("catalogue",))
    assert [(d["version"], d["revision"], d["published"]) for d in again] == [("tinh-2026.2", 2, True)]
    timeline = reference.ReferenceRow.get(ReferenceRow.kind == "catalogue")
    assert (timeline.revision, timeline.publications, timeline.version) == (2, 2, "tinh-2026.2")
    assert ProcedureRow.select().where(ProcedureRow.national_code == "1.999999").exists()
    with pytest.raises(DomainError, match="catalogue"):
        district.publish_reference("admin", catalogue={"format": 1, "version": "x", "procedures": [{}]})


def test_a_published_catalogue_reaches_a_commune_and_changes_what_it_accepts(pair):
    district, commune = pair
    use(commune)
    before = commune.create_dossier("canbo", sample_dossier())
    with pytest.raises(DomainError, match=r"1\.999999"):
        commune.create_dossier("canbo", sample_dossier(procedure={"code": "1.999999"}))

    use(district)
    approve_calendar(district)
    district.publish_reference("admin", catalogue=province_catalogue())
    assert carry(district, commune) == 3  # catalogue, calendar, status mapping: scope "*"

    use(commune)
    assert {r["kind"]: r["version"] for r in commune.reference_status()}["catalogue"] == "tinh-2026.2"
    after = commune.create_dossier("canbo", sample_dossier(procedure={"code": "1.999999"}))
    assert (after.procedure_name, after.catalogue_version, after.sector) == (
        "Thủ tục thử nghiệm của tỉnh", "tinh-2026.2", "Thử nghiệm")
    with pytest.raises(DomainError, match=r"tinh-2026\.2"):
        commune.create_dossier("canbo", sample_dossier())  # birth registration left the catalogue
    assert commune.get_dossier(before.id).catalogue_version == "seed-2026.1"  # kept as received


def test_a_published_calendar_changes_the_appointment(pair, clock):
    district, commune = pair
    use(district)
    data = dict(reference.seed_calendar_data((2025, 2026, 2027, 2028)))
    data["version"] = "tinh-nghi-bu-2026-05-19"
    data["holidays"] = sorted([*data["holidays"], "2026-05-19"])  # a local day off
    data["sources"] = {**data["sources"], "2026-05-19": {"kind": "holiday", "name": "Nghỉ địa phương",
                                                         "source": "edited", "reference": "Quyết định của tỉnh"}}
    with pytest.raises(DomainError, match="2026"):  # the edited year was not reviewed as it is now
        approve_calendar(district, [2025], calendar=data)
        district.publish_reference("admin", calendar=data, kinds=("calendar",))
    approve_calendar(district, calendar=data)
    district.publish_reference("admin", calendar=data, kinds=("calendar",))
    carry(district, commune)
    use(commune)
    clock.now = vn(2026, 5, 18, 15, 30)
    state = commune.create_dossier("canbo", sample_dossier(procedure={"code": "1.001022"}))  # 3 working days
    # Civil Code art. 147(2): from the next day, Tue 19 May being off: Wed, Thu, Fri at closing
    assert state.due_at == vn(2026, 5, 22, 17)
    (created,) = commune.timeline(state.id)
    assert created["body"]["reference"]["calendar"] == "tinh-nghi-bu-2026-05-19"


def test_a_published_status_mapping_is_in_force_on_the_commune(pair):
    from node.app import create_app
    from node.domain.statuses import DEFAULT_STATUS_MAPPING

    district, commune = pair
    mapping = DEFAULT_STATUS_MAPPING.to_data()
    mapping["version"] = "tinh-2026.1"
    mapping["table"]["processing"] = 2  # a province that reports processing as "accepted"
    use(district)
    district.publish_reference("admin", status_mapping=mapping, kinds=("status_mapping",))
    carry(district, commune)
    use(commune)
    assert int(commune.reference.status_mapping().national("processing")) == 2
    client = create_app(commune.settings, node=commune).test_client()
    give_token(client, now=commune.wall_ms())
    versions = client.get("/api/v1/reference").get_json()["items"]
    assert {v["kind"]: v["version"] for v in versions}["status_mapping"] == "tinh-2026.1"


def _publication(kind, revision, content, hlc, origin="d" * 32, seq=1, **tamper):
    body = {**reference.publication_body(kind, revision, content), **tamper}
    if "data" in tamper and "sha256" not in tamper:  # a digest that matches the unreadable text
        body["sha256"] = hashlib.sha256(tamper["data"].encode()).hexdigest()
    return build_event(origin=origin, scope="*", seq=seq, prev="" if seq == 1 else "0" * 64, hlc=hlc, at=hlc,
                       author="admin", entity=reference.entity(kind), type=reference.event_type(kind), body=body)


DISTRICT = Authority({"d" * 32: Certified("district", "40")})
V1 = {**reference.seed_catalogue_data(), "version": "v1"}
V2 = {**reference.seed_catalogue_data(), "version": "v2"}
V3 = {**reference.seed_catalogue_data(), "version": "v3"}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("v1", 1, 10), ("v2", 2, 5)], "v2"),  # the higher revision wins over a later stamp
        ([("v1", 2, 10), ("v2", 2, 20)], "v2"),  # same revision: the later stamp
        ([("v1", 1, 10), ("v3", 3, 5, {"sha256": "0" * 64})], "v1"),  # a digest that does not match
        ([("v1", 1, 10), ("v3", 3, 5, {"data": "{not json"})], "v1"),  # unreadable data
        ([("v1", 1, 10), ("v3", 3, 5, {"format": 2})], "v1"),  # a format this node does not read
        ([("v1", 1, 10), ("v3", "3", 5)], "v1"),  # a revision that is not an integer
        ([], None),
    ],
)
def test_the_newest_valid_publication_is_in_force(events, expected):
    data = {"v1": V1, "v2": V2, "v3": V3}
    built = []
    for seq, (version, revision, hlc, *tamper) in enumerate(events, start=1):
        rev = revision if isinstance(revision, int) else 1
        event = _publication("catalogue", rev, data[version], hlc, seq=seq, **(tamper[0] if tamper else {}))
        if not isinstance(revision, int):
            event = build_event(**{**_fields(event), "body": {**event.body, "revision": revision}})
        built.append(event)
    for order in (built, built[::-1]):
        current, _ = reference.pick_current(order, DISTRICT)
        assert (current.version if current else None) == expected


def _fields(e):
    return {k: getattr(e, k) for k in ("origin", "scope", "seq", "prev", "hlc", "at", "author", "entity", "type",
                                        "body", "parents")}


def test_a_publication_in_another_scope_or_of_another_type_is_ignored():
    good = _publication("catalogue", 1, V1, 1)
    wrong_scope = build_event(**{**_fields(good), "scope": "17272"})
    wrong_type = build_event(**{**_fields(good), "type": reference.event_type("calendar")})
    assert reference.pick_current([wrong_scope, wrong_type], DISTRICT) == (None, 0)
    assert json.loads(reference.parse_publication(good).text)["version"] == "v1"
