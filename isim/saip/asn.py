"""specs/saip.asn compiled by asn1tools (DER), and the one quirk it needs handled.

`PE-AKAParameter.sqnInit` is a SEQUENCE OF whose DEFAULT the specification writes as a
single OCTET STRING value ('000000000000'H, meaning 32 zero entries). asn1tools gives a
decoded PE without sqnInit that string as the value, which its encoder then refuses (it
wants a list), and an explicit list of 32 zero entries is encoded in full (DER forbids
encoding a default). So: after decoding, the string becomes the 32 zero entries; before
encoding, 32 zero entries are left out.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import asn1tools

import specs

__all__ = ["SQN_INIT_ENTRIES", "decode_pe", "encode_pe", "encode_type", "fields", "mandatory",
           "pe_tags", "strip_default_sqn_init"]

SQN_INIT_ENTRIES = 32  # SIZE (32): one per IND value (5 IND bits)
SQN_BYTES = 6
_ZERO_SQN_INIT = [bytes(SQN_BYTES)] * SQN_INIT_ENTRIES


@cache
def spec() -> asn1tools.compiler.Specification:
    return asn1tools.compile_files(str(specs.path("saip.asn")), codec="der")


@cache
def pe_tags() -> dict[bytes, str]:
    """The DER tag of each ProfileElement alternative (automatic tags: A0 header ... BF21)."""
    return {bytes(m.tag): m.name for m in spec().types["ProfileElement"].type.members}


@cache
def fields(pe: str) -> tuple[str, ...]:
    """The member names of a ProfileElement alternative, in order (`fields("isim")`)."""
    member = spec().types["ProfileElement"].type.name_to_member[pe]
    return tuple(m.name for m in member.root_members)


@cache
def mandatory(pe: str) -> frozenset[str]:
    """The members of a ProfileElement alternative that are neither OPTIONAL nor DEFAULT."""
    member = spec().types["ProfileElement"].type.name_to_member[pe]
    return frozenset(m.name for m in member.root_members
                     if not m.optional and not m.has_default())


def decode_pe(raw: bytes) -> tuple[str, Any]:
    """One PE's DER -> (alternative, value). Raises asn1tools.Error."""
    name, value = spec().decode("ProfileElement", raw)
    if name == "akaParameter" and isinstance(value.get("sqnInit"), str):
        value["sqnInit"] = list(_ZERO_SQN_INIT)
    return name, value


def strip_default_sqn_init(value: dict[str, Any]) -> dict[str, Any]:
    """A PE-AKAParameter value without sqnInit when it is the DEFAULT (32 zero entries)."""
    if value.get("sqnInit") == _ZERO_SQN_INIT:
        return {k: v for k, v in value.items() if k != "sqnInit"}
    return value


def encode_pe(name: str, value: Any) -> bytes:
    """(alternative, value) -> one PE's DER."""
    if name == "akaParameter":
        value = strip_default_sqn_init(value)
    return bytes(spec().encode("ProfileElement", (name, value)))


def encode_type(type_name: str, value: Any) -> bytes:
    return bytes(spec().encode(type_name, value))
