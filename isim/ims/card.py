"""The UE's card for IMS registration: identities and AUTHENTICATE, over any ``transmit``.

* Identities come from the ISIM (EF.IMPI, EF.IMPU, EF.DOMAIN, EF.P-CSCF; TS 31.103 4.2),
  read by :mod:`isim.inspect` (the same read-only reader as ``isim inspect``). Without an
  ISIM they are derived from the USIM's EF.IMSI and EF.AD, read by the same reader
  (TS 23.003 clause 13, :mod:`isim.identity.from_imsi`).
* AUTHENTICATE (TS 102 221 clause 11.1.16) in the 3G / IMS AKA context (P2 = 81,
  TS 31.103 7.1.2 / TS 31.102 7.1.2) on that application, the answer decoded into
  :class:`isim.aka.procedure.Success` / :class:`~isim.aka.procedure.SyncFailure` /
  :class:`~isim.aka.procedure.MacFailure`.

Every command goes through :func:`apdu.t0.following_procedure`, so a card answering in T=0
style (61XX / 6CXX) reads the same as one that does not. A reader's card and an in-process
image (``--card``) are the same :class:`isim.inspect.CardSource`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from apdu.ins import INS_AUTHENTICATE, INS_SELECT, SELECT_BY_AID, SELECT_RETURN_NONE
from apdu.sw import SW_AUTH_MAC_FAILURE, SW_OK, SW_SECURITY_STATUS_NOT_SATISFIED
from apdu.t0 import ProcedureError, following_procedure
from isim.aka.codes import P2_IMS_AKA, TAG_SUCCESS, TAG_SYNC_FAILURE
from isim.aka.procedure import AkaResult, MacFailure, Success, SyncFailure
from isim.digits import is_number
from isim.errors import IsimError
from isim.identity.from_imsi import derived_identities
from isim.inspect import CardSource, CardUnreadable, read_card, reader_source
from isim.inspect.auth import Authenticator, Secret
from isim.inspect.checks import DecodedEF, inspect
from isim.inspect.link import Link
from isim.inspect.sources import emulator_source
from transport.pcsc import TOOL_TIMEOUT

__all__ = ["CardError", "CardIdentities", "UeCard", "open_card"]

_RAND_AUTN_LEN = 16


class CardError(IsimError):
    """No card, no ISIM or USIM, a card that does not answer as specified (exit code 2)."""


@dataclass(frozen=True)
class CardIdentities:
    application: str  # "ISIM" or "USIM" (identities derived from the IMSI)
    impi: str
    impus: list[str]
    home_domain: str
    pcscf: list[str]  # EF.P-CSCF addresses in record order (none on a USIM-only card)


class UeCard:
    """A powered card with its application selected for AUTHENTICATE."""

    def __init__(self, source: CardSource, pin1: bytes | None = None) -> None:
        """`pin1`: the PIN1 block (`isim.inspect.auth.pin_block`), presented only when a READ
        or AUTHENTICATE answers 6982, by the inspector's policy (`isim.inspect.auth`: at most
        once, never on the last try)."""
        self.description = source.description
        self.trust_domains = source.trust_domains
        self._transmit = following_procedure(source.transmit)
        self._aid = b""
        self._pin1 = pin1
        self.identities = self._read(source)

    def _send(self, capdu: bytes) -> tuple[bytes, int]:
        try:
            rapdu = self._transmit(capdu)
        except (ProcedureError, OSError) as exc:
            raise CardError(f"{self.description}: the card stopped answering: {exc}") from None
        except Exception as exc:  # pyscard / transport.pcsc.ReaderError
            raise CardError(f"{self.description}: {exc}") from None
        return bytes(rapdu[:-2]), int.from_bytes(rapdu[-2:], "big")

    def _select(self, aid: bytes) -> int:
        header = bytes([0, INS_SELECT, SELECT_BY_AID, SELECT_RETURN_NONE, len(aid)])
        return self._send(header + aid)[1]

    def _read(self, source: CardSource) -> CardIdentities:
        try:
            # ISIM, else USIM; else unreadable
            read = read_card(self._transmit, source.atr, pin1=self._pin1)
        except CardUnreadable as exc:
            raise CardError(f"{self.description}: {exc}") from None
        inspection = inspect(read, None)
        try:
            if read.isim_aid:
                self._aid = read.isim_aid
                return _isim_identities(inspection.decoded, self.description)
            self._aid = read.usim.aid
            return _usim_identities(inspection.usim_decoded, self.description)
        except CardError as exc:  # say why, when a PIN stood in the way
            why = [e.message for e in read.auth_events if e.level == "error"]
            why += sorted({f.read_error for f in read.files
                           if f.read_error and "6982" in f.read_error})
            raise CardError("; ".join([str(exc), *why])) from None

    def _unlock_pin1(self) -> None:
        """PIN1 for an AUTHENTICATE that answered 6982 (CardError when it is not given or
        cannot be presented; the reason never holds the value)."""
        if self._pin1 is None:
            raise CardError(f"{self.description}: AUTHENTICATE needs PIN1 verified (6982); "
                            "give --pin1")
        auth = Authenticator(Link(self._transmit), [Secret("PIN1", "--pin1", self._pin1)])
        self._pin1 = None  # presented at most once per run
        try:
            unlocked = auth.unlock()
        except CardUnreadable as exc:
            raise CardError(f"{self.description}: {exc}") from None
        if not unlocked:
            reasons = "; ".join(e.message for e in auth.events) or "not verified"
            raise CardError(f"{self.description}: AUTHENTICATE needs PIN1: {reasons}")

    @property
    def application(self) -> str:
        return self.identities.application

    def authenticate(self, rand: bytes, autn: bytes) -> AkaResult:
        """AUTHENTICATE, 3G / IMS AKA context, on the application the identities came from."""
        if len(rand) != _RAND_AUTN_LEN or len(autn) != _RAND_AUTN_LEN:
            raise ValueError("RAND and AUTN are 16 bytes each")
        if self._select(self._aid) != SW_OK:
            raise CardError(f"{self.description}: cannot select the {self.application} again")
        body = bytes([_RAND_AUTN_LEN]) + rand + bytes([_RAND_AUTN_LEN]) + autn
        command = bytes([0, INS_AUTHENTICATE, 0, P2_IMS_AKA, len(body)]) + body + b"\x00"
        data, sw = self._send(command)
        if sw == SW_SECURITY_STATUS_NOT_SATISFIED:
            self._unlock_pin1()
            data, sw = self._send(command)
        if sw == SW_AUTH_MAC_FAILURE:
            return MacFailure()
        if sw == SW_SECURITY_STATUS_NOT_SATISFIED:
            raise CardError(f"{self.description}: AUTHENTICATE needs PIN1 verified (6982)")
        if sw != SW_OK:
            raise CardError(f"{self.description}: AUTHENTICATE answered {sw:04X}")
        return _decode_auth(data, self.description)


def _decode_auth(data: bytes, who: str) -> AkaResult:
    """DB L RES L CK L IK [L Kc] or DC L AUTS (TS 31.102 / 31.103 clause 7.1.2.1)."""
    fields: list[bytes] = []
    i = 1
    while i < len(data):
        n = data[i]
        fields.append(data[i + 1:i + 1 + n])
        if len(fields[-1]) != n:
            break
        i += 1 + n
    if data[:1] == bytes([TAG_SUCCESS]) and len(fields) >= 3 and all(fields[:3]):
        return Success(fields[0], fields[1], fields[2])
    if data[:1] == bytes([TAG_SYNC_FAILURE]) and len(fields) == 1 and len(fields[0]) == 14:
        return SyncFailure(fields[0])
    # never show the bytes: they may hold RES, CK and IK
    raise CardError(f"{who}: AUTHENTICATE answer of {len(data)} bytes is not DB.. or DC..")


def _values(decoded: dict[str, DecodedEF], name: str) -> list[object]:
    ef = decoded.get(name)
    return [v for v in ef.values if v is not None] if ef is not None else []


def _isim_identities(decoded: dict[str, DecodedEF], who: str) -> CardIdentities:
    impi = (_values(decoded, "EF.IMPI") or [None])[0]
    domain = (_values(decoded, "EF.DOMAIN") or [None])[0]
    impus = [v for v in _values(decoded, "EF.IMPU") if isinstance(v, str)]
    if not isinstance(impi, str) or not isinstance(domain, str) or not impus:
        raise CardError(f"{who}: the ISIM lacks a readable EF.IMPI, EF.DOMAIN or EF.IMPU")
    pcscf = [str(v.address) for v in _values(decoded, "EF.P-CSCF")
             if getattr(v, "address", None)]
    return CardIdentities("ISIM", impi, impus, domain, pcscf)


def _usim_identities(decoded: dict[str, DecodedEF], who: str) -> CardIdentities:
    """TS 23.003 clause 13 identities of EF.IMSI with the MNC length of EF.AD byte 4."""
    imsi = (_values(decoded, "EF.IMSI") or [None])[0]
    mnc_length = getattr((_values(decoded, "EF.AD") or [None])[0], "mnc_length", None)
    if not isinstance(imsi, str) or not isinstance(mnc_length, int):
        raise CardError(f"{who}: no ISIM, and the USIM lacks a readable EF.IMSI or EF.AD")
    try:
        impi, impu, domain = derived_identities(imsi, mnc_length)
    except ValueError as exc:
        raise CardError(f"{who}: USIM EF.IMSI / EF.AD: {exc}") from None
    return CardIdentities("USIM", impi, [impu], domain, [])


@contextlib.contextmanager
def open_card(*, reader: str | None = None, card: Path | None = None,
              state: Path | None = None, pin1: bytes | None = None,
              timeout: float = TOOL_TIMEOUT) -> Iterator[UeCard]:
    """The card in a PC/SC reader (index or name), or CARD (a profile, image or state file)
    run in the in-process engine; both through the same code. `state` (with CARD): the
    card's state file, as `isim emulate --state` keeps it (created from CARD when absent,
    locked while open; the SQN array and PIN counters persist before each answer). Raises
    :class:`CardError`."""
    if (reader is None) == (card is None):
        raise CardError("give exactly one of --reader N or --card CARD")
    if state is not None and card is None:
        raise CardError("--state goes with --card (a reader's card keeps its own state)")
    if card is not None:
        from isim.card.emulator import Emulator
        from isim.card.image import load_card_source

        try:
            image = load_card_source(card)
            emu = Emulator.open(image, state_path=state, allow_rule_violations=True)
        except (IsimError, OSError, ValueError) as exc:
            raise CardError(f"{card}: cannot load the card: {exc}") from None
        try:
            yield UeCard(emulator_source(emu, f"card {card}"), pin1)
        except CardUnreadable as exc:
            raise CardError(str(exc)) from None
        finally:
            emu.close()
        return
    assert reader is not None
    target: int | str = int(reader) if is_number(reader) else reader
    try:
        with reader_source(target, timeout) as source:
            yield UeCard(source, pin1)
    except CardUnreadable as exc:
        raise CardError(str(exc)) from None
