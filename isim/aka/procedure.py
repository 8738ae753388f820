"""IMS AKA (TS 33.102 clause 6.3, TS 31.103 clause 7.1.2.1): the card side and the network side.

Card side: `ImsAka.authenticate(rand, autn)` returns Success / SyncFailure / MacFailure; the
SQN array changes only on Success (and only when `commit` is true), so the caller can persist
`aka.sqn.to_dict()` before it sends the response. `ims_aka_response(aka, data)` works on the
AUTHENTICATE (P2 = 81) command data and never raises for malformed input.

Network side: `generate_vector`, `nonce_b64` (RFC 3310 AKAv1-MD5) and `resync`.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field

from apdu.sw import (
    SW_AUTH_MAC_FAILURE,
    SW_INCORRECT_DATA,
    SW_OK,
    SW_WRONG_LENGTH,
)
from isim.aka.codes import AMF_DEFAULT, TAG_SUCCESS, TAG_SYNC_FAILURE
from isim.aka.milenage import Milenage
from isim.aka.sqn import SqnArray, check_sqn

__all__ = [
    "AMF_RESYNC",
    "AkaResult",
    "AuthVector",
    "ImsAka",
    "MacFailure",
    "Success",
    "SyncFailure",
    "encode_result",
    "generate_vector",
    "ims_aka_response",
    "nonce_b64",
    "parse_rand_autn",
    "resync",
]

# TS 33.102 6.3.3: MAC-S in AUTS uses a dummy AMF of all zeros.
AMF_RESYNC = b"\x00\x00"

_SUCCESS_HEAD = bytes([TAG_SUCCESS, 8])  # DB, length of RES
_LEN16 = b"\x10"  # length of CK, of IK


@dataclass(frozen=True)
class Success:
    res: bytes = field(repr=False)
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    sqn: int = 0  # the SQN that was accepted


@dataclass(frozen=True)
class SyncFailure:
    auts: bytes  # (SQN_MS xor AK*) || MAC-S, 14 bytes


@dataclass(frozen=True)
class MacFailure:
    pass


AkaResult = Success | SyncFailure | MacFailure


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class ImsAka:
    """The card's AKA: one subscriber's Milenage plus its SQN array."""

    __slots__ = ("milenage", "sqn")

    def __init__(self, milenage: Milenage, sqn: SqnArray) -> None:
        self.milenage = milenage
        self.sqn = sqn

    def authenticate(self, rand: bytes, autn: bytes, *, commit: bool = True) -> AkaResult:
        """TS 33.102 6.3.3: AK, then MAC-A, then the SQN checks.

        With commit=False the SQN array is left alone even on Success; the caller then runs
        `self.sqn.accept(result.sqn)` itself (e.g. after persisting the new state).
        """
        if len(autn) != 16:
            raise ValueError(f"AUTN must be 16 bytes, got {len(autn)}")
        checked = self.milenage.verify_autn(rand, autn)
        if checked is None:
            return MacFailure()
        sqn_int, out = checked
        if not (self.sqn.try_accept(sqn_int) if commit else self.sqn.check(sqn_int)):
            return self._sync_failure(rand)
        # out = OUT2 || OUT3 || OUT4: RES = f2, CK = f3, IK = f4
        return Success(out[8:16], out[16:32], out[32:48], sqn_int)

    def respond(self, data: bytes) -> tuple[bytes, int]:
        """AUTHENTICATE P2 = 81 command data -> (response data, SW): `ims_aka_response`.

        The IMS AKA hot path in one function: parse, AUTN check (three AES calls), SQN
        check and update, response encoding. Never raises for malformed data.
        """
        if type(data) is bytes and len(data) == 34 and data[0] == 16 and data[17] == 16:
            rand = data[1:17]
            autn = data[18:]
        else:
            parsed = parse_rand_autn(data)
            if isinstance(parsed, int):
                return b"", parsed
            rand, autn = parsed
        checked = self.milenage.verify_autn(rand, autn)
        if checked is None:
            return b"", SW_AUTH_MAC_FAILURE
        sqn_int, out = checked
        if self.sqn.try_accept(sqn_int):
            # DB 08 RES 10 CK 10 IK (TS 31.103 7.1.2); out = OUT2 || OUT3 || OUT4
            return b"".join((_SUCCESS_HEAD, out[8:16], _LEN16, out[16:32], _LEN16, out[32:])), SW_OK
        return encode_result(self._sync_failure(rand))

    def _sync_failure(self, rand: bytes) -> SyncFailure:
        # AUTS = (SQN_MS xor AK*) || MAC-S (33.102 6.3.3, 6.3.5)
        mr = self.milenage.with_rand(rand)
        sqn_ms = self.sqn.sqn_ms.to_bytes(6, "big")
        return SyncFailure(_xor(sqn_ms, mr.f5star()) + mr.f1star(sqn_ms, AMF_RESYNC))


def encode_result(result: AkaResult) -> tuple[bytes, int]:
    """Response data and SW for an AKA outcome (TS 31.103 7.1.2, digest 3.2)."""
    match result:
        case Success(res=res, ck=ck, ik=ik):
            data = bytes([TAG_SUCCESS, len(res)]) + res + bytes([len(ck)]) + ck
            return data + bytes([len(ik)]) + ik, SW_OK
        case SyncFailure(auts=auts):
            return bytes([TAG_SYNC_FAILURE, len(auts)]) + auts, SW_OK
        case _:
            return b"", SW_AUTH_MAC_FAILURE


def parse_rand_autn(data: bytes, offset: int = 0) -> tuple[bytes, bytes] | int:
    """Parse `10 RAND 10 AUTN` at `offset`, which must end the data exactly.

    Returns (RAND, AUTN), or a status word: 6700 when the data is shorter or longer than
    its length bytes say, 6A80 when a length byte is not 16.
    """
    body = data[offset:]
    if len(body) < 1:
        return SW_WRONG_LENGTH
    if body[0] != 16:
        return SW_INCORRECT_DATA
    if len(body) < 18:
        return SW_WRONG_LENGTH
    if body[17] != 16:
        return SW_INCORRECT_DATA
    if len(body) != 34:
        return SW_WRONG_LENGTH
    return bytes(body[1:17]), bytes(body[18:34])


def ims_aka_response(aka: ImsAka, data: bytes) -> tuple[bytes, int]:
    """AUTHENTICATE, IMS AKA context (P2 = 81): command data -> (response data, SW)."""
    return aka.respond(data)


# ---------------------------------------------------------------- network side


@dataclass(frozen=True)
class AuthVector:
    rand: bytes
    autn: bytes
    xres: bytes = field(repr=False)
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    ak: bytes = field(repr=False)

    @property
    def nonce_b64(self) -> str:
        return nonce_b64(self.rand, self.autn)


def _sqn_bytes(sqn: int | bytes) -> bytes:
    if isinstance(sqn, (bytes, bytearray)):
        if len(sqn) != 6:
            raise ValueError(f"SQN must be 6 bytes, got {len(sqn)}")
        return bytes(sqn)
    check_sqn(sqn)
    return sqn.to_bytes(6, "big")


def generate_vector(
    milenage: Milenage, rand: bytes, sqn: int | bytes, amf: bytes = AMF_DEFAULT
) -> AuthVector:
    """An authentication vector (TS 33.102 6.3.2): AUTN = SQN xor AK || AMF || MAC-A."""
    sqn_b = _sqn_bytes(sqn)
    mr = milenage.with_rand(rand)
    xres, ck, ik, ak = mr.f2345()
    autn = _xor(sqn_b, ak) + bytes(amf) + mr.f1(sqn_b, amf)
    return AuthVector(bytes(rand), autn, xres, ck, ik, ak)


def nonce_b64(rand: bytes, autn: bytes) -> str:
    """The AKAv1-MD5 Digest nonce: base64(RAND || AUTN) (RFC 3310 clause 3.2)."""
    return base64.b64encode(bytes(rand) + bytes(autn)).decode("ascii")


def resync(milenage: Milenage, rand: bytes, auts: bytes) -> int | None:
    """Network side of resynchronisation (33.102 6.3.5): SQN_MS, or None when MAC-S fails."""
    if len(auts) != 14:
        raise ValueError(f"AUTS must be 14 bytes, got {len(auts)}")
    mr = milenage.with_rand(rand)
    sqn_ms = _xor(auts[:6], mr.f5star())
    if not hmac.compare_digest(mr.f1star(sqn_ms, AMF_RESYNC), auts[6:]):
        return None
    return int.from_bytes(sqn_ms, "big")
