"""Codecs of the SMS files under ADF.ISIM (TS 31.103 4.2.12-4.2.15, layouts of TS 31.102 /
TS 51.011 10.5.3-10.5.6). TPDUs stay bytes; trailing 'FF' padding is not part of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from construct import Bytes, GreedyBytes, Int8ub, Struct, this

from .base import Codec, hex_bytes
from .errors import CodecError, SizeError

__all__ = ["ShortMessage", "SmsParameters", "SmsStatus", "SmsStatusReport"]


def _byte(obj: Mapping[str, Any], key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise ValueError(f"{key!r} must be an integer 0..255")
    return value


# -- EF.SMS (51.011 10.5.3): status byte || TPDU --------------------------------------------

_SMS = Struct("status" / Int8ub, "tpdu" / GreedyBytes)

SMS_STATUS: dict[int, str] = {
    0x00: "free",
    0x01: "MT read",
    0x03: "MT to be read",
    0x07: "MO to be sent",
    0x05: "MO sent, status report not requested",
    0x0D: "MO sent, status report requested not received",
    0x15: "MO sent, status report received not stored",
    0x1D: "MO sent, status report received and stored",
}


@dataclass(frozen=True)
class ShortMessage:
    status: int
    tpdu: bytes = b""


class SmsCodec(Codec[ShortMessage]):
    name = "sms"

    def _decode(self, data: bytes) -> tuple[ShortMessage, int]:
        parsed = _SMS.parse(data)
        tpdu = parsed.tpdu.rstrip(b"\xff")
        return ShortMessage(parsed.status, tpdu), 1 + len(tpdu)

    def _encode(self, value: ShortMessage, size: int) -> bytes:
        return _SMS.build({"status": value.status, "tpdu": bytes(value.tpdu)})

    def _to_json(self, value: ShortMessage) -> dict[str, Any]:
        return {"status": value.status, "tpdu": value.tpdu.hex()}

    def _from_json(self, obj: Mapping[str, Any]) -> ShortMessage:
        return ShortMessage(_byte(obj, "status"), hex_bytes(obj.get("tpdu", ""), "tpdu"))


# -- EF.SMSS (51.011 10.5.7): last used TP-MR, memory capacity flag -------------------------

_SMSS = Struct("last_used_tp_mr" / Int8ub, "flags" / Int8ub)


@dataclass(frozen=True)
class SmsStatus:
    """Byte 2 b1 = 0 means memory capacity exceeded; the other bits are RFU (written 1)."""

    last_used_tp_mr: int
    memory_capacity_exceeded: bool = False


class SmssCodec(Codec[SmsStatus]):
    name = "smss"

    def _decode(self, data: bytes) -> tuple[SmsStatus, int]:
        parsed = _SMSS.parse(data)
        return SmsStatus(parsed.last_used_tp_mr, not parsed.flags & 0x01), 2

    def _encode(self, value: SmsStatus, size: int) -> bytes:
        flags = 0xFE if value.memory_capacity_exceeded else 0xFF
        return _SMSS.build({"last_used_tp_mr": value.last_used_tp_mr, "flags": flags})

    def _to_json(self, value: SmsStatus) -> dict[str, Any]:
        return {
            "last_used_tp_mr": value.last_used_tp_mr,
            "memory_capacity_exceeded": value.memory_capacity_exceeded,
        }

    def _from_json(self, obj: Mapping[str, Any]) -> SmsStatus:
        exceeded = obj.get("memory_capacity_exceeded", False)
        if not isinstance(exceeded, bool):
            raise CodecError(self.ef, "'memory_capacity_exceeded' must be true or false")
        return SmsStatus(_byte(obj, "last_used_tp_mr"), exceeded)


# -- EF.SMSR (51.011 10.5.5): linked EF.SMS record number || SMS-STATUS-REPORT -------------

_SMSR = Struct("sms_record" / Int8ub, "report" / GreedyBytes)


@dataclass(frozen=True)
class SmsStatusReport:
    sms_record: int
    report: bytes = b""


class SmsrCodec(Codec[SmsStatusReport]):
    name = "smsr"

    def _decode(self, data: bytes) -> tuple[SmsStatusReport, int]:
        parsed = _SMSR.parse(data)
        report = parsed.report.rstrip(b"\xff")
        return SmsStatusReport(parsed.sms_record, report), 1 + len(report)

    def _encode(self, value: SmsStatusReport, size: int) -> bytes:
        return _SMSR.build({"sms_record": value.sms_record, "report": bytes(value.report)})

    def _to_json(self, value: SmsStatusReport) -> dict[str, Any]:
        return {"sms_record": value.sms_record, "report": value.report.hex()}

    def _from_json(self, obj: Mapping[str, Any]) -> SmsStatusReport:
        return SmsStatusReport(_byte(obj, "sms_record"), hex_bytes(obj.get("report", ""), "report"))


# -- EF.SMSP (51.011 10.5.6): alpha id (Y bytes) || 28 bytes of parameters -----------------

SMSP_FIXED = 28  # parameter indicators 1, TP-DA 12, TS-SC address 12, PID 1, DCS 1, VP 1
ADDRESS_LENGTH = 12

_SMSP_TAIL = Struct(
    "parameter_indicators" / Int8ub,
    "tp_destination_address" / Bytes(ADDRESS_LENGTH),
    "service_centre_address" / Bytes(ADDRESS_LENGTH),
    "protocol_identifier" / Int8ub,
    "data_coding_scheme" / Int8ub,
    "validity_period" / Int8ub,
)
_SMSP = Struct("alpha_id" / Bytes(this._.alpha_length), "tail" / _SMSP_TAIL)


@dataclass(frozen=True)
class SmsParameters:
    """Alpha id and address fields without their trailing 'FF'; absent bytes are 0xFF."""

    alpha_id: bytes = b""
    parameter_indicators: int = 0xFF
    tp_destination_address: bytes = b""
    service_centre_address: bytes = b""
    protocol_identifier: int = 0xFF
    data_coding_scheme: int = 0xFF
    validity_period: int = 0xFF


class SmspCodec(Codec[SmsParameters]):
    name = "smsp"

    def _decode(self, data: bytes) -> tuple[SmsParameters, int]:
        if len(data) < SMSP_FIXED:
            raise CodecError(self.ef, f"record of {len(data)} bytes, needs at least {SMSP_FIXED}")
        parsed = _SMSP.parse(data, alpha_length=len(data) - SMSP_FIXED)
        tail = parsed.tail
        value = SmsParameters(
            parsed.alpha_id.rstrip(b"\xff"),
            tail.parameter_indicators,
            tail.tp_destination_address.rstrip(b"\xff"),
            tail.service_centre_address.rstrip(b"\xff"),
            tail.protocol_identifier,
            tail.data_coding_scheme,
            tail.validity_period,
        )
        return value, len(data)

    def _encode(self, value: SmsParameters, size: int) -> bytes:
        alpha_length = size - SMSP_FIXED
        if len(value.alpha_id) > max(alpha_length, 0) or alpha_length < 0:
            raise SizeError(self.ef, len(value.alpha_id) + SMSP_FIXED, size, self._unit)
        for what, field in (
            ("tp_destination_address", value.tp_destination_address),
            ("service_centre_address", value.service_centre_address),
        ):
            if len(field) > ADDRESS_LENGTH:
                raise CodecError(self.ef, f"{what} longer than {ADDRESS_LENGTH} bytes")

        def pad(field: bytes, n: int) -> bytes:
            return bytes(field) + b"\xff" * (n - len(field))

        return _SMSP.build(
            {
                "alpha_id": pad(value.alpha_id, alpha_length),
                "tail": {
                    "parameter_indicators": value.parameter_indicators,
                    "tp_destination_address": pad(value.tp_destination_address, ADDRESS_LENGTH),
                    "service_centre_address": pad(value.service_centre_address, ADDRESS_LENGTH),
                    "protocol_identifier": value.protocol_identifier,
                    "data_coding_scheme": value.data_coding_scheme,
                    "validity_period": value.validity_period,
                },
            },
            alpha_length=alpha_length,
        )

    def _to_json(self, value: SmsParameters) -> dict[str, Any]:
        return {
            "alpha_id": value.alpha_id.hex(),
            "parameter_indicators": value.parameter_indicators,
            "tp_destination_address": value.tp_destination_address.hex(),
            "service_centre_address": value.service_centre_address.hex(),
            "protocol_identifier": value.protocol_identifier,
            "data_coding_scheme": value.data_coding_scheme,
            "validity_period": value.validity_period,
        }

    def _from_json(self, obj: Mapping[str, Any]) -> SmsParameters:
        return SmsParameters(
            hex_bytes(obj.get("alpha_id", ""), "alpha_id"),
            _byte(obj, "parameter_indicators"),
            hex_bytes(obj.get("tp_destination_address", ""), "tp_destination_address"),
            hex_bytes(obj.get("service_centre_address", ""), "service_centre_address"),
            _byte(obj, "protocol_identifier"),
            _byte(obj, "data_coding_scheme"),
            _byte(obj, "validity_period"),
        )


CODECS: tuple[type[Codec[Any]], ...] = (SmsCodec, SmssCodec, SmsrCodec, SmspCodec)
