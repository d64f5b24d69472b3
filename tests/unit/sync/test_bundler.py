"""Bundles in one process (sync.bundle, sync.bundler, node.sealing): what a stick can do wrong.

Members over memory stores, real Ed25519 and real sealed boxes; the outbox and the ingestor are
the network's own. The scenario over real processes is tests/scenarios/test_usb_bundles.py.
"""

from __future__ import annotations

import hashlib

import pytest

from node.sealing import Opener, seal
from sync.bundle import BundleError, Header, check_payload, frame, join_signed, read_header
from sync.bundler import Sealing, apply_payload, open_bundle, write_bundles
from sync.memory import MemoryStore
from sync.outbox import local_vector
from tests.inprocess import carry, make_member

UNIT = "17272"


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000_000

    def __call__(self) -> int:
        self.t += 1
        return self.t


@pytest.fixture
def nodes():
    clock = Clock()
    laptop = make_member(MemoryStore(), "mobile", UNIT, clock, "laptop")
    commune = make_member(MemoryStore(), "commune", UNIT, clock, "commune")
    other = make_member(MemoryStore(), "commune", UNIT, clock, "other")
    for i in range(30):
        laptop.write(UNIT, f"dossier/{i}", "dossier.received", {"n": i, "text": "Giấy khai sinh " * 20})
    return laptop, commune, other, clock


def sealing(member) -> Sealing:
    return Sealing(sign=member.key.sign, seal=seal, open=Opener(member.key.seed()))


def export(src, dst, clock, vector=None, **kw):
    return write_bundles(src.replica, dst.profile, dst.store.peer_state(src.node_id).vector if vector is None
                         else vector, sealing(src), now=clock(), bundle_id=f"{clock.t:032x}", **kw)


def carry_bundle(src, dst, data: bytes) -> int:
    payload = open_bundle(data, dst.replica, sealing(dst))
    return apply_payload(dst.replica, payload, payload.header.id).events


def test_a_bundle_gives_the_recipient_what_a_network_carry_gives(nodes):
    laptop, commune, other, clock = nodes
    (written,) = export(laptop, commune, clock, vector={})
    assert carry_bundle(laptop, commune, written.data) == 30
    assert carry(laptop, other) == 30
    assert local_vector(commune.store) == local_vector(other.store)
    assert commune.received == other.received


def test_the_same_bundle_twice_and_an_old_one_after_a_newer_change_nothing(nodes):
    laptop, commune, _, clock = nodes
    (old,) = export(laptop, commune, clock, vector={})
    laptop.write(UNIT, "dossier/new", "dossier.received", {"n": 99})
    (new,) = export(laptop, commune, clock, vector={})
    assert carry_bundle(laptop, commune, new.data) == 31
    held = local_vector(commune.store)
    assert carry_bundle(laptop, commune, new.data) == 0
    assert carry_bundle(laptop, commune, old.data) == 0
    assert local_vector(commune.store) == held


@pytest.mark.parametrize("damage, code", [
    (lambda d: d[: len(d) // 2], "truncated"),
    (lambda d: d[:10], "truncated"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "corrupted"),
    (lambda d: d + b"\0", "corrupted"),
    (lambda d: b"PK\3\4" + d, "not_a_bundle"),
    (lambda d: d.replace(b'"kind":"data"', b'"kind":"dat!"'), "corrupted"),
])
def test_a_damaged_stick_is_refused_with_its_reason_and_applies_nothing(nodes, damage, code):
    laptop, commune, _, clock = nodes
    (written,) = export(laptop, commune, clock, vector={})
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, commune, damage(written.data))
    assert e.value.code == code, e.value.message
    assert local_vector(commune.store) == {}


def test_a_bundle_for_another_node_cannot_be_read(nodes):
    laptop, commune, other, clock = nodes
    (written,) = export(laptop, commune, clock, vector={})
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, other, written.data)
    assert e.value.code == "wrong_recipient" and commune.node_id in e.value.message
    # the header rewritten to name the other node: its key still does not open the box
    header, body = read_header(written.data)
    forged = frame(Header(header.kind, header.id, header.part, header.sender, other.node_id, header.created), body)
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, other, forged)
    assert e.value.code == "unreadable"
    assert local_vector(other.store) == {}


