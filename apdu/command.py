"""Short C-APDUs: class byte decoding and cases 1-4 (ISO/IEC 7816-3 clause 12.1;
TS 102 221 clauses 7.3.1 and 10.1).

The engine's hot path uses `CLA_TABLE` directly and writes `split_body` out inline (a call per
APDU cost ~8 % of the engine; tests/test_engine_command.py holds both to the same answers); `parse`
is the same logic returning a `Command` for everyone else (tests, tools).

Lengths are "Ne" numbers: 0 = Le absent (no data expected), 1..256 (Le = 00 means 256).
An extended-length APDU (Lc byte 00 followed by more bytes) is not supported: 6700.
"""

from __future__ import annotations

from typing import NamedTuple

from apdu.sw import (
    SW_CLA_NOT_SUPPORTED,
    SW_COMMAND_CHAINING_NOT_SUPPORTED,
    SW_SECURE_MESSAGING_NOT_SUPPORTED,
    SW_WRONG_LENGTH,
)

__all__ = [
    "CLA_PROPRIETARY",
    "CLA_TABLE",
    "MAX_CHANNELS",
    "Command",
    "CommandError",
    "channel_of",
    "parse",
    "split_body",
]

MAX_CHANNELS = 20  # basic channel 0, 1-3 via CLA b2b1, 4-19 via further interindustry CLA
CLA_PROPRIETARY = 0x20  # flag in a CLA_TABLE entry: ETSI class (8X / CX)


def _cla_entry(cla: int) -> int:
    """>= 0: CLA_PROPRIETARY flag | logical channel; < 0: -SW to answer."""
    # TS 102 221 clause 10.1.1, table 10.3; ISO/IEC 7816-4 clause 5.4.1
    kind = cla & 0xE0
    proprietary = CLA_PROPRIETARY if cla & 0x80 else 0
    if cla == 0xFF or kind in (0x20, 0xA0):
        return -SW_CLA_NOT_SUPPORTED  # RFU, and A0 = GSM (TS 51.011)
    if kind in (0x00, 0x80):  # first interindustry: b4b3 SM, b2b1 channel 0-3
        if cla & 0x0C:
            return -SW_SECURE_MESSAGING_NOT_SUPPORTED
        if cla & 0x10:
            return -SW_COMMAND_CHAINING_NOT_SUPPORTED
        return proprietary | (cla & 0x03)
    # further interindustry (4X-7X, CX-FX): b6 SM, b5 chaining, b4..b1 = channel - 4
    if cla & 0x20:
        return -SW_SECURE_MESSAGING_NOT_SUPPORTED
    if cla & 0x10:
        return -SW_COMMAND_CHAINING_NOT_SUPPORTED
    return proprietary | (4 + (cla & 0x0F))


CLA_TABLE: tuple[int, ...] = tuple(_cla_entry(c) for c in range(256))


def channel_of(cla: int) -> int | None:
    """The logical channel a CLA byte addresses, or None when the CLA is invalid."""
    entry = CLA_TABLE[cla & 0xFF]
    return None if entry < 0 else entry & 0x1F


def split_body(capdu: bytes) -> tuple[bytes, int] | None:
    """(command data, Ne) of a short C-APDU of >= 4 bytes, or None when the lengths are wrong.

    Case 1: CLA INS P1 P2; case 2: + Le; case 3: + Lc data; case 4: + Lc data Le.
    """
    n = len(capdu)
    if n == 4:
        return b"", 0
    if n == 5:
        return b"", capdu[4] or 256
    lc = capdu[4]
    if lc == 0:  # extended length (ISO/IEC 7816-4 clause 5.1): not supported
        return None
    if n == 5 + lc:
        return capdu[5:], 0
    if n == 6 + lc:
        return capdu[5:-1], capdu[-1] or 256
    return None


class CommandError(ValueError):
    """A C-APDU that cannot be parsed; `sw` is the status word to answer."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


class Command(NamedTuple):
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    ne: int  # 0: no Le; 1..256
    channel: int
    proprietary: bool

    @property
    def case(self) -> int:
        return (3 if self.data else 1) + (1 if self.ne else 0)


def parse(capdu: bytes) -> Command:
    """Parse a short C-APDU; raise CommandError(sw) when it is malformed."""
    if len(capdu) < 4:
        raise CommandError(SW_WRONG_LENGTH)
    entry = CLA_TABLE[capdu[0]]
    if entry < 0:
        raise CommandError(-entry)
    body = split_body(capdu)
    if body is None:
        raise CommandError(SW_WRONG_LENGTH)
    data, ne = body
    return Command(
        capdu[0],
        capdu[1],
        capdu[2],
        capdu[3],
        bytes(data),
        ne,
        entry & 0x1F,
        bool(entry & CLA_PROPRIETARY),
    )
