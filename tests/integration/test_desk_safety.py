"""Issue 13.2 through the Flask test client: no destructive default on the dossier page.

The next-step list starts on no step; refusal, supplement request, withdrawal and stop need a
reason in the form, the API and the use case (the printed slip carries it); a final step is
recorded only with the confirmation box ticked. The browser side is
tests/browser/test_desk_safety.py.
"""

from __future__ import annotations

import re

import pytest

from node.domain.dossier import CONFIRM_REQUIRED, REASON_REQUIRED, TRANSITIONS
from node.domain.errors import DomainError
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, token_of


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    return c


def post_step(client, dossier_id: str, **form):
    data = {"csrf_token": token_of(client, "/mot-cua/"), **form}
    return client.post(f"/mot-cua/ho-so/{dossier_id}/trang-thai", data=data, follow_redirects=True)


def test_the_step_list_starts_on_no_step(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    page = client.get(f"/mot-cua/ho-so/{d.id}").text
    select = re.search(r'<select id="f-to".*?</select>', page, re.S).group(0)
    assert re.search(r'<option value="" selected disabled>', select)
    assert 'required' in select.split(">")[0]
    assert len(re.findall(r"\bselected\b", select)) == 1  # no real step is preselected


def test_a_refusal_without_reason_or_confirmation_is_not_recorded(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    blank = post_step(client, d.id, to="refused", reason="  ", confirm="1")
    assert "cần ghi lý do" in blank.text
    unconfirmed = post_step(client, d.id, to="refused", reason="Không thuộc thẩm quyền")
    assert "không hoàn tác được" in unconfirmed.text
    assert sqlite_node.get_dossier(d.id).status == "received"
    done = post_step(client, d.id, to="refused", reason="Không thuộc thẩm quyền", confirm="1")
    assert "Đã chuyển hồ sơ sang trạng thái" in done.text
    assert sqlite_node.get_dossier(d.id).status == "refused"
    slip = client.get(f"/in/{d.id}/tu-choi").text
    assert "Không thuộc thẩm quyền" in slip


def test_a_forward_step_needs_neither(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    post_step(client, d.id, to="processing")
    assert sqlite_node.get_dossier(d.id).status == "processing"


@pytest.mark.parametrize("to", sorted(REASON_REQUIRED))
def test_the_api_and_the_use_case_want_a_reason(app, sqlite_node, to):
    d = sqlite_node.create_dossier("t", sample_dossier())
    if to not in TRANSITIONS["received"]:
        sqlite_node.change_status("t", d.id, "processing")
    with pytest.raises(DomainError) as e:
        sqlite_node.change_status("t", d.id, to, "")
    assert e.value.field == "reason"
    assert sqlite_node.change_status("t", d.id, to, "Lý do cụ thể").status == to


def test_every_final_step_asks_for_confirmation():
    from node.domain.dossier import FINISHED_STATUSES

    assert FINISHED_STATUSES <= CONFIRM_REQUIRED


def test_free_text_fields_show_an_example(client, sqlite_node):
    """Issue 13.7: placeholders that fit what goes in the field."""
    d = sqlite_node.create_dossier("t", sample_dossier())
    page = client.get(f"/mot-cua/ho-so/{d.id}").text
    assert 'placeholder="Ví dụ: Thiếu bản sao' in page  # the transfer's unit is picked from a list (issue 12.11)
    assert 'placeholder="Ví dụ: nguyen van an' in client.get("/mot-cua/tim-kiem").text
