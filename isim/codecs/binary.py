"""Codecs of the fixed binary layouts under ADF.ISIM (TS 31.103 clause 4.2).

EF.AD, EF.IST, EF.GBABP, EF.FromPreferred, EF.IMSDCI. The SMS files are in `sms.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from construct import Bytes, GreedyBytes, Int8ub, Struct

from .base import Codec, hex_bytes
from .errors import CodecError, SizeError

__all__ = ["AdministrativeData", "GbaBootstrapping", "ImsDataChannelIndication"]


# -- EF.AD (4.2.5) --------------------------------------------------------------------------

_AD = Struct("ue_operation_mode" / Int8ub, "additional_information" / GreedyBytes)

@dataclass(frozen=True)
class AdministrativeData:
    """Byte 1: UE operation mode; bytes 2..: additional information (no MNC length byte)."""

    ue_operation_mode: int = 0
    additional_information: bytes = b"\x00\x00"


class AdCodec(Codec[AdministrativeData]):
    name = "ad"

    def _decode(self, data: bytes) -> tuple[AdministrativeData, int]:
        parsed = _AD.parse(data)
        return AdministrativeData(parsed.ue_operation_mode, parsed.additional_information), len(
            data
        )

    def _encode(self, value: AdministrativeData, size: int) -> bytes:
        # construct costs ~15 us a call, paid once per distinct value: personalization
        # encodes EF.AD once per UE operation mode of a batch (isim.card.contents, per_value)
        return _AD.build({"ue_operation_mode": value.ue_operation_mode,
                          "additional_information": bytes(value.additional_information)})

    def _to_json(self, value: AdministrativeData) -> dict[str, Any]:
        return {
            "ue_operation_mode": value.ue_operation_mode,
            "additional_information": value.additional_information.hex(),
        }

    def _from_json(self, obj: Mapping[str, Any]) -> AdministrativeData:
        mode = obj["ue_operation_mode"]
        if not isinstance(mode, int) or isinstance(mode, bool):
            raise CodecError(self.ef, "'ue_operation_mode' must be an integer")
        info = hex_bytes(obj.get("additional_information", "0000"), "additional_information")
        return AdministrativeData(mode, info)


# -- EF.IST (4.2.7) -------------------------------------------------------------------------


class IstCodec(Codec[frozenset[int]]):
    """Service n is bit (n-1) mod 8 (b1 = LSB) of byte (n-1) div 8: a little-endian integer."""

    name = "ist"

    def _decode(self, data: bytes) -> tuple[frozenset[int], int]:
        bits = int.from_bytes(data, "little")
        services = []
        n = 1
        while bits:
            if bits & 1:
                services.append(n)
            bits >>= 1
            n += 1
        return frozenset(services), len(data)

    def _encode(self, value: Iterable[int], size: int) -> bytes:
        bits = 0
        for n in value:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise CodecError(self.ef, f"service number {n!r} is not a positive integer")
            if n > size * 8:
                raise SizeError(self.ef, (n + 7) // 8, size, self._unit)
            bits |= 1 << (n - 1)
        return bits.to_bytes(size, "little")

    def _to_json(self, value: frozenset[int]) -> dict[str, Any]:
        return {"services": sorted(value)}

    def _from_json(self, obj: Mapping[str, Any]) -> frozenset[int]:
        services = obj["services"]
        if not isinstance(services, list):
            raise CodecError(self.ef, "'services' must be a list of service numbers")
        return frozenset(services)


# -- EF.GBABP (4.2.9) -----------------------------------------------------------------------

_LV = Struct("length" / Int8ub, "value" / Bytes(lambda ctx: ctx.length))


@dataclass(frozen=True)
class GbaBootstrapping:
    """`Lr RAND | Lb B-TID | Lk key lifetime`; fields the ME has not written yet are ""."""

    rand: bytes
    b_tid: str = ""
    key_lifetime: str = ""


class GbabpCodec(Codec[GbaBootstrapping]):
    name = "gbabp"

    def _decode(self, data: bytes) -> tuple[GbaBootstrapping, int]:
        values: list[bytes] = []
        pos = 0
        for what in ("RAND", "B-TID", "key lifetime"):
            if not data[pos:].rstrip(b"\xff"):
                break  # not written yet: the rest is padding
            if pos + 1 + data[pos] > len(data):
                raise CodecError(
                    self.ef, f"truncated {what}: {data[pos]} bytes announced at offset {pos}"
                )
            field = _LV.parse(data[pos:])
            values.append(field.value)
            pos += 1 + field.length
        values += [b""] * (3 - len(values))
        return GbaBootstrapping(values[0], values[1].decode(), values[2].decode()), pos

    def _encode(self, value: GbaBootstrapping, size: int) -> bytes:
        out = b""
        for field in (bytes(value.rand), value.b_tid.encode(), value.key_lifetime.encode()):
            if len(field) > 0xFF:
                raise CodecError(self.ef, "a field is longer than 255 bytes")
            out += _LV.build({"length": len(field), "value": field})
        return out

    def _to_json(self, value: GbaBootstrapping) -> dict[str, Any]:
        return {"rand": value.rand.hex(), "b_tid": value.b_tid, "key_lifetime": value.key_lifetime}

    def _from_json(self, obj: Mapping[str, Any]) -> GbaBootstrapping:
        b_tid, lifetime = obj.get("b_tid", ""), obj.get("key_lifetime", "")
        if not isinstance(b_tid, str) or not isinstance(lifetime, str):
            raise CodecError(self.ef, "'b_tid' and 'key_lifetime' must be strings")
        return GbaBootstrapping(hex_bytes(obj["rand"], "rand"), b_tid, lifetime)


# -- EF.FromPreferred (4.2.17) --------------------------------------------------------------


class FromPreferredCodec(Codec[bool]):
    """b1 = 1: the From header is preferred; the other bits are RFU (written 0)."""

    name = "from_preferred"

    def _decode(self, data: bytes) -> tuple[bool, int]:
        return bool(data[0] & 0x01), 1

    def _encode(self, value: bool, size: int) -> bytes:
        if not isinstance(value, bool):
            raise CodecError(self.ef, "value must be true or false")
        return b"\x01" if value else b"\x00"

    def _to_json(self, value: bool) -> dict[str, Any]:
        return {"from_preferred": value}

    def _from_json(self, obj: Mapping[str, Any]) -> bool:
        value = obj["from_preferred"]
        if not isinstance(value, bool):
            raise CodecError(self.ef, "'from_preferred' must be true or false")
        return value


# -- EF.IMSDCI (4.2.23) ---------------------------------------------------------------------


class ImsDataChannelIndication(enum.IntEnum):
    NOT_ALLOWED = 0x00
    ALLOWED_AFTER_IMS_SESSION = 0x01
    ALLOWED_SIMULTANEOUSLY = 0x02


class ImsdciCodec(Codec[ImsDataChannelIndication]):
    name = "imsdci"

    def _decode(self, data: bytes) -> tuple[ImsDataChannelIndication, int]:
        try:
            return ImsDataChannelIndication(data[0]), 1
        except ValueError:
            raise CodecError(self.ef, f"RFU indication value {data[0]:02X}") from None

    def _encode(self, value: ImsDataChannelIndication, size: int) -> bytes:
        return bytes((ImsDataChannelIndication(value),))

    def _to_json(self, value: ImsDataChannelIndication) -> dict[str, Any]:
        return {"indication": value.name.lower()}

    def _from_json(self, obj: Mapping[str, Any]) -> ImsDataChannelIndication:
        raw = obj["indication"]
        if isinstance(raw, str):
            try:
                return ImsDataChannelIndication[raw.upper()]
            except KeyError:
                raise CodecError(self.ef, f"unknown indication {raw!r}") from None
        return ImsDataChannelIndication(raw)


CODECS: tuple[type[Codec[Any]], ...] = (
    AdCodec,
    IstCodec,
    GbabpCodec,
    FromPreferredCodec,
    ImsdciCodec,
)
