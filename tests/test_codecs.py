"""Encode/decode vectors for every EF codec (spec-digest 1.2, 1.4, 2.1, 2.2, 2.4).

Vectors marked "digest" are real-card or computed encodings from /work/shared/spec-digest.md;
the others were assembled by hand from the layouts the digest gives (tag, length, value).
"""

from __future__ import annotations

import pytest

from apdu import arr
from isim.codecs import (
    AdministrativeData,
    ApplicationTemplate,
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
from specs.layout import layout
from usim_vectors import USIM_VECTORS

H = bytes.fromhex
NAF_ID = b"naf.ims.com" + H("0100000002")

# (EF, content hex, typed value). The content is the TLV / layout without padding.
VECTORS: list[tuple[str, str, object]] = [
    # digest 1.4
    ("EF.IMPI", "800d616c69636540696d732e636f6d", "alice@ims.com"),
    ("EF.DOMAIN", "8007696d732e636f6d", "ims.com"),
    ("EF.IMPU", "80117369703a616c69636540696d732e636f6d", "sip:alice@ims.com"),
    ("EF.IMPU", "801074656c3a2b3135353531323334353637", "tel:+15551234567"),
    ("EF.P-CSCF", "800e0070637363662e696d732e636f6d", PcscfAddress("fqdn", "pcscf.ims.com")),
    ("EF.P-CSCF", "800501c000020a", PcscfAddress("ipv4", "192.0.2.10")),
    # digest 1.2 (P-CSCF example, TCA default of EF.AD, real card IST)
    ("EF.P-CSCF", "800501c0a80c22", PcscfAddress("ipv4", "192.168.12.34")),
    ("EF.AD", "000000", AdministrativeData(0, b"\x00\x00")),
    ("EF.IST", "190208" + "00" * 11, frozenset({1, 4, 5, 10, 20})),
    # digest 2.1
    (
        "EF.DIR",
        "61194f10a0000000871004ffffffff890709000050054953696d31",
        ApplicationTemplate(H("a0000000871004ffffffff8907090000"), "ISim1"),
    ),
    ("EF.ICCID", "988812010000400310f0", "8988211000000430010"),
    ("EF.PL", "656e", ("en",)),
    # hand-assembled from the digest 1.2 layouts
    (
        "EF.P-CSCF",
        "801102" + "20010db8000000000000000000000001",
        PcscfAddress("ipv6", "2001:db8::1"),
    ),
    ("EF.P-CSCF", "8000", PcscfAddress("fqdn", "")),
    ("EF.IMPU", "8000", ""),
    ("EF.NAFKCA", "800d6e61666b632e696d732e636f6d", "nafkc.ims.com"),
    (
        "EF.UICCIARI",
        "802e75726e3a75726e2d373a336770702d6170706c69636174696f6e2e696d732e696172692e7263732e"
        "667468747470",
        "urn:urn-7:3gpp-application.ims.iari.rcs.fthttp",
    ),
    (
        "EF.WebRTCURI",
        "801768747470733a2f2f7765627274632e696d732e636f6d2f",
        "https://webrtc.ims.com/",
    ),
    (
        "EF.GBANL",
        "80106e61662e696d732e636f6d0100000002811062746964406273662e696d732e636f6d",
        GbaNafEntry("naf.ims.com", H("0100000002"), "btid@bsf.ims.com"),
    ),
    (
        "EF.GBAUAPI",
        "801907a0000000871004106e61662e696d732e636f6d0100000002",
        GbaUapiEntry(H("a0000000871004"), NAF_ID),
    ),
    (
        "EF.GBABP",
        "10000102030405060708090a0b0c0d0e0f1062746964406273662e696d732e636f6d0e"
        "3230323530313031303030303030",
        GbaBootstrapping(bytes(range(16)), "btid@bsf.ims.com", "20250101000000"),
    ),
    ("EF.IMSConfigData", "80010081043c782f3e", ConfigData(0, b"<x/>")),
    ("EF.MuDMiDConfigData", "80010181020102", ConfigData(1, b"\x01\x02")),
    (
        "EF.XCAPConfigData",
        "802da02b810101820101a123820478636170841468747470733a2f2f786361702e696d732e636f6d"
        "8505616c696365",
        XcapConfigData(
            b"\x01",
            1,
            (
                XcapPolicyPart(
                    application_name="xcap", uri="https://xcap.ims.com", xcap_auth_user_name="alice"
                ),
            ),
        ),
    ),
    ("EF.FromPreferred", "01", True),
    ("EF.FromPreferred", "00", False),
    ("EF.IMSDCI", "02", ImsDataChannelIndication.ALLOWED_SIMULTANEOUSLY),
    ("EF.IMSDCI", "00", ImsDataChannelIndication.NOT_ALLOWED),
    ("EF.SMS", "0300" + "0b91", ShortMessage(3, H("000b91"))),
    ("EF.SMSS", "05fe", SmsStatus(5, True)),
    ("EF.SMSS", "00ff", SmsStatus(0, False)),
    ("EF.SMSR", "020102", SmsStatusReport(2, H("0102"))),
    (
        "EF.SMSP",
        "41424344" + "ff" * 8 + "e1" + "ff" * 12 + "07911326040000f0" + "ffffffff" + "000000",
        SmsParameters(b"ABCD", 0xE1, b"", H("07911326040000f0"), 0x00, 0x00, 0x00),
    ),
    *USIM_VECTORS,
]


@pytest.mark.parametrize(("ef", "content", "value"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_decodes(ef: str, content: str, value: object) -> None:
    codec = codec_for(ef)
    body = H(content) + b"\xff" * (codec.default_size - len(H(content)))
    assert codec.decode(body) == value
    assert codec.decode(H(content)) == value


@pytest.mark.parametrize(("ef", "content", "value"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_encodes(ef: str, content: str, value: object) -> None:
    codec = codec_for(ef)
    encoded = codec.encode(value)
    assert len(encoded) == codec.default_size
    assert encoded == H(content) + b"\xff" * (codec.default_size - len(H(content)))


@pytest.mark.parametrize(("ef", "content", "value"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_json_round_trip(ef: str, content: str, value: object) -> None:
    codec = codec_for(ef)
    assert codec.from_json(codec.to_json(value)) == value


def test_every_ef_in_the_layout_has_a_vector() -> None:
    covered = {codec_for(ef).spec.codec for ef, _, _ in VECTORS} | {"arr"}
    wanted = {ef.codec for df in layout().dfs() for ef in df.files.values()}
    assert wanted <= covered


def test_digest_1_2_real_identities() -> None:
    nai = "738006000000101@ims.mnc000.mcc738.3gppnetwork.org"
    domain = "ims.mnc000.mcc738.3gppnetwork.org"
    assert codec_for("6F02").encode(nai).startswith(H("8031") + nai.encode())
    assert codec_for("6F03").encode(domain).startswith(H("8021") + domain.encode())
    assert codec_for("6F04").encode("sip:" + nai).startswith(H("8035") + b"sip:" + nai.encode())


def test_public_json_forms() -> None:
    assert codec_for("EF.IMPI").to_json("a@b") == {"nai": "a@b"}
    assert codec_for("EF.DOMAIN").to_json("b") == {"domain": "b"}
    assert codec_for("EF.IMPU").to_json("sip:a@b") == {"uri": "sip:a@b"}
    assert codec_for("EF.P-CSCF").to_json(PcscfAddress("ipv4", "10.0.0.1")) == {
        "type": "ipv4",
        "address": "10.0.0.1",
    }
    assert codec_for("EF.IST").to_json(frozenset({2, 1})) == {"services": [1, 2]}
    assert codec_for("EF.ICCID").to_json("89") == {"iccid": "89"}
    for ef in ("EF.IMPI", "EF.IMPU", "EF.P-CSCF", "EF.IST"):
        assert codec_for(ef).to_json(None) is None
        assert codec_for(ef).from_json(None) is None


def test_codec_for_accepts_the_three_spellings() -> None:
    assert codec_for("EF.IMPI") is codec_for("IMPI") is codec_for("6F02") is codec_for("6f02")
    assert codec_for("IMPI").spec.fid == 0x6F02
    with pytest.raises(CodecError, match="unknown EF"):
        codec_for("EF.NOPE")


def test_mf_arr_by_spec() -> None:
    mf_arr = layout().mf.files["EF.ARR"]
    assert codec_for(mf_arr).spec is mf_arr
    assert codec_for("EF.ARR").spec.fid == 0x6F06  # ADF.ISIM first


def test_empty_file_versus_empty_tlv() -> None:
    impu = codec_for("EF.IMPU")
    assert impu.decode(b"\xff" * 128) is None
    assert impu.decode(H("8000") + b"\xff" * 126) == ""
    assert impu.encode(None) == b"\xff" * 128
    assert impu.encode("") == H("8000") + b"\xff" * 126


def test_oversize_raises_size_error_naming_the_ef() -> None:
    with pytest.raises(SizeError, match=r"^EF\.IMPI: encoded value is 140 bytes, file is 128$"):
        codec_for("IMPI").encode("x" * 137)
    with pytest.raises(SizeError, match=r"EF\.IMPU: encoded value is 22 bytes, record is 20"):
        codec_for("IMPU").encode("sip:alice@ims.com.xx", size=20)
    with pytest.raises(SizeError, match=r"EF\.IST"):
        codec_for("IST").encode(frozenset({113}))
    with pytest.raises(SizeError, match=r"EF\.ICCID"):
        codec_for("ICCID").encode("1" * 21)


def test_long_form_lengths() -> None:
    impi = codec_for("IMPI")
    value = "a" * 200
    encoded = impi.encode(value, size=256)
    assert encoded[:3] == H("8081c8")
    assert impi.decode(encoded) == value
    config = codec_for("IMSConfigData")
    big = ConfigData(0, bytes(250))
    encoded = config.encode(big)
    assert encoded[:6] == H("800100" + "8181fa")
    assert config.decode(encoded) == big


@pytest.mark.parametrize(
    ("ef", "content", "problem"),
    [
        ("EF.IMPI", "800d616c6963", "truncated TLV"),
        ("EF.IMPI", "8002c328", "bad UTF-8"),
        ("EF.IMPI", "81", "malformed TLV"),
        ("EF.IMPI", "0401", "malformed TLV"),
        ("EF.P-CSCF", "800301c0a8", "ipv4 address must be 4 bytes"),
        ("EF.P-CSCF", "800209ff", "unknown address type"),
        ("EF.GBANL", "80026e61", "Ua protocol id"),
        ("EF.ICCID", "98881201000040031af0", "non-BCD"),
        ("EF.ICCID", "98881201000040031fff", "after the 'F'"),
        ("EF.IMSDCI", "07", "RFU"),
        ("EF.DIR", "61054f03a000", "malformed TLV"),
        ("EF.ARR", "9000", "before any access mode"),
        ("EF.SMSP", "00" * 27, "at least 28"),
    ],
)
def test_malformed_input_raises_codec_error(ef: str, content: str, problem: str) -> None:
    with pytest.raises(CodecError, match=problem) as info:
        codec_for(ef).decode(H(content))
    assert str(info.value).startswith(ef + ": ")


def test_trailing_garbage_detailed_versus_plain() -> None:
    impi = codec_for("IMPI")
    data = H("800d616c69636540696d732e636f6d") + H("ff00ab") + b"\xff" * 10
    detailed = impi.decode_detailed(data)
    assert detailed.value == "alice@ims.com"
    assert detailed.trailing == H("ff00ab")
    assert detailed.end == 15
    with pytest.raises(CodecError, match="after the data at offset 15"):
        impi.decode(data)
    assert impi.decode_detailed(data[:15] + b"\xff" * 3).trailing == b""


def test_arr_codec_real_card_record() -> None:
    record = H("800103A406830101950108800118A40683010A9501088401D4A40683010A950108")
    codec = codec_for("EF.ARR")
    rule = codec.decode(record + b"\xff" * (48 - len(record)))
    assert rule is not None
    assert rule.condition("read") == arr.key(0x01)
    assert rule.condition("deactivate") == arr.key(0x0A)
    assert rule.condition_for_command(0xD4) == arr.key(0x0A)
    assert codec.encode(rule)[: len(record)] == record
    as_json = codec.to_json(rule)
    assert as_json["rules"][0] == {
        "operations": ["read", "update"],
        "am_byte": "03",
        "condition": ["PIN1"],
    }
    assert codec.from_json(as_json) == rule


def test_ist_bit_positions() -> None:
    ist = codec_for("IST")
    assert ist.encode(frozenset({1}))[:1] == b"\x01"
    assert ist.encode(frozenset({8}))[:1] == b"\x80"
    assert ist.encode(frozenset({9}))[:2] == b"\x00\x01"
    assert ist.decode(ist.encode(frozenset({112}))) == frozenset({112})


def test_pcscf_address_normalises_and_validates() -> None:
    assert PcscfAddress("ipv6", "2001:DB8:0::1").address == "2001:db8::1"
    with pytest.raises(CodecError):
        PcscfAddress("ipv4", "300.1.1.1")
    with pytest.raises(CodecError):
        PcscfAddress("dns", "x")  # type: ignore[arg-type]


def test_gbabp_not_yet_written_fields() -> None:
    codec = codec_for("GBABP")
    data = H("02abcd") + b"\xff" * 61
    assert codec.decode(data) == GbaBootstrapping(H("abcd"), "", "")


def test_smsp_alpha_id_too_long_for_record() -> None:
    with pytest.raises(SizeError, match=r"EF\.SMSP"):
        codec_for("SMSP").encode(SmsParameters(alpha_id=b"x" * 13))


def test_json_errors_are_codec_errors() -> None:
    with pytest.raises(CodecError, match="lacks the key 'nai'"):
        codec_for("IMPI").from_json({"uri": "x"})
    with pytest.raises(CodecError):
        codec_for("IMPI").from_json(["x"])
    with pytest.raises(CodecError):
        codec_for("P-CSCF").from_json({"type": "ipv4", "address": "nope"})
    with pytest.raises(CodecError):
        codec_for("IST").encode(frozenset({0}))


# TS 102 221 annex A: alpha identifiers in the '81' and '82' UCS2 codings (decoded, never
# written: isim writes the default alphabet or '80'). b8 = 0: a default alphabet character;
# b8 = 1: b7..b1 added to the base pointer ('81': the third byte is bits 15..8 of it).
@pytest.mark.parametrize(("hexdata", "text"), [
    ("8103135395a6ffff", "S\u0995\u09a6"),  # base 0x13 << 7 = 0x0980 (Bengali)
    ("820505302d82d32d31", "-\u0532\u0583-1"),  # base 0x0530 (Armenian)
    ("820200415a80", "Z\u0041"),  # 82 with base U+0041: 80 is the base itself
])
def test_alpha_identifier_ucs2_half_page_codings(hexdata: str, text: str) -> None:
    from isim.codecs.usim_values import decode_alpha

    assert decode_alpha(bytes.fromhex(hexdata)) == text


@pytest.mark.parametrize(("hexdata", "why"), [
    ("8105135395", "announces 5 characters"),
    ("81", "truncated"),
    ("8201d80080", "is not UCS2"),
    ("8101131b", "extension table"),
])
def test_alpha_identifier_ucs2_half_page_errors(hexdata: str, why: str) -> None:
    from isim.codecs.usim_values import decode_alpha

    with pytest.raises(ValueError, match=why):
        decode_alpha(bytes.fromhex(hexdata))


def test_spn_in_the_81_coding_decodes_through_the_ef_codec() -> None:
    spn = codec_for("USIM/SPN").decode(bytes.fromhex("01" + "8103135395a6" + "ff" * 10))
    assert spn is not None and spn.name == "S\u0995\u09a6" and spn.display_condition == 1
