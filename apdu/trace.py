"""APDU trace lines with secrets masked: PIN/PUK/ADM values in C-APDUs and the keys in
AUTHENTICATE responses never reach a log."""

from __future__ import annotations

# TS 102 221 clause 11.1.9-11.1.13: VERIFY, CHANGE, DISABLE, ENABLE, UNBLOCK PIN carry PINs.
# AUTHENTICATE (clause 11.1.16): the response holds RES, CK, IK or Ks_ext_NAF.
from apdu.ins import AUTHENTICATE_INS as _AUTH_INS
from apdu.ins import PIN_INS as _PIN_INS

_HEADER = 5  # CLA INS P1 P2 P3


def _masked(data: bytes) -> str:
    return "**" * len(data)


def mask_capdu(capdu: bytes) -> str:
    """Hex of a C-APDU; the body of PIN commands is masked."""
    if len(capdu) > _HEADER and capdu[1] in _PIN_INS:
        return capdu[:_HEADER].hex().upper() + _masked(capdu[_HEADER:])
    return capdu.hex().upper()


def mask_rapdu(capdu: bytes, rapdu: bytes) -> str:
    """Hex of an R-APDU; AUTHENTICATE response data is masked (the SW stays)."""
    if len(capdu) > 1 and capdu[1] in _AUTH_INS and len(rapdu) > 2:
        return _masked(rapdu[:-2]) + rapdu[-2:].hex().upper()
    return rapdu.hex().upper()
