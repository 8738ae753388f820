"""Codecs of the USIM's subscriber files (TS 31.102 clause 4.2).

EF.IMSI, EF.AD, EF.UST / EF.EST, EF.ACC, EF.PLMNwAcT / OPLMNwACT / HPLMNwAcT, EF.FPLMN,
EF.SPN, EF.MSISDN, EF.ECC; EF.Routing_Indicator (4.4.11.11). The network-state files
(EF.LOCI, EF.KEYS ...) and DF.5GS's TLV files are in `usim_state.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from construct import Bytes, GreedyRange, Int8ub, Struct, this

from .base import Codec, hex_bytes
from .binary import IstCodec
from .errors import CodecError
from .uicc import SWAP_NIBBLES
from .usim_values import (
    decode_act,
    decode_alpha,
    decode_bcd,
    decode_plmn,
    encode_act,
    encode_alpha,
    encode_bcd,
    encode_plmn,
)

__all__ = [
    "EmergencyNumber",
    "Msisdn",
    "PlmnAct",
    "ServiceProviderName",
    "UsimAdministrativeData",
    "decode_imsi",
    "encode_imsi",
]

# -- EF.IMSI (4.2.2) ------------------------------------------------------------------------

_IMSI_TYPE = 0b001  # b3..b1 of byte 2: "IMSI"
_ODD = 0b1000  # b4 of byte 2: odd number of digits


def encode_imsi(imsi: str) -> bytes:
    """Byte 1: bytes that follow; byte 2: digit 1 (high nibble), parity, type 001; then
    digit 2k in the low and 2k+1 in the high nibble, 'F' filled (TS 31.102 4.2.2)."""
    if not isinstance(imsi, str) or not imsi.isascii() or not imsi.isdigit():
        raise ValueError(f"IMSI must be decimal digits, not {imsi!r}")
    if not 6 <= len(imsi) <= 15:
        raise ValueError(f"IMSI must be 6 to 15 digits, not {len(imsi)}")
    odd = len(imsi) % 2
    # nibbles in reading order (the first of each pair is the low nibble): swap after fromhex
    text = ("9" if odd else "1") + imsi + ("" if odd else "F")  # parity | type 001
    return bytes((len(text) // 2,)) + bytes.fromhex(text).translate(SWAP_NIBBLES)


def decode_imsi(data: bytes) -> tuple[str, int]:
    """(IMSI digits, end) of an EF.IMSI body; ValueError naming what is wrong."""
    length = data[0]
    if not 1 <= length <= 8:
        raise ValueError(f"length byte {length} is not 1..8")
    if length + 1 > len(data):
        raise ValueError(f"length byte {length} announces more than the {len(data) - 1} bytes")
    nibbles = [n for b in data[1 : 1 + length] for n in (b & 0xF, b >> 4)]
    if nibbles[0] & 0b111 != _IMSI_TYPE:
        raise ValueError(f"identity type {nibbles[0] & 0b111} is not IMSI (001)")
    digits = _digits(nibbles[1:])
    odd = bool(nibbles[0] & _ODD)
    if odd != bool(len(digits) % 2):
        raise ValueError(f"parity bit says {'odd' if odd else 'even'}, {len(digits)} digits")
    return digits, 1 + length


def _digits(nibbles: list[int]) -> str:
    out = []
    for i, n in enumerate(nibbles):
        if n == 0xF:
            if any(m != 0xF for m in nibbles[i:]):
                raise ValueError("IMSI digit after the 'F' filler")
            break
        if n > 9:
            raise ValueError(f"non-BCD IMSI nibble {n:X}")
        out.append(str(n))
    return "".join(out)


class ImsiCodec(Codec[str]):
    name = "imsi"

    def _decode(self, data: bytes) -> tuple[str, int]:
        return decode_imsi(data)

    def _encode(self, value: str, size: int) -> bytes:
        return encode_imsi(value)

    def _to_json(self, value: str) -> dict[str, Any]:
        return {"imsi": value}

    def _from_json(self, obj: Mapping[str, Any]) -> str:
        return obj["imsi"]


# -- EF.AD (4.2.18) -------------------------------------------------------------------------

_AD = Struct("ue_operation_mode" / Int8ub, "additional_information" / Bytes(2),
             "mnc" / Int8ub)


@dataclass(frozen=True)
class UsimAdministrativeData:
    """Byte 1 UE operation mode, bytes 2-3 additional information, byte 4 b4..b1 the length
    of the MNC in the IMSI (b8..b5 RFU)."""

    ue_operation_mode: int = 0
    additional_information: bytes = b"\x00\x00"
    mnc_length: int = 2


class UsimAdCodec(Codec[UsimAdministrativeData]):
    name = "usim_ad"

    def _decode(self, data: bytes) -> tuple[UsimAdministrativeData, int]:
        p = _AD.parse(data)
        return UsimAdministrativeData(
            p.ue_operation_mode, p.additional_information, p.mnc & 0x0F
        ), _AD.sizeof()

    def _encode(self, value: UsimAdministrativeData, size: int) -> bytes:
        if value.mnc_length not in (2, 3):
            raise CodecError(self.ef, f"MNC length must be 2 or 3, not {value.mnc_length!r}")
        return _AD.build({"ue_operation_mode": value.ue_operation_mode,
                          "additional_information": value.additional_information,
                          "mnc": value.mnc_length})

    def _to_json(self, value: UsimAdministrativeData) -> dict[str, Any]:
        return {"ue_operation_mode": value.ue_operation_mode,
                "additional_information": value.additional_information.hex(),
                "mnc_length": value.mnc_length}

    def _from_json(self, obj: Mapping[str, Any]) -> UsimAdministrativeData:
        info = hex_bytes(obj.get("additional_information", "0000"), "additional_information")
        return UsimAdministrativeData(int(obj["ue_operation_mode"]), info, obj["mnc_length"])


# -- EF.UST (4.2.8), EF.EST (4.2.47), EF.UAC_AIC (4.4.11.7): bit n-1 of the table ---------


class ServiceTableCodec(IstCodec):
    """Service n available/enabled: bit (n-1) mod 8 of byte (n-1) div 8, as EF.IST."""

    name = "service_table"


class UacAicCodec(IstCodec):
    """Byte 1 b1: access identity 1 (MPS), b2: access identity 2 (MCS); the rest RFU."""

    name = "uac_aic"

    def _to_json(self, value: frozenset[int]) -> dict[str, Any]:
        return {"access_identities": sorted(value)}

    def _from_json(self, obj: Mapping[str, Any]) -> frozenset[int]:
        return frozenset(obj["access_identities"])


# -- EF.ACC (4.2.15) ------------------------------------------------------------------------

ACC_RESERVED = 10  # TS 22.011 4.2: class 10 is signalled by the network, never stored


class AccCodec(Codec[frozenset[int]]):
    """Byte 1 b8..b1 classes 15..8, byte 2 b8..b1 classes 7..0."""

    name = "acc"

    def _decode(self, data: bytes) -> tuple[frozenset[int], int]:
        bits = int.from_bytes(data[:2], "big")
        if len(data) < 2:
            raise CodecError(self.ef, "2 bytes required")
        return frozenset(n for n in range(16) if bits >> n & 1), 2

    def _encode(self, value: Iterable[int], size: int) -> bytes:
        bits = 0
        for n in value:
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 15:
                raise CodecError(self.ef, f"access class {n!r} is not 0..15")
            if n == ACC_RESERVED:
                raise CodecError(self.ef, "access class 10 is never stored (TS 22.011)")
            bits |= 1 << n
        return bits.to_bytes(2, "big")

    def _to_json(self, value: frozenset[int]) -> dict[str, Any]:
        return {"classes": sorted(value)}

    def _from_json(self, obj: Mapping[str, Any]) -> frozenset[int]:
        return frozenset(obj["classes"])


# -- EF.PLMNwAcT / OPLMNwACT / HPLMNwAcT (4.2.5, 4.2.53, 4.2.54), EF.FPLMN (4.2.16) --------


@dataclass(frozen=True)
class PlmnAct:
    plmn: str
    act: tuple[str, ...]


_PLMN_ACT = GreedyRange(Struct("plmn" / Bytes(3), "act" / Bytes(2)))


class PlmnActCodec(Codec[tuple[PlmnAct, ...]]):
    """Repeated PLMN (3) + access technology (2); unused entries FFFFFF 0000 (or all FF)."""

    name = "plmn_act"

    def _decode(self, data: bytes) -> tuple[tuple[PlmnAct, ...], int]:
        out = []
        entries = _PLMN_ACT.parse(data)
        for e in entries:
            plmn = decode_plmn(e.plmn)
            if plmn is not None:
                out.append(PlmnAct(plmn, decode_act(e.act)))
            elif e.act not in (b"\x00\x00", b"\xff\xff"):
                raise CodecError(self.ef, f"unused entry with access technology {e.act.hex()}")
        return tuple(out), 5 * len(entries)

    def _encode(self, value: Iterable[PlmnAct], size: int) -> bytes:
        body = b"".join(encode_plmn(e.plmn) + encode_act(e.act) for e in value)
        unused = (size - len(body)) // 5 if size > len(body) else 0
        return body + b"\xff\xff\xff\x00\x00" * unused

    def _to_json(self, value: tuple[PlmnAct, ...]) -> dict[str, Any]:
        return {"entries": [{"plmn": e.plmn, "act": list(e.act)} for e in value]}

    def _from_json(self, obj: Mapping[str, Any]) -> tuple[PlmnAct, ...]:
        return tuple(PlmnAct(e["plmn"], tuple(e["act"])) for e in obj["entries"])


class PlmnListCodec(Codec[tuple[str, ...]]):
    """n PLMNs of 3 bytes; 'FFFFFF' is an empty slot."""

    name = "plmn_list"

    def _decode(self, data: bytes) -> tuple[tuple[str, ...], int]:
        out = []
        end = len(data) - len(data) % 3
        for i in range(0, end, 3):
            plmn = decode_plmn(data[i : i + 3])
            if plmn is not None:
                out.append(plmn)
        return tuple(out), end

    def _encode(self, value: Iterable[str], size: int) -> bytes:
        return b"".join(encode_plmn(p) for p in value)

    def _to_json(self, value: tuple[str, ...]) -> dict[str, Any]:
        return {"plmns": list(value)}

    def _from_json(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(obj["plmns"])


# -- EF.SPN (4.2.12) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProviderName:
    """Byte 1 display condition (b1, b2), bytes 2..17 the name (alpha identifier coding)."""

    name: str
    display_condition: int = 0x01


class SpnCodec(Codec[ServiceProviderName]):
    name = "spn"

    def _decode(self, data: bytes) -> tuple[ServiceProviderName, int]:
        return ServiceProviderName(decode_alpha(data[1:17]), data[0]), len(data)

    def _encode(self, value: ServiceProviderName, size: int) -> bytes:
        name = encode_alpha(value.name)
        if len(name) > 16:
            raise CodecError(self.ef, f"name {value.name!r} takes {len(name)} bytes, at most 16")
        return bytes((value.display_condition,)) + name

    def _to_json(self, value: ServiceProviderName) -> dict[str, Any]:
        return {"name": value.name, "display_condition": value.display_condition}

    def _from_json(self, obj: Mapping[str, Any]) -> ServiceProviderName:
        return ServiceProviderName(obj["name"], int(obj.get("display_condition", 1)))


# -- EF.MSISDN (4.2.26: the EF.ADN record coding of 4.4.2.3) -------------------------------

_TON_INTERNATIONAL = 0x91  # TON international, NPI ISDN/telephony (E.164)
_TON_UNKNOWN = 0x81
_NUMBER_BYTES = 10


@dataclass(frozen=True)
class Msisdn:
    """A dialling number ('+' for the international TON) and its alpha identifier."""

    number: str
    alpha: str = ""


_ADN_TAIL = Struct(
    "length" / Int8ub, "ton_npi" / Int8ub, "number" / Bytes(_NUMBER_BYTES),
    "ccp2" / Int8ub, "ext5" / Int8ub,
)
_ADN = Struct("alpha" / Bytes(this._.alpha_length), "tail" / _ADN_TAIL)


class MsisdnCodec(Codec[Msisdn]):
    name = "msisdn"

    def _decode(self, data: bytes) -> tuple[Msisdn, int]:
        alpha_length = len(data) - _ADN_TAIL.sizeof()
        if alpha_length < 0:
            raise CodecError(self.ef, f"record of {len(data)} bytes is shorter than 14")
        p = _ADN.parse(data, alpha_length=alpha_length)
        t = p.tail
        if t.length == 0xFF:
            return Msisdn("", decode_alpha(p.alpha)), len(data)
        if not 1 <= t.length <= 1 + _NUMBER_BYTES:
            raise CodecError(self.ef, f"number length {t.length} is not 1..11")
        digits = decode_bcd(t.number[: t.length - 1], "number")
        prefix = "+" if t.ton_npi == _TON_INTERNATIONAL else ""
        return Msisdn(prefix + digits, decode_alpha(p.alpha)), len(data)

    def _encode(self, value: Msisdn, size: int) -> bytes:
        alpha_length = size - _ADN_TAIL.sizeof()
        alpha = encode_alpha(value.alpha)
        if alpha_length < 0 or len(alpha) > alpha_length:
            raise CodecError(self.ef, f"alpha {value.alpha!r} does not fit {alpha_length} bytes")
        digits = value.number.removeprefix("+")
        bcd = encode_bcd(digits, _NUMBER_BYTES, "MSISDN")
        used = (len(digits) + 1) // 2
        ton = _TON_INTERNATIONAL if value.number.startswith("+") else _TON_UNKNOWN
        tail = _ADN_TAIL.build(
            {"length": used + 1, "ton_npi": ton, "number": bcd, "ccp2": 0xFF, "ext5": 0xFF}
        )
        return alpha.ljust(alpha_length, b"\xff") + tail

    def _to_json(self, value: Msisdn) -> dict[str, Any]:
        return {"number": value.number, "alpha": value.alpha}

    def _from_json(self, obj: Mapping[str, Any]) -> Msisdn:
        return Msisdn(obj["number"], obj.get("alpha", ""))


# -- EF.ECC (4.2.21) ------------------------------------------------------------------------

ECC_CATEGORIES = ("police", "ambulance", "fire_brigade", "marine_guard", "mountain_rescue",
                  "manual_ecall", "automatic_ecall")  # b1..b7 of the last byte


@dataclass(frozen=True)
class EmergencyNumber:
    number: str
    alpha: str = ""
    categories: tuple[str, ...] = ()


class EccCodec(Codec[EmergencyNumber]):
    """Bytes 1-3 the code (swapped BCD, 'F' filled), then the alpha identifier, then the
    emergency service category byte."""

    name = "ecc"

    def _decode(self, data: bytes) -> tuple[EmergencyNumber, int]:
        if len(data) < 4:
            raise CodecError(self.ef, "a record holds at least 4 bytes")
        category = data[-1]
        cats = tuple(c for i, c in enumerate(ECC_CATEGORIES) if category >> i & 1)
        return EmergencyNumber(decode_bcd(data[:3], "emergency code"), decode_alpha(data[3:-1]),
                               cats), len(data)

    def _encode(self, value: EmergencyNumber, size: int) -> bytes:
        if not value.number:
            raise CodecError(self.ef, "emergency code must not be empty")
        alpha = encode_alpha(value.alpha)
        if len(alpha) > size - 4:
            raise CodecError(self.ef, f"alpha {value.alpha!r} does not fit {size - 4} bytes")
        bits = 0
        for c in value.categories:
            if c not in ECC_CATEGORIES:
                raise CodecError(self.ef, f"unknown category {c!r} ({', '.join(ECC_CATEGORIES)})")
            bits |= 1 << ECC_CATEGORIES.index(c)
        code = encode_bcd(value.number, 3, "emergency code")
        return code + alpha.ljust(size - 4, b"\xff") + bytes((bits,))

    def _to_json(self, value: EmergencyNumber) -> dict[str, Any]:
        return {"number": value.number, "alpha": value.alpha,
                "categories": list(value.categories)}

    def _from_json(self, obj: Mapping[str, Any]) -> EmergencyNumber:
        return EmergencyNumber(obj["number"], obj.get("alpha", ""),
                               tuple(obj.get("categories", ())))


# -- EF.Routing_Indicator (4.4.11.11) -------------------------------------------------------


class RoutingIndicatorCodec(Codec[str]):
    """Bytes 1-2: up to 4 digits, swapped BCD, unused digits 'F'; bytes 3-4 RFU (00)."""

    name = "routing_indicator"

    def _decode(self, data: bytes) -> tuple[str, int]:
        return decode_bcd(data[:2], "routing indicator"), len(data)

    def _encode(self, value: str, size: int) -> bytes:
        if not value:
            raise CodecError(self.ef, "routing indicator must have 1 to 4 digits")
        return encode_bcd(value, 2, "routing indicator") + b"\x00\x00"

    def _to_json(self, value: str) -> dict[str, Any]:
        return {"routing_indicator": value}

    def _from_json(self, obj: Mapping[str, Any]) -> str:
        return obj["routing_indicator"]


CODECS: tuple[type[Codec[Any]], ...] = (
    ImsiCodec, UsimAdCodec, ServiceTableCodec, UacAicCodec, AccCodec, PlmnActCodec,
    PlmnListCodec, SpnCodec, MsisdnCodec, EccCodec, RoutingIndicatorCodec,
)
