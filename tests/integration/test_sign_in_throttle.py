"""Sign-in throttling cannot lock a person out (node.accounts): strangers' failures slow the
guessing on an account, never the person at an address she signed in from; an attempt refused
while throttled counts against nobody; the account's limit is a growing delay, not a lock."""

from __future__ import annotations

import pytest

from node import accounts
from node.models import LoginAttemptRow
from tests.integration.web_helpers import add, cheap_hashing, login

WRONG = "không phải mật khẩu"
DESK = "192.0.2.10"  # the clerk's PC
WIFI = [f"198.51.100.{i}" for i in range(1, 60)]  # an attacker hopping addresses on the office Wi-Fi


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock())
    return app.test_client()


def test_the_delay_grows_from_30_seconds_doubling_to_15_minutes():
    assert [accounts.backoff_ms(n) // 1000 for n in range(12)] == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert accounts.backoff_ms(10**6) == accounts._BACKOFF_MAX_MS


def test_strangers_hammering_an_account_never_lock_out_the_person_at_her_desk(client, clock):
    assert login(client, "lan", ip=DESK).status_code == 302  # the desk is a known address now
    refused = 0
    for ip in WIFI:  # one failure per address: no per-address limit helps the account here
        r = login(client, "lan", WRONG, ip=ip)
        assert r.status_code in (401, 429)
        refused += r.status_code == 429
        clock.advance(1000)
    assert refused > 40  # the strangers were slowed down
    assert login(client, "lan", ip=DESK).status_code == 302  # and the clerk signs in at once
    # even while the strangers' delay is at its cap, and after her own typo
    assert login(client, "lan", WRONG, ip=DESK).status_code == 401
    assert login(client, "lan", ip=DESK).status_code == 302
    assert login(client, "lan", ip=WIFI[0]).status_code == 429  # the right password from a stranger waits


def test_refusals_while_throttled_are_not_recorded_and_do_not_prolong_the_delay(client, clock):
    for _ in range(5):
        assert login(client, "lan", WRONG, ip=WIFI[0]).status_code == 401
    recorded = LoginAttemptRow.select().count()
    for _ in range(200):  # a flood during the 30 s delay
        assert login(client, "lan", WRONG, ip=WIFI[1]).status_code == 429
    assert LoginAttemptRow.select().count() == recorded
    clock.advance(accounts.backoff_ms(5))
    assert login(client, "lan", ip=WIFI[2]).status_code == 302  # the delay was not extended


def test_a_stranger_success_elsewhere_does_not_reset_the_strangers_count(client, clock):
    assert login(client, "lan", ip=DESK).status_code == 302
    for i in range(5):
        assert login(client, "lan", WRONG, ip=WIFI[i]).status_code == 401
    assert login(client, "lan", ip=DESK).status_code == 302  # the person signs in again at her desk
    assert login(client, "lan", WRONG, ip=WIFI[9]).status_code == 429  # the guessers get no fresh tries


def test_an_address_with_too_many_failures_waits_for_its_window(client, clock):
    for i in range(accounts._MAX_FAILURES_PER_IP):
        assert login(client, f"doan{i}", WRONG, ip=WIFI[0]).status_code == 401
    blocked = login(client, "lan", ip=WIFI[0])
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) == accounts._WINDOW_MS // 1000
    assert login(client, "lan", ip=WIFI[1]).status_code == 302  # another address is not affected
    clock.advance(accounts._WINDOW_MS + 1)
    assert login(client, "lan", ip=WIFI[0]).status_code == 302


def test_the_wait_shown_is_the_real_one(client, clock):
    for failures in range(1, 7):
        assert login(client, "lan", WRONG, ip=WIFI[0]).status_code == 401
        clock.advance(accounts.backoff_ms(failures))
    clock.advance(-accounts.backoff_ms(6))  # just after the 6th failure: 60 s to wait
    r = login(client, "lan", ip=WIFI[0])
    assert r.status_code == 429 and r.headers["Retry-After"] == "60" and "1 phút" in r.text


def test_an_ipv6_attacker_rotating_inside_one_64_is_one_address(client):
    """Each subscriber gets a /64 or more: hopping inside it must not reset the address limit."""
    block = [f"2001:db8:7:1::{i:x}" for i in range(1, 40)]
    codes = [login(client, f"khach{i}", WRONG, ip=ip).status_code for i, ip in enumerate(block)]
    assert codes[:accounts._MAX_FAILURES_PER_IP] == [401] * accounts._MAX_FAILURES_PER_IP
    assert set(codes[accounts._MAX_FAILURES_PER_IP:]) == {429}
    assert login(client, "lan", ip="2001:db8:7:2::1").status_code == 302  # the next /64 is another address


def test_old_attempts_are_forgotten_at_the_next_sign_in(client, clock):
    login(client, "lan", WRONG, ip=DESK)
    clock.advance(accounts._KNOWN_ADDRESS_MS + 1)
    assert login(client, "lan", ip=DESK).status_code == 302
    assert [(a.ip, a.ok) for a in LoginAttemptRow.select()] == [(DESK, True)]
