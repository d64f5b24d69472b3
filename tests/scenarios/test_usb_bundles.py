"""Sync with no link at all: a laptop's work reaches the district on USB sticks, through its
commune, and the acknowledgements travel back (issue 18).

Real ``motcua`` processes, no server, no network path between the nodes: only files move, the
way a stick does (a folder per stick here). The recipients' certificates travel the same way
(each node's ``node.pem``, which is public). At the end the district holds the laptop's work
with the same digest as the commune, and a networked-sync twin (the commune's own held state);
a replayed, a tampered and a misdelivered bundle are refused with their reason.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode, certify

UNIT, PROVINCE = "17272", "40"


def three_nodes(root, district_ca) -> tuple[RealNode, RealNode, RealNode]:
    district = RealNode("Hub Nghệ An", "district", PROVINCE, root / "district")
    commune = RealNode("Xã Tân Phú", "commune", UNIT, root / "commune")
    laptop = RealNode("Tổ lưu động Tân Phú", "mobile", UNIT, root / "laptop")
    for node in (district, commune, laptop):
        node.init()
        certify(node, district_ca)
    laptop.cli("seed-demo", "--count", "4")  # taken in a hamlet, no link
    return district, commune, laptop


def carry_up(district: RealNode, commune: RealNode, laptop: RealNode, stick) -> tuple:
    """laptop -> stick -> commune -> stick -> district; only files move."""
    stick.mkdir()
    for node in (district, commune):  # a certificate is public: it rides on the stick
        shutil.copy(node.data_dir / "node.pem", stick / f"{node.role}.pem")
    up1 = stick / "laptop-to-commune.bundle"
    out = laptop.cli("bundle", "export", "--to", str(up1), "--for", str(stick / "commune.pem")).stdout
    assert f"{len(laptop.own_events())} events" in out
    commune.cli("bundle", "import", str(up1))
    # relayed upward by the commune's next bundle, signed by the laptop, verified by the district
    up2 = stick / "commune-to-district.bundle"
    commune.cli("bundle", "export", "--to", str(up2), "--for", str(stick / "district.pem"))
    district.cli("bundle", "import", str(up2))
    return up1, up2


def test_laptop_to_commune_to_district_on_sticks_and_acknowledgements_back(tmp_path, district_ca):
    district, commune, laptop = three_nodes(tmp_path, district_ca)
    work = laptop.own_events()
    assert work
    stick = tmp_path / "stick"
    up1, up2 = carry_up(district, commune, laptop, stick)
    assert work <= commune.events()
    assert work <= district.events()
    # the same state on both ends (the networked twin: test_the_district_digest_equals_a_networked_syncs)
    assert district.cli("digest").stdout == commune.cli("digest").stdout

    # acknowledgements back: the commune then the laptop learn what arrived; nothing to resend
    commune.cli("bundle", "import", str(up2) + ".ack")
    laptop.cli("bundle", "import", str(up1) + ".ack")
    con = sqlite_connect(f"file:{laptop.db_path}?mode=ro", uri=True)
    (outcome,) = con.execute("SELECT outcome FROM sync_session WHERE side = 'client' AND link = 'usb'").fetchone()
    con.close()
    assert outcome == "ok"  # the laptop's export, acknowledged

    # bad sticks, each refused with its reason and nothing applied
    before = district.events()
    tampered = stick / "tampered.bundle"
    data = bytearray(up2.read_bytes())
    data[-100] ^= 0x01
    tampered.write_bytes(bytes(data))
    bad = district.cli("bundle", "import", str(up2), str(tampered), str(up1), check=False)
    assert bad.returncode == 1
    replayed, corrupted, wrong = bad.stderr.strip().splitlines()
    assert "(replayed)" in replayed and "(corrupted)" in corrupted
    assert "(wrong_recipient)" in wrong and commune.node_id in wrong
    assert district.events() == before
    con = sqlite_connect(f"file:{district.db_path}?mode=ro", uri=True)
    lines = con.execute("SELECT side, link, peer, events_in, outcome FROM sync_session").fetchall()
    con.close()
    assert ("server", "usb", commune.node_id, len(work) + len(commune.own_events()), "ok") in lines


@pytest.mark.slow
def test_the_district_digest_equals_a_networked_syncs(tmp_path, district_ca):
    """The same three nodes, copied before anything moves: one world carries on sticks, its twin
    syncs over https; the two districts end with the same digest."""
    district, commune, laptop = three_nodes(tmp_path / "usb", district_ca)
    twins = []
    for node in (district, commune, laptop):
        shutil.copytree(node.data_dir, tmp_path / "net" / node.data_dir.name)
        twins.append(replace(node, data_dir=tmp_path / "net" / node.data_dir.name, port=0, process=None, tokens={}))
    carry_up(district, commune, laptop, tmp_path / "stick")
    net_district, net_commune, net_laptop = twins
    net_district.start()
    try:
        net_commune.start()
        try:
            net_laptop.cli("sync", "--peer", net_commune.url)
        finally:
            net_commune.stop()
        net_commune.cli("sync", "--peer", net_district.url)
    finally:
        net_district.stop()
    assert laptop.own_events() <= net_district.events()
    assert district.cli("digest").stdout == net_district.cli("digest").stdout
