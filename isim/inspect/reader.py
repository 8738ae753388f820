"""Read a card through any ``transmit``: ATR, EF.DIR, the ISIM by AID, then every ISIM EF of
specs/filesystem.yaml that the card has (SELECT with FCP, READ BINARY / READ RECORD all).

Reading never judges: it records what the card holds and how it answered; `checks` judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apdu.files import MAX_RECORDS, MAX_TRANSPARENT_SIZE
from apdu.ins import (
    INS_READ_BINARY,
    INS_READ_RECORD,
    INS_SELECT,
    RECORD_ABSOLUTE,
    SELECT_BY_AID,
    SELECT_BY_FID,
    SELECT_RETURN_FCP,
)
from apdu.sw import (
    SW_FILE_NOT_FOUND,
    SW_OK,
    SW_RECORD_NOT_FOUND,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WARNING_END_OF_FILE,
)
from isim.card.contents import ISIM_ADF
from isim.codecs import ApplicationTemplate, CodecError, codec_for
from specs.layout import EFSpec, layout

from .auth import Authenticator, AuthEvent, Secret
from .fcp import FcpInfo, parse_fcp
from .link import CardUnreadable, Link, Transmit

__all__ = ["AppEntry", "CardRead", "EFRead", "read_card"]

# TS 102 221 clause 11.1.1.2, table 11.1 / 11.2
_MAX_CHUNK = 256  # short APDU Le
_WARNINGS_SW1 = 0x62  # 62XX: warning, data returned (e.g. 6283 file deactivated)
# TS 101 220 annex E: AID = RID (5 bytes) || application code (2 bytes) || the rest
_APP_CODE_END = 7


@dataclass(frozen=True)
class AppEntry:
    """One EF.DIR record."""

    record: int
    raw: bytes
    template: ApplicationTemplate | None
    error: str | None = None


@dataclass
class EFRead:
    """One ISIM EF that the card has."""

    spec: EFSpec
    select_sw: int
    fcp: FcpInfo | None = None
    fcp_error: str | None = None
    body: bytes | None = None  # transparent content
    records: list[bytes] | None = None  # record content
    read_error: str | None = None  # why (part of) the content could not be read

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def structure(self) -> str:
        """What the card says (FCP), else what specs/ says."""
        if self.fcp is not None and self.fcp.structure:
            return self.fcp.structure
        return self.spec.structure


@dataclass
class CardRead:
    atr: bytes
    applications: list[AppEntry] = field(default_factory=list)
    dir_error: str | None = None
    isim_aid: bytes = b""
    isim_in_dir: bool = False
    isim_fcp: bytes = b""
    files: list[EFRead] = field(default_factory=list)
    absent: list[EFSpec] = field(default_factory=list)
    auth_events: list[AuthEvent] = field(default_factory=list)
    commands: int = 0
    usim: Any = None  # isim.inspect.usim.UsimRead, None: no USIM on the card

    def file(self, name: str) -> EFRead | None:
        return next((f for f in self.files if f.name == name), None)


class _Reader:
    def __init__(self, link: Link, auth: Authenticator) -> None:
        self.link = link
        self.auth = auth

    def select_fid(self, fid: int) -> tuple[bytes, int]:
        fid_bytes = fid.to_bytes(2, "big")
        return self.link.send(INS_SELECT, SELECT_BY_FID, SELECT_RETURN_FCP, fid_bytes, 0)

    def _read(self, ins: int, p1: int, p2: int, le: int) -> tuple[bytes, int]:
        """A READ; on 6982 the authenticator may unlock it once."""
        data, sw = self.link.send(ins, p1, p2, le=le)
        if sw == SW_SECURITY_STATUS_NOT_SATISFIED and self.auth.unlock():
            data, sw = self.link.send(ins, p1, p2, le=le)
        return data, sw

    def _denied(self, sw: int) -> str:
        if sw == SW_SECURITY_STATUS_NOT_SATISFIED:
            return self.auth.missing_hint()
        return f"READ answered {sw:04X}"

    def read_binary(self, size: int | None) -> tuple[bytes, str | None]:
        body = b""
        limit = size if size is not None else MAX_TRANSPARENT_SIZE + 1
        while len(body) < limit:
            offset = len(body)
            if offset > MAX_TRANSPARENT_SIZE:
                return body, f"file larger than READ BINARY can address ({offset} bytes)"
            n = min(_MAX_CHUNK, limit - offset)
            data, sw = self._read(INS_READ_BINARY, offset >> 8, offset & 0xFF, n)
            if sw in (SW_OK, SW_WARNING_END_OF_FILE):
                body += data
                if sw == SW_WARNING_END_OF_FILE or not data:
                    if size is not None:
                        return body, f"end of file after {len(body)} of {size} bytes"
                    return body, None
                continue
            if size is None and body:
                return body, None  # no size in the FCP: read until the card says stop
            return body, self._denied(sw)
        return body, None

    def read_records(self, count: int | None, length: int | None
                     ) -> tuple[list[bytes], str | None]:
        records: list[bytes] = []
        last = count if count is not None else MAX_RECORDS
        for number in range(1, last + 1):
            data, sw = self._read(INS_READ_RECORD, number, RECORD_ABSOLUTE, length or 0)
            if sw == SW_OK:
                records.append(data)
                continue
            if sw == SW_RECORD_NOT_FOUND and count is None:
                return records, None
            return records, f"record {number}: {self._denied(sw)}"
        return records, None


def _read_dir(reader: _Reader, out: CardRead) -> None:
    mf = layout().mf
    spec = mf.files["EF.DIR"]
    data, sw = reader.select_fid(spec.fid)
    if sw != SW_OK:
        out.dir_error = f"SELECT EF.DIR answered {sw:04X}"
        return
    length = count = None
    try:
        fcp = parse_fcp(data)
        length, count = fcp.record_length, fcp.records
    except CodecError as exc:
        out.dir_error = f"EF.DIR FCP: {exc.problem}"
    records, error = reader.read_records(count, length)
    if error:
        out.dir_error = f"EF.DIR {error}"
    codec = codec_for(spec)
    for number, raw in enumerate(records, start=1):
        try:
            template = codec.decode(raw)
        except CodecError as exc:
            out.applications.append(AppEntry(number, raw, None, exc.problem))
            continue
        if template is not None:
            out.applications.append(AppEntry(number, raw, template))


def _select_isim(reader: _Reader, out: CardRead) -> None:
    spec_aid = layout().applications[ISIM_ADF].aid or b""
    prefix = spec_aid[:_APP_CODE_END]
    candidates = [a.template.aid for a in out.applications
                  if a.template is not None and a.template.aid.startswith(prefix)]
    out.isim_in_dir = bool(candidates)
    for aid in (*candidates, spec_aid, prefix):
        data, sw = reader.link.send(INS_SELECT, SELECT_BY_AID, SELECT_RETURN_FCP, aid, 0)
        if sw == SW_OK:
            out.isim_aid, out.isim_fcp = aid, data
            return
    raise CardUnreadable("no ISIM on the card (SELECT by AID "
                         f"{prefix.hex().upper()}... answered {sw:04X})")


def _read_ef(reader: _Reader, spec: EFSpec, sw: int, data: bytes) -> EFRead:
    ef = EFRead(spec=spec, select_sw=sw)
    try:
        ef.fcp = parse_fcp(data)
    except CodecError as exc:
        ef.fcp_error = exc.problem
    fcp = ef.fcp
    if ef.structure == "transparent":
        ef.body, ef.read_error = reader.read_binary(fcp.size if fcp else None)
    elif ef.structure in ("linear_fixed", "cyclic"):
        ef.records, ef.read_error = reader.read_records(
            fcp.records if fcp else None, fcp.record_length if fcp else None)
    else:
        ef.read_error = f"structure {ef.structure} is not read"
    return ef


def read_card(transmit: Transmit, atr: bytes, *, pin1: bytes | None = None,
              adm: bytes | None = None) -> CardRead:
    """Everything the inspector needs from a card. `pin1` / `adm` are 8-byte blocks
    (`auth.pin_block`, `auth.adm_block`), presented only when a READ needs them.

    Raises `CardUnreadable` when the card is not a UICC or has neither ISIM nor USIM.
    """
    link = Link(transmit)
    secrets = []
    if pin1 is not None:
        secrets.append(Secret("PIN1", "--pin1", pin1))
    if adm is not None:
        secrets.append(Secret("ADM1", "--adm", adm))
    auth = Authenticator(link, secrets)
    reader = _Reader(link, auth)
    out = CardRead(atr=atr)
    mf = layout().mf
    if mf.fid is None:
        raise CardUnreadable("specs/filesystem.yaml gives the MF no FID")
    _, sw = reader.select_fid(mf.fid)
    if sw != SW_OK:
        raise CardUnreadable(f"not a UICC: SELECT MF answered {sw:04X}")
    _read_dir(reader, out)
    from .usim import read_usim  # it builds on this module

    try:
        _select_isim(reader, out)
    except CardUnreadable:
        out.usim = read_usim(reader, out)
        if out.usim is None:
            raise
    isim_files = layout().applications[ISIM_ADF].files.values() if out.isim_aid else ()
    for spec in isim_files:
        data, sw = reader.select_fid(spec.fid)
        if sw == SW_FILE_NOT_FOUND:
            out.absent.append(spec)
        elif sw == SW_OK or sw >> 8 == _WARNINGS_SW1:
            out.files.append(_read_ef(reader, spec, sw, data))
        else:
            out.files.append(EFRead(spec=spec, select_sw=sw,
                                    read_error=f"SELECT answered {sw:04X}"))
    if out.isim_aid:
        out.usim = read_usim(reader, out)
    out.auth_events = auth.events
    out.commands = link.commands
    return out
