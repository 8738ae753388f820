"""Answer To Reset (ISO/IEC 7816-3 clause 8.2; TS 102 221 clause 6.3).

TCK (the check byte) is present when any TDi announces a protocol other than T=0; it makes
the XOR of all bytes from T0 to TCK zero.
"""

from __future__ import annotations

__all__ = [
    "ATR_T0",
    "ATR_T1",
    "DEFAULT_ATR",
    "HISTORICAL_BYTES",
    "atr_for",
    "check_atr",
    "historical_bytes",
    "needs_tck",
    "offered_protocols",
    "tck",
    "with_tck",
]


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


def offered_protocols(atr: bytes) -> list[int]:
    """The transmission protocols the ATR offers (T=15 is global, not a protocol), in the
    order of the TDi bytes: the first one is the card's default (ISO/IEC 7816-3 clause 8.2.3).
    No TD1 means T=0 only."""
    check_atr(atr)
    out: list[int] = []
    y = atr[1] >> 4
    i = 2
    while y & 0x8:
        i += bin(y & 0x7).count("1")
        td = atr[i]
        i += 1
        if td & 0x0F != 15 and td & 0x0F not in out:
            out.append(td & 0x0F)
        y = td >> 4
    return out or [0]


def historical_bytes(atr: bytes) -> bytes:
    """T1 .. TK of a well-formed ATR."""
    check_atr(atr)
    _, end = _protocols(atr)
    return atr[end - (atr[1] & 0x0F) : end]


# The historical bytes that name this card (ISO/IEC 7816-4 clause 8.1.1: category 80, then
# COMPACT-TLV data objects):
#   31 E0        card service data (tag 3): selection by full / partial DF name, BER-TLV DOs
#                in EF.DIR (clause 8.1.1.2.3)
#   73 FE 21 1F  card capabilities (tag 7, clause 8.1.1.2.7): DF selection by full / partial
#                name, path, FID, implicit; short EF identifiers; record numbers; data unit 1
#                byte; logical channels assigned by the card and by the interface device, up
#                to 8 or more (this card has 20)
#   54 69 73 69 6D  card issuer's data (tag 5): ASCII "isim", the name of this software
HISTORICAL_BYTES = bytes.fromhex("8031E073FE211F546973696D")

# TS 102 221 clause 6.3 / ISO/IEC 7816-3 clause 8.2: TS 3B; T0 9C (TA1 and TD1 follow, 12
# historical bytes); TA1 96 (Fi 512, Di 32); TD1 announces the one protocol this card speaks
# (80: T=0, 81: T=1) and that TD2 follows; TD2 1F: TA3 follows, for T=15 (global); TA3 87:
# clock stop supported (high level preferred), supply classes A, B and C. TCK follows (T=15
# is announced).
ATR_T0 = with_tck(bytes.fromhex("3B9C96801F87") + HISTORICAL_BYTES)
ATR_T1 = with_tck(bytes.fromhex("3B9C96811F87") + HISTORICAL_BYTES)
DEFAULT_ATR = ATR_T0


def atr_for(t0: bool) -> bytes:
    """The card's ATR for its response style: T=0 (61XX / 6CXX) or APDU level (T=1)."""
    return ATR_T0 if t0 else ATR_T1
