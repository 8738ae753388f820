"""Property tests over every EF codec: round trips, padding, truncation, arbitrary bytes."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from isim.codecs import (
    AdministrativeData,
    ApplicationTemplate,
    Codec,
    CodecError,
    ConfigData,
    GbaBootstrapping,
    GbaNafEntry,
    GbaUapiEntry,
    ImsDataChannelIndication,
    PcscfAddress,
    ShortMessage,
    SizeError,
    SmsParameters,
    SmsStatus,
    SmsStatusReport,
    XcapConfigData,
    XcapPolicyPart,
    codec_for,
)
from specs.layout import EFSpec, layout
from strategies import access_rules
from usim_strategies import USIM_STRATEGIES

SPECS: list[EFSpec] = [ef for df in layout().dfs() for ef in df.files.values()]
IDS = [f"{ef.name}@{ef.fid_hex}" for ef in SPECS]

text = st.text(max_size=40)
short_text = st.text(max_size=12)


def _no_trailing_ff(max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size).map(lambda b: b.rstrip(b"\xff"))


def _xcap_part() -> st.SearchStrategy[XcapPolicyPart]:
    opt_text = st.none() | short_text
    opt_bytes = st.none() | st.binary(max_size=4)
    return st.builds(
        XcapPolicyPart,
        access=opt_bytes,
        application_name=opt_text,
        uri=opt_text,
        xcap_auth_password=opt_text,
        address=opt_bytes,
        pdp_auth_secret=opt_text,
    )


STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "impi": text,
    "domain": text,
    "impu": text,
    "nafkca": text,
    "uicciari": text,
    "webrtc_uri": text,
    "pcscf": st.one_of(
        st.builds(PcscfAddress, st.just("fqdn"), text),
        st.builds(PcscfAddress, st.just("ipv4"), st.ip_addresses(v=4).map(str)),
        st.builds(PcscfAddress, st.just("ipv6"), st.ip_addresses(v=6).map(str)),
    ),
    "gbanl": st.builds(
        GbaNafEntry, short_text, st.binary(min_size=5, max_size=5), st.none() | short_text
    ),
    "gbauapi": st.builds(GbaUapiEntry, st.binary(max_size=16), st.binary(max_size=30)),
    "ims_config_data": st.builds(ConfigData, st.integers(0, 255), st.binary(max_size=200)),
    "mudmid_config_data": st.builds(ConfigData, st.integers(0, 255), st.binary(max_size=200)),
    "xcap_config_data": st.builds(
        XcapConfigData,
        st.none() | st.binary(max_size=3),
        st.none() | st.integers(0, 255),
        st.lists(_xcap_part(), max_size=3).map(tuple),
    ),
    "ad": st.builds(AdministrativeData, st.integers(0, 255), st.binary(min_size=2, max_size=2)),
    "ist": st.frozensets(st.integers(1, 112)),
    "gbabp": st.builds(GbaBootstrapping, st.binary(max_size=16), short_text, short_text),
    "from_preferred": st.booleans(),
    "imsdci": st.sampled_from(list(ImsDataChannelIndication)),
    "sms": st.builds(ShortMessage, st.integers(0, 254), _no_trailing_ff(175)),
    "smss": st.builds(SmsStatus, st.integers(0, 254), st.booleans()),
    "smsr": st.builds(SmsStatusReport, st.integers(0, 254), _no_trailing_ff(29)),
    "smsp": st.builds(
        SmsParameters,
        _no_trailing_ff(12),
        st.integers(0, 255),
        _no_trailing_ff(12),
        _no_trailing_ff(12),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 254),
    ),
    "dir": st.builds(
        ApplicationTemplate, st.binary(min_size=1, max_size=16), st.none() | short_text
    ),
    "iccid": st.text("0123456789", min_size=1, max_size=20),
    "pl": st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=2), min_size=1, max_size=5
    ).map(tuple),
    "arr": access_rules(),
    **USIM_STRATEGIES,
}

# Codecs whose content is a single top-level TLV: any truncation must be rejected.
SINGLE_TLV = {
    "impi",
    "domain",
    "impu",
    "nafkca",
    "uicciari",
    "webrtc_uri",
    "pcscf",
    "gbauapi",
    "xcap_config_data",
    "dir",
}
TLV_CODECS = SINGLE_TLV | {"gbanl", "ims_config_data", "mudmid_config_data", "arr"}


def _value(codec: Codec[Any], data: st.DataObject) -> Any:
    value = data.draw(STRATEGIES[codec.spec.codec], label="value")
    try:
        encoded = codec.encode(value)
    except SizeError:
        assume(False)
    return value, encoded


def test_every_codec_has_a_strategy() -> None:
    assert {ef.codec for ef in SPECS} <= set(STRATEGIES)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_round_trip(spec: EFSpec, data: st.DataObject) -> None:
    codec = codec_for(spec)
    value, encoded = _value(codec, data)
    assert len(encoded) == codec.default_size
    assert codec.decode(encoded) == value
    assert codec.from_json(codec.to_json(value)) == value


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.codec in TLV_CODECS],
    ids=[i for s, i in zip(SPECS, IDS, strict=True) if s.codec in TLV_CODECS],
)
@given(data=st.data(), pad=st.integers(0, 40))
@settings(max_examples=60, deadline=None)
def test_padding_is_ignored_and_truncation_rejected(
    spec: EFSpec, data: st.DataObject, pad: int
) -> None:
    codec = codec_for(spec)
    value, encoded = _value(codec, data)
    end = codec.decode_detailed(encoded).end
    bare = encoded[:end]
    assert codec.decode(bare) == value
    assert codec.decode(bare + b"\xff" * pad) == value
    if spec.codec in SINGLE_TLV and end > 0:
        cut = data.draw(st.integers(1, end - 1), label="cut") if end > 1 else 0
        with pytest.raises(CodecError):
            codec.decode(bare[:cut] if cut else bare[:1])


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(blob=st.binary(max_size=300))
@settings(max_examples=150, deadline=None)
def test_arbitrary_bytes_raise_only_codec_error(spec: EFSpec, blob: bytes) -> None:
    codec = codec_for(spec)
    try:
        decoded = codec.decode_detailed(blob)
    except CodecError as exc:
        assert str(exc).startswith(spec.name + ": ")
        return
    assert not decoded.trailing or decoded.trailing[-1] != 0xFF
    try:
        codec.decode(blob)
    except CodecError as exc:
        assert decoded.trailing, exc


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(prefix=st.binary(max_size=8))
@settings(max_examples=60, deadline=None)
def test_arbitrary_tlv_shaped_bytes(spec: EFSpec, prefix: bytes) -> None:
    """TLV-shaped junk (a plausible tag and length in front) reaches deeper decoder paths."""
    codec = codec_for(spec)
    for tag in (0x80, 0x61, 0xA0, 0x30):
        blob = bytes((tag, len(prefix))) + prefix
        with contextlib.suppress(CodecError):
            codec.decode(blob)


@pytest.mark.parametrize("ef", ["IMPI", "DOMAIN", "IMPU", "UICCIARI", "WebRTCURI", "NAFKCA"])
@given(
    bad=st.sampled_from([b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xed\xa0\x80"]),
    head=st.text(max_size=5),
)
def test_bad_utf8_raises_codec_error(ef: str, bad: bytes, head: str) -> None:
    body = head.encode() + bad
    with pytest.raises(CodecError, match="UTF-8"):
        codec_for(ef).decode(bytes((0x80, len(body))) + body)


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.codec in SINGLE_TLV - {"dir"}],
    ids=[i for s, i in zip(SPECS, IDS, strict=True) if s.codec in SINGLE_TLV - {"dir"}],
)
def test_oversize_names_the_ef(spec: EFSpec) -> None:
    codec = codec_for(spec)
    big = {
        "pcscf": PcscfAddress("fqdn", "p" * 300),
        "gbauapi": GbaUapiEntry(b"\x00" * 16, b"n" * 250),
        "xcap_config_data": XcapConfigData(policy_parts=(XcapPolicyPart(uri="u" * 300),)),
    }.get(spec.codec, "x" * 300)
    with pytest.raises(SizeError, match=rf"^{spec.name}: encoded value is \d+ bytes, "):
        codec.encode(big)


def test_ipv6_values_are_canonical() -> None:
    address = PcscfAddress("ipv6", "::FFFF:1.2.3.4")
    assert address.address == str(ipaddress.IPv6Address("::ffff:1.2.3.4"))


@given(st.builds(AdministrativeData, st.integers(0, 255), st.binary(max_size=4)))
def test_ad_layout_and_round_trip(value: AdministrativeData) -> None:
    # TS 31.103 clause 4.2.5: byte 1 the UE operation mode, then the additional information
    codec = codec_for("AD")
    encoded = codec.encode(value, size=1 + len(value.additional_information))
    assert encoded == bytes([value.ue_operation_mode]) + value.additional_information
    # a file of nothing but FF is an empty (erased) one, whatever wrote it
    assert codec.decode(encoded) == (None if encoded.count(0xFF) == len(encoded) else value)


def test_ad_of_all_ff_is_an_empty_file() -> None:
    assert codec_for("AD").decode(b"\xff") is None
    assert codec_for("AD").decode(b"\xff\x01") == AdministrativeData(0xFF, b"\x01")
