"""Realistic demo dossiers for ``motcua seed-demo`` and ``./scripts/demo`` (never for tests of
rules: those build their own inputs). Names and procedures are typical of a commune desk.
"""

from __future__ import annotations

import random

from node.domain.dossier import DossierState
from node.services import Node

_PEOPLE = (
    ("Nguyễn Văn An", "040090001234", "0912 345 678", "Xóm 3, thôn Đông"),
    ("Trần Thị Bích Ngọc", "040195004567", "0987 654 321", "Xóm 1, thôn Tây"),
    ("Lê Hoàng Phúc", "040201007890", "0903 111 222", "Bản Na Lạn"),
    ("Phạm Thị Thu Hường", "040188002468", "0976 222 333", "Thôn Trung Hòa"),
    ("Hồ Đức Thắng", "040085003579", "0944 555 666", "Xóm Mới"),
    ("Vi Thị Lan", "040199001357", "", "Bản Pục"),
)
# The outreach laptop meets other people: the same person and procedure received on the desk and
# on the laptop is a duplicate conflict, which a first look at the demo must not be full of.
_PEOPLE_MOBILE = (
    ("Vàng A Dế", "011089004321", "", "Bản Na Lạn"),
    ("Lò Thị Mai", "040192006543", "0965 777 888", "Bản Cốc"),
    ("Lương Văn Tằng", "040080008642", "", "Bản Mường"),
)
_PROCEDURES = (
    ("1.001193", "Đăng ký khai sinh"),
    ("1.000894", "Đăng ký kết hôn"),
    ("2.000908", "Chứng thực bản sao từ bản chính giấy tờ, văn bản"),
    ("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân"),
    ("1.000656", "Đăng ký khai tử"),
)


def seed(node: Node, count: int, rng: random.Random | None = None) -> list[DossierState]:
    rng = rng or random.Random(2026)
    created = []
    people = _PEOPLE_MOBILE if node.settings.ROLE == "mobile" else _PEOPLE
    for i in range(count):
        name, id_number, phone, address = people[i % len(people)]
        code, title = _PROCEDURES[rng.randrange(len(_PROCEDURES))]
        state = node.create_dossier(
            "demo",
            {
                "procedure": {"code": code, "name": title},
                "applicant": {"name": name, "id_number": id_number, "phone": phone, "address": address},
                "channel": "mobile" if node.settings.ROLE == "mobile" else "desk",
            },
        )
        if rng.random() < 0.6:
            state = node.change_status("demo", state.id, "processing", "Chuyển bộ phận chuyên môn")
        created.append(state)
    return created
