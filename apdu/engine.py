"""`Card`: a generic UICC (ETSI TS 102 221), sans-IO: C-APDU bytes in, R-APDU bytes out.

It knows nothing of ISIM: applications plug in through `apdu.application.Application`.

Construction
    Card.from_dict(d, applications=..., rng=os.urandom, t0=False)
    Card.from_dict(apdu.build.card_dict(...))  # a tree from specs/filesystem.yaml

Card dict (JSON-able; `Card.to_dict()` returns the same shape, `from_dict` accepts it):

    {"atr": "3B9C...BA",                        # optional; TCK checked (default: apdu.atr.atr_for)
     "pins": {"01": {...}, "81": {...}, "0A": {...}},   # apdu.pins docstring
     "mf":   {"name": "MF", "fid": "3F00", "lcsi": "05",
              "arr": {"file": "2F06", "record": 1}, "files": [<EF/DF dict>, ...]},
     "adfs": [{"name": "ADF.ISIM", "aid": "A000...", "label": "ISIM", "fid": null,
               "lcsi": "05", "arr": {"file": "6F06", "record": 3}, "files": [...]}]}

    EF / DF dicts: apdu.files docstring. ADFs are children of the MF for the FID search
    (parent = MF) but are selected by AID (or 7FFF); they are listed in "adfs" in the order
    used for SELECT by partial AID (first/last/next/previous occurrence).

Applications: `applications` is an iterable of Application objects or a mapping
{aid_hex: Application}; each is attached to the ADF with that AID (ValueError if none).

Driving it (h11 style): `card.receive(capdu)` returns typed events (apdu.events) in the
order the driver acts on them: `StateChanged` when the command changed persistent state
(EF contents, LCSI, PIN values, counters or enabled flags, or application state reported
through `Application.state_changed`): persist first; the trace events `ApduExchanged` (with
what the data is, for masking) and `WriteRefused`; then `Response`, to send last. The
driver loop is `transport.driver`. Verification state, selections and channels are
volatile. `card.process(capdu) -> rapdu` is the bare exchange (tests, fuzzers, an in-process
transport that nobody traces), which leaves the change in `card.state_changed` for
`take_state_changed()`.

Response styles: default (APDU level, T=1/PC-SC): data + SW in one R-APDU; an explicit Le
shorter than the data -> 6CXX. `t0=True`: a command with data whose response has data
answers 61XX (or its warning SW) and keeps the data for GET RESPONSE on the same channel
(any other command discards it; GET RESPONSE with nothing pending -> 6F00); a command
without data whose Le (00 = 256) differs from the response length -> 6CXX; GET RESPONSE
follows the same case-2 rule (P3 = 00 is 256; a P3 other than what is pending -> 6CXX).
The ATR agrees with the style: its first offered protocol is T=0 for `t0=True`, T=1 for
the APDU level (ValueError otherwise); without one the card uses its own (apdu.atr).

Every input ends in a valid SW; an unexpected exception is answered 6F00. A new Card is
powered (MF selected on channel 0); after power_off() every C-APDU is answered 6F00 until
power_on() / reset().

Lookups for the layers above: `card.ef("ADF.ISIM/EF.IMPI")`, `card.adf(aid)`,
`Card.find_in(df, "EF.GBABP")`, `card.applications[adf]`; EF objects expose `body`
(transparent) / `records` (record EFs) and `lcsi`; whoever changes them directly must call
`card.mark_changed()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from apdu import access, misc, pins, select
from apdu.application import Application
from apdu.atr import atr_for, check_atr, offered_protocols
from apdu.channels import Channel, manage_channel
from apdu.command import CLA_PROPRIETARY, CLA_TABLE, MAX_CHANNELS
from apdu.events import ApduExchanged, CardEvent, Response, StateChanged, WriteRefused
from apdu.fcp import df_fcp, ef_fcp
from apdu.files import DF, EF, df_from_dict, node_to_dict
from apdu.get_response import get_response
from apdu.ins import (
    INS_ACTIVATE_FILE,
    INS_AUTHENTICATE,
    INS_CHANGE_PIN,
    INS_DEACTIVATE_FILE,
    INS_DISABLE_PIN,
    INS_ENABLE_PIN,
    INS_GET_CHALLENGE,
    INS_GET_RESPONSE,
    INS_MANAGE_CHANNEL,
    INS_READ_BINARY,
    INS_READ_RECORD,
    INS_SEARCH_RECORD,
    INS_SELECT,
    INS_STATUS,
    INS_TERMINAL_CAPABILITY,
    INS_TERMINAL_PROFILE,
    INS_UNBLOCK_PIN,
    INS_UPDATE_BINARY,
    INS_UPDATE_RECORD,
    INS_VERIFY,
    PIN_INS,
)
from apdu.pins import PinStore
from apdu.sw import (
    SW_CLA_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_LOGICAL_CHANNEL_NOT_SUPPORTED,
    SW_OK,
    SW_RESPONSE_BYTES_AVAILABLE,
    SW_TECHNICAL_PROBLEM_BYTES,
    SW_WRONG_LE,
    SW_WRONG_LENGTH,
)
from apdu.sw import sw_bytes as _swb

__all__ = [
    "KNOWN_INS",
    "SECRET_COMMAND_DATA",
    "SECRET_RESPONSE_DATA",
    "Card",
    "Handler",
]

Handler = Callable[["Card", Channel, int, int, bytes, int], tuple[bytes, int]]
_EMPTY = b""


_SW_WRONG_LENGTH = _swb(SW_WRONG_LENGTH)
_SW_NO_CHANNEL = _swb(SW_LOGICAL_CHANNEL_NOT_SUPPORTED)
_SW_BAD_INS = _swb(SW_INS_NOT_SUPPORTED)
_SW_BAD_CLA = _swb(SW_CLA_NOT_SUPPORTED)


# What the data of an exchange is (for traces: apdu.trace masks by these flags, never by INS).
SECRET_COMMAND_DATA = 1  # PIN, PUK or ADM values (VERIFY, CHANGE, DISABLE, ENABLE, UNBLOCK)
SECRET_RESPONSE_DATA = 2  # AUTHENTICATE results (RES, CK, IK, Kc, SRES, AUTS, Ks_ext_NAF)
# and whatever part of them a GET RESPONSE returns later; the content of an EF marked secret
# (apdu.files) in READ / UPDATE / SEARCH (SECRET_COMMAND_DATA for the data written)
# Commands whose data (command or response) is the content of the current EF: masked when
# that EF is marked secret (key material, e.g. derived from AUTHENTICATE results)
_FILE_DATA = frozenset({access.read_binary, access.update_binary, access.read_record,
                        access.update_record, access.search_record})
# TS 102 221 clauses 11.1.9-11.1.13: the data of these INS is PIN data whatever the outcome
# a tuple, not bytes: CPython specializes indexing a tuple (~100 instructions less an APDU)
_SECRECY_OF_INS = tuple(SECRET_COMMAND_DATA if i in PIN_INS else 0 for i in range(256))
_AUTHENTICATE = misc.authenticate


# ISO/IEC 7816-4 interindustry class (CLA 0X / 4X), TS 102 221 table 10.5
_INTERINDUSTRY: dict[int, Handler] = {
    INS_SELECT: select.select,
    INS_READ_BINARY: access.read_binary,
    INS_UPDATE_BINARY: access.update_binary,
    INS_READ_RECORD: access.read_record,
    INS_UPDATE_RECORD: access.update_record,
    INS_SEARCH_RECORD: access.search_record,
    INS_VERIFY: pins.verify,
    INS_CHANGE_PIN: pins.change,
    INS_DISABLE_PIN: pins.disable,
    INS_ENABLE_PIN: pins.enable,
    INS_UNBLOCK_PIN: pins.unblock,
    INS_DEACTIVATE_FILE: access.deactivate_file,
    INS_ACTIVATE_FILE: access.activate_file,
    INS_AUTHENTICATE: misc.authenticate,
    INS_GET_CHALLENGE: misc.get_challenge,
    INS_MANAGE_CHANNEL: manage_channel,
    INS_GET_RESPONSE: get_response,
}
# ETSI proprietary class (CLA 8X / CX)
_PROPRIETARY: dict[int, Handler] = {
    INS_STATUS: select.status,
    INS_TERMINAL_PROFILE: misc.terminal_profile,
    INS_TERMINAL_CAPABILITY: misc.terminal_capability,
}

# Every INS this card implements, for fuzzers and property tests.
KNOWN_INS: tuple[int, ...] = (*_INTERINDUSTRY, *_PROPRIETARY)


class Card:
    """A UICC: file tree, PINs, logical channels; `process(capdu) -> rapdu`."""

    def __init__(
        self,
        mf: DF,
        adfs: Iterable[DF],
        pin_store: PinStore,
        *,
        atr: bytes | None = None,
        applications: Iterable[Application] | Mapping[str, Application] | None = None,
        rng: Callable[[int], bytes] | None = None,
        t0: bool = False,
    ) -> None:
        if atr is None:
            atr = atr_for(t0)
        check_atr(atr)
        if offered_protocols(atr)[0] != (0 if t0 else 1):
            raise ValueError(
                "the ATR's first protocol must be T=0 for the T=0 response style and T=1 "
                "for the APDU-level style (what the ATR says and what the card does agree)"
            )
        self._atr = bytes(atr)
        self.mf = mf
        self.adfs: list[DF] = list(adfs)
        for adf in self.adfs:
            if adf.aid is None:
                raise ValueError(f"{adf.name}: an ADF needs an AID")
            adf.parent = mf
        self.pins = pin_store
        self.rng = rng
        self.t0 = t0
        self.applications: dict[DF, Application] = {}
        self._owner: dict[EF, tuple[DF, Application]] = {}
        self._attach(applications)
        self.rule_cache: dict[EF, tuple[access.Condition, ...]] = {}
        self.arr_files: set[EF] = set()
        self.state_changed = False
        self.state_serial = 0
        self.channels: list[Channel | None] = [None] * MAX_CHANNELS
        # data kept for GET RESPONSE: channel, data, final SW, secrecy of the data
        self._pending: tuple[Channel, bytes, int, int] | None = None
        self.secrecy = 0  # of the last exchange: SECRET_COMMAND_DATA | SECRET_RESPONSE_DATA
        self._refusal: tuple[Application, str] | None = None  # set by the write guard
        self.trace_exchanges = True  # False: receive() leaves out ApduExchanged (nobody traces)
        self._powered = True
        self._new_session()

    # --- construction / persistence ------------------------------------------------------------

    def _attach(
        self, applications: Iterable[Application] | Mapping[str, Application] | None
    ) -> None:
        if applications is None:
            return
        items = (
            [(bytes.fromhex(k), v) for k, v in applications.items()]
            if isinstance(applications, Mapping)
            else [(bytes(a.aid), a) for a in applications]
        )
        for aid, app in items:
            adf = next((a for a in self.adfs if a.aid == aid), None)
            if adf is None:
                raise ValueError(f"no ADF with AID {aid.hex().upper()}")
            self.applications[adf] = app
            for ef in _walk_efs(adf):
                self._owner[ef] = (adf, app)

    @classmethod
    def from_dict(
        cls,
        d: Mapping[str, Any],
        *,
        applications: Iterable[Application] | Mapping[str, Application] | None = None,
        rng: Callable[[int], bytes] | None = None,
        t0: bool = False,
    ) -> Card:
        try:
            atr = bytes.fromhex(d["atr"]) if d.get("atr") else None
            mf = df_from_dict(dict(d["mf"]))
            adfs = [df_from_dict(dict(a)) for a in d.get("adfs", [])]
            pin_store = PinStore(dict(d.get("pins", {})))
        except (KeyError, TypeError, AttributeError) as e:  # messages carry no PIN values
            raise ValueError(f"invalid card dict: {type(e).__name__}: {e}") from None
        return cls(
            mf,
            adfs,
            pin_store,
            atr=atr,
            applications=applications,
            rng=rng,
            t0=t0,
        )

    def to_dict(self) -> dict[str, Any]:
        mf = node_to_dict(self.mf)
        mf.pop("structure", None)
        adfs = []
        for adf in self.adfs:
            a = node_to_dict(adf)
            a.pop("structure", None)
            adfs.append(a)
        out: dict[str, Any] = {"pins": self.pins.to_dict(), "mf": mf, "adfs": adfs}
        if self._atr != atr_for(self.t0):
            out = {"atr": self._atr.hex().upper(), **out}
        return out

    def note_refusal(self, app: Application, ef_name: str) -> None:
        """The write guard of `app` refused an update of `ef_name` (apdu.access)."""
        self._refusal = (app, ef_name)

    def mark_changed(self) -> None:
        """Persistent state changed: the transport must persist before responding."""
        self.state_changed = True
        self.state_serial += 1

    def take_state_changed(self) -> bool:
        """Return and clear `state_changed`."""
        changed = self.state_changed
        self.state_changed = False
        return changed

    def pin_status_changed(self) -> None:
        """A PIN was enabled or disabled: the C6 template of every DF's FCP is stale."""
        for df in _walk_dfs(self.mf, self.adfs):
            df.fcp = None
        self.mark_changed()

    # --- lookups ---------------------------------------------------------------------------------

    def ef(self, path: str) -> EF:
        """An EF by "<DF name>/<EF name>", e.g. "MF/EF.DIR", "ADF.ISIM/EF.IMPU"."""
        df_name, _, ef_name = path.partition("/")
        for df in _walk_dfs(self.mf, self.adfs):
            if df.name == df_name:
                node = self.find_in(df, ef_name)
                if node is not None:
                    return node
        raise KeyError(path)

    def adf(self, aid: bytes) -> DF:
        for a in self.adfs:
            if a.aid == aid:
                return a
        raise KeyError(aid.hex())

    @staticmethod
    def find_in(df: DF, name: str) -> EF | None:
        for ef in _walk_efs(df):
            if ef.name == name:
                return ef
        return None

    def owner_of(self, ef: EF) -> tuple[DF, Application] | None:
        return self._owner.get(ef)

    def fcp_of(self, node: EF | DF) -> bytes:
        fcp = node.fcp
        if fcp is None:
            if node.is_df:
                top = node is self.mf or node.aid is not None  # type: ignore[union-attr]
                fcp = df_fcp(node, self.pins.status() if top else None)  # type: ignore[arg-type]
            else:
                fcp = ef_fcp(node)  # type: ignore[arg-type]
            node.fcp = fcp
        return fcp

    # --- power -----------------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def powered(self) -> bool:
        return self._powered

    def _new_session(self) -> None:
        # TS 102 221 clause 6.4 / 8.4: after the ATR the MF is selected on the basic channel;
        # the verification state (clause 9.5.1) and the logical channels are lost.
        self.pins.reset()
        self.channels = [None] * MAX_CHANNELS
        self.channels[0] = Channel(0, self.mf)
        self._pending = None

    def power_on(self) -> bytes:
        self._powered = True
        self._new_session()
        return self._atr

    def reset(self) -> bytes:
        return self.power_on()

    def power_off(self) -> None:
        self._powered = False
        self._new_session()

    # --- APDUs -----------------------------------------------------------------------------------

    def receive(self, capdu: bytes) -> list[CardEvent]:
        """One C-APDU in, its events out (apdu.events), in the order the driver acts on
        them: `StateChanged` (persist), `ApduExchanged` / `WriteRefused` (traces), then
        `Response` (send). Never raises."""
        self._refusal = None  # one left by a bare `process` is not this exchange's
        try:  # process(), without its call: this is the driver loop's path
            rapdu = self._process(capdu if type(capdu) is bytes else bytes(capdu))
        except Exception:  # TS 102 221 clause 10.2.1.6: technical problem, no diagnosis
            self._pending = None
            rapdu = SW_TECHNICAL_PROBLEM_BYTES
        if not (self.state_changed or self.trace_exchanges or self._refusal):
            return [Response(rapdu)]  # the hot path: a read, nobody tracing
        events: list[CardEvent] = []
        if self.state_changed:
            self.state_changed = False
            events.append(StateChanged(self.state_serial))
        if self.trace_exchanges:
            events.append(ApduExchanged(capdu, rapdu, self.secrecy))
        refusal = self._refusal
        if refusal is not None:
            self._refusal = None
            reason = getattr(refusal[0], "last_rejection", None)
            events.append(WriteRefused(refusal[1], reason or "refused by the write guard"))
        events.append(Response(rapdu))
        return events

    def process(self, capdu: bytes) -> bytes:
        """One C-APDU in, the R-APDU (data + SW1 SW2) out. Never raises. Afterwards
        `secrecy` tells what the exchange's data is (SECRET_COMMAND_DATA: PIN values in the
        C-APDU; SECRET_RESPONSE_DATA: AUTHENTICATE results in the R-APDU, also when a GET
        RESPONSE returns them). A write guard's refusal is not reported here (`receive`'s
        `WriteRefused`, which drops one left by an earlier `process`)."""
        try:
            return self._process(capdu if type(capdu) is bytes else bytes(capdu))
        except Exception:  # TS 102 221 clause 10.2.1.6: technical problem, no diagnosis
            self._pending = None
            return SW_TECHNICAL_PROBLEM_BYTES

    def _process(self, capdu: bytes) -> bytes:
        n = len(capdu)
        if n < 4 or not self._powered:
            self.secrecy = _SECRECY_OF_INS[capdu[1]] if n > 1 else 0
            self._pending = None
            return _SW_WRONG_LENGTH if self._powered else SW_TECHNICAL_PROBLEM_BYTES
        ins = capdu[1]
        self.secrecy = _SECRECY_OF_INS[ins]
        if ins != INS_GET_RESPONSE and self._pending is not None:
            self._pending = None
        entry = CLA_TABLE[capdu[0]]
        if entry < 0:
            return _swb(-entry)
        if entry & CLA_PROPRIETARY:
            handler = _PROPRIETARY.get(ins)
            if handler is None:
                return _SW_BAD_CLA if ins in _INTERINDUSTRY else _SW_BAD_INS
        else:
            handler = _INTERINDUSTRY.get(ins)
            if handler is None:
                return _SW_BAD_CLA if ins in _PROPRIETARY else _SW_BAD_INS
        # ISO/IEC 7816-3 clause 12.1.3: cases 1-4, short lengths only. This is
        # apdu.command.split_body written out: its call and tuple cost ~8 % of a READ BINARY
        # here (measured with callgrind), so the hot loop keeps its own copy.
        if n == 4:
            data = _EMPTY
            ne = 0
        elif n == 5:
            data = _EMPTY
            ne = capdu[4] or 256
        else:
            lc = capdu[4]
            if lc == 0:
                return _SW_WRONG_LENGTH  # extended length
            if n == 5 + lc:
                data = capdu[5:]
                ne = 0
            elif n == 6 + lc:
                data = capdu[5:-1]
                ne = capdu[-1] or 256
            else:
                return _SW_WRONG_LENGTH
        ch = self.channels[entry & 0x1F]
        if ch is None:
            return _SW_NO_CHANNEL
        out, sw = handler(self, ch, capdu[2], capdu[3], data, ne)
        ef = ch.ef  # the secret-file test first: it is false on the hot paths
        secret_file = ef is not None and ef.secret and handler in _FILE_DATA
        if data and secret_file:
            self.secrecy |= SECRET_COMMAND_DATA  # an update (or search) of a key file
        if not out:
            return _swb(sw)
        if handler is _AUTHENTICATE:
            self.secrecy = SECRET_RESPONSE_DATA
        elif secret_file:
            self.secrecy |= SECRET_RESPONSE_DATA
        if self.t0 and handler is not get_response:
            return self._t0_response(ch, out, sw, data, ne)
        if ne and len(out) > ne:
            return _swb(SW_WRONG_LE | (len(out) & 0xFF))
        return out + _swb(sw)

    def _t0_response(self, ch: Channel, out: bytes, sw: int, data: bytes, ne: int) -> bytes:
        # TS 102 221 clause 7.3.1.1.4 / annex C
        if data:  # case 3/4: 61XX (or the warning), then GET RESPONSE
            self._pending = (ch, out, sw, self.secrecy & SECRET_RESPONSE_DATA)
            return _swb(SW_RESPONSE_BYTES_AVAILABLE | (len(out) & 0xFF) if sw == SW_OK else sw)
        if len(out) != (ne or 256):  # case 2 with a wrong P3
            return _swb(SW_WRONG_LE | (len(out) & 0xFF))
        return out + _swb(sw)

    def __repr__(self) -> str:
        return f"Card(adfs={[a.name for a in self.adfs]!r}, t0={self.t0})"


def _walk_dfs(mf: DF, adfs: Iterable[DF]) -> list[DF]:
    out: list[DF] = []
    stack = [mf, *adfs]
    while stack:
        df = stack.pop()
        out.append(df)
        stack.extend(c for c in df.children if c.is_df)  # type: ignore[misc]
    return out


def _walk_efs(df: DF) -> list[EF]:
    out: list[EF] = []
    for c in df.children:
        if c.is_df:
            out.extend(_walk_efs(c))  # type: ignore[arg-type]
        else:
            out.append(c)  # type: ignore[arg-type]
    return out
