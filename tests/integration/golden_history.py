"""A recorded sync history for the golden-digest test (``test_sync_golden_digest.py``).

``python -m tests.integration.golden_history`` wrote ``tests/data/golden_sync_batches.json``
once, on the code before the ingest was made faster: a commune and its laptop write dossiers
(concurrent edits of the same dossier, a duplicate application, status changes, an apology), the
laptop's work is relayed by the commune, and what the commune would push to an empty district is
recorded as the runs and profiles of each exchange, twice: in one batch, and cut into many
small batches (so later batches refold dossiers the hub already holds). The events are signed by
keys made for the recording, so the file never changes and neither does the derived state it
gives; the golden digest in the test is the one the code before the change computed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from sync.outbox import local_vector
from tests.factories import FakeClock, sample_dossier
from tests.multinode import carry, make_node, use

DATA = Path(__file__).resolve().parents[1] / "data" / "golden_sync_batches.json"
START_MS = 1_779_080_400_000  # 2026-05-18 12:00 in Vietnam


def record(tmp: Path) -> dict:
    clock = FakeClock(START_MS)
    commune = make_node(tmp, "commune", clock)
    laptop = make_node(tmp, "laptop", clock, role="mobile")
    district = make_node(tmp, "district", clock, role="district", unit="40")
    try:
        use(commune)
        ids = []
        for i in range(12):
            clock.advance(60_000)
            ids.append(commune.create_dossier("canbo", sample_dossier(name=f"Người thứ {i}",
                                                                      id_number=f"04009000{i:04d}")).id)
        clock.advance(60_000)
        commune.create_dossier("canbo", sample_dossier(name="Người thứ 0", id_number="040090000000"))  # duplicate
        carry(commune, laptop)
        use(laptop)
        for did in ids[:4]:
            clock.advance(30_000)
            laptop.change_status("luu-dong", did, "processing", "ở thôn")
        clock.advance(30_000)
        laptop.update_dossier("luu-dong", ids[5], {"applicant.phone": "0912345678", "note": "gặp ở thôn"})
        use(commune)
        commune.update_dossier("canbo", ids[5], {"note": "hẹn thứ hai"})
        use(laptop)
        laptop.create_dossier("luu-dong", sample_dossier(name="Hộ ở bản xa", id_number="040090009999"))
        use(commune)
        for did in ids[2:6]:
            clock.advance(30_000)
            commune.change_status("canbo", did, "supplement_requested", "thiếu giấy tờ")
        clock.advance(30_000)
        commune.issue_apology("chủ tịch", ids[7], "Chờ phối hợp", START_MS + 10 * 86_400_000)
        carry(laptop, commune)
        out = {"batches": {}}
        for name, budget in (("one", 1 << 30), ("many", 2048)):
            batches, vector = [], {}
            for _ in range(500):
                use(commune)
                o = commune.replica.outgoing_for(district.profile, vector, budget)
                if not o.runs:
                    break
                batches.append({"sender": commune.profile.to_wire(), "runs": [r.to_wire() for r in o.runs],
                                "profiles": [p.to_wire() for p in o.profiles]})
                for r in o.runs:
                    vector[r.feed] = r.end
                if not o.more:
                    break
            out["batches"][name] = batches
        use(commune)
        out["events"] = sum(local_vector(commune.store).values())
        return out
    finally:
        for n in (commune, laptop, district):
            n.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        DATA.write_text(json.dumps(record(Path(d)), ensure_ascii=False, indent=0) + "\n")
    print(f"wrote {DATA}")
