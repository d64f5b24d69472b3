"""Benchmark dossiers: the same documents the PouchDB reference peer replicates.

Responsibility: for a seed and N, produce the dossier documents that
``shared/bench-peer/baseline.js`` (``makeDossier``) builds, so motcua and PouchDB are measured
on identical data. Each dossier is a dict with the document fields and a ``history`` list of
3 status changes (received -> assigned -> in_review); motcua turns one dossier into
1 creation event (the fields) + 3 status-change events (the history).

Invariants:

- With ``seed=0`` (:data:`BASELINE_SEED`) the output is byte-for-byte what baseline.js builds:
  baseline.js draws from a seeded PRNG (mulberry32, seeded with ``i * 7919 + 17`` per
  document), which is replicated here with exact 32-bit arithmetic, the same draw order and
  the same float -> int conversions. ``--check-node`` proves it against node itself.
- A non-zero seed changes only the PRNG draws (names, birth date, phone, ID number, hamlet,
  village); ids, procedures, offices, timestamps and sizes follow the same rules, so the
  size distribution stays that of the baseline (about 1,152 bytes of compact JSON).
- Pure: no I/O, no clock, no global state. Dict key order matches the JS object literal, so
  :func:`doc_json` gives the same bytes as ``JSON.stringify``.

CLI self-check: ``python -m bench.dossiers [--n=1000] [--check-node]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BASELINE_SEED = 0
# Mean compact-JSON size of baseline.js's dossiers (sync-anchors.md §10; also printed by
# baseline.js as avgDocBytes for N=1000 and N=10000).
BASELINE_AVG_DOC_BYTES = 1152
# Every 100th dossier is edited on both sides before phase F (1%).
CONFLICT_STEP = 100

_MASK32 = 0xFFFFFFFF
_EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)

FAMILY = (
    "Nguyen", "Tran", "Le", "Pham", "Hoang", "Diallo", "Traore", "Kone", "Rakoto", "Andriamanana",
    "Mensah", "Ouedraogo",
)  # fmt: skip
GIVEN = (
    "Thi Mai", "Van Hung", "Aminata", "Moussa", "Fara", "Hery", "Kwame", "Adjoa", "Minh Chau",
    "Ibrahim", "Salimata", "Tojo",
)  # fmt: skip
PROCS = (
    ("BIRTH-REG-01", "Birth registration"),
    ("RES-CERT-02", "Certificate of residence"),
    ("LAND-USE-07", "Land-use right certificate"),
    ("MARR-REG-03", "Marriage registration"),
    ("BUS-LIC-11", "Household business licence"),
    ("CONST-PERM-05", "Small construction permit"),
)
VILLAGES = (
    "Ban Na", "Xom Dong", "Ambohidratrimo", "Koubri", "Sanankoroba", "Thon Ha", "Ampitatafika", "Kalaban",
)  # fmt: skip


def _imul(a: int, b: int) -> int:
    # Math.imul keeps the low 32 bits of the product; signedness does not matter for the bits.
    return (a * b) & _MASK32


def mulberry32(seed: int) -> Callable[[], float]:
    """The PRNG of baseline.js's ``rng(seed)``: floats in [0, 1), identical to the JS sequence.

    All JS intermediates are int32/uint32 whose bit patterns agree modulo 2**32, so masking
    every step to 32 bits reproduces them exactly; the final division is exact in a double.
    """
    state = seed & _MASK32

    def next_float() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK32
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & _MASK32)) & _MASK32
        return ((t ^ (t >> 14)) & _MASK32) / 4294967296

    return next_float


def _iso(dt: datetime) -> str:
    # Date.prototype.toISOString: always milliseconds, always 'Z'.
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _doc_seed(i: int, seed: int) -> int:
    # seed 0 gives baseline.js's per-document seed exactly; other seeds shift it by a large odd
    # constant so that the documents of different seeds do not share PRNG streams.
    return (i * 7919 + 17 + seed * 0x9E3779B1) & _MASK32


def make_dossier(i: int, seed: int = BASELINE_SEED) -> dict[str, Any]:
    """Dossier number ``i`` (0-based), as baseline.js's ``makeDossier(i)`` when ``seed == 0``."""
    r = mulberry32(_doc_seed(i, seed))

    def pick(arr: Sequence[str]) -> str:
        return arr[int(r() * len(arr))]

    code, label = PROCS[i % len(PROCS)]
    received = _EPOCH_2024 + timedelta(minutes=37 * i)
    due = received + timedelta(days=15)

    def at(hours: int) -> str:
        return _iso(received + timedelta(hours=hours))

    # Draw order matters: the 12 ID digits are drawn before the object literal is evaluated,
    # then the literal's fields in source order.
    id_number = "".join(str(int(r() * 10)) for _ in range(12))
    family_name = pick(FAMILY)
    given_names = pick(GIVEN)
    birth_year = 1950 + int(r() * 50)
    birth_month = int(r() * 12) + 1
    birth_day = 1 + int(r() * 28)
    phone = "+2" + f"{int(r() * 1e9):09d}"
    hamlet = "Hamlet " + str(1 + int(r() * 12))
    village = pick(VILLAGES)
    officer = f"officer-{1 + i % 25:02d}"

    return {
        "_id": f"dossier-{i:07d}",
        "type": "dossier",
        "schema_version": 3,
        "procedure_code": code,
        "procedure_label": label,
        "commune_office": f"COMMUNE-{i % 40:03d}",
        "applicant": {
            "family_name": family_name,
            "given_names": given_names,
            "birth_date": f"{birth_year:04d}-{birth_month:02d}-{birth_day:02d}",
            "phone": phone,
            "id_number": id_number,
        },
        "address": {
            "hamlet": hamlet,
            "village": village,
            "commune": f"Commune {i % 40:03d}",
            "district": f"District {1 + i % 7}",
            "province": f"Province {1 + i % 3}",
        },
        "status": "in_review",
        "received_at": _iso(received),
        "due_at": _iso(due),
        "assigned_to": officer,
        "fee": {"amount": 20000 + 5000 * (i % 5), "currency": "XOF", "receipt_no": f"R-{i:08d}"},
        "documents": ["application_form.pdf", "id_card_scan.jpg", "proof_of_address.jpg"],
        "history": [
            {
                "at": at(0),
                "status": "received",
                "by": f"clerk-{1 + i % 9:02d}",
                "note": "Dossier received at the one-stop counter; documents checked against the list.",
            },
            {
                "at": at(2),
                "status": "assigned",
                "by": "head-of-office",
                "note": "Assigned to the officer in charge of this procedure.",
            },
            {
                "at": at(26),
                "status": "in_review",
                "by": officer,
                "note": "Review started; applicant informed by SMS of the expected date.",
            },
        ],
    }


