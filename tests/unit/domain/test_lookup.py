"""The public lookup's check code and the provisional node name (node.domain.lookup)."""

from __future__ import annotations

import math
import secrets
from collections import Counter

from node.domain import lookup
from node.domain.dossier_code import _NODE_RE
from web import public

SECRET = bytes(range(32))


def test_the_check_code_is_six_unambiguous_characters_fixed_per_secret_and_dossier():
    code = lookup.check_code(SECRET, "ab" * 16 + ":17272:1")
    assert len(code) == lookup.LENGTH and set(code) <= set(lookup.ALPHABET)
    assert not set(code) & set("ILOU")
    assert code == lookup.check_code(SECRET, "ab" * 16 + ":17272:1")
    assert code != lookup.check_code(SECRET, "ab" * 16 + ":17272:2")
    assert code != lookup.check_code(bytes(32), "ab" * 16 + ":17272:1")


def test_what_a_citizen_types_is_matched_forgivingly_but_exactly():
    assert lookup.display("K7Q0M1") == "K7Q-0M1"
    for typed in ("K7Q0M1", "k7q-0m1", " K7Q 0M1 ", "K7QOM1", "k7qoml", "K7Q0MI"):
        assert lookup.matches("K7Q0M1", typed), typed
    for wrong in ("K7Q0M2", "K7Q0M", "", "K7Q0M1X"):
        assert not lookup.matches("K7Q0M1", wrong), wrong
    assert not lookup.matches("", "")  # a dossier with no code is never found


def test_check_codes_are_spread_evenly_so_none_is_likelier_to_guess():
    codes = [lookup.check_code(SECRET, f"{i:032x}:17272:{i}") for i in range(20_000)]
    assert len(set(codes)) >= 19_990  # 30 bits: a handful of collisions at most
    for position in range(lookup.LENGTH):
        counts = Counter(c[position] for c in codes)
        assert len(counts) == 32
        assert max(counts.values()) < 2 * min(counts.values())  # ~625 each; a skew would show


def test_enumeration_is_infeasible_at_the_lookup_rate_limit():
    tries_per_hit = len(lookup.ALPHABET) ** lookup.LENGTH  # any one guess succeeds with 2**-30
    assert tries_per_hit == 2**30
    misses_per_day = 24 * 3600 * 1000 // public.MISS_INTERVAL_MS + public.BURST
    years_for_one_address = tries_per_hit / misses_per_day / 365
    assert years_for_one_address > 1000
    assert years_for_one_address / 10_000 > 0.1  # even 10,000 addresses need over a month


def test_the_provisional_node_name_comes_from_the_secret_not_the_node_id():
    names = {lookup.provisional_node_name(secrets.token_bytes(32)) for _ in range(200)}
    assert len(names) == 200
    assert all(_NODE_RE.fullmatch(n) for n in names)
    assert lookup.provisional_node_name(SECRET) == lookup.provisional_node_name(SECRET)
    assert math.log2(32**lookup.PROVISIONAL_NAME_LENGTH) == 40  # no collision among any district's nodes
