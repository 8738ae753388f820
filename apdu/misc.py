"""AUTHENTICATE dispatch, GET CHALLENGE, TERMINAL PROFILE / CAPABILITY
(TS 102 221 clauses 11.1.16, 11.1.19, 11.1.20, 11.1.15; TS 31.103 clause 7.1).

Decisions:
* AUTHENTICATE with no current application on the channel, or one without a plugged-in
  Application: 6985. The access condition is the application PIN (key ref 01) verified or
  disabled, else 6982, before the application is called. P1 != 00: 6A86.
* GET CHALLENGE returns Ne random bytes (Le 00 = 256; no Le -> 6700). The random source is
  injected into `Card` (`rng=`, e.g. os.urandom); a card built without one answers 6A81.
* TERMINAL PROFILE and TERMINAL CAPABILITY are accepted and ignored (no toolkit): 9000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apdu.sw import (
    SW_CONDITIONS_OF_USE_NOT_SATISFIED,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INCORRECT_P1_P2,
    SW_OK,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_TECHNICAL_PROBLEM,
    SW_WRONG_LENGTH,
)

if TYPE_CHECKING:
    from apdu.channels import Channel
    from apdu.engine import Card

__all__ = [
    "APPLICATION_PIN",
    "authenticate",
    "get_challenge",
    "terminal_capability",
    "terminal_profile",
]

_EMPTY = b""
_MISSING = object()
APPLICATION_PIN = 0x01  # TS 102 221 table 9.3: PIN Appl 1, the PIN of the application


def authenticate(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if p1 != 0:
        return _EMPTY, SW_INCORRECT_P1_P2
    adf = ch.app
    app = None if adf is None else card.applications.get(adf)
    if app is None:
        return _EMPTY, SW_CONDITIONS_OF_USE_NOT_SATISFIED
    pins = card.pins
    if APPLICATION_PIN in pins.pins and APPLICATION_PIN not in pins.satisfied:
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    try:
        out, sw = app.authenticate(p1, p2, data if type(data) is bytes else bytes(data))
    finally:
        changed = getattr(app, "state_changed", _MISSING)
        if changed is _MISSING:  # no such attribute: assume every AUTHENTICATE changes state
            card.mark_changed()
        elif changed:
            card.mark_changed()
            app.state_changed = False
    if type(out) is bytes and type(sw) is int and 0 <= sw <= 0xFFFF and len(out) <= 256:
        return out, sw  # the usual case, checked without conversions
    if not isinstance(out, (bytes, bytearray)) or not isinstance(sw, int) or not 0 <= sw <= 0xFFFF:
        return _EMPTY, SW_TECHNICAL_PROBLEM
    if len(out) > 256:
        return _EMPTY, SW_TECHNICAL_PROBLEM
    return bytes(out), sw


def get_challenge(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if p1 or p2:
        return _EMPTY, SW_INCORRECT_P1_P2
    if data or ne == 0:
        return _EMPTY, SW_WRONG_LENGTH
    if card.rng is None:
        return _EMPTY, SW_FUNCTION_NOT_SUPPORTED
    out = card.rng(ne)
    if len(out) != ne:
        return _EMPTY, SW_TECHNICAL_PROBLEM
    return bytes(out), SW_OK


def terminal_profile(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if p1 or p2:
        return _EMPTY, SW_INCORRECT_P1_P2
    return _EMPTY, SW_OK


def terminal_capability(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if p1 or p2:
        return _EMPTY, SW_INCORRECT_P1_P2
    return _EMPTY, SW_OK
