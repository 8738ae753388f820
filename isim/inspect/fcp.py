"""What an EF's FCP template says (TS 102 221 clause 11.1.1.3), decoded with the project's
codec (`isim.codecs.decode_fcp`) into the few facts the checks compare with specs/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apdu.fcp import SFI_SHIFT, structure_of
from apdu.files import (
    LCSI_ACTIVATED,
    LCSI_CREATION,
    LCSI_DEACTIVATED,
    LCSI_INITIALISATION,
    LCSI_TERMINATION,
)
from isim.codecs import decode_fcp

__all__ = ["FcpInfo", "parse_fcp"]

# clause 11.1.1.4.9, table 11.6: life cycle status integer
_LIFE_CYCLE = {LCSI_CREATION: "creation", LCSI_INITIALISATION: "initialisation",
               LCSI_ACTIVATED: "operational (activated)",
               LCSI_DEACTIVATED: "operational (deactivated)"}
_FID_SFI_MASK = 0x1F  # absent tag 88: SFI = the 5 low bits of the FID


@dataclass(frozen=True)
class FcpInfo:
    """The facts of one EF's FCP; None where the FCP does not say."""

    raw: bytes
    structure: str | None
    fid: int | None
    size: int | None  # tag 80, body size
    record_length: int | None
    records: int | None
    sfi: int | None  # after applying the "absent -> low FID bits" rule
    sfi_coding: str  # "implicit" (no tag 88), "none" (88 00), "explicit"
    lcsi: int | None
    arr: tuple[int, int] | None  # (EF.ARR FID, record) from tag 8B
    security: str | None  # hex of 8C/AB when the card uses those forms instead

    @property
    def life_cycle(self) -> str | None:
        if self.lcsi is None:
            return None
        if self.lcsi >= LCSI_TERMINATION:
            return "termination"
        return _LIFE_CYCLE.get(self.lcsi, f"proprietary ({self.lcsi:02X})")

    def to_json(self) -> dict[str, Any]:
        return {
            "raw": self.raw.hex().upper(),
            "structure": self.structure,
            "fid": f"{self.fid:04X}" if self.fid is not None else None,
            "size": self.size,
            "record_length": self.record_length,
            "records": self.records,
            "sfi": self.sfi,
            "access_rule": (
                {"arr_fid": f"{self.arr[0]:04X}", "record": self.arr[1]} if self.arr
                else self.security
            ),
            "life_cycle": self.life_cycle,
        }


def _int(value: bytes | None) -> int | None:
    return int.from_bytes(value, "big") if value else None


def parse_fcp(raw: bytes) -> FcpInfo:
    """Decode a SELECT response; CodecError (a ValueError) when it is not an FCP template."""
    items = dict(decode_fcp(raw))
    descriptor: bytes = items.get("fileDescriptor", b"")
    structure = record_length = records = None
    if descriptor:
        structure = structure_of(descriptor[0])
        if len(descriptor) >= 5:
            record_length = int.from_bytes(descriptor[2:4], "big")
            records = descriptor[4]
    fid = _int(items.get("fileIdentifier"))
    sfi_raw = items.get("shortFileIdentifier")
    if sfi_raw is None:
        sfi, coding = (fid & _FID_SFI_MASK if fid is not None else None), "implicit"
    elif not sfi_raw:
        sfi, coding = None, "none"
    else:
        sfi, coding = sfi_raw[0] >> SFI_SHIFT, "explicit"
    arr_raw: bytes | None = items.get("securityAttributesReferenced")
    arr = None
    if arr_raw is not None and len(arr_raw) == 3:
        arr = (int.from_bytes(arr_raw[:2], "big"), arr_raw[2])
    security = arr_raw.hex().upper() if arr_raw is not None and arr is None else None
    for other in ("securityAttributesCompact", "securityAttributesExpanded"):
        if other in items and isinstance(items[other], bytes):
            security = items[other].hex().upper()
    lcsi = items.get("lifeCycleStatus")
    return FcpInfo(
        raw=raw,
        structure=structure,
        fid=fid,
        size=_int(items.get("fileSize")),
        record_length=record_length,
        records=records,
        sfi=sfi,
        sfi_coding=coding,
        lcsi=lcsi[0] if lcsi else None,
        arr=arr,
        security=security,
    )
