"""Code issuance reads no more than an index (node.codes.HeldNumbers): many receptions in one day
still get codes that are unique and continuous, from two blocks, then provisional ones, then
final ones assigned later, and the indexed view answers what a ledger of every code would."""

from __future__ import annotations

from datetime import date

from node import codes
from node.domain.dossier_code import parse_code
from node.models import IssuedCodeRow
from tests.factories import FakeClock
from tests.integration.test_codes import AGENCY, at, receive
from tests.multinode import carry, make_node, use


def test_many_receptions_in_a_day_get_unique_continuous_codes_across_blocks(tmp_path):
    clock = FakeClock(at(2026, 5, 18, 7))
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    try:
        use(district)
        district.lease_codes("admin", commune.node_id, days=1, size=10, agency_id=AGENCY, unit="17272")
        other = make_node(tmp_path, "o", clock, AGENCY_ID=AGENCY)  # takes 11-15: a gap before 16
        use(district)
        district.lease_codes("admin", other.node_id, days=1, size=5, agency_id=AGENCY, unit="17272")
        district.lease_codes("admin", commune.node_id, days=1, size=8, agency_id=AGENCY, unit="17272")
        other.close()
        carry(district, commune)
        got = [parse_code(d.code) for d in receive(commune, 22, clock, "Ngày")]
        finals = [c.seq for c in got[:18]]
        assert finals == [*range(1, 11), *range(16, 24)], "final numbers skip or repeat"
        short = commune.provisional_name
        assert [(c.node, c.n) for c in got[18:]] == [(short, n) for n in range(1, 5)]
        day = date(2026, 5, 18)
        held, full = codes.HeldNumbers(), codes.ledger([AGENCY, short], day)
        for lo, hi in ((1, 10), (11, 15), (16, 23), (1, 23), (24, 200), (8, 17)):
            assert held.highest_in(AGENCY, day, lo, hi) == full.highest_in(AGENCY, day, lo, hi), (lo, hi)
        assert held.last_provisional(short, day) == full.last_provisional(short, day) == 4
        later = date(2026, 5, 19)
        assert held.highest_in(AGENCY, later, 1, 23) is None and held.last_provisional(short, later) == 0

        use(district)
        district.lease_codes("admin", commune.node_id, days=1, size=5, agency_id=AGENCY, unit="17272",
                             first_day=day)
        carry(district, commune)
        assigned = [parse_code(a["code"]).seq for a in commune.assign_final_codes("motcua-sync")]
        assert assigned == list(range(24, 28))
        assert parse_code(receive(commune, 1, clock)[0].code).seq == 28
        issued = [r.code for r in IssuedCodeRow.select().where(IssuedCodeRow.final)]
        assert len(issued) == len(set(issued)) == 23
    finally:
        district.close()
        commune.close()
