"""The ASN.1 modules (specs/*.asn via asn1tools), the `80 L value` fast path, and FCPs."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from isim.codecs import CodecError, codec_for, decode_fcp, encode_fcp
from isim.codecs.errors import CodecError as ErrorsCodecError
from isim.codecs.tlv import (
    compiled,
    decode_contents,
    decode_tag80,
    encode_contents,
    encode_tag80,
)
from isim.errors import IsimError
from specs.ber import length as ber_length

H = bytes.fromhex

# digest 2.2: FCPs of a real ISIM card
FCP_ADF_ISIM = H(
    "6242820278218302ff028410a0000000871004ffffffff8907090000a50c800171830400056450870101"
    "8a01058c04261a0000c60f90017083010183018183010a83010b"
)
FCP_EF_IMPI = H("621f8202412183026f02a506d00120d2010f8a01058b036f060380020080880110")
# EF.IMPU: the digest elides the A5 contents ("a506..."); those of EF.IMPI are used here.
FCP_EF_IMPU = H("62228205422100800883026f04a506d00120d2010f8a01058b036f060380020400880120")


def test_compiled_once() -> None:
    assert compiled() is compiled()


def test_error_types() -> None:
    assert CodecError is ErrorsCodecError
    assert issubclass(CodecError, ValueError)
    assert issubclass(CodecError, IsimError)


@pytest.mark.parametrize(
    ("n", "encoded"), [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"), (256, "820100")]
)
def test_ber_length(n: int, encoded: str) -> None:
    assert ber_length(n) == H(encoded)


@given(st.text(max_size=400))
@example("a" * 127)
@example("a" * 128)
@example("a" * 255)
@example("a" * 256)
@example("\u00e9" * 200)
@example("x" * 70000)  # 83 form, beyond any EF
@settings(max_examples=300)
def test_fast_encode_equals_asn1tools(value: str) -> None:
    assert encode_tag80(value.encode()) == compiled().encode("IMPI", value)
    encoded = bytes(compiled().encode("IMPI", value))
    assert codec_for("IMPI").encode(value, size=len(encoded) + 3) == encoded + b"\xff" * 3


@given(st.binary(min_size=1, max_size=16), st.none() | st.text(max_size=200))
@example(b"\xa0\x00\x00\x00\x87\x10\x04", "ISIM")
@example(b"\x01", "\u00e9" * 60)  # the label's and the template's 81 L forms
@settings(max_examples=300)
def test_ef_dir_record_equals_asn1tools(aid: bytes, label: str | None) -> None:
    from isim.codecs.uicc import ApplicationTemplate

    asn: dict[str, object] = {"aid": aid} | ({} if label is None else {"label": label})
    encoded = bytes(compiled().encode("ApplicationTemplate", asn))
    codec = codec_for("EF.DIR")
    assert codec._encode(ApplicationTemplate(aid, label), len(encoded)) == encoded
    assert codec.decode(encoded) == ApplicationTemplate(aid, label)


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_fast_encode_equals_asn1tools_octets(value: bytes) -> None:
    assert encode_tag80(value) == compiled().encode("PCSCFAddress", value)


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
@settings(max_examples=500)
def test_fast_decode_agrees_with_asn1tools(blob: bytes, length: int) -> None:
    for data in (blob, b"\x80" + ber_length(min(length, 0xFFFF)) + blob, b"\x80" + blob):
        try:
            fast = decode_tag80("EF.P-CSCF", data)
        except CodecError:
            fast = "error"
        if fast is None:
            continue  # not the 80-L form: the codecs hand these to asn1tools
        try:
            slow: object = compiled().decode_with_length("PCSCFAddress", data)
            slow = (bytes(slow[0]), slow[1])  # type: ignore[index]
        except Exception:  # asn1tools raises its own exception types
            slow = "error"
        assert fast == slow, data.hex()


def test_fast_decode_matches_on_the_digest_vectors() -> None:
    for hexdata in ("800d616c69636540696d732e636f6d", "8000", "8081c8" + "61" * 200):
        data = H(hexdata)
        value, end = decode_tag80("EF.IMPI", data)  # type: ignore[misc]
        assert (value.decode(), end) == compiled().decode_with_length("IMPI", data)


def test_contents_octets_trick() -> None:
    data = H("80106e61662e696d732e636f6d0100000002811062746964406273662e696d732e636f6d")
    value, end = decode_contents("EF.GBANL", "GBANLContents", data + b"\xff\xff")
    assert end == len(data)
    assert value["bTid"] == "btid@bsf.ims.com"
    assert encode_contents("EF.GBANL", "GBANLContents", value) == data
    with pytest.raises(CodecError, match="truncated TLV"):
        decode_contents("EF.GBANL", "GBANLContents", data[:-1])


def test_fcp_adf_isim() -> None:
    fcp = dict(decode_fcp(FCP_ADF_ISIM))
    assert fcp["fileDescriptor"] == H("7821")
    assert fcp["fileIdentifier"] == H("ff02")
    assert fcp["dfName"] == H("a0000000871004ffffffff8907090000")
    assert fcp["lifeCycleStatus"] == b"\x05"
    assert fcp["securityAttributesCompact"] == H("261a0000")
    assert dict(fcp["proprietaryInformation"])["uiccCharacteristics"] == b"\x71"
    assert fcp["pinStatusTemplate"] == [
        ("psDo", b"\x70"),
        ("keyReference", b"\x01"),
        ("keyReference", b"\x81"),
        ("keyReference", b"\x0a"),
        ("keyReference", b"\x0b"),
    ]
    assert encode_fcp(decode_fcp(FCP_ADF_ISIM)) == FCP_ADF_ISIM


def test_fcp_ef_impi_and_impu() -> None:
    impi = decode_fcp(FCP_EF_IMPI)
    assert [name for name, _ in impi] == [
        "fileDescriptor",
        "fileIdentifier",
        "proprietaryInformation",
        "lifeCycleStatus",
        "securityAttributesReferenced",
        "fileSize",
        "shortFileIdentifier",
    ]
    fields = dict(impi)
    assert fields["securityAttributesReferenced"] == H("6f0603")  # EF.ARR 6F06 record 3
    assert int.from_bytes(fields["fileSize"], "big") == 128
    assert fields["shortFileIdentifier"][0] >> 3 == 2  # '88 01 10' = SFI 2
    impu = dict(decode_fcp(FCP_EF_IMPU))
    descriptor = impu["fileDescriptor"]
    assert descriptor[0] == 0x42 and int.from_bytes(descriptor[2:4], "big") == 128
    assert descriptor[4] == 8
    assert impu["shortFileIdentifier"] == b"\x20"


def test_fcp_without_sfi_and_errors() -> None:
    fcp = encode_fcp(
        [
            ("fileDescriptor", H("42210040 04".replace(" ", ""))),
            ("fileIdentifier", H("6f09")),
            ("shortFileIdentifier", b""),
        ]
    )
    assert fcp.endswith(H("8800"))
    assert dict(decode_fcp(fcp))["shortFileIdentifier"] == b""
    with pytest.raises(CodecError, match="FCP"):
        decode_fcp(FCP_EF_IMPI[:-2])
