"""The sync endpoint's entrance: no open hub, and refusals before parsing.

* A district fresh from ``init`` (no CA, no development switch) refuses a stranger's push and
  pull: nothing stored, nothing served, nothing logged under the stranger's id. With the
  development switch it trusts the stranger on first use, and ``motcua doctor`` says so.
* A request whose signature does not verify with a key this node trusts is refused before its
  body is decompressed or parsed, whatever the body (garbage, a zstd bomb, deep JSON, a huge
  integer); an authenticated caller's bad body gets a 4xx in the sync error shape, never a 500.
* Refused callers are counted and throttled per address, and never recorded as the node they
  claimed to be (no sync-log line, no node-health row).

One real district node serves (Flask test client); callers are crafted in memory.
"""

from __future__ import annotations

import functools
import json
import os

import pytest
import zstandard
from click.testing import CliRunner

from node.app import create_app
from node.cli import main
from node.db import node_store, open_database
from node.services import Node
from node.signing import NodeKey
from sync import codec, ledger
from sync.gate import DEFAULT_LIMIT, DEFAULT_WINDOW_MS
from sync.ledger import PeerRow, ProfileRow, SyncSessionRow
from sync.transport import EXCHANGE_PATH
from tests.factories import init_node_dir, make_settings
from tests.sync_helpers import (
    Client,
    encode_wire,
    make_client,
    make_request,
    make_run,
    post_body,
    post_exchange,
    server_now,
    signed_headers,
    signed_profile,
    stored_state,
)

UNIT = "17272"


def district_node(tmp_path, clock, **extra) -> Node:
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, role="district", unit="40")  # what motcua init leaves: no CA
    settings = make_settings(data_dir, role="district", unit="40", **extra)
    return Node(settings, open_database(settings), key, clock)


@pytest.fixture
def fresh(tmp_path, clock):
    node = district_node(tmp_path, clock)
    node.create_dossier("hub", {"procedure": {"code": "1.001193"}, "applicant": {"name": "Bí Mật"}})
    yield node
    node.close()


@pytest.fixture
def dev(tmp_path, clock):
    node = district_node(tmp_path, clock, DEV_OPEN_TRUST=True)
    node.create_dossier("hub", {"procedure": {"code": "1.001193"}, "applicant": {"name": "Bí Mật"}})
    yield node
    node.close()


def serve(node: Node):
    return create_app(node.settings, node=node).test_client()


