"""apdu.arr: EF.ARR record coding (TS 102 221 clause 9.2.7, digest 2.4)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu import arr
from apdu.arr import NEVER, AccessMode, AccessRule, ArrError, key
from isim.codecs.tlv import compiled
from specs.layout import layout
from strategies import access_rules

H = bytes.fromhex
# digest 1.2: record 1 of a real ISIM card's EF.ARR
REAL_CARD = H("800103A406830101950108800118A40683010A9501088401D4A40683010A950108")


def test_real_card_record() -> None:
    rule = arr.decode_rule(REAL_CARD + b"\xff" * 15)
    assert rule.condition("read") == key(0x01)
    assert rule.condition("update") == key(0x01)
    assert rule.condition("activate") == key(0x0A)
    assert rule.condition("deactivate") == key(0x0A)
    assert rule.condition("delete") is NEVER or rule.condition("delete") == NEVER
    assert rule.condition_for_command(0xD4) == key(0x0A)
    assert rule.condition_for_command(0xB0) is None
    assert rule.condition("read").satisfied({0x01})
    assert not rule.condition("read").satisfied({0x0A})
    assert rule.rules[0][0].operations == ("read", "update")


def test_encode_rule_matches_the_real_card_layout() -> None:
    rules = {"read": "PIN1", "update": "PIN1", "activate": "ADM1", "deactivate": "ADM1"}
    record = arr.encode_rule(rules, 48)
    assert len(record) == 48
    assert record == REAL_CARD[:22] + b"\xff" * 26


@pytest.mark.parametrize("df", ["mf", "isim"])
def test_every_rule_of_the_spec_round_trips(df: str) -> None:
    spec = layout()
    dfs = {"mf": spec.mf, "isim": spec.applications["ADF.ISIM"]}
    for symbolic in dfs[df].access_rules.values():
        record = arr.encode_rule(symbolic, 48)
        rule = arr.decode_rule(record)
        for operation, value in symbolic.items():
            want = arr.symbolic_condition(value, spec.key_references)
            assert rule.condition(operation) == want, (symbolic, operation)
        # asn1tools reads the same record with the definition in specs/uicc.asn
        body, end = record, arr.parse_rule(record)[1]
        compiled().decode("AccessRuleContents", b"\x30" + bytes((end,)) + body[:end])


def test_always_never_and_symbolic_forms() -> None:
    record = arr.encode_rule({"read": "always", "update": "never", "activate": 0x0A}, 24)
    assert record[:10] == H("800101 9000 800102 9700".replace(" ", ""))
    rule = arr.decode_rule(record)
    assert rule.condition("read").kind == "always"
    assert rule.condition("update").kind == "never"
    assert rule.condition("activate").key_refs == (0x0A,)
    assert rule.condition("write") == NEVER


def test_templates() -> None:
    crt1 = "A406830101950108"
    crt_adm = "A40683010A950108"
    or_rule = arr.decode_rule(H("800101" + "A010" + crt1 + crt_adm))
    assert or_rule.condition("read").alternatives == (frozenset({1}), frozenset({10}))
    and_rule = arr.decode_rule(H("800101" + "A710" + crt1 + crt_adm))
    assert and_rule.condition("read").alternatives == (frozenset({1, 10}),)
    assert not and_rule.condition("read").satisfied({1})
    assert and_rule.condition("read").satisfied({1, 10})
    not_rule = arr.decode_rule(H("800101" + "AF08" + crt1))
    assert not_rule.condition("read") == NEVER
    several = arr.decode_rule(H("800101" + crt1 + crt_adm))  # several SC_DOs: OR
    assert several.condition("read") == or_rule.condition("read")
    # encoding an OR of ANDs gives A0 { A7 {..}, A4 .. } and reads back the same
    cond = key(1, 0x81) | key(0x0A)
    encoded = arr.encode_access_rule(AccessRule(((AccessMode(am_byte=1), cond),)))
    assert encoded.startswith(H("800101A0"))
    assert arr.decode_rule(encoded).condition("read") == cond


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("9000", "before any access mode"),
        ("8001", "truncated"),
        ("800201029000", "one AM byte"),
        ("8402D4D49000", "command-header"),
        ("800101A406830101", "truncated"),
        ("80010190", "truncated"),
    ],
)
def test_malformed_records(record: str, problem: str) -> None:
    with pytest.raises(ArrError, match=problem):
        arr.parse_rule(H(record))


def test_unknown_operation_and_key() -> None:
    with pytest.raises(ArrError):
        arr.decode_rule(REAL_CARD).condition("fly")
    with pytest.raises(ArrError, match="unknown key reference"):
        arr.encode_rule({"read": "PIN9"}, 48)
    with pytest.raises(ArrError, match="record is 4"):
        arr.encode_rule({"read": "PIN1"}, 4)


@given(access_rules())
@settings(max_examples=200)
def test_round_trip(rule: AccessRule) -> None:
    encoded = arr.encode_access_rule(rule)
    decoded, end = arr.parse_rule(encoded + b"\xff" * 5)
    assert end == len(encoded)
    assert decoded == rule


def test_deep_nesting_is_rejected() -> None:
    inner = H("9000")
    for _ in range(arr.MAX_TEMPLATE_DEPTH + 1):
        inner = bytes((0xA0, len(inner))) + inner
    with pytest.raises(ArrError, match="nested"):
        arr.parse_rule(H("800101") + inner)


def test_decode_rule_accepts_bytearray() -> None:
    assert arr.decode_rule(bytearray(REAL_CARD)) == arr.decode_rule(REAL_CARD)


@given(st.binary(max_size=64))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_only_arr_error(blob: bytes) -> None:
    try:
        rule, _ = arr.parse_rule(blob)
    except ArrError:
        return
    for operation in ("read", "update", "activate", "deactivate"):
        assert isinstance(rule.condition(operation), arr.Condition)
