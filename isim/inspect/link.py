"""A read-only link to a card: any ``transmit(capdu) -> rapdu`` behind a guard that only lets
SELECT, READ BINARY, READ RECORD and VERIFY through (TS 102 221 clause 10.1.2, table 10.5).

The inspector never writes: UPDATE, ACTIVATE, DEACTIVATE, RESIZE ... cannot leave this module.
"""

from __future__ import annotations

from collections.abc import Callable

from apdu.ins import INS_READ_BINARY, INS_READ_RECORD, INS_SELECT, INS_VERIFY
from isim.errors import IsimError
from transport.pcsc import ReaderError

__all__ = [
    "READ_ONLY_INS",
    "CardUnreadable",
    "Link",
    "Transmit",
]

Transmit = Callable[[bytes], bytes]

CLA = 0x00  # interindustry class, basic logical channel
READ_ONLY_INS = frozenset({INS_SELECT, INS_READ_BINARY, INS_READ_RECORD, INS_VERIFY})


class CardUnreadable(IsimError):
    """The card cannot be inspected at all: no reader, no card, not a UICC, no ISIM
    (exit code 2 at the CLI)."""


class Link:
    """Sends commands that cannot change the card; counts them."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit
        self.commands = 0

    def send(self, ins: int, p1: int, p2: int, data: bytes = b"",
             le: int | None = None) -> tuple[bytes, int]:
        """One command (short APDU); returns (response data, SW)."""
        if ins not in READ_ONLY_INS:
            raise AssertionError(f"the inspector never sends INS {ins:02X}")
        capdu = bytes((CLA, ins, p1, p2))
        if data:
            capdu += bytes((len(data),)) + data
        if le is not None:
            capdu += bytes((le & 0xFF,))
        self.commands += 1
        try:
            rapdu = self._transmit(capdu)
        except ReaderError as exc:
            raise CardUnreadable(f"the card stopped answering: {exc}") from None
        except OSError as exc:
            raise CardUnreadable(f"the card stopped answering: {exc}") from None
        if len(rapdu) < 2:
            raise CardUnreadable(f"the card answered {rapdu.hex().upper() or 'nothing'}, "
                                 "not a status word")
        return bytes(rapdu[:-2]), int.from_bytes(rapdu[-2:], "big")
