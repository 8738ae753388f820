"""FCP template (tag 62) returned by SELECT P2=04 and STATUS P2=00 (TS 102 221 clause 11.1.1.3).

Built from a node's attributes; the engine caches the result on the node (`node.fcp`) and
drops it when the LCSI changes (EFs) or a PIN's enabled flag changes (MF/ADF: tag C6).
"""

from __future__ import annotations

from collections.abc import Iterable

from apdu.files import DF, EF

__all__ = ["df_fcp", "ef_fcp", "pin_status_template", "tlv"]

# TS 102 221 clause 11.1.1.4.3, table 11.5: file descriptor byte (b7 = shareable)
_DESCRIPTOR = {"transparent": 0x41, "linear_fixed": 0x42, "cyclic": 0x46}
_DESCRIPTOR_DF = 0x78
_DATA_CODING = 0x21  # clause 11.1.1.4.3: data coding byte
# clause 11.1.1.4.6.1: UICC characteristics (clock stop allowed, ... as on common cards)
_UICC_CHARACTERISTICS = 0x71
_NOMINAL_MEMORY = 0x10000  # announced capacity for tag 83 "available memory" (clause 11.1.1.4.6.4)


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV with a one-byte tag (ISO/IEC 7816-4 clause 5.2.2 length coding)."""
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    if n <= 0xFF:
        return bytes((tag, 0x81, n)) + value
    return bytes((tag, 0x82, n >> 8, n & 0xFF)) + value


def _arr(node: EF | DF) -> bytes:
    # clause 11.1.1.4.7.2: referenced format, EF.ARR FID + record number
    if node.arr is None:
        return b""
    fid, record = node.arr
    return tlv(0x8B, fid.to_bytes(2, "big") + bytes((record,)))


def _sfi(ef: EF) -> bytes:
    # clause 11.1.1.4.8: absent -> SFI = low 5 bits of the FID; empty -> no SFI
    if ef.sfi is None:
        return b"\x88\x00"
    if ef.sfi == ef.fid & 0x1F:
        return b""
    return bytes((0x88, 0x01, ef.sfi << 3))


def ef_fcp(ef: EF) -> bytes:
    if ef.transparent:
        descriptor = bytes((_DESCRIPTOR["transparent"], _DATA_CODING))
    else:
        # record EFs: + record length (2 bytes) + number of records (1 byte)
        descriptor = (
            bytes((_DESCRIPTOR[ef.structure], _DATA_CODING))
            + ef.record_length.to_bytes(2, "big")
            + bytes((len(ef.records),))
        )
    body = (
        tlv(0x82, descriptor)
        + tlv(0x83, ef.fid.to_bytes(2, "big"))
        + tlv(0x8A, bytes((ef.lcsi,)))  # clause 11.1.1.4.9
        + _arr(ef)
        + tlv(0x80, ef.size.to_bytes(2, "big"))  # clause 11.1.1.4.1
        + _sfi(ef)
    )
    return tlv(0x62, body)


def pin_status_template(pins: Iterable[tuple[int, bool]]) -> bytes:
    """Tag C6 (clause 9.5.2): PS_DO bitmap of enabled key refs (MSB first), then 83 key refs."""
    pins = list(pins)
    bitmap = bytearray((len(pins) + 7) // 8 or 1)
    for i, (_, enabled) in enumerate(pins):
        if enabled:
            bitmap[i // 8] |= 0x80 >> (i % 8)
    refs = b"".join(tlv(0x83, bytes((ref,))) for ref, _ in pins)
    return tlv(0xC6, tlv(0x90, bytes(bitmap)) + refs)


def df_fcp(df: DF, pins: Iterable[tuple[int, bool]] | None) -> bytes:
    """FCP of the MF, an ADF or a DF; `pins` (key ref, enabled) gives tag C6 (MF/ADF)."""
    total = df.total_size()
    proprietary = tlv(0x80, bytes((_UICC_CHARACTERISTICS,))) + tlv(
        0x83, max(_NOMINAL_MEMORY - total, 0).to_bytes(4, "big")
    )
    body = tlv(0x82, bytes((_DESCRIPTOR_DF, _DATA_CODING)))
    if df.fid is not None:
        body += tlv(0x83, df.fid.to_bytes(2, "big"))
    if df.aid is not None:
        body += tlv(0x84, df.aid)  # clause 11.1.1.4.5: DF name
    body += tlv(0xA5, proprietary)  # clause 11.1.1.4.6
    body += tlv(0x8A, bytes((df.lcsi,)))
    body += _arr(df)
    body += tlv(0x81, total.to_bytes(max(2, (total.bit_length() + 7) // 8), "big"))
    if pins is not None:
        body += pin_status_template(pins)
    return tlv(0x62, body)
