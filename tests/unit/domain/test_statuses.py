"""National status codes, internal states and the configurable mapping between them."""

from __future__ import annotations

import pytest

from node.domain.statuses import (
    DEFAULT_STATUS_MAPPING,
    InternalState,
    InvalidStatusMapping,
    NationalStatus,
    StatusMapping,
    parse_status_mapping,
)


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "Mới đăng ký"),
        (2, "Được tiếp nhận"),
        (3, "Không được tiếp nhận"),
        (4, "Đang xử lý"),
        (5, "Yêu cầu bổ sung giấy tờ"),
        (6, "Yêu cầu thực hiện nghĩa vụ tài chính"),
        (7, "Công dân yêu cầu rút hồ sơ"),
        (8, "Dừng xử lý"),
        (9, "Đã xử lý xong"),
        (10, "Đã trả kết quả"),
    ],
)
def test_national_codes_and_labels(code: int, label: str) -> None:
    assert NationalStatus(code).label == label


def test_exactly_ten_national_codes() -> None:
    assert [int(s) for s in NationalStatus] == list(range(1, 11))


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("online_filed", 1),
        ("received", 2),
        ("refused", 3),
        ("processing", 4),
        ("transferred", 4),
        ("awaiting_signature", 4),
        ("interlinked_pending", 4),
        ("interlinked_returned", 4),
        ("supplemented", 4),
        ("supplement_requested", 5),
        ("fees_pending", 6),
        ("withdrawal_requested", 7),
        ("stopped", 8),
        ("not_processable", 8),
        ("resolved", 9),
        ("returned", 10),
    ],
)
def test_default_mapping(state: str, code: int) -> None:
    assert DEFAULT_STATUS_MAPPING.national(state) == code
    assert InternalState(state).label  # every state has a Vietnamese label


def test_default_mapping_agrees_with_the_dossier_aggregate() -> None:
    dossier = pytest.importorskip("node.domain.dossier")
    for state, code in dossier.NATIONAL_CODE.items():
        assert DEFAULT_STATUS_MAPPING.national(state) == code


def test_mapping_round_trips_through_plain_data() -> None:
    data = DEFAULT_STATUS_MAPPING.to_data()
    assert parse_status_mapping(data) == DEFAULT_STATUS_MAPPING


def test_a_province_can_ship_its_own_mapping() -> None:
    data = DEFAULT_STATUS_MAPPING.to_data()
    data["version"] = "thanh-hoa-2026"
    data["table"] = {**data["table"], "supplemented": 5}  # type: ignore[dict-item]
    mapping = parse_status_mapping(data)
    assert mapping.national(InternalState.SUPPLEMENTED) is NationalStatus.SUPPLEMENT_REQUESTED
    assert mapping.version == "thanh-hoa-2026"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": ""}, "version"),
        ({"table": []}, "table"),
        ({"table": {"received": 2}}, "lacks"),
        ({"table_extra": {"bogus": 4}}, "unknown internal state"),
        ({"table_patch": {"received": 11}}, "bad national code"),
        ({"table_patch": {"received": True}}, "bad national code"),
        ({"table_patch": {"received": "2"}}, "bad national code"),
    ],
)
def test_bad_mappings_are_rejected(change: dict[str, object], message: str) -> None:
    data = DEFAULT_STATUS_MAPPING.to_data()
    table = dict(data["table"])  # type: ignore[call-overload]
    if "table_extra" in change:
        table.update(change.pop("table_extra"))  # type: ignore[arg-type]
        data["table"] = table
    if "table_patch" in change:
        table.update(change.pop("table_patch"))  # type: ignore[arg-type]
        data["table"] = table
    data.update(change)
    with pytest.raises(InvalidStatusMapping, match=message):
        parse_status_mapping(data)


def test_unknown_state_lookup_is_an_error() -> None:
    with pytest.raises(InvalidStatusMapping):
        DEFAULT_STATUS_MAPPING.national("archived")


def test_mapping_is_frozen_against_later_changes_to_the_source_dict() -> None:
    table = dict(DEFAULT_STATUS_MAPPING.table)
    mapping = StatusMapping(version="v", table=table)
    table[InternalState.RECEIVED] = NationalStatus.REFUSED
    assert mapping.national("received") is NationalStatus.ACCEPTED
