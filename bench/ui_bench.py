"""Server time of the staff web UI with many dossiers on one node (DESIGN §7: p95 ≤ 100 ms).

    .venv/bin/python bench/ui_bench.py [--dossiers 100000] [--requests 200] [--keep DIR]

Creates a commune node in a temporary directory (SQLite, WAL, synchronous=FULL as in
production), receives ``--dossiers`` dossiers through the normal use case
(:meth:`node.services.Node.create_dossier`, so every one is a signed event and a derived row),
in outer transactions of 1,000, spread over the past year with a clock that moves; a fifth are
moved on to ``processing``. Then a signed-in clerk asks for the dashboard, searches (by name
without diacritics, by dossier code prefix, by 12-digit ID number) and opens dossier pages
through the Flask test client, and the time of each request is taken around the call: server
time, no network. Prints one table (p50, p95, max in ms) and exits 1 if a p95 is over 100 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_MS = 100.0
DAY_MS = 24 * 3600 * 1000
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Lò", "Vàng", "Hà", "Đinh")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Xuân", "Bảo", "Kim")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Duyên", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương",
         "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Ngọc", "Nhung", "Phúc", "Phương", "Quân", "Sơn",
         "Tâm", "Thảo", "Thắng", "Trang", "Tuấn", "Vân", "Việt", "Yến", "Páo", "Dế", "Súa", "Chư")
PROVINCES = ("001", "024", "038", "040", "042", "079", "011", "014")
PROCEDURES = (("1.001193", "Thủ tục đăng ký khai sinh"), ("1.000894", "Thủ tục đăng ký kết hôn"),
              ("1.000656", "Thủ tục đăng ký khai tử"), ("1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân"),
              ("2.000815", "Thủ tục chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan tổ chức có thẩm "
                           "quyền của Việt Nam cấp hoặc chứng nhận"),
              ("2.000908", "Thủ tục cấp bản sao từ sổ gốc"))


class MovingClock:
    def __init__(self, start_ms: int) -> None:
        self.now = start_ms

    def __call__(self) -> int:
        return self.now


def make_node(data_dir: Path, clock: MovingClock):
    from node.config import load_settings
    from node.db import open_database
    from node.services import Node
    from node.signing import KEY_FILE, NodeKey

    data_dir.mkdir(parents=True, exist_ok=True)
    key = NodeKey.generate()
    key.save(data_dir / KEY_FILE)
    (data_dir / "node.json").write_text(json.dumps({
        "role": "commune", "unit": "17272", "name": "UBND xã Tân Phú (bench)", "node_id": key.node_id,
        "secret_key": secrets.token_urlsafe(16),
    }))
    settings = load_settings(data_dir, environ={}, overrides={"STATE_DIR": str(data_dir.parent / "state")})
    return Node(settings, open_database(settings), key, clock)


def person(rng: random.Random, i: int) -> tuple[str, str]:
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
    century_sex = rng.choice("0123")
    year = rng.randrange(0, 99) if century_sex in "01" else rng.randrange(0, 20)
    return name, f"{rng.choice(PROVINCES)}{century_sex}{year:02d}{i % 1_000_000:06d}"


def fill(node, clock: MovingClock, count: int, rng: random.Random, chunk: int = 1000) -> list[str]:
    """Receive ``count`` dossiers over the past year; return their ids."""
    start = clock.now - 365 * DAY_MS
    step = (365 * DAY_MS) // max(1, count)
    ids: list[str] = []
    t0 = time.perf_counter()
    for first in range(0, count, chunk):
        with node.log.transaction():
            for i in range(first, min(count, first + chunk)):
                clock.now = start + i * step
                name, id_number = person(rng, i)
                code, title = rng.choice(PROCEDURES)
                state = node.create_dossier("bench", {
                    "procedure": {"code": code, "name": title},
                    "applicant": {"name": name, "id_number": id_number, "phone": "0912345678",
                                  "address": f"Xóm {rng.randrange(1, 12)}"},
                    "due_at": clock.now + rng.randrange(1, 15) * DAY_MS,
                })
                if rng.random() < 0.2:
                    node.change_status("bench", state.id, "processing", "Chuyển bộ phận chuyên môn")
                ids.append(state.id)
        done = min(count, first + chunk)
        if done % 10_000 == 0 or done == count:
            rate = done / (time.perf_counter() - t0)
            print(f"  {done:>7,} dossiers received ({rate:,.0f}/s)", file=sys.stderr)
    return ids


def measure(client, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}\n{r.text[:500]}")
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dossiers", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per page kind (at least 200 for the goal)")
    ap.add_argument("--keep", type=Path, default=None, help="build the node here and keep it (default: temp dir)")
    args = ap.parse_args()
    rng = random.Random(2026)

    from node.accounts import create_account
    from node.app import create_app
    from node.staff_queries import search

    with tempfile.TemporaryDirectory(prefix="motcua-ui-bench-") as tmp:
        base = args.keep or Path(tmp)
        clock = MovingClock(int(time.time() * 1000))
        now = clock.now
        if (base / "node" / "node.json").exists():  # --keep DIR from an earlier run: measure again
            from node.config import load_settings
            from node.models import DossierRow
            from node.services import open_node

            node = open_node(load_settings(base / "node", environ={},
                                           overrides={"STATE_DIR": str(base / "state")}), clock)
            ids = [r.id for r in DossierRow.select(DossierRow.id)]
            fill_s = 0.0
            print(f"reusing {len(ids):,} dossiers in {base / 'node'}", file=sys.stderr)
        else:
            node = make_node(base / "node", clock)
            print(f"receiving {args.dossiers:,} dossiers into {base / 'node'} …", file=sys.stderr)
            t0 = time.perf_counter()
            ids = fill(node, clock, args.dossiers, rng)
            fill_s = time.perf_counter() - t0
            clock.now = now
            create_account("bench", "Cán bộ Bench", "clerk", "mật khẩu đo hiệu năng 2026", now=now)
        app = create_app(node.settings, node=node)
        app.config["WTF_CSRF_ENABLED"] = False  # the bench measures pages, not the sign-in form
        client = app.test_client()
        signed_in = client.post("/dang-nhap", data={"username": "bench", "password": "mật khẩu đo hiệu năng 2026"})
        assert signed_in.status_code == 302

        names = [person(random.Random(i), i)[0] for i in range(50)]
        queries = []
        for i in range(args.requests):
            kind = i % 3
            if kind == 0:
                from node.domain.text import fold

                queries.append(fold(rng.choice(names).split(" ", 1)[1]))  # e.g. "van an", no diacritics
            elif kind == 1:
                queries.append(node.get_dossier(rng.choice(ids)).code[:-2])  # a code prefix
            else:
                queries.append(node.get_dossier(rng.choice(ids)).id_number)
        from urllib.parse import quote

        kinds = {
            "dashboard  /mot-cua/": ["/mot-cua/"] * args.requests,
            "search     /mot-cua/tim-kiem": [f"/mot-cua/tim-kiem?q={quote(q)}" for q in queries],
            "dossier    /mot-cua/ho-so/<id>": [f"/mot-cua/ho-so/{rng.choice(ids)}" for _ in range(args.requests)],
        }
        measure(client, ["/mot-cua/", kinds["dossier    /mot-cua/ho-so/<id>"][0]])  # warm caches and templates
        rows = []
        for label, paths in kinds.items():
            times = measure(client, paths)
            rows.append((label, len(times), statistics.median(times), pct(times, 95), max(times)))
        found = [search(q)[1] for q in queries[:30]]
        node.close()

    print(f"\nmotcua web UI, {len(ids):,} dossiers on one commune node (SQLite), "
          f"filled in {fill_s:,.0f} s; Flask test client, server time per request")
    print(f"{'page':<34} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal p95 ≤ {GOAL_MS:.0f} ms")
    worst = 0.0
    for label, n, p50, p95, top in rows:
        worst = max(worst, p95)
        print(f"{label:<34} {n:>8} {p50:>8.1f} {p95:>8.1f} {top:>8.1f}  {'ok' if p95 <= GOAL_MS else 'OVER'}")
    print(f"(search matches, first 30 queries: median {statistics.median(found):.0f} dossiers)")
    return 0 if worst <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
