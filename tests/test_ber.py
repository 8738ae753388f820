"""specs.ber: the one BER-TLV layer, proven against asn1tools (specs/uicc.asn, specs/isim.asn)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apdu import arr
from isim.codecs.tlv import compiled
from specs import ber

# (type, member) pairs of OCTET STRING data objects: asn1tools encodes {member: value}
_OCTET_MEMBERS = [
    ("FcpDataObject", "fileIdentifier", 2, 2),
    ("FcpDataObject", "securityAttributesReferenced", 0, 400),
    ("FcpDataObject", "fileSize", 0, 300),
    ("FcpDataObject", "pinStatusTemplate", 0, 300),
    ("ProprietaryDataObject", "availableMemory", 0, 300),
    ("PinStatusDataObject", "psDo", 0, 200),
]


def test_tags_json_is_what_asn1tools_derives() -> None:
    """specs/tags.json is derived: regenerate it with `python -m specs.ber`."""
    assert ber.path(ber.TAGS_FILE).read_text(encoding="utf-8") == ber.render_tags()


def test_tags_of_the_spec() -> None:
    # TS 102 221 clause 11.1.1.3 and 13.1: the tags a reader of the spec expects
    assert ber.tag_of("FcpTemplate") == 0x62
    assert ber.tags("FcpDataObject")["fileIdentifier"] == 0x83
    assert ber.tags("FcpDataObject").names()[0xC6] == "pinStatusTemplate"
    assert ber.tag_of("ApplicationTemplate") == 0x61
    assert ber.tags("AccessRuleDataObject")["never"] == 0x97
    with pytest.raises(KeyError, match="not a type"):
        ber.tags("NoSuchType")
    with pytest.raises(KeyError, match="untagged"):
        ber.tag_of("FcpDataObject")


@given(st.sampled_from(_OCTET_MEMBERS), st.data())
@settings(max_examples=300)
def test_tlv_equals_asn1tools(member: tuple[str, str, int, int], data: st.DataObject) -> None:
    type_name, name, lo, hi = member
    value = data.draw(st.binary(min_size=lo, max_size=hi))
    expected = bytes(compiled().encode(type_name, (name, value)))
    encoded = ber.tlv(ber.tags(type_name)[name], value)
    assert encoded == expected
    tag, start, n = ber.header(encoded)
    assert (tag, encoded[start : start + n]) == (ber.tags(type_name)[name], value)
    assert ber.tlv_size(len(value), tag) == len(encoded)


@given(st.binary(min_size=1, max_size=16), st.text(max_size=300))
@example(b"\xa0", "x" * 0x7D)
@settings(max_examples=200)
def test_nested_template_equals_asn1tools(aid: bytes, label: str) -> None:
    t = ber.tags("ApplicationTemplate")
    ours = ber.tlv(ber.tag_of("ApplicationTemplate"),
                   ber.tlv(t["aid"], aid) + ber.tlv(t["label"], label.encode()))
    assert ours == bytes(compiled().encode("ApplicationTemplate", {"aid": aid, "label": label}))
    assert ber.span(ours + b"\xff" * 3) == len(ours)


def test_multi_byte_tag_and_long_length() -> None:
    encoded = ber.tlv(0x5F50, b"u" * 300)  # EF.DIR URL (TS 102 221 clause 13.1)
    assert encoded[:5] == bytes.fromhex("5f5082012c")
    assert ber.header(encoded) == (0x5F50, 5, 300)
    assert ber.length(0x10000) == bytes.fromhex("83010000")


@pytest.mark.parametrize(
    ("data", "problem"),
    [("80", "no length"), ("8081", "truncated BER length"), ("8085000000000000", "unsupported"),
     ("800301", "announces 3 bytes")],
)
def test_malformed(data: str, problem: str) -> None:
    with pytest.raises(ber.BerError, match=problem):
        ber.span(bytes.fromhex(data))


_REFS = [0x01, 0x02, 0x0A, 0x0B, 0x0C, 0x81, 0x8A, 0x8B]
_PAIRS = [(a, b) for a in _REFS for b in _REFS if a < b]


@given(st.lists(st.sampled_from(_PAIRS), min_size=1, max_size=28, unique=True))
@example(_PAIRS)
@settings(max_examples=100)
def test_arr_long_records_agree_with_asn1tools(pairs: list[tuple[int, int]]) -> None:
    """EF.ARR records with 81/82 lengths (apdu.arr took one-byte lengths only before)."""
    cond = arr.NEVER
    for a, b in pairs:
        cond = cond | arr.key(a, b)
    rule = arr.AccessRule(((arr.AccessMode(am_byte=0x01), cond),))
    body = arr.encode_access_rule(rule)
    if len(pairs) > 8:
        assert body[4] in (0x81, 0x82)  # 80 01 01 A0 <long length>
    assert arr.parse_rule(body)[0] == rule
    compiled().decode("AccessRuleContents", b"\x30" + ber.length(len(body)) + body)
