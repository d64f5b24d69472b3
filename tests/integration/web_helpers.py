"""Shared helpers for the web UI tests (Flask test client, cheap Argon2 parameters)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from node.db import open_database
from node.services import Node
from tests.factories import init_node_dir, make_settings

PASSWORD = "một cụm mật khẩu dài 2026"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: fast, same format


def cheap_hashing(monkeypatch) -> None:
    from node import accounts

    monkeypatch.setattr(accounts, "_hasher", CHEAP_HASHER)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD, ip: str = "127.0.0.1"):
    page = client.get("/dang-nhap", environ_base={"REMOTE_ADDR": ip})
    form = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/dang-nhap", data=form, environ_base={"REMOTE_ADDR": ip})


def token_of(client, path: str = "/") -> str:
    return csrf_from(client.get(path, follow_redirects=True).text)


def make_node(tmp_path, clock, role: str = "commune", unit: str = "17272", name: str = "node") -> Node:
    data_dir = tmp_path / name
    key = init_node_dir(data_dir, role=role, unit=unit)
    settings = make_settings(data_dir, role=role, unit=unit)
    return Node(settings, open_database(settings), key, clock)


def add(username: str, role: str, now: int, full_name: str = "Cán bộ Thử") -> None:
    from node.accounts import create_account

    create_account(username, full_name, role, PASSWORD, now=now)


API_USER = "canbo.lan"


def give_token(client, username: str = API_USER, role: str = "head", scope: str = "write", *, now: int) -> str:
    """Let a test client call the JSON API: an account (made if missing) and a personal token
    that the client then sends with every request. Returns the token."""
    from node.models import StaffAccountRow
    from node.tokens import create_token

    if not StaffAccountRow.select().where(StaffAccountRow.username == username).exists():
        add(username, role, now)
    secret, _row = create_token(username, scope, now=now)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return secret
