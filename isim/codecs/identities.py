"""Codecs of the identity and address EFs (TS 31.103 clause 4.2): one `80 L value` TLV each.

EF.IMPI, EF.DOMAIN, EF.IMPU, EF.UICCIARI, EF.WebRTCURI, EF.NAFKCA hold UTF-8 text;
EF.P-CSCF a typed address; EF.GBANL a NAF_ID and B-TID; EF.GBAUAPI an AID and NAF_ID.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from specs import ber

from . import tlv
from .base import Codec, hex_bytes
from .errors import CodecError

__all__ = [
    "GbaNafEntry",
    "GbaUapiEntry",
    "PcscfAddress",
]


class Utf8TlvCodec(Codec[str]):
    """`80 L <UTF-8 text>`; `80 00` decodes to "" (an empty TLV, not an empty record)."""

    asn1_type: ClassVar[str] = ""
    json_key: ClassVar[str] = ""

    def _decode(self, data: bytes) -> tuple[str, int]:
        """Only the coding TS 102 221 / TS 101 220 give (tag 80, a length of 1 byte for
        0..127, `81 L` for 128..255, `82 LL` above): a card holds one coding of its text,
        the one `_encode` writes, so the bytes a validator passed are the bytes a UE reads."""
        fast = tlv.decode_tag80(self.ef, data)
        if fast is None:
            raise CodecError(self.ef, f"malformed TLV: expected `80 L value`, found "
                                      f"{data[:2].hex().upper()}")
        value, end = fast
        if end - len(value) != 1 + len(ber.length(len(value))):  # tag + shortest length
            raise CodecError(self.ef, "the length of tag 80 is not in its shortest form")
        return value.decode("utf-8"), end

    def _encode(self, value: str, size: int) -> bytes:
        if not isinstance(value, str):
            raise CodecError(self.ef, f"value must be text, not {type(value).__name__}")
        return tlv.encode_tag80(value.encode("utf-8"))

    def encode(self, value: str | None, size: int | None = None) -> bytes:
        """`Codec.encode`; ASCII text that fits in a short-form TLV (every identity of a
        batch, encoded per card) without its calls: `80 L text`, then FF to `size`."""
        if size is not None and type(value) is str and value.isascii():
            n = len(value)
            if n < 0x80 and n + 2 <= size:
                return bytes((tlv.TAG_DATA_OBJECT, n)) + value.encode() + b"\xff" * (size - n - 2)
        return super().encode(value, size)

    def _to_json(self, value: str) -> dict[str, Any]:
        return {self.json_key: value}

    def _from_json(self, obj: Mapping[str, Any]) -> str:
        value = obj[self.json_key]
        if not isinstance(value, str):
            raise CodecError(self.ef, f"{self.json_key!r} must be a string")
        return value


class ImpiCodec(Utf8TlvCodec):  # 4.2.2
    name = "impi"
    asn1_type = "IMPI"
    json_key = "nai"


class DomainCodec(Utf8TlvCodec):  # 4.2.3
    name = "domain"
    asn1_type = "Domain"
    json_key = "domain"


class ImpuCodec(Utf8TlvCodec):  # 4.2.4
    name = "impu"
    asn1_type = "IMPU"
    json_key = "uri"


class NafkcaCodec(Utf8TlvCodec):  # 4.2.11
    name = "nafkca"
    asn1_type = "NAFKCA"
    json_key = "fqdn"


class UicciariCodec(Utf8TlvCodec):  # 4.2.16
    name = "uicciari"
    asn1_type = "UICCIARI"
    json_key = "iari"


class WebrtcUriCodec(Utf8TlvCodec):  # 4.2.20
    name = "webrtc_uri"
    asn1_type = "WebRTCURI"
    json_key = "uri"


# -- EF.P-CSCF (4.2.8) ----------------------------------------------------------------------

AddressType = Literal["fqdn", "ipv4", "ipv6"]
_TYPE_BYTE: dict[str, int] = {"fqdn": 0x00, "ipv4": 0x01, "ipv6": 0x02}
_TYPE_NAME: dict[int, AddressType] = {0x00: "fqdn", 0x01: "ipv4", 0x02: "ipv6"}


@dataclass(frozen=True)
class PcscfAddress:
    """A P-CSCF address; IP addresses are kept in their canonical text form."""

    type: AddressType
    address: str

    def __post_init__(self) -> None:
        if self.type not in _TYPE_BYTE:
            raise CodecError("EF.P-CSCF", f"unknown address type {self.type!r}")
        if not isinstance(self.address, str):
            raise CodecError("EF.P-CSCF", "address must be a string")
        if self.type == "fqdn":
            return
        try:
            ip = (
                ipaddress.IPv4Address(self.address)
                if self.type == "ipv4"
                else ipaddress.IPv6Address(self.address)
            )
        except ValueError as exc:
            raise CodecError("EF.P-CSCF", str(exc)) from None
        object.__setattr__(self, "address", str(ip))

    def to_bytes(self) -> bytes:
        """Address type byte || address (the value of the `80` TLV)."""
        if self.type == "fqdn":
            # An empty FQDN is the empty TLV `80 00` seen on real cards.
            return b"\x00" + self.address.encode("utf-8") if self.address else b""
        if self.type == "ipv4":
            return b"\x01" + ipaddress.IPv4Address(self.address).packed
        return b"\x02" + ipaddress.IPv6Address(self.address).packed

    @classmethod
    def from_bytes(cls, value: bytes) -> PcscfAddress:
        if not value:
            return cls("fqdn", "")
        kind = _TYPE_NAME.get(value[0])
        body = value[1:]
        if kind is None:
            raise CodecError("EF.P-CSCF", f"unknown address type byte {value[0]:02X}")
        if kind == "fqdn":
            return cls("fqdn", body.decode("utf-8"))
        expected = 4 if kind == "ipv4" else 16
        if len(body) != expected:
            raise CodecError(
                "EF.P-CSCF", f"{kind} address must be {expected} bytes, not {len(body)}"
            )
        ip = ipaddress.IPv4Address(body) if kind == "ipv4" else ipaddress.IPv6Address(body)
        return cls(kind, str(ip))


class PcscfCodec(Codec[PcscfAddress]):
    name = "pcscf"

    def _decode(self, data: bytes) -> tuple[PcscfAddress, int]:
        fast = tlv.decode_tag80(self.ef, data)
        if fast is None:
            fast = tlv.decode_type(self.ef, "PCSCFAddress", data)
        value, end = fast
        return PcscfAddress.from_bytes(value), end

    def _encode(self, value: PcscfAddress, size: int) -> bytes:
        if not isinstance(value, PcscfAddress):
            raise CodecError(self.ef, "value must be a PcscfAddress")
        return tlv.encode_tag80(value.to_bytes())

    def _to_json(self, value: PcscfAddress) -> dict[str, Any]:
        return {"type": value.type, "address": value.address}

    def _from_json(self, obj: Mapping[str, Any]) -> PcscfAddress:
        return PcscfAddress(obj["type"], obj["address"])


# -- EF.GBANL (4.2.10) ----------------------------------------------------------------------

UA_PROTOCOL_ID_LENGTH = 5  # TS 33.220 annex H: Ua security protocol identifier


@dataclass(frozen=True)
class GbaNafEntry:
    """One EF.GBANL record: NAF_ID (= NAF FQDN || Ua security protocol id) and B-TID."""

    naf_fqdn: str
    ua_security_protocol_id: bytes
    b_tid: str | None = None


class GbanlCodec(Codec[GbaNafEntry]):
    name = "gbanl"

    def _decode(self, data: bytes) -> tuple[GbaNafEntry, int]:
        value, end = tlv.decode_contents(self.ef, "GBANLContents", data)
        naf_id = value["nafId"]
        if len(naf_id) < UA_PROTOCOL_ID_LENGTH:
            raise CodecError(self.ef, f"NAF_ID of {len(naf_id)} bytes lacks the Ua protocol id")
        fqdn = naf_id[:-UA_PROTOCOL_ID_LENGTH].decode("utf-8")
        return GbaNafEntry(fqdn, bytes(naf_id[-UA_PROTOCOL_ID_LENGTH:]), value.get("bTid")), end

    def _encode(self, value: GbaNafEntry, size: int) -> bytes:
        if len(value.ua_security_protocol_id) != UA_PROTOCOL_ID_LENGTH:
            raise CodecError(self.ef, "the Ua security protocol id must be 5 bytes")
        asn: dict[str, Any] = {
            "nafId": value.naf_fqdn.encode("utf-8") + bytes(value.ua_security_protocol_id)
        }
        if value.b_tid is not None:
            asn["bTid"] = value.b_tid
        return tlv.encode_contents(self.ef, "GBANLContents", asn)

    def _to_json(self, value: GbaNafEntry) -> dict[str, Any]:
        return {
            "naf_fqdn": value.naf_fqdn,
            "ua_security_protocol_id": value.ua_security_protocol_id.hex(),
            "b_tid": value.b_tid,
        }

    def _from_json(self, obj: Mapping[str, Any]) -> GbaNafEntry:
        b_tid = obj.get("b_tid")
        if b_tid is not None and not isinstance(b_tid, str):
            raise CodecError(self.ef, "'b_tid' must be a string or null")
        fqdn = obj["naf_fqdn"]
        if not isinstance(fqdn, str):
            raise CodecError(self.ef, "'naf_fqdn' must be a string")
        proto = hex_bytes(obj["ua_security_protocol_id"], "ua_security_protocol_id")
        return GbaNafEntry(fqdn, proto, b_tid)


# -- EF.GBAUAPI (4.2.22, TS 31.130) ---------------------------------------------------------


@dataclass(frozen=True)
class GbaUapiEntry:
    """One EF.GBAUAPI record: `80 L { La AID, Ln NAF_ID }` (length-value pairs)."""

    aid: bytes
    naf_id: bytes


class GbauapiCodec(Codec[GbaUapiEntry]):
    name = "gbauapi"

    def _decode(self, data: bytes) -> tuple[GbaUapiEntry, int]:
        fast = tlv.decode_tag80(self.ef, data)
        if fast is None:
            fast = tlv.decode_type(self.ef, "GBAUAPI", data)
        value, end = fast
        fields: list[bytes] = []
        pos = 0
        for what in ("AID", "NAF_ID"):
            if pos >= len(value):
                raise CodecError(self.ef, f"missing {what} length")
            length = value[pos]
            if pos + 1 + length > len(value):
                raise CodecError(self.ef, f"truncated {what}: {length} bytes announced")
            fields.append(bytes(value[pos + 1 : pos + 1 + length]))
            pos += 1 + length
        if pos != len(value):
            raise CodecError(self.ef, f"{len(value) - pos} extra byte(s) inside the TLV")
        return GbaUapiEntry(fields[0], fields[1]), end

    def _encode(self, value: GbaUapiEntry, size: int) -> bytes:
        body = b""
        for what, field in (("AID", value.aid), ("NAF_ID", value.naf_id)):
            if len(field) > 0xFF:
                raise CodecError(self.ef, f"{what} longer than 255 bytes")
            body += bytes((len(field),)) + bytes(field)
        return tlv.encode_tag80(body)

    def _to_json(self, value: GbaUapiEntry) -> dict[str, Any]:
        return {"aid": value.aid.hex(), "naf_id": value.naf_id.hex()}

    def _from_json(self, obj: Mapping[str, Any]) -> GbaUapiEntry:
        return GbaUapiEntry(hex_bytes(obj["aid"], "aid"), hex_bytes(obj["naf_id"], "naf_id"))


CODECS: tuple[type[Codec[Any]], ...] = (
    ImpiCodec,
    DomainCodec,
    ImpuCodec,
    NafkcaCodec,
    UicciariCodec,
    WebrtcUriCodec,
    PcscfCodec,
    GbanlCodec,
    GbauapiCodec,
)
