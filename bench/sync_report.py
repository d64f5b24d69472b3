"""The sync bench's report: medians, the motcua/PouchDB table and the DESIGN §7 targets
(:mod:`bench.sync_bench`)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.sync_nodes import MIB
from bench.sync_phases import COLUMNS, PHASES, IngestRun, Phase

# ----------------------------------------------------------------------------- report


def median_phase(phases: Sequence[Phase]) -> dict[str, float]:
    return {c: statistics.median(getattr(p, c) for p in phases) for c in COLUMNS}


def fmt_bytes(b: float) -> str:
    if b >= MIB:
        return f"{b / MIB:.2f} MiB"
    if b >= 1024:
        return f"{b / 1024:.1f} KiB"
    return f"{b:.0f} B"


def fmt_col(col: str, v: float) -> str:
    if col == "requests":
        return f"{v:g}"
    if col == "wall_s":
        return f"{v:.2f} s"
    return fmt_bytes(v)


def fmt_ratio(m: float, p: float) -> str:
    if not p:
        return "—"
    r = m / p
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


@dataclass
class Link:
    rtt_ms: float
    n: int
    runs: int
    motcua: dict[str, dict[str, float]] = field(default_factory=dict)
    motcua_runs: list[dict[str, Any]] = field(default_factory=list)
    pouch: dict[str, Any] | None = None
    pouch_error: str = ""

    @property
    def label(self) -> str:
        return "loopback" if not self.rtt_ms else f"+{self.rtt_ms:g} ms RTT"


def format_table(links: Sequence[Link], hub_db: str) -> str:
    head = ("| link | N | phase | peer | HTTP requests | bytes up | bytes down | total bytes | wall time |\n"
            "|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for link in links:
        for name, letter, label in PHASES:
            m = link.motcua.get(name)
            if m is None:
                lines.append(f"| {link.label} | {link.n:,} | {label} | motcua (hub {hub_db}) | every run failed "
                             "| | | | |")
            else:
                lines.append(f"| {link.label} | {link.n:,} | {label} | motcua (hub {hub_db}) | "
                             + " | ".join(fmt_col(c, m[c]) for c in COLUMNS) + " |")
            if link.pouch:
                p = link.pouch["phases"][name]
                lines.append(f"| | | | PouchDB ({letter}) | " + " | ".join(fmt_col(c, p[c]) for c in COLUMNS) + " |")
                if m is not None:
                    ratios = " | ".join(fmt_ratio(m[c], p[c]) for c in COLUMNS)
                    lines.append(f"| | | | **motcua/PouchDB** | {ratios} |")
            else:
                lines.append(f"| | | | PouchDB ({letter}) | n/a | n/a | n/a | n/a | {link.pouch_error or 'skipped'} |")
    return "\n".join(lines)


@dataclass
class Target:
    what: str
    value: float | None
    limit: float
    unit: str  # "req", "B", "s", "ev/s"
    higher_is_better: bool = False

    def line(self) -> str:
        def show(v: float) -> str:
            if self.unit == "B":
                return fmt_bytes(v)
            if self.unit == "s":
                return f"{v:.2f} s"
            if self.unit == "ev/s":
                return f"{v:,.0f} events/s"
            return f"{v:g} request{'s' if v != 1 else ''}"

        op = "≥" if self.higher_is_better else "≤"
        if self.value is None:
            return f"- NOT MEASURED  {self.what}: target {op} {show(self.limit)}"
        ok = self.value >= self.limit if self.higher_is_better else self.value <= self.limit
        if ok:
            margin = (f"{self.value / self.limit:.2f}× the target" if self.higher_is_better
                      else f"{self.value / self.limit:.0%} of the budget, {show(self.limit - self.value)} to spare")
            return f"- met     {self.what}: {show(self.value)} (target {op} {show(self.limit)}; {margin})"
        if self.higher_is_better:
            margin = f"{self.value / self.limit:.0%} of the target, needs {self.limit / self.value:.2f}× faster"
        else:
            margin = f"{self.value / self.limit:.2f}× the target, {show(self.value - self.limit)} over"
        return f"- MISSED  {self.what}: {show(self.value)} (target {op} {show(self.limit)}; {margin})"


def design_targets(links: Sequence[Link], ingest: dict[str, list[IngestRun]]) -> list[Target]:
    loop = next((x for x in links if not x.rtt_ms), None)
    slow = next((x for x in links if x.rtt_ms == 300), None)
    noop_link = slow if slow is not None and slow.motcua else loop

    def get(link: Link | None, phase: str, col: str) -> float | None:
        return None if link is None or phase not in link.motcua else link.motcua[phase][col]

    def rate(backend: str) -> float | None:
        runs = ingest.get(backend) or []
        return statistics.median(r.events_per_s for r in runs) if runs else None

    return [
        Target("push: HTTP requests (loopback)", get(loop, "push", "requests"), 20, "req"),
        Target("push: bytes on the wire (loopback)", get(loop, "push", "bytes_total"), 2.6 * MIB, "B"),
        Target("push: wall time on loopback", get(loop, "push", "wall_s"), 2.0, "s"),
        Target("push: wall time at +300 ms RTT", get(slow, "push", "wall_s"), 5.0, "s"),
        Target("no-op sync: HTTP requests", get(noop_link, "noop", "requests"), 1, "req"),
        Target("no-op sync: bytes on the wire", get(noop_link, "noop", "bytes_total"), 1024, "B"),
        Target("no-op sync: wall time at +300 ms RTT", get(slow, "noop", "wall_s"), 0.4, "s"),
        Target("fresh node pulls N dossiers at +300 ms RTT", get(slow, "pull", "wall_s"), 5.0, "s"),
        Target("hub ingest on SQLite (verify + insert + project + commit)", rate("sqlite"), 10_000, "ev/s", True),
        Target("hub ingest on PostgreSQL (verify + insert + project + commit)", rate("postgresql"), 10_000, "ev/s",
               True),
    ]


def format_ingest(ingest: dict[str, list[IngestRun]], n: int) -> str:
    lines = [f"Hub ingest, {3 * n:,} events ({n:,} dossiers × 3), one thread, median of runs:"]
    for backend, runs in ingest.items():
        if not runs:
            continue
        med = statistics.median
        lines.append(
            f"- {backend:<10}: {med(r.events_per_s for r in runs):>9,.0f} events/s ingest "
            f"(verify + insert + projection + commit; {med(r.ingest_s for r in runs):.2f} s, "
            f"{runs[0].batches} batches); {med(r.with_decode_per_s for r in runs):,.0f} events/s with "
            f"zstd+JSON decode ({med(r.decode_s for r in runs):.2f} s); client build+encode "
            f"{med(r.build_s for r in runs):.2f} s for {fmt_bytes(runs[0].wire_bytes)} of bodies"
        )
    return "\n".join(lines)
