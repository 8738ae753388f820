"""APDU traces with secrets masked, by what the data is: the engine classifies every
exchange (`apdu.engine.Card.secrecy`: PIN values in the command, AUTHENTICATE results in the
response, including the part a T=0 GET RESPONSE returns later), and these functions mask
what it flagged. Headers, lengths and status words stay visible.

Text (the --trace log): a masked byte is ``**``. Bytes (GSMTAP): a masked byte is ``00``,
the length is kept so that dissectors still find the fields.
"""

from __future__ import annotations

from apdu.engine import SECRET_COMMAND_DATA, SECRET_RESPONSE_DATA

__all__ = [
    "GSMTAP_PORT",
    "gsmtap_apdu",
    "mask_capdu",
    "mask_rapdu",
    "masked_capdu",
    "masked_rapdu",
]

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


# GSMTAP (libosmocore include/osmocom/core/gsmtap.h; Wireshark packet-gsmtap.h): version 2,
# header length 4 words, type 04 (SIM), timeslot, ARFCN, signal, SNR, frame number 0; then
# sub_type (00 APDU, 01 ATR), antenna, sub-slot, reserved.
GSMTAP_PORT = 4729
GSMTAP_SIM_APDU = 0x00
# (sub_type 01, the ATR, is not sent: Wireshark 4.0's gsm_sim decodes any SIM record as an
# APDU, an ATR would show as a bogus command)


def _gsmtap_header(sub_type: int) -> bytes:
    return bytes((0x02, 0x04, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, sub_type, 0, 0, 0))


_HEADER_APDU = _gsmtap_header(GSMTAP_SIM_APDU)


def gsmtap_apdu(capdu: bytes, rapdu: bytes, secrecy: int) -> bytes:
    """One exchange as a GSMTAP SIM APDU datagram, masked like the text trace.

    The payload is the T=0 form SIMtrace and Wireshark's gsm_sim dissector expect:
    ``CLA INS P1 P2 P3 [command data] [response data] SW1 SW2`` (ISO/IEC 7816-3 clause 12.2:
    a case-1 command gets P3 = 00, a case-4 command travels as case 3, without its Le).
    """
    c = masked_capdu(capdu, secrecy)
    if len(c) == 4:
        c += b"\x00"
    elif len(c) > 5 and c[4] and len(c) == 6 + c[4]:
        c = c[:-1]
    return _HEADER_APDU + c + masked_rapdu(rapdu, secrecy)