@pytest.fixture
def never_parsed(monkeypatch):
    """Fail the test if the endpoint decompresses or parses a body (answers are then read with
    :func:`post_from`, which does not use the codec)."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the body of an unauthenticated request was decompressed or parsed")

    monkeypatch.setattr(codec, "decompress", refuse)
    monkeypatch.setattr(codec, "decode", refuse)


def post_from(server, address: str, body: bytes, headers: dict) -> tuple[int, dict | None, dict]:
    response = server.post(EXCHANGE_PATH, data=body, headers=headers, environ_base={"REMOTE_ADDR": address})
    message = None
    if response.headers.get("Content-Type") == codec.CONTENT_TYPE:
        message = zstandard.ZstdDecompressor().decompress(response.get_data(), max_output_size=1 << 20)
        message = json.loads(message)
    return response.status_code, message, dict(response.headers)


def nothing_recorded_of(node_id: str) -> None:
    assert not SyncSessionRow.select().where(SyncSessionRow.peer == node_id).exists()
    assert not PeerRow.select().where(PeerRow.node_id == node_id).exists()
    assert not ProfileRow.select().where(ProfileRow.node_id == node_id).exists()


# -- no open hub ---------------------------------------------------------------------------


@pytest.mark.parametrize("introduce", [True, False], ids=["introduced", "bare"])
@pytest.mark.parametrize("what", ["push", "pull"])
def test_a_fresh_district_refuses_a_strangers_push_and_pull(fresh, never_parsed, what, introduce):
    server = serve(fresh)
    stranger = make_client("district", "41")  # a stranger calling itself a district
    runs = [make_run(stranger, "40", 1, 2)] if what == "push" else []
    before = stored_state()
    body = encode_wire(make_request(stranger, runs, vector={}).to_wire())
    headers = signed_headers(stranger, body, server_now(server), introduce=introduce)
    status, answer, _ = post_from(server, "127.0.0.1", body, headers)
    assert (status, answer["error"]["code"]) == (403, "untrusted"), answer
    assert "pull" not in answer and answer["vector"] == {}
    assert stored_state() == before  # nothing stored
    nothing_recorded_of(stranger.node_id)


def test_with_the_development_switch_a_stranger_is_trusted_on_first_use(dev):
    server = serve(dev)
    stranger = make_client("commune", "40")
    status, answer = post_exchange(server, stranger, make_request(stranger, [make_run(stranger, "40", 1, 2)]))
    assert status == 200 and "error" not in answer, answer
    assert answer["vector"][f"{stranger.node_id}:40"] == 2
    assert [r["origin"] for r in answer["pull"]] == [dev.node_id]  # served
    assert ProfileRow.get_by_id(stranger.node_id).role == "commune"  # remembered on first use
    # known now: no introduction, no profile
    body = encode_wire(make_request(stranger, [], profiles=[], vector={f"{stranger.node_id}:40": 2}).to_wire())
    status, again = post_body(server, body, signed_headers(stranger, body, server_now(server), introduce=False))
    assert status == 200 and "error" not in again, again


def test_without_the_switch_a_known_node_keeps_the_role_it_was_first_known_by(fresh):
    server = serve(fresh)
    commune = make_client("commune", UNIT)
    node_store().save_profiles([commune.profile])  # met while the node was still open (development)
    liar = Client(commune.key, signed_profile(commune.key, "district", "40", "now a district"))
    status, answer = post_exchange(server, liar, make_request(liar, [make_run(liar, "40", 1, 1)]))
    assert status == 200 and answer["error"]["code"] == "scope_denied", answer  # still a commune of 17272


def doctor(tmp_path, *args, env=None) -> str:
    runner = CliRunner()
    data = str(tmp_path / "n")
    # a district reads the bare DATABASE_URL (CI sets it): these nodes stay on SQLite
    env = {"DATABASE_URL": "", **(env or {})}
    result = runner.invoke(main, ["--data-dir", data, *args], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["--data-dir", data, "doctor"], env=env)
    return result.output


def test_doctor_shows_whether_the_development_switch_is_on(tmp_path):
    init = ["init", "--role", "district", "--unit", "40", "--name", "Hub"]
    closed = doctor(tmp_path / "a", *init)
    assert "strangers are refused" in closed and "DEVELOPMENT MODE" not in closed
    setting = next(line for line in closed.splitlines() if "DEV_OPEN_TRUST" in line)
    assert "False" in setting
    by_env = doctor(tmp_path / "b", *init, env={"MOTCUA_DEV_OPEN_TRUST": "1"})
    assert "DEVELOPMENT MODE (DEV_OPEN_TRUST)" in by_env
    by_init = doctor(tmp_path / "c", *init, "--dev-open-trust")
    assert "DEVELOPMENT MODE (DEV_OPEN_TRUST)" in by_init
    assert json.loads((tmp_path / "c" / "n" / "node.json").read_text())["dev_open_trust"] is True
    assert "MOTCUA_DEV_OPEN_TRUST" not in os.environ


def test_the_web_ui_shows_a_red_banner_while_the_switch_is_on(dev):
    assert "data-dev-open-trust" in serve(dev).get("/dang-nhap").text
    assert "DEV_OPEN_TRUST" in serve(dev).get("/tra-cuu").text


def test_no_banner_without_the_switch(fresh):
    assert "data-dev-open-trust" not in serve(fresh).get("/dang-nhap").text


# -- refused before parsing ----------------------------------------------------------------


@functools.cache
def bomb() -> bytes:
    """~4 KB that expand to 128 MiB of zeros (compressed in pieces: never held whole here either)."""
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(128)) + compressor.flush()


def deep() -> bytes:
    return zstandard.ZstdCompressor().compress(b"[" * 100_000 + b"]" * 100_000)


def huge_integer(client) -> bytes:
    text = json.dumps(make_request(client, [], vector={}).to_wire()).replace('"vector": {}', '"vector": {"x": 0}')
    text = text.replace('"x": 0', f'"{client.node_id}:{UNIT}": {"9" * 5000}')
    return zstandard.ZstdCompressor().compress(text.encode())


BODIES = {
    "garbage": lambda c: os.urandom(4096),
    "bomb": lambda c: bomb(),
    "deep_json": lambda c: deep(),
    "huge_integer": huge_integer,
}


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("claim", ["known", "stranger_with_key"])
def test_a_wrongly_signed_body_is_refused_before_any_parsing(dev, never_parsed, kind, claim):
    server = serve(dev)
    commune = make_client("commune", UNIT)
    if claim == "known":
        node_store().save_profiles([commune.profile])
    body = BODIES[kind](commune)
    before = stored_state()
    headers = signed_headers(commune, body, server_now(server), signer=NodeKey.generate())
    status, answer, _ = post_from(server, "127.0.0.1", body, headers)
    assert (status, answer["error"]["code"]) == (401, "unauthenticated"), answer
    assert stored_state() == before
    assert not SyncSessionRow.select().exists()


@pytest.mark.parametrize("kind,status,code", [("bomb", 413, "too_large"), ("deep_json", 400, "bad_request"),
                                              ("huge_integer", 400, "malformed")])
def test_an_authenticated_callers_bad_body_gets_a_4xx_in_the_error_shape(dev, kind, status, code):
    server = serve(dev)
    commune = make_client("commune", UNIT)
    node_store().save_profiles([commune.profile])
    body = BODIES[kind](commune)
    before = stored_state()
    got, answer = post_body(server, body, signed_headers(commune, body, server_now(server)))
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert answer["vector"] == {} and answer["error"]["message"]
    assert stored_state() == before
    # authenticated: its own failure is in the sync log, under its own id
    (row,) = SyncSessionRow.select().where(SyncSessionRow.peer == commune.node_id)
    assert (row.outcome, row.error_code) == ("failed", code)


def test_an_authenticated_bomb_is_refused_without_allocating_it():
    import tracemalloc

    from sync.protocol import MAX_REQUEST_BYTES

    data = bomb()
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match="too_large"):
            codec.decode(data, MAX_REQUEST_BYTES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) < 8192
    assert peak < MAX_REQUEST_BYTES + (8 << 20), f"peak {peak / 2**20:.0f} MiB for a {len(data)}-byte bomb"


# -- counted per address, never recorded as the claimed node --------------------------------


def forged(server, victim, body: bytes = b"x" * 4096) -> tuple[bytes, dict]:
    return body, signed_headers(victim, body, server_now(server), signer=NodeKey.generate())


def test_failed_authentication_is_rate_limited_per_address(dev, clock):
    server = serve(dev)
    known = make_client("commune", UNIT)
    status, _ = post_exchange(server, known, make_request(known, [make_run(known, UNIT, 1, 1)]))
    assert status == 200
    attacker = "10.0.0.9"
    for _ in range(DEFAULT_LIMIT):
        status, answer, _ = post_from(server, attacker, *forged(server, make_client("district", "41")))
        assert status == 401 and answer["error"]["code"] == "unauthenticated", answer
    status, answer, headers = post_from(server, attacker, *forged(server, make_client("district", "41")))
    assert (status, answer["error"]["code"]) == (429, "throttled"), answer
    assert int(headers["Retry-After"]) >= 1 and answer["vector"] == {}
    # another address is not affected
    status, answer, _ = post_from(server, "10.0.0.10", *forged(server, make_client("district", "41")))
    assert status == 401, answer
    # a known node behind the same address is not locked out by the attacker
    body = encode_wire(make_request(known, [], profiles=[], vector={f"{known.node_id}:{UNIT}": 1}).to_wire())
    status, answer, _ = post_from(server, attacker, body, signed_headers(known, body, server_now(server),
                                                                         introduce=False))
    assert status == 200 and "error" not in answer, answer
    # nor can the attacker use a known id to slip past: still refused, still counted
    status, answer, _ = post_from(server, attacker, *forged(server, known))
    assert status == 401, answer
    (record,) = [r for r in server.application.extensions["motcua.sync_gate"].snapshot() if r["address"] == attacker]
    assert record["codes"] == {"unauthenticated": DEFAULT_LIMIT + 1, "throttled": 1}
    clock.advance(DEFAULT_WINDOW_MS)
    status, answer, _ = post_from(server, attacker, *forged(server, make_client("district", "41")))
    assert status == 401, answer  # the window is over


def test_a_forged_request_is_never_recorded_as_the_node_it_claims(dev, clock):
    server = serve(dev)
    commune = make_client("commune", UNIT)
    request = make_request(commune, [make_run(commune, UNIT, 1, 1)])
    assert post_exchange(server, commune, request)[0] == 200
    sessions = list(SyncSessionRow.select().dicts())
    health = PeerRow.get_by_id(commune.node_id).__data__.copy()
    clock.advance(60_000)
    for body in (encode_wire(make_request(commune, [], session=request.session).to_wire()), b"\0" * 4096):
        status, answer = post_body(server, *forged(server, commune, body))
        assert status == 401 and answer["error"]["code"] == "unauthenticated"
    assert list(SyncSessionRow.select().dicts()) == sessions  # no line under its id, none rewritten
    assert PeerRow.get_by_id(commune.node_id).__data__ == health  # node health untouched
    (record,) = server.application.extensions["motcua.sync_gate"].snapshot()
    assert record["claimed"] == [commune.node_id] and record["total"] == 2


def test_an_unauthenticated_refusal_is_logged_once_per_address_not_per_request(dev, caplog):
    server = serve(dev)
    caplog.set_level("WARNING", logger="motcua.sync")
    for _ in range(DEFAULT_LIMIT + 5):
        post_from(server, "10.0.0.9", *forged(server, make_client("district", "41")))
    lines = [r.getMessage() for r in caplog.records if r.name == "motcua.sync"]
    assert len(lines) == 2, lines  # the first refusal, and the start of throttling
    assert "10.0.0.9" in lines[0] and "(not verified)" in lines[0]
    assert "throttling 10.0.0.9" in lines[1]


def test_a_dossier_is_served_only_to_an_authenticated_caller(dev, never_parsed):
    """Even on a development node: a stranger that introduces a key it does not hold gets nothing."""
    server = serve(dev)
    stranger = make_client("district", "41")
    body = encode_wire(make_request(stranger, [], vector={}).to_wire())
    headers = signed_headers(stranger, body, server_now(server))
    headers["X-Motcua-Key"] = headers["X-Motcua-Key"][:-4] + "AAA="
    status, answer, _ = post_from(server, "127.0.0.1", body, headers)
    assert status == 401 and "pull" not in answer
    nothing_recorded_of(stranger.node_id)


def test_a_request_a_day_off_is_logged_under_its_signer_once(dev):
    """Its own key signed it, so the admin sees the wrong clock; the same bytes replayed are not
    logged again."""
    server = serve(dev)
    commune = make_client("commune", UNIT)
    assert post_exchange(server, commune, make_request(commune, [make_run(commune, UNIT, 1, 1)]))[0] == 200
    body = encode_wire(make_request(commune, [], profiles=[], vector={f"{commune.node_id}:{UNIT}": 1}).to_wire())
    headers = signed_headers(commune, body, server_now(server) - 2 * 24 * 3600 * 1000, introduce=False)
    failed = SyncSessionRow.select().where((SyncSessionRow.peer == commune.node_id)
                                           & (SyncSessionRow.outcome == "failed"))
    status, answer = post_body(server, body, headers)
    assert (status, answer["error"]["code"]) == (401, "unauthenticated") and "clock" in answer["error"]["message"]
    assert [r.error_code for r in failed] == ["unauthenticated"]
    status, answer = post_body(server, body, headers)
    assert (status, answer["error"]["code"]) == (401, "replayed")
    assert failed.count() == 1


def test_known_ids_are_held_in_memory_and_see_other_processes_after_a_while(dev):
    now = [0.0]
    ids = ledger.KnownIds(node_store(), refresh_s=5, clock=lambda: now[0])
    commune, other = make_client("commune", UNIT), make_client("commune", UNIT)
    assert commune.node_id not in ids
    node_store().save_profiles([commune.profile])  # learnt by this process: seen at once
    assert commune.node_id in ids
    p = other.profile  # written by another process (a CLI sync): seen after refresh_s
    ProfileRow.insert(node_id=p.node_id, public_key=p.public_key, role=p.role, unit=p.unit, name=p.name,
                      signature=p.signature).execute()
    assert other.node_id not in ids
    now[0] += 5
    assert other.node_id in ids
