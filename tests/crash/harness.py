"""Kill-point harness: writers run in a forked child that is SIGKILLed mid-write; the parent then
reopens the store and checks it.

Why a fork and not a server: a fork costs a few milliseconds, so thousands of kill points fit in a
CI minute; the write path (node.writer.EventWriter, sync ingest, rebuild) is the same code the
server runs. Each kill point starts from a copy of a *template* data directory built once.

The child runs a fixed script of writes (:data:`SCRIPT`). Before it would answer a caller it
reports the write as acknowledged through a pipe (one JSON line: the hashes of the events the
write recorded, and the marker of a created dossier). It dies either at the ``n``-th call of the
writer's step hook (``EventWriter.step``: after append, after projection, before commit, after
commit before the answer) or when the parent's random timer fires.

Invariants checked after each kill (:func:`check`):
* every acknowledged event is in the store exactly once, every acknowledged dossier exists once;
* no dossier marker exists twice (a write is never doubled);
* ``verify`` passes on every feed;
* the derived state's digest equals the digest after a rebuild from the events.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee as pw

from node.db import open_database
from node.models import DossierRow
from node.reference import seed_catalogue_data
from node.services import Node
from node.signing import KEY_FILE, NodeKey
from sync.outbox import local_vector
from tests.factories import FakeClock, approve_calendar, init_node_dir, make_settings, sample_dossier
from tests.multinode import carry, use

DISTRICT_UNIT = "40"


@dataclass
class Template:
    """A data directory (and its state directory) to copy per kill, plus a batch to ingest."""

    root: Path
    role: str
    unit: str
    batch: Any = None  # sync.outbox.Outgoing from another commune, for the child to ingest
    sender: Any = None  # that commune's profile

    @property
    def data_dir(self) -> Path:
        return self.root / "node"

    def copy_to(self, dest: Path) -> Path:
        shutil.copytree(self.root, dest)
        return dest / "node"


@dataclass
class Counts:
    kill_points: int = 0
    at_step: int = 0
    at_random: int = 0
    finished: int = 0  # the child ended its script before the kill
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    verify_failures: int = 0
    mismatches: int = 0
    by_step: dict[str, int] = field(default_factory=dict)  # kill points per named step
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"kill points {self.kill_points} (at a step {self.at_step}, at random {self.at_random}, "
                f"script finished first {self.finished}); acknowledged writes {self.acked}; lost {self.lost}, "
                f"duplicated {self.duplicated}, verify failures {self.verify_failures}, "
                f"derived-state mismatches {self.mismatches}; at steps {dict(sorted(self.by_step.items()))}")


def open_at(data_dir: Path, role: str, unit: str, clock: Callable[[], int]) -> Node:
    settings = make_settings(data_dir, role=role, unit=unit, DEV_OPEN_TRUST=True)
    node = Node(settings, open_database(settings), NodeKey.load(data_dir / KEY_FILE), clock)
    use(node)
    return node


def build_templates(root: Path) -> tuple[Template, Template]:
    """A district that published the reference data, a commune holding it and a few dossiers,
    and a batch of the district's next publication that the commune has not ingested yet."""
    clock = FakeClock()
    district = Template(root / "district", "district", DISTRICT_UNIT)
    commune = Template(root / "commune", "commune", "17272")
    for t in (district, commune):
        init_node_dir(t.data_dir, t.role, t.unit, encrypted=False)  # at rest is not what is tested here
    d = open_at(district.data_dir, district.role, district.unit, clock)
    approve_calendar(d)
    d.publish_reference("admin")
    c = open_at(commune.data_dir, commune.role, commune.unit, clock)
    carry(d, c)
    use(c)
    for i in range(3):
        c.create_dossier("canbo", sample_dossier(name=f"Mẫu {i}"))
    vector = local_vector(c.store)
    use(d)
    data = copy.deepcopy(seed_catalogue_data())
    data["version"] = "kill-template-2"
    d.publish_reference("admin", catalogue=data, kinds=("catalogue",))
    commune.batch = d.replica.outgoing_for(c.profile, vector)
    commune.sender = d.profile
    assert commune.batch.runs, "the commune must lack the district's new publication"
    for n in (d, c):
        n.close()
    return district, commune


# -- the child ------------------------------------------------------------------------------------

def _key(event: Any) -> list[Any]:
    """What names an event in the store: its feed position, and what it is about."""
    return [event.origin, event.scope, event.seq, event.entity, event.type]


def _commune_script(node: Node, template: Template, ack: Callable[[dict[str, Any]], None],
                    recorded: list[list[Any]]) -> None:
    def create(marker: str) -> None:
        recorded.clear()
        state = node.create_dossier("canbo", sample_dossier(name=marker))
        node.writer.step("answer", None)
        ack({"refs": list(recorded), "marker": marker, "dossier": state.id})

    def status(dossier_id: str, to: str) -> None:
        recorded.clear()
        node.change_status("canbo", dossier_id, to)
        node.writer.step("answer", None)
        ack({"refs": list(recorded)})

    run = uuid.uuid4().hex[:8]
    create(f"Kill {run} 1")
    first = DossierRow.select().where(DossierRow.applicant_name == f"Kill {run} 1").get().id
    status(first, "processing")
    create(f"Kill {run} 2")
    batch = template.batch
    node.replica.ingest(batch.runs, batch.profiles, template.sender, uuid.uuid4().hex)
    node.writer.step("committed", None)
    ack({"refs": [[r.origin, r.scope, r.start + i, None, None] for r in batch.runs for i in range(len(r.events))]})
    node.rebuild()
    node.writer.step("answer", None)
    create(f"Kill {run} 3")


