"""``POST /sync/v1/enroll`` as an attacker reaches it: nothing authenticates the caller before
the body is read, so every bad input must be cheap and get a 4xx in the API's error shape
(deep JSON, a huge body, garbage, a wrong code again and again), and the attempt table must
stay bounded."""

from __future__ import annotations

import io
import json

import pytest

from certs.enrollment import build_enrollment_request
from certs.keys import generate_private_key
from node.app import create_app
from node.db import open_database
from node.enrollment import init_ca, new_pairing_code
from node.ratelimit import RateLimiter
from node.services import Node
from tests.factories import init_node_dir, make_settings
from web.enroll import ATTEMPT_INTERVAL_MS, BURST, MAX_ENROLL_BYTES

PATH = "/sync/v1/enroll"
JSON = "application/json"


@pytest.fixture
def district(tmp_path, clock):
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, role="district", unit="40")
    settings = make_settings(data_dir, role="district", unit="40")
    node = Node(settings, open_database(settings), key, clock)
    init_ca(node)
    yield node
    node.close()


@pytest.fixture
def app(district):
    return create_app(district.settings, node=district)


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, data, content_type=JSON, addr="10.0.0.7", headers=None):
    return client.post(PATH, data=data, content_type=content_type, headers=headers or {},
                       environ_base={"REMOTE_ADDR": addr})


def assert_error_shape(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/json"
    error = r.get_json()["error"]
    assert set(error) == {"code", "message", "field"} and error["message"]
    if code:
        assert error["code"] == code, error
    return error


class CountingStream(io.RawIOBase):
    """A request body that records how many bytes the server read of it."""

    def __init__(self, size: int) -> None:
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"[" * n
        self.read_bytes += n
        return n


def test_deeply_nested_json_is_400_not_500(client):
    for body in (b"[" * 4000, b"[" * 2000 + b"]" * 2000):
        assert_error_shape(post(client, body), 400, "bad_json")
    # shallow enough for the parser, then refused by the JSON checks, naming where
    assert_error_shape(post(client, b'{"a":' * 600 + b"1" + b"}" * 600), 422, "invalid_input")
    assert_error_shape(post(client, b"[" * 100_000), 413, "too_large")  # what answered 500 before


def test_a_huge_body_is_refused_before_it_is_read(client):
    stream = CountingStream(64 * 1024 * 1024)
    r = client.post(PATH, environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(stream.size),
                                             "CONTENT_TYPE": JSON, "REMOTE_ADDR": "10.0.0.8"})
    assert_error_shape(r, 413, "too_large")
    assert stream.read_bytes == 0


def test_a_body_just_over_the_limit_is_413_and_one_within_is_read(client):
    assert_error_shape(post(client, b" " * (MAX_ENROLL_BYTES + 1)), 413, "too_large")
    assert_error_shape(post(client, b" " * (MAX_ENROLL_BYTES - 10) + b"{}"), 400, "bad_request")


@pytest.mark.parametrize("body, content_type, status, code", [
    (b"\x00\xff garbage", JSON, 400, "bad_json"),
    (b"\xc3\x28{}", JSON, 400, "bad_json"),  # invalid UTF-8
    (b'{"v": 1}', "text/plain", 400, "bad_json"),
    (b"", JSON, 400, "bad_json"),
    (b"[1, 2, 3]", JSON, 400, "bad_json"),
    (b'"a string"', JSON, 400, "bad_json"),
    (b"{}", JSON, 400, "bad_request"),
    (b'{"v": 1, "public_key": 12, "node_id": [], "proof": {}, "signature": null}', JSON, 400, "bad_request"),
    (b'{"v": 1, "public_key": "zz", "node_id": "x", "proof": "00", "signature": "00"}', JSON, 400, "bad_request"),
    (b'{"v": 2, "public_key": "00", "node_id": "x", "proof": "00", "signature": "00", "extra": 1}', JSON, 400,
     "bad_request"),
    (b'{"v": 1.5}', JSON, 422, "invalid_input"),  # floats are refused by the JSON checks
    (b'{"v": ' + b"9" * 3000 + b"}", JSON, 422, "invalid_input"),  # beyond 2**53
    (b'{"v": NaN}', JSON, 422, "invalid_input"),
])
def test_garbage_is_a_4xx_in_the_error_shape(client, body, content_type, status, code):
    assert_error_shape(post(client, body, content_type), status, code)


def request_for(code: str) -> bytes:
    return json.dumps(build_enrollment_request(generate_private_key(), code).to_dict()).encode()


def test_a_wrong_code_again_and_again_is_throttled_per_address(client, district, clock):
    new_pairing_code(district, "commune", "17272", "Xã Tân Phú")
    for _ in range(BURST):
        assert_error_shape(post(client, request_for("ABCD-EFGH")), 403, "wrong_code")
    r = post(client, request_for("ABCD-EFGH"))
    assert_error_shape(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) > 0
    # garbage from the same address is refused before its body is read
    assert_error_shape(post(client, b"[" * 4000), 429, "too_many_attempts")
    # another address is not slowed by the guesser; nor is the guesser's neighbour in IPv6 /64 spared
    assert_error_shape(post(client, request_for("ABCD-EFGH"), addr="10.0.0.99"), 403, "wrong_code")
    for _ in range(BURST):
        post(client, request_for("ABCD-EFGH"), addr="2001:db8::1")
    assert_error_shape(post(client, request_for("ABCD-EFGH"), addr="2001:db8::2"), 429, "too_many_attempts")
    # once it has waited, the address gets one more attempt at a time
    clock.advance(2 * ATTEMPT_INTERVAL_MS)
    assert_error_shape(post(client, request_for("ABCD-EFGH")), 403, "wrong_code")


def test_the_right_code_still_enrolls(client, district):
    code, _ = new_pairing_code(district, "commune", "17272", "Xã Tân Phú")
    r = post(client, request_for(code))
    assert r.status_code == 200, r.get_json()
    assert {"ca", "certificate", "mac"} <= set(r.get_json())


def test_the_attempt_table_stays_bounded(app, client):
    app.extensions["motcua.enroll_limit"] = limiter = RateLimiter(BURST, ATTEMPT_INTERVAL_MS, max_keys=50)
    for i in range(300):
        post(client, b"{}", addr=f"10.1.{i // 250}.{i % 250}")
    assert len(limiter) <= 50
