"""Print filters: Vietnam time whatever the server's zone, and the date-writing rules of paperwork."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from jinja2 import Environment

from web.formatting import (
    register_filters,
    to_vn,
    vn_date,
    vn_date_words,
    vn_datetime_words,
    vn_number,
    vn_time,
)


def ms(text: str) -> int:
    """Epoch ms of an ISO instant with an explicit offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("instant", "date", "words"),
    [
        ("2026-05-17T13:40:00+07:00", "17/05/2026", "13 giờ 40 phút, ngày 17 tháng 5 năm 2026"),
        # 17:30 UTC is already the next morning in Vietnam: the slip must show the Vietnamese day.
        ("2026-05-17T17:30:00+00:00", "18/05/2026", "00 giờ 30 phút, ngày 18 tháng 5 năm 2026"),
        # Nghị định 30/2020: days below 10 and months 1, 2 take a leading zero; other months do not.
        ("2026-01-05T08:05:00+07:00", "05/01/2026", "08 giờ 05 phút, ngày 05 tháng 01 năm 2026"),
        ("2026-02-09T16:59:00+07:00", "09/02/2026", "16 giờ 59 phút, ngày 09 tháng 02 năm 2026"),
        ("2026-03-01T07:30:00+07:00", "01/03/2026", "07 giờ 30 phút, ngày 01 tháng 3 năm 2026"),
        ("2026-12-31T23:59:00+07:00", "31/12/2026", "23 giờ 59 phút, ngày 31 tháng 12 năm 2026"),
    ],
)
def test_dates_in_vietnam_time(instant, date, words):
    assert vn_date(ms(instant)) == date
    assert vn_datetime_words(ms(instant)) == words
    assert vn_date_words(ms(instant)) == words.split(", ", 1)[1]


def test_datetimes_are_accepted_too():
    aware = datetime(2026, 5, 17, 17, 30, tzinfo=UTC)
    assert vn_date(aware) == "18/05/2026"
    assert vn_time(aware) == "00:30"
    naive = datetime(2026, 5, 17, 9, 5)  # naive means Vietnam wall-clock time
    assert vn_datetime_words(naive) == "09 giờ 05 phút, ngày 17 tháng 5 năm 2026"
    assert to_vn(datetime(2026, 5, 17, 9, 5, tzinfo=timezone(timedelta(hours=9)))).hour == 7


def test_missing_values_print_empty():
    for f in (vn_date, vn_time, vn_date_words, vn_datetime_words, vn_number):
        assert f(None) == ""


def test_register_filters_names_every_filter():
    class Host:
        def __init__(self):
            self.filters = {}

        def add_app_template_filter(self, f, name=None):
            self.filters[name] = f

    host = Host()
    register_filters(host)
    assert host.filters["vn_datetime_words"] is vn_datetime_words
    assert set(host.filters) == {"vn_date", "vn_time", "vn_date_words", "vn_datetime_words", "vn_number"}


def test_undefined_from_a_missing_key_prints_empty():
    env = Environment()
    env.filters.update({"vn_date": vn_date, "vn_datetime_words": vn_datetime_words, "vn_number": vn_number})
    template = env.from_string("[{{ d.nope | vn_date }}|{{ d.nope | vn_datetime_words }}|{{ d.nope | vn_number }}]")
    assert template.render(d={}) == "[||]"


@pytest.mark.parametrize("bad", ["2026-05-17", 1.5e12, True])
def test_anything_else_is_a_bug(bad):
    with pytest.raises(TypeError, match="not an instant"):
        vn_date(bad)


@pytest.mark.parametrize(("amount", "text"), [(0, "0"), (8000, "8.000"), (1_500_000, "1.500.000")])
def test_amounts_use_dots_for_thousands(amount, text):
    assert vn_number(amount) == text