def generate_dossiers(n: int, seed: int = BASELINE_SEED) -> list[dict[str, Any]]:
    """Dossiers 0..n-1; with ``seed=0`` identical to the documents baseline.js replicates."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [make_dossier(i, seed) for i in range(n)]


def doc_json(doc: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the same bytes as JavaScript's ``JSON.stringify(doc)``."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def mean_json_bytes(docs: Sequence[dict[str, Any]]) -> float:
    """Mean of ``len(doc_json(d))``; baseline.js reports this rounded, as ``avgDocBytes``."""
    return sum(len(doc_json(d)) for d in docs) / len(docs) if docs else 0.0


def conflict_edits(
    docs: Sequence[dict[str, Any]], at: str = "2024-06-01T08:00:00.000Z"
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The phase-F concurrent edits of baseline.js: for every 100th dossier, one status change
    made offline at the commune and one made on the district server.

    Returns ``(dossier_id, commune_change, district_change)`` tuples; each change has the
    shape of a ``history`` entry. baseline.js stamps both with the wall clock at edit time;
    ``at`` makes it deterministic here.
    """
    out = []
    for d in docs[::CONFLICT_STEP]:
        commune = {
            "at": at,
            "status": "additional_documents_requested",
            "by": "commune-officer",
            "note": "Missing proof of address (edited offline at the commune).",
        }
        district = {
            "at": at,
            "status": "approved",
            "by": "district-reviewer",
            "note": "Approved at district level (edited on the district server).",
        }
        out.append((d["_id"], commune, district))
    return out


# ---------------------------------------------------------------- self-check


