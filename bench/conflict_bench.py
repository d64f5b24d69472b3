"""The PouchDB conflict experiment, repeated on motcua.

    python -m bench.conflict_bench --n 10000 [--with-pouch]

N dossiers with the PouchDB peer's content are received on a commune node and pushed to the hub.
Then 1% of them (every 100th) are edited on both sides while the two are apart: the commune asks
for a supplement, the district approves. One two-way sync. The table counts, on each replica:
conflicts detected, the provisional winner (by the authority rule the commune owns the stage,
so "supplement requested" must win everywhere), and whether the loser's signed version is kept
and visible. PouchDB's figures for the same experiment come from ``bench/pouch_peer.py``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.dossiers import catalogue_code_for, citizen_id_for, generate_dossiers

STEP = 100  # 1%


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def call(url: str, token: str, method: str = "GET", body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def admin_token(data_dir: Path) -> str:
    """A district admin account on the hub and a write token for it (the API needs one)."""
    from bench import sync_nodes

    def cli(*args: str, stdin: str = "") -> str:
        proc = subprocess.run([*sync_nodes.motcua_cmd(), "--data-dir", str(data_dir), *args], capture_output=True,
                              text=True, timeout=120, env=sync_nodes.clean_env(), input=stdin,
                              check=False, cwd=sync_nodes.code_root())  # python -m puts the cwd first on sys.path
        if proc.returncode != 0:
            raise RuntimeError(f"motcua {args[0]} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    password = secrets.token_urlsafe(18)
    cli("user", "add", "--username", "bench.admin", "--role", "district_admin", "--name", "Bench",
        stdin=f"{password}\n{password}\n")  # read from stdin: user add has no password option
    out = cli("token", "create", "--user", "bench.admin", "--scope", "write")
    return next(word for word in out.split() if word.startswith("mct_"))


def receive_all(node: Any, docs: list[dict]) -> list[str]:
    """The PouchDB documents as motcua dossiers: reception, then the two later history steps."""
    ids = []
    for start in range(0, len(docs), 1000):
        with node.log.transaction():  # one signature per thousand dossiers, as a bulk import would
            for doc in docs[start : start + 1000]:
                a = doc["applicant"]
                details = {k: v for k, v in doc.items() if k not in ("applicant", "history", "_id", "status")}
                state = node.create_dossier(doc["history"][0]["by"], {
                    "procedure": {"code": catalogue_code_for(doc), "name": doc["procedure_label"]},
                    "applicant": {"name": f"{a['family_name']} {a['given_names']}", "id_number": citizen_id_for(doc),
                                  "phone": a["phone"][:20], "address": ", ".join(doc["address"].values())},
                    "details": {**details, "birth_date": a["birth_date"], "pouch_id": doc["_id"]},
                })
                for step in doc["history"][1:]:
                    node.change_status(step["by"], state.id, "processing", step["note"])
                ids.append(state.id)
        log(f"  received {len(ids)}/{len(docs)}")
    return ids


def run(n: int, workdir: Path) -> dict[str, Any]:
    from bench.sync_hub import HubServer  # the hub process helper shared with the sync bench
    from node.cli import main as cli
    from node.config import load_settings
    from node.services import open_node

    commune_dir, hub_dir = workdir / "commune", workdir / "hub"
    cli.main(["--data-dir", str(commune_dir), "init", "--role", "commune", "--unit", "17272", "--name",
              "bench commune"], standalone_mode=False)
    # DEV_OPEN_TRUST, as on the hub (bench.sync_hub.HubServer): the two meet without certificates
    node = open_node(load_settings(commune_dir, environ={"MOTCUA_STATE_DIR": str(workdir / "state"),
                                                         "MOTCUA_DEV_OPEN_TRUST": "1"}))
    t0 = time.monotonic()
    ids = receive_all(node, generate_dossiers(n, 0))
    log(f"received {n} dossiers in {time.monotonic() - t0:.1f} s")
    with HubServer(hub_dir) as hub:
        first = node.sync_with(hub.url)
        assert first.ok, first.error
        token = admin_token(hub_dir)
        edited = ids[::STEP]
        for dossier_id in edited:  # apart from each other: the commune, then the district
            node.change_status("commune-officer", dossier_id, "supplement_requested",
                               "Missing proof of address (edited offline at the commune).")
            call(f"{hub.url}/api/v1/dossiers/{dossier_id}/status", token, "POST",
                 {"to": "resolved", "reason": "Approved at district level (edited on the district server)."})
        t1 = time.monotonic()
        summary = node.sync_with(hub.url)
        sync_s = time.monotonic() - t1
        assert summary.ok, summary.error
        hub_conflicts = call(f"{hub.url}/api/v1/conflicts?status=open&limit=100000", token)["items"]
        hub_states = {d: call(f"{hub.url}/api/v1/dossiers/{d}", token)["status"] for d in edited}
        hub_versions = [call(f"{hub.url}/api/v1/conflicts/{c['id']}", token)["versions"] for c in hub_conflicts]
    local = node.list_conflicts("open", limit=100000)
    local_states = {d: node.get_dossier(d).status for d in edited}
    local_versions = [node.get_conflict(c["id"])["versions"] for c in local]
    return {
        "n": n,
        "edited": len(edited),
        "sync": {"exchanges": summary.exchanges, "bytes": summary.bytes_in + summary.bytes_out, "seconds": sync_s},
        "replicas": {
            "commune": tally(edited, local, local_states, local_versions),
            "district": tally(edited, hub_conflicts, hub_states, hub_versions),
        },
        "same_winner_on_both": sorted((c["dossier_id"], c["winner"]) for c in local)
        == sorted((c["dossier_id"], c["winner"]) for c in hub_conflicts),
    }


def tally(edited: list[str], conflicts: list[dict], states: dict[str, str], versions: list | None) -> dict:
    on_edited = [c for c in conflicts if c["dossier_id"] in set(edited) and c["kind"] == "status"]
    return {
        "detected": len({c["dossier_id"] for c in on_edited}),
        "winner_supplement": sum(c["winner_value"] == "supplement_requested" for c in on_edited),
        "winner_approved": sum(c["winner_value"] == "resolved" for c in on_edited),
        "state_is_winner": sum(states[d] == "supplement_requested" for d in edited),
        "loser_kept": sum(c["loser_value"] == "resolved" and bool(c["loser"]) for c in on_edited),
        "loser_versions_visible": (
            sum(all(v is not None for v in vs.values()) for vs in versions) if versions is not None else None
        ),
    }


def table(result: dict[str, Any], pouch: dict[str, Any] | None) -> str:
    rows = [
        f"motcua conflict experiment: {result['n']:,} dossiers, {result['edited']} edited on both sides, "
        f"one two-way sync ({result['sync']['exchanges']} request(s), {result['sync']['bytes']:,} B, "
        f"{result['sync']['seconds']:.2f} s)",
        f"{'replica':<10} {'detected':>9} {'winner=supplement (rule)':>25} {'winner=approved':>16} "
        f"{'state=winner':>13} {'loser kept':>11} {'loser shown':>12}",
    ]
    for name, t in result["replicas"].items():
        shown = "-" if t["loser_versions_visible"] is None else t["loser_versions_visible"]
        rows.append(f"{name:<10} {t['detected']:>9} {t['winner_supplement']:>25} {t['winner_approved']:>16} "
                    f"{t['state_is_winner']:>13} {t['loser_kept']:>11} {shown!s:>12}")
    rows.append(f"same winner on both replicas: {result['same_winner_on_both']}")
    if pouch:
        c = pouch["conflicts"]
        rows.append(f"PouchDB (same run of the peer): {c}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--with-pouch", action="store_true", help="also run the PouchDB peer's phase F")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="motcua-conflict-bench-"))
    try:
        result = run(args.n, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pouch = None
    if args.with_pouch:
        from bench.pouch_peer import run_pouch_baseline

        figures = run_pouch_baseline([args.n], 1, 0)
        pouch = {"conflicts": figures["results"][args.n]["conflicts"]}
    print(table(result, pouch))
    if args.json:
        args.json.write_text(json.dumps({"motcua": result, "pouch": pouch}, indent=2))
    ok = all(t["detected"] == result["edited"] == t["winner_supplement"] == t["state_is_winner"] == t["loser_kept"]
             for t in result["replicas"].values()) and result["same_winner_on_both"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
