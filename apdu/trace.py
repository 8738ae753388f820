"""APDU traces with secrets masked, by what the data is: the engine classifies every
exchange (`apdu.engine.Card.secrecy`: PIN values in the command, AUTHENTICATE results in the
response, including the part a T=0 GET RESPONSE returns later), and these functions mask
what it flagged. Headers, lengths and status words stay visible.

Text (the --trace log): a masked byte is ``**``. Bytes (GSMTAP): a masked byte is ``00``,
the length is kept so that dissectors still find the fields.
"""

from __future__ import annotations

from apdu.engine import SECRET_COMMAND_DATA, SECRET_RESPONSE_DATA

__all__ = ["mask_capdu", "mask_rapdu", "masked_capdu", "masked_rapdu"]

_HEADER = 5  # CLA INS P1 P2 P3


def _stars(data: bytes) -> str:
    return "**" * len(data)


def mask_capdu(capdu: bytes, secrecy: int) -> str:
    """Hex of a C-APDU; its data masked when it is PIN data."""
    if secrecy & SECRET_COMMAND_DATA and len(capdu) > _HEADER:
        return capdu[:_HEADER].hex().upper() + _stars(capdu[_HEADER:])
    return capdu.hex().upper()


def mask_rapdu(rapdu: bytes, secrecy: int) -> str:
    """Hex of an R-APDU; its data masked when it holds AUTHENTICATE results (the SW stays)."""
    if secrecy & SECRET_RESPONSE_DATA and len(rapdu) > 2:
        return _stars(rapdu[:-2]) + rapdu[-2:].hex().upper()
    return rapdu.hex().upper()


def masked_capdu(capdu: bytes, secrecy: int) -> bytes:
    """The C-APDU with PIN data replaced by zero bytes of the same length."""
    if secrecy & SECRET_COMMAND_DATA and len(capdu) > _HEADER:
        return capdu[:_HEADER] + bytes(len(capdu) - _HEADER)
    return capdu


def masked_rapdu(rapdu: bytes, secrecy: int) -> bytes:
    """The R-APDU with secret response data replaced by zero bytes of the same length."""
    if secrecy & SECRET_RESPONSE_DATA and len(rapdu) > 2:
        return bytes(len(rapdu) - 2) + rapdu[-2:]
    return rapdu
