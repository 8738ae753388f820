"""The GSM conversion functions of TS 33.102 clause 6.8.1.2: a UMTS security context turned
into the GSM one, so that a USIM (and a network) answer GSM-context authentication.

    c2: SRES = XRES*1 xor XRES*2 xor XRES*3 xor XRES*4
        (XRES* = XRES padded with zeros to 128 bits, split into four 32-bit words)
    c3: Kc   = CK1 xor CK2 xor IK1 xor IK2
        (CKi, IKi the 64-bit halves of CK and IK)
"""

from __future__ import annotations

__all__ = ["c2", "c3"]

_LOW64 = (1 << 64) - 1


def _xor_words(data: bytes, width: int) -> bytes:
    out = 0
    for i in range(0, len(data), width):
        out ^= int.from_bytes(data[i:i + width], "big")
    return out.to_bytes(width, "big")


def c2(xres: bytes) -> bytes:
    """SRES (4 bytes) from a RES/XRES of 4 to 16 bytes (TS 33.102 clause 6.8.1.2)."""
    if not 4 <= len(xres) <= 16:
        raise ValueError(f"XRES must be 4 to 16 bytes, got {len(xres)}")
    return _xor_words(bytes(xres).ljust(16, b"\x00"), 4)


def c3(ck: bytes, ik: bytes) -> bytes:
    """Kc (8 bytes) from CK and IK of 16 bytes each (TS 33.102 clause 6.8.1.2)."""
    if len(ck) != 16 or len(ik) != 16:
        raise ValueError("CK and IK must be 16 bytes each")
    # CK xor IK as one 128-bit integer, then its two 64-bit halves xor-ed: one call per
    # AUTHENTICATE on the USIM, so two conversions instead of four
    both = int.from_bytes(ck, "big") ^ int.from_bytes(ik, "big")
    return ((both >> 64) ^ (both & _LOW64)).to_bytes(8, "big")
