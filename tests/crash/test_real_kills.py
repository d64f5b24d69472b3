"""SIGKILL real processes (issue 14.1): ``motcua serve`` while clients write to it over the API, and
``motcua sync`` clients pulling from it, on SQLite and PostgreSQL.

After the last kill the server is started once more and a clean sync run; then on both nodes
every dossier the API acknowledged (201) is there exactly once, no dossier was doubled, ``motcua
verify`` passes and ``motcua rebuild`` finds the derived state equal to the events'.
Ports come from 34000-34999 (the range this suite may use by hand too)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import pytest

from tests.factories import sample_dossier, sqlite_connect
from tests.scenarios.harness import DEV_OPEN_TRUST, MOTCUA, RealNode, call, clean_env

SERVE_KILLS = 6  # per backend: a restart costs seconds
SYNC_KILLS = 20  # per backend, killed meanwhile (and after, until there are as many)
PORTS = iter(range(34_100, 34_999))


def _rows(node: RealNode, url: str, sql: str) -> list[tuple]:
    if url:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)  # SQLCipher: keyed from the node
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _check(node: RealNode, url: str, acked: dict[str, str]) -> None:
    ids = {i for (i,) in _rows(node, url, "SELECT id FROM dossier")}
    lost = sorted(set(acked) - ids)
    doubled = _rows(node, url, "SELECT applicant_name FROM dossier WHERE applicant_name LIKE 'Kill %' "
                               "GROUP BY applicant_name HAVING count(*) > 1")
    assert not lost and not doubled, f"{node.name}: lost {lost[:5]}, doubled {doubled[:5]}"
    assert node.cli("verify", check=False).returncode == 0, node.cli("verify", check=False).stdout
    out = node.cli("rebuild").stdout
    assert "WARNING" not in out, f"{node.name}: derived state differed from a rebuild:\n{out}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_servers_and_sync_clients_lose_nothing(backend, tmp_path, request):
    url = ""
    env = dict(DEV_OPEN_TRUST)
    if backend == "postgresql":
        from tests.factories import reset_postgres

        url = request.getfixturevalue("pg_url")
        reset_postgres(url)
        env["MOTCUA_DATABASE_URL"] = url
    rng = random.Random(14)
    hub = RealNode("Xã Kill", "commune", "17272", tmp_path / "hub", port=next(PORTS), env=env)
    laptop = RealNode("Máy Kill", "mobile", "17272", tmp_path / "laptop", env=dict(DEV_OPEN_TRUST))
    for n in (hub, laptop):
        n.data_dir.mkdir(parents=True)
        n.init()
    token = hub.api_token()
    hub.start()
    acked: dict[str, str] = {}
    unanswered = [0]
    answers: dict[int, int] = {}
    sync_kills = [0]
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            name = f"Kill {backend} {i}"
            try:
                status, body = call(hub, "POST", "/api/v1/dossiers", sample_dossier(name=name), token=token)
            except Exception:  # the server died under the request: unacknowledged, never retried
                unanswered[0] += 1
                time.sleep(0.2)
                continue
            answers[status] = answers.get(status, 0) + 1
            if status == 201:
                acked[body["id"]] = name

    def pull() -> None:
        while not stop.is_set():
            p = subprocess.Popen([*MOTCUA, "--data-dir", str(laptop.data_dir), "sync", "--peer", hub.url],
                                 env=clean_env(**laptop.env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
            time.sleep(rng.uniform(0.3, 1.2))
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                sync_kills[0] += 1
            p.wait(timeout=20)

    threads = [threading.Thread(target=write, daemon=True), threading.Thread(target=pull, daemon=True)]
    for t in threads:
        t.start()
    started = time.monotonic()
    for _ in range(SERVE_KILLS):
        time.sleep(rng.uniform(0.4, 1.2))
        hub.stop(signal.SIGKILL)
        hub.start()
    deadline = time.monotonic() + 60
    while sync_kills[0] < SYNC_KILLS and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    laptop.cli("sync", "--peer", hub.url)  # a clean sync after the last kill
    hub.stop()
    print(f"\nreal kills on {backend}: motcua serve {SERVE_KILLS}, motcua sync {sync_kills[0]}; acknowledged "
          f"{len(acked)} dossiers, {unanswered[0]} requests unanswered, answers {answers}; "
          f"in {time.monotonic() - started:.1f} s")
    _check(hub, url, acked)
    _check(laptop, "", acked)
    assert sync_kills[0] >= SYNC_KILLS
