"""GET RESPONSE, the card side of the T=0 response procedure (TS 102 221 clause 7.3.1.1.4,
annex C, clause 11.1.21): the data a `61XX` announced (kept in `Card._pending` by the engine's
T=0 response style) handed out on the same channel, by the next command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apdu.sw import (
    SW_INCORRECT_P1_P2,
    SW_RESPONSE_BYTES_AVAILABLE,
    SW_TECHNICAL_PROBLEM,
    SW_WRONG_LE,
    SW_WRONG_LENGTH,
)

if TYPE_CHECKING:
    from apdu.channels import Channel
    from apdu.engine import Card

__all__ = ["get_response"]

_EMPTY = b""


def get_response(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    # TS 102 221 clause 7.3.1.1.4, annex C and 11.1.21: data kept by a 61XX (or by a warning
    # after a case-4 command), same channel, next command. GET RESPONSE is a case-2 command:
    # P3 = Le, P3 = 00 means 256; a Le other than the pending length is answered 6CXX (data
    # kept: the terminal re-sends with P3 = XX), a shorter Le gets that much and 61XX for the
    # rest.
    pending = card._pending
    card._pending = None
    if pending is None or pending[0] is not ch:
        return _EMPTY, SW_TECHNICAL_PROBLEM
    card.secrecy = pending[3]
    if p1 or p2:
        return _EMPTY, SW_INCORRECT_P1_P2
    if data:
        return _EMPTY, SW_WRONG_LENGTH
    out, sw = pending[1], pending[2]
    n = len(out)
    want = ne or 256
    if want > n:
        card._pending = pending
        return _EMPTY, SW_WRONG_LE | (n & 0xFF)
    rest = out[want:]
    if rest:
        card._pending = (ch, rest, sw, pending[3])
        return out[:want], SW_RESPONSE_BYTES_AVAILABLE | (len(rest) & 0xFF)
    return out, sw
