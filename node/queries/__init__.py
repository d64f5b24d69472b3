"""Read models for the web UI, one module per concept: :mod:`~node.queries.dashboard` (today's
intake, due soon, overdue), :mod:`~node.queries.search`, :mod:`~node.queries.provenance` (the
verification marks of a timeline), :mod:`~node.queries.network` (district: sync log and node
health) and :mod:`~node.queries.statistics` (district: per-unit figures and late dossiers).

Everything here only *reads* the derived tables, the event store and the sync ledger; writes go
through :class:`node.services.Node`. Queries are written to stay fast with 100,000 dossiers on a
node (bench/ui_bench.py): each uses an index range and a LIMIT, and counts that could touch the
whole table are capped (:data:`node.queries.bounds.COUNT_CAP`) rather than scanned.

Time is always passed in (``now`` in epoch ms); "today" is the Vietnam calendar day
(:mod:`node.domain.vietnam_time`).
"""