def test_a_bundle_resealed_by_someone_else_is_refused_as_tampered(nodes):
    laptop, commune, _, clock = nodes
    (written,) = export(laptop, commune, clock, vector={})
    header, body = read_header(written.data)
    plain = sealing(commune).open(body)
    # anyone holding the commune's public key can seal; only the laptop can sign
    signature, rest = plain[:64], plain[64:]
    resealed = frame(header, seal(commune.profile.public_key, bytes(64) + rest))
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, commune, resealed)
    assert e.value.code == "tampered"
    # a header edited on the stick (another part number) no longer matches what was signed
    edited = frame(Header(header.kind, header.id, 2, header.sender, header.recipient, header.created), body)
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, commune, edited)
    assert e.value.code == "tampered"
    assert signature and local_vector(commune.store) == {}


def test_max_size_cuts_parts_that_apply_in_order_only(nodes):
    laptop, commune, _, clock = nodes
    for i in range(30):  # text that does not compress away
        laptop.write(UNIT, f"dossier/x{i}", "dossier.received", {"n": i, "text": hashlib.sha512(b"%d" % i).hexdigest()})
    parts = export(laptop, commune, clock, vector={}, max_bytes=4000)
    assert len(parts) > 1
    assert all(len(p.data) <= 4000 for p in parts)
    assert [p.payload.more for p in parts] == [True] * (len(parts) - 1) + [False]
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, commune, parts[1].data)
    assert e.value.code == "out_of_order"
    assert sum(carry_bundle(laptop, commune, p.data) for p in parts) == 60


def test_the_acknowledged_vector_makes_the_next_export_incremental(nodes):
    laptop, commune, _, clock = nodes
    (first,) = export(laptop, commune, clock, vector={})
    carry_bundle(laptop, commune, first.data)
    (ack,) = export(commune, laptop, clock, vector=first.payload.vector, kind="ack", ack_of=first.payload.header.id)
    payload = open_bundle(ack.data, laptop.replica, sealing(laptop))
    (again,) = export(laptop, commune, clock, vector=payload.vector)
    assert again.payload.events == 0


def test_chunks_are_a_reserved_section_refused_until_attachments_exist(nodes):
    laptop, commune, _, clock = nodes
    (written,) = export(laptop, commune, clock, vector={}, chunks_for=lambda runs: [{"hash": "x"}])
    with pytest.raises(BundleError) as e:
        carry_bundle(laptop, commune, written.data)
    assert e.value.code == "unsupported"


def test_the_payload_must_repeat_the_signed_header(nodes):
    laptop, _, _, _ = nodes
    header = Header("data", "0" * 32, 1, laptop.node_id, laptop.node_id, 5)
    with pytest.raises(BundleError) as e:
        check_payload({"header": {**header.core(), "part": 2}}, header, laptop.profile)
    assert e.value.code == "tampered"
    assert hashlib.sha256(join_signed(b"", laptop.profile, b"")).digest()


def test_a_laptops_bundle_is_relayed_upward_by_the_communes_next_network_sync(nodes):
    laptop, commune, _, clock = nodes
    district = make_member(MemoryStore(), "district", "40", clock, "district")
    (written,) = export(laptop, commune, clock, vector={})
    carry_bundle(laptop, commune, written.data)
    assert carry(commune, district) == 30  # the network path, from what the bundle stored
    held = {k: v for k, v in local_vector(district.store).items() if k.startswith(laptop.node_id)}
    assert held == {f"{laptop.node_id}:{UNIT}": 30}
    # and by its next bundle: the district lacks nothing more
    (up,) = export(commune, district, clock, vector=local_vector(district.store))
    assert up.payload.events == 0
