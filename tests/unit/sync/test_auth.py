"""The server's request authentication (``sync.auth``) on values: headers in, caller or refusal out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.signing import NodeKey, verify_signature
from sync import auth
from sync.protocol import Code, ProtocolError
from tests.sync_helpers import BASE_MS, make_client, signed_headers

BODY = b"\x28\xb5\x2f\xfd compressed request"
BODY_LENGTH = len(BODY)


@pytest.fixture(scope="module")
def client():
    return make_client("commune", "17272")


def check(headers, *, length=BODY_LENGTH, throttled=0):
    return auth.check_headers(headers, content_length=length, max_body_bytes=1024, address="10.0.0.7",
                              throttled_ms=lambda node_id: throttled)


class Nonces:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, node_id: str, nonce: str) -> bool:
        fresh = (node_id, nonce) not in self.seen
        self.seen.append((node_id, nonce))
        return fresh


def authenticate(client, headers, body=BODY, *, nonces=None, now=BASE_MS, vouch=lambda p: p):
    return auth.authenticate(check(headers), client.profile, body, verify_signature=verify_signature, vouch=vouch,
                             remember_nonce=nonces or Nonces(), now=now)


def code_of(call) -> Code:
    with pytest.raises(ProtocolError) as info:
        call()
    return info.value.code


def test_a_signed_request_authenticates_its_caller(client):
    headers = signed_headers(client, BODY, BASE_MS)
    signed = check(headers)
    assert (signed.node_id, signed.sent_at, signed.key) == (client.node_id, BASE_MS, client.key.public_key)
    result = authenticate(client, headers)
    assert (result.caller, result.body, result.sent_at) == (client.profile, BODY, BASE_MS)


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("X-Motcua-Node", "not-a-node", Code.UNAUTHENTICATED),
        ("X-Motcua-Time", "yesterday", Code.UNAUTHENTICATED),
        ("X-Motcua-Nonce", "short", Code.UNAUTHENTICATED),
        ("X-Motcua-Sig", "", Code.UNAUTHENTICATED),
        ("X-Motcua-Sig", "%%%", Code.UNAUTHENTICATED),
        ("X-Motcua-Key", "A" * 7000, Code.UNAUTHENTICATED),
    ],
)
def test_malformed_headers_are_unauthenticated(client, header, value, code):
    headers = {**signed_headers(client, BODY, BASE_MS), header: value}
    assert code_of(lambda: check(headers)) == code


def test_a_throttled_address_or_a_declared_oversize_body_is_refused_from_the_headers(client):
    headers = signed_headers(client, BODY, BASE_MS)
    with pytest.raises(ProtocolError) as info:
        check(headers, throttled=1500)
    assert info.value.code == Code.THROTTLED and "10.0.0.7" in info.value.message and "2 s" in info.value.message
    assert code_of(lambda: check(headers, length=2048)) == Code.TOO_LARGE
    assert check(headers, length=None).node_id == client.node_id  # chunked: bounded while read


def test_a_wrong_signature_is_refused_without_spending_the_nonce(client):
    nonces = Nonces()
    forged = signed_headers(client, BODY, BASE_MS, signer=NodeKey.generate())
    assert code_of(lambda: authenticate(client, forged, nonces=nonces)) == Code.UNAUTHENTICATED
    headers = signed_headers(client, BODY, BASE_MS)
    assert code_of(lambda: authenticate(client, headers, BODY + b"!", nonces=nonces)) == Code.UNAUTHENTICATED
    assert nonces.seen == []  # nobody can burn another node's nonces
    authenticate(client, headers, nonces=nonces)
    assert code_of(lambda: authenticate(client, headers, nonces=nonces)) == Code.REPLAYED


def test_the_trust_policy_vouches_after_the_signature(client):
    def revoked(profile):
        raise ProtocolError(Code.REVOKED, "revoked")

    nonces = Nonces()
    headers = signed_headers(client, BODY, BASE_MS)
    assert code_of(lambda: authenticate(client, headers, nonces=nonces, vouch=revoked)) == Code.REVOKED
    assert nonces.seen == []
    certified = replace(client.profile, name="from the certificate")
    assert authenticate(client, headers, vouch=lambda p: certified).caller == certified


def test_a_request_a_day_off_names_its_signer():
    client = make_client("commune", "17272")
    headers = signed_headers(client, BODY, BASE_MS)
    with pytest.raises(auth.StaleRequest) as info:
        authenticate(client, headers, now=BASE_MS + auth.CLOCK_WINDOW_MS + 1)
    assert info.value.code == Code.UNAUTHENTICATED and info.value.caller == client.profile
    assert authenticate(client, headers, now=BASE_MS + auth.CLOCK_WINDOW_MS).sent_at == BASE_MS