def _node_dossiers(baseline_js: Path, n: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Build dossiers 0..n-1 with baseline.js's own code, run by node.

    baseline.js exports nothing and starts its benchmark when loaded, so its data section
    (from the ``// ---... data`` marker to the ``// ---... client side`` marker) is cut out
    and evaluated alone.
    """
    src = baseline_js.read_text()
    m = re.search(r"^// -+ data\n(.*?)^// -+ client side", src, re.S | re.M)
    if m is None:
        raise RuntimeError(f"cannot find the data section of {baseline_js}")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("'node' is not on PATH: cannot cross-check against baseline.js")
    script = m.group(1) + f"\nconst out=[];for(let i=0;i<{int(n)};i++)out.push(makeDossier(i));"
    script += "process.stdout.write(JSON.stringify(out));\n"
    proc = subprocess.run(
        [node, "-e", script], capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise RuntimeError(f"node failed: {proc.stderr[-2000:]}")
    docs: list[dict[str, Any]] = json.loads(proc.stdout)
    return docs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Self-check the benchmark dossier generator.")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=BASELINE_SEED)
    parser.add_argument(
        "--check-node",
        action="store_true",
        help="compare byte-for-byte with baseline.js's makeDossier via node",
    )
    parser.add_argument(
        "--baseline-js", type=Path, default=None, help="path to baseline.js (default: the peer's)"
    )
    args = parser.parse_args(argv)

    docs = generate_dossiers(args.n, args.seed)
    sizes = [len(doc_json(d)) for d in docs]
    mean = sum(sizes) / len(sizes)
    print(
        f"N={args.n} seed={args.seed}: mean JSON {mean:.1f} B (min {min(sizes)}, max {max(sizes)}); "
        f"baseline.js avgDocBytes {BASELINE_AVG_DOC_BYTES} B; "
        f"difference {mean - BASELINE_AVG_DOC_BYTES:+.1f} B"
    )
    if args.check_node:
        baseline_js = args.baseline_js
        if baseline_js is None:
            if not __package__:
                # Run as a script (python bench/dossiers.py): make the repo root importable.
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from bench.pouch_install import peer_source_dir

            baseline_js = peer_source_dir() / "baseline.js"
        theirs = _node_dossiers(baseline_js, args.n)
        mine = generate_dossiers(args.n, BASELINE_SEED)
        mismatched = [
            i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if doc_json(a) != doc_json(b)
        ]
        if mismatched:
            i = mismatched[0]
            print(f"MISMATCH in {len(mismatched)} of {args.n} dossiers; first: #{i}")
            print("  python:", doc_json(mine[i]).decode())
            print("  node:  ", json.dumps(theirs[i], separators=(",", ":"), ensure_ascii=False))
            return 1
        print(f"byte-identical to baseline.js makeDossier for all {args.n} dossiers (seed 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def citizen_id_for(doc: dict[str, Any]) -> str:
    """A 12-digit personal ID of the valid national shape for a PouchDB document's applicant.

    baseline.js draws 12 random digits; motcua checks the shape at reception (birth-registration
    province, century and sex, birth year), so the benchmark keeps the document's random tail and
    its birth year under a real province prefix (040, Nghệ An). The byte count is unchanged.
    """
    a = doc["applicant"]
    year = int(a["birth_date"][:4])
    century = 0 if year < 2000 else 2  # male digit of the century: 0 = 1900s, 2 = 2000s
    return f"040{century}{year % 100:02d}{a['id_number'][-6:]}"


# baseline.js's procedure codes are invented; motcua accepts only procedures of its catalogue,
# so each maps to the seed catalogue's closest commune procedure (the label stays in details).
CATALOGUE_CODES = {
    "BIRTH-REG-01": "1.001193",  # đăng ký khai sinh
    "MARR-REG-03": "1.000894",  # đăng ký kết hôn
    "RES-CERT-02": "1.004194",  # đăng ký tạm trú (the residence procedure with a national code)
    "BUS-LIC-11": "2.000884",  # chứng thực chữ ký (business licences are not a commune procedure)
    "CONST-PERM-05": "2.000815",  # chứng thực bản sao
    "LAND-USE-07": "2.000911",  # chứng thực hợp đồng, giao dịch
}


def catalogue_code_for(doc: dict[str, Any]) -> str:
    return CATALOGUE_CODES[doc["procedure_code"]]
