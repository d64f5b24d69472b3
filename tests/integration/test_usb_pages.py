"""The USB bundle forms (web/usb.py) through the Flask test client: export for the parent as a
download, import an acknowledgement upload, and refusals in plain words with nothing applied."""

from __future__ import annotations

import io

from node.models import BundleRow
from node.sealing import Opener, seal
from sync.bundle import Header, Payload
from sync.bundler import Sealing, open_bundle, seal_payload, write_bundles
from sync.memory import MemoryStore
from tests.inprocess import make_member
from tests.integration.web_helpers import add, cheap_hashing, login, token_of


def test_export_to_usb_and_import_the_acknowledgement(app, sqlite_node, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    page = c.get("/mot-cua/")
    assert "Xuất dữ liệu ra USB" in page.text and "Nhập dữ liệu từ USB" in page.text
    token = token_of(c, "/mot-cua/")
    refused = c.post("/usb/xuat", data={"csrf_token": token}, headers={"X-Requested-With": "XMLHttpRequest"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "no_recipient"

    me = sqlite_node.replica.me
    parent = make_member(MemoryStore(), "district", "40", clock, "Hub")
    parent.store.save_profiles([me])  # it knows this node (its certificate, on an enrolled node)
    sqlite_node.replica.keep_profiles([parent.profile])
    BundleRow.insert(bundle="0" * 32, part=1, direction="in", kind="ack", peer=parent.node_id, created=1,
                     at=clock()).execute()
    exported = c.post("/usb/xuat", data={"csrf_token": token})
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    sealing = Sealing(sign=parent.key.sign, seal=seal, open=Opener(parent.key.seed()))
    payload = open_bundle(exported.data, parent.replica, sealing)
    assert payload.header.recipient == parent.node_id

    (ack,) = write_bundles(parent.replica, me, payload.vector, sealing, now=clock(), bundle_id="1" * 32,
                           kind="ack", ack_of=payload.header.id)
    imported = c.post("/usb/nhap", data={"csrf_token": token, "bundle": (io.BytesIO(ack.data), "ack.bundle")},
                      content_type="multipart/form-data")
    assert imported.status_code == 200 and "data-usb-ok" in imported.text
    again = c.post("/usb/nhap", data={"csrf_token": token, "bundle": (io.BytesIO(ack.data), "ack.bundle")},
                   content_type="multipart/form-data")
    assert again.status_code == 422 and 'data-usb-error="replayed"' in again.text
    garbage = c.post("/usb/nhap", data={"csrf_token": token, "bundle": (io.BytesIO(b"PK\3\4zip"), "x.zip")},
                     content_type="multipart/form-data")
    assert garbage.status_code == 422 and "không phải là gói dữ liệu motcua" in garbage.text
    lines = sqlite_node.store.session_lines(payload.header.id)
    assert [(line["side"], line["link"], line["outcome"]) for line in lines] == [("client", "usb", "ok")]


def test_an_old_acknowledgement_after_a_newer_one_moves_no_vector_back(sqlite_node, clock):
    from node.bundles import import_bundle

    me = sqlite_node.replica.me
    parent = make_member(MemoryStore(), "district", "40", clock, "Hub")
    sqlite_node.replica.keep_profiles([parent.profile])
    sealing = Sealing(sign=parent.key.sign, seal=seal, open=Opener(parent.key.seed()))

    def ack(bundle: str, created: int, vector: dict) -> bytes:
        header = Header("ack", bundle, 1, parent.node_id, me.node_id, created)
        return seal_payload(Payload(header, parent.profile, vector), me, sealing)

    newer, older = ack("2" * 32, 2000, {f"{me.node_id}:17272": 5}), ack("1" * 32, 1000, {})
    import_bundle(sqlite_node, newer)
    import_bundle(sqlite_node, older)
    assert sqlite_node.store.peer_state(parent.node_id).vector == {f"{me.node_id}:17272": 5}
