"""The USIM application plugged into the generic UICC engine (apdu.Card), TS 31.102.

* AUTHENTICATE (7.1.2): P2 = 81, the 3G context: `DB RES CK IK`, plus `08 Kc` (c3) when UST
  service 27 (GSM access) is on; `DC AUTS` on a sync failure, 9862 on a MAC failure. P2 = 80,
  the GSM context: `04 SRES 08 Kc` through c2/c3 (TS 33.102 6.8.1.2), only when service 27
  is on; 9864 otherwise and for any other context.
* The shared SQN array: the USIM is given the ISIM's `ImsAka` (same Milenage, same SqnArray
  object), so a vector accepted through one application is stale for the other.
* The write guard: EF.IMSI and EF.AD must stay decodable, and on a card without ISIM the IMS
  identities a UE derives from them (TS 23.003 clause 13) must pass the trust rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from apdu.application import FileContents
from apdu.sw import (
    SW_AUTH_CONTEXT_NOT_SUPPORTED,
    SW_INCORRECT_DATA,
    SW_INCORRECT_P1_P2,
    SW_OK,
    SW_WRONG_LENGTH,
)
from isim.aka.codes import P2_3G, P2_GSM, TAG_SUCCESS
from isim.aka.gsm import c2, c3
from isim.aka.procedure import ImsAka
from isim.aka.sqn import SqnArray
from isim.codecs import CodecError, codec_for
from isim.identity import from_imsi as identities
from isim.identity import trust

__all__ = ["GSM_ACCESS", "UsimApplication", "imsi_identity_problems"]

GSM_ACCESS = 27  # UST service: GSM access (Kc in the 3G response, the GSM context)
# TS 31.102 7.1.2.1 / 7.1.2.2: Kc (8 bytes) and SRES (4 bytes) go out as length + value
_LEN_KC = bytes([8])
_TAG_SUCCESS = bytes([TAG_SUCCESS])
_LEN_SRES = bytes([4])
EF_IMSI = "EF.IMSI"
EF_AD = "EF.AD"
EF_UST = "EF.UST"
GUARDED = frozenset({EF_IMSI, EF_AD})


def imsi_identity_problems(
    imsi_body: bytes, ad_body: bytes, trust_domains: Sequence[str] | None
) -> list[str]:
    """Format problems of EF.IMSI / EF.AD and, with `trust_domains`, the trust rule on the
    IMS identities derived from them (TS 23.003 clause 13)."""
    problems: list[str] = []
    try:
        imsi = codec_for(EF_IMSI).decode_detailed(imsi_body).value
        ad = codec_for("ADF.USIM/EF.AD").decode_detailed(ad_body).value
    except CodecError as exc:
        return [str(exc)]
    if imsi is None:
        return [f"{EF_IMSI}: the USIM must hold an IMSI"]
    mnc_length = ad.mnc_length if ad is not None else None
    if mnc_length not in (2, 3):
        return [f"{EF_AD}: MNC length {mnc_length} is not 2 or 3 (TS 31.102 4.2.18)"]
    if trust_domains is None:
        return problems
    impi, impu, domain = identities.derived_identities(imsi, mnc_length)
    for v in trust.check_identities(impi, [impu], domain, trust_domains):
        problems.append(f"{v} (derived from the IMSI, TS 23.003 clause 13)")
    return problems


class UsimApplication:
    """ADF.USIM's behaviour. One instance per card; not thread-safe (neither is the card)."""

    def __init__(
        self,
        *,
        aid: bytes,
        label: str,
        aka: ImsAka,
        trust_domains: Sequence[str],
        has_isim: bool,
        services: Callable[[], bytes] = lambda: b"",
    ) -> None:
        self.aid = aid
        self.label = label
        self.aka = aka  # shared with the ISIM: one SQN array
        self.trust_domains = tuple(trust_domains)
        self.has_isim = has_isim
        self.services = services  # EF.UST's current body (set by the card builder)
        self.state_changed = False
        self.last_rejection: str | None = None

    def __repr__(self) -> str:  # never show keys
        return f"UsimApplication(aid={self.aid.hex()})"

    def service(self, n: int) -> bool:
        """UST service n available (TS 31.102 4.2.8: bit (n-1) mod 8 of byte (n-1) div 8)."""
        table = self.services()
        i = (n - 1) >> 3
        return i < len(table) and bool(table[i] >> ((n - 1) & 7) & 1)

    # ------------------------------------------------------------------ write guard

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        self.last_rejection = None
        if ef_name not in GUARDED:
            return True
        imsi, ad = file_contents(EF_IMSI), file_contents(EF_AD)
        assert isinstance(imsi, bytes) and isinstance(ad, bytes)
        domains = None if self.has_isim else self.trust_domains
        problems = imsi_identity_problems(imsi, ad, domains)
        if problems:
            self.last_rejection = "; ".join(problems)
            return False
        return True

    # ------------------------------------------------------------------ AUTHENTICATE

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if p1 != 0:
            return b"", SW_INCORRECT_P1_P2
        if p2 == P2_3G:
            return self._umts(data)
        if p2 == P2_GSM and self.service(GSM_ACCESS):
            return self._gsm(data)
        return b"", SW_AUTH_CONTEXT_NOT_SUPPORTED

    def _umts(self, data: bytes) -> tuple[bytes, int]:
        # The ISIM's hot path (parse, AUTN, SQN, `DB 08 RES 10 CK 10 IK`), then Kc
        out, sw = self.aka.respond(data)
        if sw == SW_OK and out[:1] == _TAG_SUCCESS:
            self.state_changed = True  # an SQN was accepted
            if self.service(GSM_ACCESS):
                ck_at = 3 + out[1]  # DB Lres RES Lck CK Lik IK
                out += _LEN_KC + c3(out[ck_at:ck_at + 16], out[ck_at + 17:ck_at + 33])
        return out, sw

    def _gsm(self, data: bytes) -> tuple[bytes, int]:
        # TS 31.102 7.1.2: `10 RAND`; no AUTN, so no SQN is checked or consumed
        if not data:
            return b"", SW_WRONG_LENGTH
        if data[0] != 16:
            return b"", SW_INCORRECT_DATA
        if len(data) != 17:
            return b"", SW_WRONG_LENGTH
        res, ck, ik, _ak = self.aka.milenage.with_rand(data[1:]).f2345()
        return _LEN_SRES + c2(res) + _LEN_KC + c3(ck, ik), SW_OK

    # ------------------------------------------------------------------ persistence

    def state(self) -> dict[str, Any]:
        return {"sqn": self.aka.sqn.to_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.aka.sqn = SqnArray.from_dict(state["sqn"])
