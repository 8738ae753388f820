"""The ISIM application plugged into the generic UICC engine (apdu.Card).

It brings three things to the engine (see apdu/application.py): the write guard that keeps
EF.IMPI, EF.IMPU and EF.DOMAIN inside the IMS trust domain(s), the AUTHENTICATE handler
(IMS AKA, GBA_U), and its own persistent state (the SQN array, the GBA bootstrap).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from apdu.application import FileContents
from apdu.sw import SW_INCORRECT_P1_P2, SW_OK
from isim.aka.codes import P2_IMS_AKA, TAG_GBA_BOOTSTRAP, TAG_SUCCESS
from isim.aka.gba import GbaState, GbaU, authenticate_command
from isim.aka.milenage import Milenage
from isim.aka.procedure import ImsAka
from isim.aka.sqn import SqnArray, SqnConfig
from isim.codecs.errors import CodecError
from isim.identity.files import (
    IDENTITY_FILES,
    PCSCF_FILE,
    identity_file_problems,
    pcscf_problems,
)

GUARDED = frozenset((*IDENTITY_FILES, PCSCF_FILE))
_GBA_BOOTSTRAP = bytes((TAG_GBA_BOOTSTRAP,))



class IsimApplication:
    """ADF.ISIM's behaviour. One instance per card; not thread-safe (neither is the card)."""

    def __init__(
        self,
        *,
        aid: bytes,
        label: str,
        trust_domains: Sequence[str],
        k: bytes,
        opc: bytes,
        sqn: SqnArray,
        gba: GbaState | None = None,
    ) -> None:
        self.aid = aid
        self.label = label
        self.trust_domains = tuple(trust_domains)
        self.aka = ImsAka(Milenage(k, opc), sqn)
        self.gba = GbaU(self.aka, gba)
        self.state_changed = False
        self.last_rejection: str | None = None  # why the guard refused the last write
        # Set by the card builder: stores a bootstrap RAND in EF.GBABP (TS 33.220 G.3).
        self.store_gba_rand: Callable[[bytes], None] | None = None

    def __repr__(self) -> str:  # never show keys
        return f"IsimApplication(aid={self.aid.hex()}, trust_domains={self.trust_domains})"

    # ------------------------------------------------------------------ write guard

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        """TS 33.203 8.1 as changed by the seed CR: refuse a write that would leave the file
        with a problem `isim check` and `isim inspect` report (`isim.identity.files`): an
        identity outside the trust domain(s) or breaking the name policy, no IMPI, home
        domain or IMPU left, a duplicate IMPU, a malformed TLV or bytes after it."""
        self.last_rejection = None
        if ef_name not in GUARDED:
            return True
        try:
            problems = self._problems(ef_name, record, new_content, file_contents)
        except CodecError as exc:
            problems = [str(exc)]
        if problems:
            self.last_rejection = "; ".join(problems)
            return False
        return True

    def _problems(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> list[str]:
        """The one validation of identities over the three files as they would be."""
        if ef_name == PCSCF_FILE:
            return [str(v) for v in pcscf_problems([new_content], record or 1)]
        contents: dict[str, bytes | list[bytes] | None] = {}
        for name in IDENTITY_FILES:
            try:
                contents[name] = file_contents(name)
            except KeyError:
                contents[name] = None
        problems = identity_file_problems(contents, self.trust_domains, only=ef_name)
        return [str(v) for v in problems]

    # ------------------------------------------------------------------ AUTHENTICATE

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        """AUTHENTICATE (TS 31.103 7.1.2): P1 must be 00; P2 81 IMS AKA, 84 GBA."""
        if p1 != 0:
            return b"", SW_INCORRECT_P1_P2
        out, sw = authenticate_command(p2, data, self.aka, self.gba)
        if sw != SW_OK or not out or out[0] != TAG_SUCCESS:
            return out, sw
        if p2 == P2_IMS_AKA:
            self.state_changed = True  # an SQN was accepted
        elif data[:1] == _GBA_BOOTSTRAP:  # P2_GBA: the only other context that succeeds
            self.state_changed = True  # an SQN was accepted and a GBA Ks set
            if self.store_gba_rand is not None:
                self.store_gba_rand(data[2:18])  # DD 10 RAND 10 AUTN
        return out, sw

    # ------------------------------------------------------------------ persistence

    def state(self) -> dict[str, Any]:
        return {"sqn": self.aka.sqn.to_dict(), "gba": self.gba.state.to_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.aka.sqn = SqnArray.from_dict(state["sqn"])
        self.gba.state = GbaState.from_dict(state["gba"])


def new_sqn_array(initial_sqn: int, ind_bits: int, delta: int, limit: int | None) -> SqnArray:
    return SqnArray(SqnConfig(ind_bits=ind_bits, delta=delta, limit=limit), initial_sqn)