def _district_script(node: Node, template: Template, ack: Callable[[dict[str, Any]], None],
                     recorded: list[list[Any]]) -> None:
    data = copy.deepcopy(seed_catalogue_data())
    for i in range(2):
        data["version"] = f"kill-{uuid.uuid4().hex[:6]}-{i}"
        recorded.clear()
        node.publish_reference("admin", catalogue=data, kinds=("catalogue",))
        node.writer.step("answer", None)
        ack({"refs": list(recorded)})
    node.rebuild()


SCRIPT = {"commune": _commune_script, "district": _district_script}


def _child(template: Template, data_dir: Path, kill_at: int, out: int) -> None:
    """Run the script; SIGKILL self at the ``kill_at``-th step (0: never, the parent's timer)."""
    calls = 0
    recorded: list[list[Any]] = []

    def step(name: str, event: Any = None) -> None:
        nonlocal calls
        if event is not None and name == "appended":
            recorded.append(_key(event))
        calls += 1
        if calls == kill_at:
            os.write(out, (json.dumps({"killed_at": name}) + "\n").encode())
            os.kill(os.getpid(), signal.SIGKILL)

    def ack(what: dict[str, Any]) -> None:
        os.write(out, (json.dumps(what) + "\n").encode())

    node = open_at(data_dir, template.role, template.unit, FakeClock(1_779_000_000_000 + 3_600_000))
    node.writer.step = step
    SCRIPT[template.role](node, template, ack, recorded)
    os.write(out, f'{{"steps": {calls}}}\n'.encode())


def run_child(template: Template, data_dir: Path, kill_at: int = 0,
              kill_after_s: float | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Fork, run the script in the child, kill it as told; (acks, killed)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(r)
            _child(template, data_dir, kill_at, w)
        except BaseException:  # reported through the exit code, the traceback on stderr
            import traceback

            traceback.print_exc()
            code = 3
        os._exit(code)
    os.close(w)
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        os.kill(pid, signal.SIGKILL)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status)
    if not killed and os.WEXITSTATUS(status) != 0:
        raise AssertionError(f"the child failed (exit {os.WEXITSTATUS(status)}) before its kill point")
    lines = [json.loads(line) for line in data.decode().splitlines() if line]
    return lines, killed


def check(template: Template, data_dir: Path, acks: list[dict[str, Any]], counts: Counts) -> None:
    """Reopen the store after a kill and count what breaks an invariant."""
    node = open_at(data_dir, template.role, template.unit, FakeClock())
    try:
        E = node.store.rows.Event
        for a in (a for a in acks if "refs" in a):
            counts.acked += 1
            for origin, scope, seq, entity, type_ in a["refs"]:
                ref = f"{origin}/{scope}/{seq}"
                query = E.select().where((E.origin == origin) & (E.scope == scope) & (E.seq == seq))
                if entity is not None:  # a received event is named by its feed position alone
                    query = query.where((E.entity == entity) & (E.type == type_))
                n = query.count()
                if n == 0:
                    counts.lost += 1
                    counts.problems.append(f"lost event {ref} in {data_dir}")
                elif n > 1:
                    counts.duplicated += 1
            if "marker" in a and not DossierRow.select().where(DossierRow.id == a["dossier"]).exists():
                counts.lost += 1
                counts.problems.append(f"lost dossier {a['dossier']} in {data_dir}")
        doubled = (DossierRow.select(DossierRow.applicant_name).where(DossierRow.applicant_name.startswith("Kill "))
                   .group_by(DossierRow.applicant_name).having(pw.fn.COUNT(DossierRow.id) > 1).count())
        counts.duplicated += doubled
        bad = [r for r in node.verify() if not r.ok]
        if bad:
            counts.verify_failures += 1
            counts.problems.append(f"verify in {data_dir}: {bad}")
        before = node.digest()
        node.rebuild()
        if node.digest() != before:
            counts.mismatches += 1
            counts.problems.append(f"derived state differs from a rebuild in {data_dir}")
    finally:
        node.close()


def dry_run(template: Template, work: Path) -> tuple[int, float]:
    """How many steps the script calls, and how long the child takes to its end, unkilled."""
    times = []
    for n in range(3):  # the fastest of three: a timer past the end of the script kills nothing
        started = time.monotonic()
        lines, _ = run_child(template, template.copy_to(work / f"dry-{template.role}-{n}"))
        times.append(time.monotonic() - started)
    return lines[-1]["steps"], min(times)


def campaign(templates: tuple[Template, ...], work: Path, kills: int, seed: int = 14) -> Counts:
    """``kills`` kill points: every step of each script in turn, alternating with random instants.
    A child that ends its script before the random timer is checked too but is no kill point."""
    rng = random.Random(seed)
    plans = {t.role: dry_run(t, work) for t in templates}
    counts = Counts()
    i = 0
    while counts.kill_points < kills:
        t = templates[i % len(templates)]
        steps, duration = plans[t.role]
        data_dir = t.copy_to(work / f"k{i}")
        round_ = i // len(templates)
        if round_ % 2 == 0:  # at each instrumented step in turn
            acks, killed = run_child(t, data_dir, kill_at=1 + (round_ // 2) % steps)
            counts.at_step += killed
        else:  # at a random instant of the script
            acks, killed = run_child(t, data_dir, kill_after_s=rng.uniform(0, duration))
            counts.at_random += killed
        counts.finished += not killed
        counts.kill_points += killed
        for a in acks:
            if "killed_at" in a:
                counts.by_step[a["killed_at"]] = counts.by_step.get(a["killed_at"], 0) + 1
        check(t, data_dir, [a for a in acks if "refs" in a], counts)
        shutil.rmtree(data_dir.parent)
        i += 1
    return counts
