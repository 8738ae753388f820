"""FCP template (tag 62) returned by SELECT P2=04 and STATUS P2=00 (TS 102 221 clause 11.1.1.3).

Built from a node's attributes; the engine caches the result on the node (`node.fcp`) and
drops it when the LCSI changes (EFs) or a PIN's enabled flag changes (MF/ADF: tag C6).
The tags are those of `FcpTemplate` in specs/uicc.asn (via `specs.ber.tags`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from apdu.files import DF, EF
from specs.ber import Tags, tag_of, tags, tlv

__all__ = [
    "DESCRIPTOR_DF",
    "FILE_STRUCTURES",
    "SFI_SHIFT",
    "SHAREABLE",
    "df_fcp",
    "ef_fcp",
    "pin_status_template",
    "structure_of",
]

# TS 102 221 clause 11.1.1.4.3, table 11.5: file descriptor byte, b7 = shareable
FILE_STRUCTURES = {"transparent": 0x01, "linear_fixed": 0x02, "cyclic": 0x06, "df": 0x38,
                   "ber_tlv": 0x39}
SHAREABLE = 0x40
DESCRIPTOR_DF = SHAREABLE | FILE_STRUCTURES["df"]
_STRUCTURE_NAMES = {byte: name for name, byte in FILE_STRUCTURES.items()}
_DATA_CODING = 0x21  # clause 11.1.1.4.3: data coding byte
# clause 11.1.1.4.6.1: UICC characteristics (clock stop allowed, ... as on common cards)
_UICC_CHARACTERISTICS = 0x71
_NOMINAL_MEMORY = 0x10000  # announced capacity for tag 83 "available memory" (clause 11.1.1.4.6.4)
SFI_SHIFT = 3  # clause 11.1.1.4.8: SFI in b8..b4


def structure_of(descriptor: int) -> str:
    """Structure name of a file descriptor byte (b7, shareable, ignored); hex if unknown."""
    return _STRUCTURE_NAMES.get(descriptor & ~SHAREABLE & 0xFF, f"{descriptor:02X}")


@cache
def _tags() -> tuple[Tags, Tags, Tags]:
    return tags("FcpDataObject"), tags("ProprietaryDataObject"), tags("PinStatusDataObject")


def _arr(node: EF | DF, t: Tags) -> bytes:
    # clause 11.1.1.4.7.2: referenced format, EF.ARR FID + record number
    if node.arr is None:
        return b""
    fid, record = node.arr
    return tlv(t["securityAttributesReferenced"], fid.to_bytes(2, "big") + bytes((record,)))


def _sfi(ef: EF, t: Tags) -> bytes:
    # clause 11.1.1.4.8: absent -> SFI = low 5 bits of the FID; empty -> no SFI
    if ef.sfi is None:
        return tlv(t["shortFileIdentifier"], b"")
    if ef.sfi == ef.fid & 0x1F:
        return b""
    return tlv(t["shortFileIdentifier"], bytes((ef.sfi << SFI_SHIFT,)))


def ef_fcp(ef: EF) -> bytes:
    t = _tags()[0]
    descriptor = bytes((SHAREABLE | FILE_STRUCTURES[ef.structure], _DATA_CODING))
    if not ef.transparent:
        # record EFs: + record length (2 bytes) + number of records (1 byte)
        descriptor += ef.record_length.to_bytes(2, "big") + bytes((len(ef.records),))
    body = (
        tlv(t["fileDescriptor"], descriptor)
        + tlv(t["fileIdentifier"], ef.fid.to_bytes(2, "big"))
        + tlv(t["lifeCycleStatus"], bytes((ef.lcsi,)))  # clause 11.1.1.4.9
        + _arr(ef, t)
        + tlv(t["fileSize"], ef.size.to_bytes(2, "big"))  # clause 11.1.1.4.1
        + _sfi(ef, t)
    )
    return tlv(tag_of("FcpTemplate"), body)


def pin_status_template(pins: Iterable[tuple[int, bool]]) -> bytes:
    """Tag C6 (clause 9.5.2): PS_DO bitmap of enabled key refs (MSB first), then 83 key refs."""
    fcp_tags, _, ps = _tags()
    pins = list(pins)
    bitmap = bytearray((len(pins) + 7) // 8 or 1)
    for i, (_, enabled) in enumerate(pins):
        if enabled:
            bitmap[i // 8] |= 0x80 >> (i % 8)
    refs = b"".join(tlv(ps["keyReference"], bytes((ref,))) for ref, _ in pins)
    return tlv(fcp_tags["pinStatusTemplate"], tlv(ps["psDo"], bytes(bitmap)) + refs)


def df_fcp(df: DF, pins: Iterable[tuple[int, bool]] | None) -> bytes:
    """FCP of the MF, an ADF or a DF; `pins` (key ref, enabled) gives tag C6 (MF/ADF)."""
    t, prop, _ = _tags()
    total = df.total_size()
    proprietary = tlv(prop["uiccCharacteristics"], bytes((_UICC_CHARACTERISTICS,))) + tlv(
        prop["availableMemory"], max(_NOMINAL_MEMORY - total, 0).to_bytes(4, "big")
    )
    body = tlv(t["fileDescriptor"], bytes((DESCRIPTOR_DF, _DATA_CODING)))
    if df.fid is not None:
        body += tlv(t["fileIdentifier"], df.fid.to_bytes(2, "big"))
    if df.aid is not None:
        body += tlv(t["dfName"], df.aid)  # clause 11.1.1.4.5: DF name
    body += tlv(t["proprietaryInformation"], proprietary)  # clause 11.1.1.4.6
    body += tlv(t["lifeCycleStatus"], bytes((df.lcsi,)))
    body += _arr(df, t)
    body += tlv(t["totalFileSize"], total.to_bytes(max(2, (total.bit_length() + 7) // 8), "big"))
    if pins is not None:
        body += pin_status_template(pins)
    return tlv(tag_of("FcpTemplate"), body)
