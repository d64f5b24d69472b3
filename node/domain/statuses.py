"""National dossier status codes (DVCQG ``TrangThaiHoSo``) and the internal → national mapping.

Responsibility: name the ten national codes of domain.md §2.1 with their official Vietnamese
labels, name the richer internal states a one-stop system keeps (§2.1, "internal states seen in
one system"), and map the latter onto the former through a table that is *data*: a province can
ship its own mapping, versioned, and the node applies it without code changes.

Invariants
----------
- The national codes are exactly 1..10; their meaning is fixed by DVCQG and never configured.
- A :class:`StatusMapping` maps every internal state it knows to one national code; building one
  from data rejects unknown states, unknown codes and missing states (no silent defaults).
- The default mapping agrees with ``node.domain.dossier.NATIONAL_CODE`` for the ten statuses the
  dossier aggregate uses, and adds the finer states (awaiting signature, inter-linked, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType


class InvalidStatusMapping(ValueError):
    """Raised when a status-mapping table (data) is malformed or incomplete."""


class NationalStatus(IntEnum):
    """DVCQG dossier status codes (domain.md §2.1)."""

    NEWLY_FILED = 1
    ACCEPTED = 2
    REFUSED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    AWAITING_FINANCIAL_OBLIGATION = 6
    WITHDRAWAL_REQUESTED = 7
    STOPPED = 8
    RESOLVED = 9
    RETURNED = 10

    @property
    def label(self) -> str:
        """The official Vietnamese label."""
        return NATIONAL_LABELS[self]


NATIONAL_LABELS: Mapping[NationalStatus, str] = MappingProxyType(
    {
        NationalStatus.NEWLY_FILED: "Mới đăng ký",
        NationalStatus.ACCEPTED: "Được tiếp nhận",
        NationalStatus.REFUSED: "Không được tiếp nhận",
        NationalStatus.PROCESSING: "Đang xử lý",
        NationalStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
        NationalStatus.AWAITING_FINANCIAL_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
        NationalStatus.WITHDRAWAL_REQUESTED: "Công dân yêu cầu rút hồ sơ",
        NationalStatus.STOPPED: "Dừng xử lý",
        NationalStatus.RESOLVED: "Đã xử lý xong",
        NationalStatus.RETURNED: "Đã trả kết quả",
    }
)


class InternalState(StrEnum):
    """Internal states of a dossier on the node; values are stable identifiers stored in events."""

    # The ten statuses of the dossier aggregate (node.domain.dossier.STATUSES).
    ONLINE_FILED = "online_filed"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    FEES_PENDING = "fees_pending"
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    STOPPED = "stopped"
    RESOLVED = "resolved"
    RETURNED = "returned"
    # Finer states seen in real one-stop systems (§2.1); optional for the aggregate.
    TRANSFERRED = "transferred"
    AWAITING_SIGNATURE = "awaiting_signature"
    INTERLINKED_PENDING = "interlinked_pending"
    INTERLINKED_RETURNED = "interlinked_returned"
    SUPPLEMENTED = "supplemented"
    NOT_PROCESSABLE = "not_processable"

    @property
    def label(self) -> str:
        """A Vietnamese label for staff screens."""
        return INTERNAL_LABELS[self]


INTERNAL_LABELS: Mapping[InternalState, str] = MappingProxyType(
    {
        InternalState.ONLINE_FILED: "Nộp trực tuyến, chờ tiếp nhận",
        InternalState.RECEIVED: "Mới tiếp nhận",
        InternalState.REFUSED: "Từ chối tiếp nhận",
        InternalState.PROCESSING: "Đang xử lý",
        InternalState.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
        InternalState.FEES_PENDING: "Chờ thực hiện nghĩa vụ tài chính",
        InternalState.WITHDRAWAL_REQUESTED: "Công dân xin rút hồ sơ",
        InternalState.STOPPED: "Dừng xử lý",
        InternalState.RESOLVED: "Đã có kết quả, chờ trả",
        InternalState.RETURNED: "Đã trả kết quả",
        InternalState.TRANSFERRED: "Đã chuyển bộ phận chuyên môn",
        InternalState.AWAITING_SIGNATURE: "Chờ ký duyệt",
        InternalState.INTERLINKED_PENDING: "Chờ xử lý liên thông",
        InternalState.INTERLINKED_RETURNED: "Đã nhận kết quả liên thông",
        InternalState.SUPPLEMENTED: "Đã bổ sung, chờ tiếp nhận lại",
        InternalState.NOT_PROCESSABLE: "Không đủ điều kiện giải quyết",
    }
)

DEFAULT_MAPPING_VERSION = "default-2026.1"

# Why these choices: TRANSFERRED .. INTERLINKED_RETURNED are all "someone is working on it" (4).
# SUPPLEMENTED maps to 4 because the 766 rule stops the supplement pause at completion, i.e. when
# the citizen hands the papers in, not when staff re-accept them. NOT_PROCESSABLE is a stop (8).
DEFAULT_MAPPING: Mapping[InternalState, NationalStatus] = MappingProxyType(
    {
        InternalState.ONLINE_FILED: NationalStatus.NEWLY_FILED,
        InternalState.RECEIVED: NationalStatus.ACCEPTED,
        InternalState.REFUSED: NationalStatus.REFUSED,
        InternalState.PROCESSING: NationalStatus.PROCESSING,
        InternalState.SUPPLEMENT_REQUESTED: NationalStatus.SUPPLEMENT_REQUESTED,
        InternalState.FEES_PENDING: NationalStatus.AWAITING_FINANCIAL_OBLIGATION,
        InternalState.WITHDRAWAL_REQUESTED: NationalStatus.WITHDRAWAL_REQUESTED,
        InternalState.STOPPED: NationalStatus.STOPPED,
        InternalState.RESOLVED: NationalStatus.RESOLVED,
        InternalState.RETURNED: NationalStatus.RETURNED,
        InternalState.TRANSFERRED: NationalStatus.PROCESSING,
        InternalState.AWAITING_SIGNATURE: NationalStatus.PROCESSING,
        InternalState.INTERLINKED_PENDING: NationalStatus.PROCESSING,
        InternalState.INTERLINKED_RETURNED: NationalStatus.PROCESSING,
        InternalState.SUPPLEMENTED: NationalStatus.PROCESSING,
        InternalState.NOT_PROCESSABLE: NationalStatus.STOPPED,
    }
)


@dataclass(frozen=True)
class StatusMapping:
    """A versioned internal-state → national-code table."""

    version: str
    table: Mapping[InternalState, NationalStatus] = field(default_factory=lambda: DEFAULT_MAPPING)

    def __post_init__(self) -> None:
        missing = set(InternalState) - set(self.table)
        if missing:
            names = ", ".join(sorted(s.value for s in missing))
            raise InvalidStatusMapping(f"Bảng ánh xạ thiếu trạng thái / mapping lacks states: {names}")
        # Freeze a private copy so a caller's dict cannot change the mapping afterwards.
        object.__setattr__(self, "table", MappingProxyType(dict(self.table)))

    def national(self, state: InternalState | str) -> NationalStatus:
        """The national code for an internal state (accepts the state's string value)."""
        try:
            return self.table[InternalState(state)]
        except ValueError:
            raise InvalidStatusMapping(f"Trạng thái không xác định / unknown internal state {state!r}") from None

    def to_data(self) -> dict[str, object]:
        """Plain data (JSON-ready) for syncing the table down as a record."""
        return {"version": self.version, "table": {s.value: int(c) for s, c in self.table.items()}}


def parse_status_mapping(data: Mapping[str, object]) -> StatusMapping:
    """Build a :class:`StatusMapping` from plain data; raises :class:`InvalidStatusMapping`."""
    version = data.get("version")
    table = data.get("table")
    if not isinstance(version, str) or not version:
        raise InvalidStatusMapping("Thiếu phiên bản / 'version' must be a non-empty string")
    if not isinstance(table, Mapping):
        raise InvalidStatusMapping("'table' must be an object {internal_state: national_code}")
    parsed: dict[InternalState, NationalStatus] = {}
    for key, code in table.items():
        try:
            state = InternalState(key)
        except ValueError:
            raise InvalidStatusMapping(f"Trạng thái không xác định / unknown internal state {key!r}") from None
        # bool is an int subclass; True must not sneak in as code 1.
        if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= len(NationalStatus):
            raise InvalidStatusMapping(f"Mã trạng thái quốc gia không hợp lệ / bad national code {code!r} for {key}")
        parsed[state] = NationalStatus(code)
    return StatusMapping(version=version, table=parsed)


DEFAULT_STATUS_MAPPING = StatusMapping(version=DEFAULT_MAPPING_VERSION)

# Terminal national codes in the order the 766 formula prefers them for "end of processing".
END_PREFERENCE: tuple[NationalStatus, ...] = (
    NationalStatus.RESOLVED,
    NationalStatus.RETURNED,
    NationalStatus.STOPPED,
    NationalStatus.REFUSED,
)
