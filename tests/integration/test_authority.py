"""Authority in the derived state of running nodes: events a commune signs beyond its authority
(another commune's dossier, number blocks, reference data, revocations) are kept but change
nothing on any replica and are listed as violations; a revocation that arrives by sync
re-projects all it touches, so the state after it is the state a rebuild gives.

These nodes run without a district CA, so role and unit come from each node's own profile (a
development node); the scenario ``tests/scenarios/test_authority.py`` does the same with
certificates over real processes.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime

import pytest

from node import reference
from node.codes import BLOCK_LEASED
from node.domain import dossier as d
from node.domain.vietnam_time import VIETNAM
from node.enrollment import revoke
from node.models import DossierRow, IssuedCodeRow, NumberBlockRow, ReferenceRow, ViolationRow
from sync.rows import RevocationRow
from sync.trust import REVOKED
from tests.factories import FakeClock, sample_dossier
from tests.multinode import append_crafted, carry, make_node, use

AGENCY = "000.17.22.H56"
A_UNIT, B_UNIT = "17272", "17278"  # two communes of Nghệ An, whose hub is unit 40
CLAIM = {"office": "40", "role": "district"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(int(datetime(2026, 5, 18, 8, tzinfo=VIETNAM).timestamp() * 1000))


@pytest.fixture
def net(tmp_path, clock):
    nodes = {
        "hub": make_node(tmp_path, "hub", clock, role="district", unit="40"),
        "a": make_node(tmp_path, "a", clock, unit=A_UNIT, AGENCY_ID=AGENCY),
        "b": make_node(tmp_path, "b", clock, unit=B_UNIT),
        "laptop": make_node(tmp_path, "laptop", clock, role="mobile", unit=A_UNIT),
        "fresh": make_node(tmp_path, "fresh", clock, role="mobile", unit=A_UNIT),
    }
    yield nodes
    for n in nodes.values():
        n.close()


def row(node, dossier_id: str) -> dict:
    use(node)
    return DossierRow.select().where(DossierRow.id == dossier_id).dicts().get()


def violations(node) -> dict[str, tuple[str, str, str, str]]:
    use(node)
    return {v.ref: (v.origin, v.role, v.unit, v.reason) for v in ViolationRow.select()}


def digest_equals_rebuild(node) -> str:
    use(node)
    before = node.digest()
    node.rebuild()
    assert node.digest() == before, "the derived state after ingest differs from a rebuild"
    return before


def rogue_shared_data(a, clock) -> list:
    """A commune signing what only a district may: a block for itself, a catalogue, a revocation."""
    catalogue = copy.deepcopy(reference.seed_catalogue_data())
    catalogue["version"] = "gia-mao"
    catalogue["procedures"] = [p for p in catalogue["procedures"] if p["national_code"] != "1.001193"]
    body = reference.publication_body(reference.CATALOGUE, 99, catalogue)
    day = datetime.fromtimestamp(clock() / 1000, VIETNAM).date().isoformat()
    return [
        append_crafted(a, scope=A_UNIT, entity="codeblock/x", type=BLOCK_LEASED, body={
            "agency_id": AGENCY, "node_id": a.node_id, "first_day": day, "last_day": day,
            "first_seq": 1, "last_seq": 9999, **CLAIM}),
        append_crafted(a, scope=A_UNIT, entity=reference.entity(reference.CATALOGUE),
                       type=reference.event_type(reference.CATALOGUE), body={**body, **CLAIM}),
        append_crafted(a, scope=A_UNIT, entity="node/" + "b" * 32, type=REVOKED,
                       body={"node_id": "b" * 32, "after": {B_UNIT: 0}, "reason": "x", **CLAIM}),
    ]


def test_a_commune_changes_nothing_of_another_communes_dossier(net):
    hub, a, b = net["hub"], net["a"], net["b"]
    use(b)
    dossier = b.create_dossier("canbo", sample_dossier())
    carry(b, hub)
    before = row(hub, dossier.id)
    crafted = [
        append_crafted(a, scope=A_UNIT, entity=f"dossier/{dossier.id}", type=d.STATUS_CHANGED,
                       body={"from": "received", "to": "refused", "reason": "x", **CLAIM},
                       parents=before["heads"].split()),
        append_crafted(a, scope=A_UNIT, entity=f"dossier/{dossier.id}", type=d.UPDATED,
                       body={"fields": {"applicant.phone": "0999999999"}, "office": B_UNIT},
                       parents=before["heads"].split()),
    ]
    assert carry(a, hub) == 2
    assert row(hub, dossier.id) == before == row(b, dossier.id)  # the hub ignores them as b does
    assert violations(hub) == {e.ref: (a.node_id, "commune", A_UNIT, "outside_unit") for e in crafted}
    assert violations(a) == {}  # a never held the dossier: nothing to judge, nothing changed
    digest_equals_rebuild(hub)
    use(hub)
    shown = {e["ref"]: (e["office"], e["violation"]) for e in hub.timeline(dossier.id)}  # kept: signed history
    assert [shown[e.ref] for e in crafted] == [(A_UNIT, "outside_unit")] * 2  # certified office, not the claim
    hub.change_status("quantri", dossier.id, "processing")  # the hub's own edit never builds on them
    assert not set(row(hub, dossier.id)["heads"].split()) & {e.ref for e in crafted}


def test_shared_data_from_a_commune_takes_effect_nowhere(net, clock):
    hub, a, b = net["hub"], net["a"], net["b"]
    crafted = rogue_shared_data(a, clock)
    expected = {e.ref: (a.node_id, "commune", A_UNIT, "not_district") for e in crafted}
    for node in (a, hub):
        if node is hub:
            carry(a, hub)
        use(node)
        assert NumberBlockRow.select().count() == ReferenceRow.select().count() == RevocationRow.select().count() == 0
        assert violations(node) == expected
        digest_equals_rebuild(node)
    use(a)
    assert a.create_dossier("canbo", sample_dossier(procedure={"code": "1.001193"})).code.startswith("TAM-")
    use(b)
    b.create_dossier("canbo", sample_dossier())
    assert carry(b, hub) == 1  # b was not revoked

    use(hub)  # the district's own work is not in the way of a's claims
    lease = hub.lease_codes("admin", a.node_id, days=1, size=20, agency_id=AGENCY, unit=A_UNIT)
    assert (lease["first_seq"], lease["last_seq"]) == (1, 20)
    (published,) = hub.publish_reference("admin", catalogue=reference.seed_catalogue_data() | {"version": "tinh-1"},
                                         kinds=("catalogue",))
    assert published["revision"] == 1  # a's claimed revision 99 does not push the numbering
    carry(hub, a)
    use(a)
    assert a.create_dossier("canbo", sample_dossier(procedure={"code": "1.001193"})).code.startswith(AGENCY)
    assert ReferenceRow.get().version == "tinh-1"


def test_a_revocation_arriving_by_sync_reprojects_everything_it_touches(net, clock):
    hub, a, laptop, fresh = net["hub"], net["a"], net["laptop"], net["fresh"]
    use(hub)
    hub.lease_codes("admin", a.node_id, days=1, size=20, agency_id=AGENCY, unit=A_UNIT)
    carry(hub, a)
    use(a)
    kept = a.create_dossier("canbo", sample_dossier(name="Trước khi thu hồi"))
    carry(a, hub)
    # a goes on working; its laptop picks it all up before anyone hears of the revocation
    use(a)
    clock.advance(60_000)
    late = a.create_dossier("canbo", sample_dossier(name="Sau khi thu hồi", id_number="040090005678"))
    a.change_status("canbo", kept.id, "processing")
    rogue = rogue_shared_data(a, clock)
    carry(a, laptop)
    use(laptop)
    assert DossierRow.get_by_id(kept.id).status == "processing" and DossierRow.get_or_none(DossierRow.id == late.id)
    assert IssuedCodeRow.select().where(IssuedCodeRow.dossier_id == late.id).exists()
    assert set(violations(laptop)) == {e.ref for e in rogue}

    use(hub)
    revoke(hub, a.node_id, "quantri", "key_compromise")  # after what the hub holds of a
    carry(hub, laptop)
    use(laptop)
    assert RevocationRow.select().count() == 1
    assert DossierRow.get_by_id(kept.id).status == "received"
    assert DossierRow.get_or_none(DossierRow.id == late.id) is None
    assert not IssuedCodeRow.select().where(IssuedCodeRow.dossier_id == late.id).exists()
    assert violations(laptop) == {}  # a's later events count nowhere, not even as violations
    after_revocation = digest_equals_rebuild(laptop)
    carry(hub, fresh)  # a replica that never held a's later events
    assert digest_equals_rebuild(fresh) == after_revocation


def test_the_district_console_lists_violations_with_their_origin(net, clock, monkeypatch):
    from node.app import create_app
    from tests.integration.web_helpers import add, cheap_hashing, login

    hub, a = net["hub"], net["a"]
    crafted = rogue_shared_data(a, clock)
    carry(a, hub)
    cheap_hashing(monkeypatch)
    app = create_app(hub.settings, node=hub)
    add("quantri", "district_admin", clock())
    c = app.test_client()
    login(c, "quantri")
    page = c.get("/quan-tri/vi-pham").text
    assert 'href="/quan-tri/vi-pham" class="active"' in page  # in the console's navigation
    assert [ref for ref in (e.ref for e in crafted) if f'data-violation="{ref}"' in page] == [e.ref for e in crafted]
    assert a.node_id in page and "commune / 17272" in page
    assert "Chỉ cấp huyện/tỉnh được ban hành loại dữ liệu này" in page
    assert c.get(f"/quan-tri/vi-pham?may={'0' * 32}").text.count("data-violation=") == 0
    c.get("/ngon-ngu/en")
    assert "Only a district or province hub may issue this data" in c.get("/quan-tri/vi-pham").text


def test_a_node_whose_certified_unit_changes_has_its_work_judged_again(net):
    from sync.protocol import Profile

    hub, a = net["hub"], net["a"]
    use(a)
    dossier = a.create_dossier("canbo", sample_dossier())
    carry(a, hub)
    use(hub)
    assert DossierRow.get_or_none(DossierRow.id == dossier.id) and violations(hub) == {}
    # a comes back certified for another unit (re-enrolled): its reception in 17272 stops counting
    unsigned = Profile(a.node_id, a.key.public_key, "commune", B_UNIT, "Xã Giai Xuân")
    moved = replace(unsigned, signature=a.key.sign(unsigned.statement()), cert=b"certificate")
    hub.replica.ingest([], [moved], moved, "doi-don-vi-01")
    assert DossierRow.get_or_none(DossierRow.id == dossier.id) is None
    assert violations(hub) == {dossier.id: (a.node_id, "commune", B_UNIT, "outside_unit")}
    digest_equals_rebuild(hub)
