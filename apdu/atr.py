"""Answer To Reset (ISO/IEC 7816-3 clause 8.2; TS 102 221 clause 6.3).

TCK (the check byte) is present when any TDi announces a protocol other than T=0; it makes
the XOR of all bytes from T0 to TCK zero.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ATR", "check_atr", "needs_tck", "tck", "with_tck"]


def _protocols(atr: bytes) -> tuple[set[int], int]:
    """The protocols announced in TD1, TD2, ... and the index just after the interface bytes."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        raise ValueError("ATR: TS must be 3B or 3F")
    protocols: set[int] = set()
    y = atr[1] >> 4
    historical = atr[1] & 0x0F
    i = 2
    while True:
        # TAi, TBi, TCi, TDi present when b5, b6, b7, b8 of Y are set
        for bit in (0x1, 0x2, 0x4):
            if y & bit:
                i += 1
        if not y & 0x8:
            break
        if i >= len(atr):
            raise ValueError("ATR truncated in the interface bytes")
        td = atr[i]
        i += 1
        protocols.add(td & 0x0F)
        y = td >> 4
    if i + historical > len(atr):
        raise ValueError("ATR truncated in the historical bytes")
    return protocols, i + historical


def needs_tck(atr: bytes) -> bool:
    """True when TCK must be present (some TDi names a protocol other than T=0)."""
    protocols, _ = _protocols(atr)
    return bool(protocols - {0})


def tck(body: bytes) -> int:
    """The check byte for an ATR without TCK: XOR of T0 .. last historical byte."""
    value = 0
    for b in body[1:]:
        value ^= b
    return value


def with_tck(body: bytes) -> bytes:
    """`body` (TS .. last historical byte) followed by its TCK when one is needed."""
    protocols, end = _protocols(body)
    if end != len(body):
        raise ValueError("ATR body length does not match T0/TDi")
    return bytes(body) + bytes([tck(body)]) if protocols - {0} else bytes(body)


def check_atr(atr: bytes) -> None:
    """Raise ValueError unless the ATR is well formed with a correct TCK."""
    protocols, end = _protocols(atr)
    expected = end + (1 if protocols - {0} else 0)
    if len(atr) != expected:
        raise ValueError(f"ATR length {len(atr)} != {expected} announced by T0/TDi")
    if protocols - {0} and tck(atr) != 0:
        raise ValueError("ATR: wrong TCK")


# sysmoISIM-SJA2 (spec digest 2.8) without its TCK, which is computed here:
# TS 3B, T0 9F (TA1, TD1, 15 historical bytes), TA1 96 (Fi/Di 512/32), TD1 80 (TD2, T=0),
# TD2 1F (TA3, T=15), TA3 87 (clock stop, classes A/B/C), historical 80 31 E0 73 FE 21 1B 67
# 4A 35 75 30 35 02 65.
DEFAULT_ATR = with_tck(bytes.fromhex("3B9F96801F878031E073FE211B674A357530350265"))
