"""T=0 procedure status words on the host side (TS 102 221 clause 7.3.1.1.4, 7.4.2.3;
ISO/IEC 7816-4 clause 5.3.4): turn ``61XX`` and ``6CXX`` into the whole response.

    whole = complete_response(raw_transmit, capdu)       # data || SW1 SW2
    transmit = following_procedure(raw_transmit)         # the same, as a transmit function

``61XX``: GET RESPONSE with Le = XX until the card stops saying 61 (bounded); ``6CXX``: the
command re-sent once with Le = XX. A card (or reader driver) that already did this never
answers 61/6C, so wrapping a transmit twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

from apdu.ins import INS_GET_RESPONSE
from apdu.sw import SW_RESPONSE_BYTES_AVAILABLE, SW_WRONG_LE

__all__ = [
    "MAX_GET_RESPONSE",
    "ProcedureError",
    "complete_response",
    "following_procedure",
    "get_response_cla",
]

Transmit = Callable[[bytes], bytes]

MAX_GET_RESPONSE = 64  # bound on chained 61XX rounds (64 * 256 bytes is plenty)
_SW1_MORE_DATA = SW_RESPONSE_BYTES_AVAILABLE >> 8
_SW1_WRONG_LE = SW_WRONG_LE >> 8


class ProcedureError(Exception):
    """The card's 61XX / 6CXX answers never end, or a response has no status word."""


def get_response_cla(cla: int) -> int:
    """The CLA of GET RESPONSE for a command sent with ``cla``: same logical channel,
    interindustry class (TS 102 221 clause 10.1.1: '0X'/'4X'/'6X')."""
    if cla & 0x40:  # further interindustry values: channels 4..19 in b4..b1
        return cla & 0x4F
    return cla & 0x03


def _checked(rapdu: bytes) -> bytes:
    if len(rapdu) < 2:
        raise ProcedureError(f"short response {rapdu.hex().upper()!r} from the card")
    return rapdu


def complete_response(transmit: Transmit, capdu: bytes) -> bytes:
    """Send ``capdu`` through ``transmit``; return response data followed by SW1 SW2."""
    rapdu = _checked(bytes(transmit(capdu)))
    sw1, sw2 = rapdu[-2], rapdu[-1]
    if sw1 == _SW1_WRONG_LE:  # wrong Le: re-send with Le = SW2 (case 1 or 2 commands)
        rapdu = _checked(bytes(transmit(capdu[:4] + bytes([sw2]))))
        sw1, sw2 = rapdu[-2], rapdu[-1]
    data = rapdu[:-2]
    rounds = 0
    while sw1 == _SW1_MORE_DATA:
        rounds += 1
        if rounds > MAX_GET_RESPONSE:
            raise ProcedureError("too many GET RESPONSE rounds (61XX never ends)")
        get_response = bytes([get_response_cla(capdu[0]), INS_GET_RESPONSE, 0, 0, sw2])
        rapdu = _checked(bytes(transmit(get_response)))
        data += rapdu[:-2]
        sw1, sw2 = rapdu[-2], rapdu[-1]
    return data + bytes([sw1, sw2])


def following_procedure(transmit: Transmit) -> Transmit:
    """``transmit`` wrapped so that every answer is complete (no 61XX / 6CXX left)."""

    def whole(capdu: bytes) -> bytes:
        return complete_response(transmit, capdu)

    return whole
