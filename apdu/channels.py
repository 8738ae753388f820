"""Logical channels (TS 102 221 clause 11.1.17 MANAGE CHANNEL; ISO/IEC 7816-4 clause 5.4.1).

Each open channel has its own current DF, current EF, record pointer and current
application; the PIN verification state is shared by all channels (clause 9.5.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apdu.command import MAX_CHANNELS
from apdu.files import DF, EF
from apdu.sw import (
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INCORRECT_P1_P2,
    SW_OK,
    SW_WRONG_LE,
    SW_WRONG_LENGTH,
)

if TYPE_CHECKING:
    from apdu.engine import Card

__all__ = ["Channel", "manage_channel"]

_EMPTY = b""


class Channel:
    """The selection state of one logical channel."""

    __slots__ = ("app", "df", "ef", "number", "record")

    def __init__(self, number: int, df: DF, app: DF | None = None) -> None:
        self.number = number
        self.df: DF = df  # current DF (MF, ADF or DF)
        self.ef: EF | None = None  # current EF
        self.record = 0  # record pointer in the current EF; 0 = none
        self.app: DF | None = app  # current application (ADF), for 7FFF and AUTHENTICATE

    def select(self, node: EF | DF) -> None:
        if node.is_df:
            self.df = node
            self.ef = None
            if node.aid is not None:
                self.app = node
        else:
            self.df = node.parent  # type: ignore[assignment]
            self.ef = node
        self.record = 0

    def __repr__(self) -> str:
        return f"Channel({self.number}, df={self.df!r}, ef={self.ef!r}, app={self.app!r})"


def manage_channel(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    # clause 11.1.17: P1 00 open (P2 00: card assigns, else that number), 80 close P2
    if data:
        return _EMPTY, SW_WRONG_LENGTH
    channels = card.channels
    if p1 == 0x00:
        if p2 == 0 and card.t0 and ne != 1:
            return _EMPTY, SW_WRONG_LE | 1  # T=0: ask for P3=01 before opening anything
        if p2 == 0:
            free = next((i for i in range(1, MAX_CHANNELS) if channels[i] is None), None)
            if free is None:
                return _EMPTY, SW_FUNCTION_NOT_SUPPORTED  # no channel left
            number, answer = free, bytes((free,))
        elif p2 < MAX_CHANNELS and channels[p2] is None:
            number, answer = p2, _EMPTY
        else:
            return _EMPTY, SW_INCORRECT_P1_P2
        # opened from the basic channel: MF; from another channel: its DF and application
        if ch.number == 0:
            new = Channel(number, card.mf)
        else:
            new = Channel(number, ch.df, ch.app)
            new.ef = ch.ef
        channels[number] = new
        return answer, SW_OK
    if p1 == 0x80:
        if 1 <= p2 < MAX_CHANNELS and channels[p2] is not None:
            channels[p2] = None
            return _EMPTY, SW_OK
        return _EMPTY, SW_INCORRECT_P1_P2  # the basic channel cannot be closed
    return _EMPTY, SW_INCORRECT_P1_P2
