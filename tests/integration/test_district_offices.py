"""The district console names offices, not bare codes (issue 13.7): the sync log, a session and the
node health page show each node's office name (its profile), what kind of office it is, and its
administrative unit by name from the national list beside the code."""

from __future__ import annotations

import re

import pytest

from node.app import create_app
from tests.integration.web_helpers import add, cheap_hashing, login, make_node
from tests.sync_helpers import make_client

COMMUNE_NAME = "UBND xã Tân Phú"


@pytest.fixture
def console(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    hub = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    commune, laptop = make_client("commune", "17272", COMMUNE_NAME), make_client("mobile", "17272", "Tổ lưu động 1")
    hub.replica.keep_profiles([commune.profile, laptop.profile])
    stranger = "f" * 32  # a node this hub holds no profile of: its id, as before
    for i, peer in enumerate((commune.node_id, laptop.node_id, stranger)):
        hub.store.open_session(f"s{i}", "server", peer, "", clock() + i)
        hub.store.add_to_session(f"s{i}", "server", now=clock() + i + 50, events_in=1, outcome="ok")
    add("quantri", "district_admin", clock())
    c = create_app(hub.settings, node=hub).test_client()
    login(c, "quantri")
    yield c, commune, laptop, stranger
    hub.close()


def cell(page: str, session: str) -> str:
    row = re.search(rf'<tr data-session="{session}">(.*?)</tr>', page, re.S)
    assert row, session
    return row.group(1)


def test_the_sync_log_names_each_office_and_its_unit(console):
    c, _commune, _laptop, stranger = console
    page = c.get("/quan-tri/dong-bo").text
    assert COMMUNE_NAME in cell(page, "s0") and "Bộ phận một cửa xã" in cell(page, "s0")
    assert "Xã Tân Phú, Nghệ An (17272)" in cell(page, "s0")
    assert "Tổ lưu động 1" in cell(page, "s1") and "Tổ lưu động" in cell(page, "s1")
    assert stranger[:12] in cell(page, "s2")  # never met: its id is all there is
    assert f"{COMMUNE_NAME} — Xã Tân Phú, Nghệ An (17272)</option>" in page  # the node filter too


def test_a_session_and_the_node_health_page_name_the_office(console):
    c, commune, _laptop, _stranger = console
    row_id = re.search(r'/quan-tri/dong-bo/(\d+)"', cell(c.get("/quan-tri/dong-bo").text, "s0")).group(1)
    detail = c.get(f"/quan-tri/dong-bo/{row_id}").text
    assert f"{COMMUNE_NAME} — Bộ phận một cửa xã, Xã Tân Phú, Nghệ An (17272)" in detail
    nodes = c.get("/quan-tri/may").text
    row = re.search(rf'<tr data-node="{commune.node_id}">(.*?)</tr>', nodes, re.S).group(1)
    assert COMMUNE_NAME in row and "Bộ phận một cửa xã" in row and "Xã Tân Phú, Nghệ An (17272)" in row
    c.get("/ngon-ngu/en")
    english = c.get("/quan-tri/may").text
    assert "Commune one-stop office" in english and "Xã Tân Phú, Nghệ An (17272)" in english
