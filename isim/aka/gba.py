"""GBA_U at the card (TS 33.220 Annex B and G; TS 31.103 7.1.2, AUTHENTICATE P2 = 84).

* Bootstrapping: `DD L RAND L AUTN` -> AKA -> `DB 08 RES`. The card keeps Ks = CK || IK and
  RAND (33.220 G.1); sync failure -> `DC 0E AUTS`; MAC failure -> 9862.
* NAF derivation: `DE L NAF_Id L IMPI` -> `DB 20 Ks_ext_NAF`. Ks_int_NAF ("gba-u") is derived
  as well but stays inside the card (33.220 G.3).

KDF (33.220 B.2): HMAC-SHA-256(Key, S), S = FC || P0 || L0 || P1 || L1 || ..., each Li the
2-byte big-endian length of Pi; FC = 01 for the NAF keys (B.3):
Ks_(ext/int)_NAF = KDF(Ks, "gba-me" / "gba-u", RAND, IMPI, NAF_Id).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from apdu.sw import (
    SW_AUTH_CONTEXT_NOT_SUPPORTED,
    SW_CONDITIONS_OF_USE_NOT_SATISFIED,
    SW_INCORRECT_DATA,
    SW_OK,
    SW_WRONG_LENGTH,
)
from isim.aka.codes import (
    P2_GBA,
    P2_IMS_AKA,
    TAG_GBA_BOOTSTRAP,
    TAG_GBA_NAF_DERIVATION,
    TAG_SUCCESS,
)
from isim.aka.procedure import (
    ImsAka,
    MacFailure,
    Success,
    SyncFailure,
    encode_result,
    parse_rand_autn,
)

__all__ = [
    "FC_NAF",
    "GbaState",
    "GbaU",
    "NafKeys",
    "authenticate_command",
    "gba_kdf",
    "naf_keys",
]

FC_NAF = 0x01  # 33.220 B.3


def gba_kdf(key: bytes, fc: int, *params: bytes) -> bytes:
    """33.220 B.2: HMAC-SHA-256(key, FC || P0 || L0 || ... || Pn || Ln)."""
    s = bytearray([fc])
    for p in params:
        if len(p) > 0xFFFF:
            raise ValueError("KDF parameter longer than 65535 bytes")
        s += p + len(p).to_bytes(2, "big")
    return hmac.new(key, bytes(s), hashlib.sha256).digest()


@dataclass(frozen=True)
class NafKeys:
    ext: bytes = field(repr=False)  # Ks_ext_NAF: "gba-me", given to the ME
    int_: bytes = field(repr=False)  # Ks_int_NAF: "gba-u", never leaves the card


def naf_keys(ks: bytes, rand: bytes, impi: bytes, naf_id: bytes) -> NafKeys:
    """Ks_ext_NAF and Ks_int_NAF (33.220 B.3 with G.3's "gba-me" / "gba-u")."""
    return NafKeys(
        ext=gba_kdf(ks, FC_NAF, b"gba-me", rand, impi, naf_id),
        int_=gba_kdf(ks, FC_NAF, b"gba-u", rand, impi, naf_id),
    )


@dataclass
class GbaState:
    """What the card keeps after bootstrapping (persisted with the card state)."""

    ks: bytes | None = field(default=None, repr=False)  # CK || IK, 32 bytes
    rand: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ks": self.ks.hex() if self.ks is not None else None,
            "rand": self.rand.hex() if self.rand is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GbaState:
        try:
            ks = bytes.fromhex(d["ks"]) if d.get("ks") is not None else None
            rand = bytes.fromhex(d["rand"]) if d.get("rand") is not None else None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"bad GBA state: {exc}") from exc
        if (ks is None) != (rand is None):
            raise ValueError("bad GBA state: ks and rand go together")
        if ks is not None and (len(ks) != 32 or len(rand or b"") != 16):
            raise ValueError("bad GBA state: ks must be 32 bytes and rand 16")
        return cls(ks, rand)


class GbaU:
    """The GBA security context of the ISIM, sharing the AKA (K, SQN array) of IMS AKA."""

    __slots__ = ("_int_keys", "aka", "state")

    def __init__(self, aka: ImsAka, state: GbaState | None = None) -> None:
        self.aka = aka
        self.state = state or GbaState()
        # Ks_int_NAF per NAF_Id, for card-resident applications; memory only, never output.
        self._int_keys: dict[bytes, bytes] = {}

    def response(self, data: bytes) -> tuple[bytes, int]:
        """AUTHENTICATE P2 = 84 command data -> (response data, SW); never raises."""
        if len(data) < 1:
            return b"", SW_WRONG_LENGTH
        if data[0] == TAG_GBA_BOOTSTRAP:
            return self._bootstrap(data)
        if data[0] == TAG_GBA_NAF_DERIVATION:
            return self._naf(data)
        return b"", SW_INCORRECT_DATA

    def _bootstrap(self, data: bytes) -> tuple[bytes, int]:
        parsed = parse_rand_autn(data, 1)
        if isinstance(parsed, int):
            return b"", parsed
        rand, autn = parsed
        result = self.aka.authenticate(rand, autn)
        match result:
            case Success(res=res, ck=ck, ik=ik):
                self.state = GbaState(ks=ck + ik, rand=rand)
                self._int_keys.clear()
                return bytes([TAG_SUCCESS, len(res)]) + res, SW_OK
            case SyncFailure() | MacFailure():
                return encode_result(result)
        raise AssertionError("unreachable")  # pragma: no cover

    def _naf(self, data: bytes) -> tuple[bytes, int]:
        # DE | L1 | NAF_Id | L2 | IMPI (one-byte lengths), nothing after.
        if len(data) < 2:
            return b"", SW_WRONG_LENGTH
        l1 = data[1]
        if len(data) < 3 + l1:
            return b"", SW_WRONG_LENGTH
        naf_id = bytes(data[2 : 2 + l1])
        l2 = data[2 + l1]
        if len(data) != 3 + l1 + l2:
            return b"", SW_WRONG_LENGTH
        impi = bytes(data[3 + l1 :])
        # NAF_Id = FQDN || 5-byte Ua security protocol identifier (33.220 H.2)
        if len(naf_id) < 6 or len(impi) < 1:
            return b"", SW_INCORRECT_DATA
        if self.state.ks is None or self.state.rand is None:
            # no Ks: bootstrapping has not run (status word as for a missing context)
            return b"", SW_CONDITIONS_OF_USE_NOT_SATISFIED
        keys = naf_keys(self.state.ks, self.state.rand, impi, naf_id)
        self._int_keys[naf_id] = keys.int_
        return bytes([TAG_SUCCESS, len(keys.ext)]) + keys.ext, SW_OK


def authenticate_command(
    p2: int, data: bytes, aka: ImsAka, gba: GbaU | None = None
) -> tuple[bytes, int]:
    """AUTHENTICATE (INS 88) data for the ISIM: P2 81 IMS AKA, 84 GBA, anything else 9864."""
    if p2 == P2_IMS_AKA:
        return aka.respond(data)
    if p2 == P2_GBA and gba is not None:
        return gba.response(data)
    return b"", SW_AUTH_CONTEXT_NOT_SUPPORTED
