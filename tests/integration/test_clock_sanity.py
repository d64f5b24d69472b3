"""Clock sanity (issue 14.5): a node whose PC clock is before the trusted-time floor, or ahead of
the last sync's peer time beyond the skew, refuses writes naming the two times; once the clock is
corrected writing resumes; received events with an implausible ``at`` are listed."""

from __future__ import annotations

import dataclasses

import pytest

from node import clockcheck
from node.models import DossierRow
from sync.transport import _date_ms
from tests.factories import FakeClock, approve_calendar, sample_dossier
from tests.multinode import carry, make_node, use

YEAR_MS = 365 * 24 * 3_600_000
DAY_MS = 24 * 3_600_000


@pytest.fixture
def commune(tmp_path):
    district_clock, commune_clock = FakeClock(), FakeClock()
    district = make_node(tmp_path, "district", district_clock, role="district", unit="40")
    node = make_node(tmp_path, "commune", commune_clock)
    use(district)
    approve_calendar(district)
    district.publish_reference("admin")
    carry(district, node)
    use(node)
    yield node, commune_clock
    district.close()
    node.close()


def test_a_clock_years_behind_the_trusted_floor_refuses_writes_until_corrected(commune):
    node, clock = commune
    clock.advance(-10 * YEAR_MS)
    with pytest.raises(clockcheck.ClockWrong, match="Đồng hồ của máy tính này sai: máy đang chỉ") as refused:
        node.create_dossier("lan", sample_dossier())
    assert "2016" in refused.value.message and "2026" in refused.value.message  # the two times
    assert DossierRow.select().count() == 0
    clock.advance(10 * YEAR_MS + 60_000)  # corrected
    node.create_dossier("lan", sample_dossier())
    assert DossierRow.select().count() == 1


def test_a_clock_ahead_of_the_last_sync_refuses_writes_until_a_sane_sync(commune):
    node, clock = commune
    clock.advance(2 * DAY_MS)
    with node.writer.transaction(gated=False):
        clockcheck.observe_peer(clock() - 2 * DAY_MS, clock())  # the district answered 2 days earlier
    with pytest.raises(clockcheck.ClockWrong, match="chạy nhanh"):
        node.create_dossier("lan", sample_dossier())
    clock.advance(-2 * DAY_MS)  # corrected; the next sync sees a sane clock
    with node.writer.transaction(gated=False):
        clockcheck.observe_peer(clock() + 1_000, clock())
    node.create_dossier("lan", sample_dossier())
    assert DossierRow.select().count() == 1


def test_a_skew_within_the_allowed_bound_writes(commune):
    node, clock = commune
    clock.advance(-60_000)  # the district's stamp a minute ahead of this PC: within 300 s
    node.create_dossier("lan", sample_dossier())


def test_the_api_answers_a_wrong_clock_as_write_blocked(commune, monkeypatch):
    from node.app import create_app
    from tests.integration.web_helpers import cheap_hashing, give_token

    node, clock = commune
    cheap_hashing(monkeypatch)
    app = create_app(node.settings, node=node)
    c = app.test_client()
    give_token(c, now=clock())
    clock.advance(-10 * YEAR_MS)
    r = c.post("/api/v1/dossiers", json=sample_dossier())
    assert r.status_code == 503 and r.json["error"]["code"] == "write_blocked"
    assert r.json["error"]["message"].startswith("Đồng hồ của máy tính này sai")


def test_received_events_with_an_implausible_time_are_flagged(commune):
    node, clock = commune
    state = node.create_dossier("lan", sample_dossier())
    event = node.store.events_for_entities([f"dossier/{state.id}"])[f"dossier/{state.id}"][0]
    assert clockcheck.implausible(event, clock(), 300_000) == ""
    assert clockcheck.implausible(dataclasses.replace(event, at=event.at - YEAR_MS), clock(), 300_000) == "behind"
    assert clockcheck.implausible(dataclasses.replace(event, at=clock() + DAY_MS), clock(), 300_000) == "ahead"
    assert clockcheck.implausible_events(node.store, clock(), 300_000) == []
    assert clockcheck.implausible_events(node.store, clock() - YEAR_MS, 300_000)  # seen from a year before


def test_the_peer_time_comes_from_the_http_date_of_its_answer():
    assert _date_ms("Wed, 02 Dec 2026 09:30:00 GMT") == 1_796_203_800_000
    assert _date_ms("") is None and _date_ms("not a date") is None


def test_a_caller_supplied_reception_time_is_bounded_by_the_same_window(commune):
    from node.domain.errors import DomainError

    node, clock = commune
    with pytest.raises(DomainError, match="before the trusted time"):
        node.create_dossier("lan", sample_dossier(received_at=clock() - DAY_MS))
    with pytest.raises(DomainError, match="in the future"):
        node.create_dossier("lan", sample_dossier(received_at=clock() + DAY_MS))
    node.create_dossier("lan", sample_dossier(received_at=clock() - 60_000))  # within the skew
    assert DossierRow.select().count() == 1
