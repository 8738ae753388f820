"""Reading and checking the USIM of an inspected card (TS 31.102).

Reading: the USIM by AID (EF.DIR's application with code 10 02, else the AID of specs/),
then every file of ADF.USIM and of its DFs that specs/filesystem.yaml lists (the DFs' files
by path from the ADF: 7FFF/5FC0/4F01). Checks: FCP against specs/, content formats, EF.UST
services against the files present, EF.IMSI against EF.AD (MNC length 2 or 3, an MSIN
left), and on a card without ISIM the trust rule on the IMS identities derived from the
IMSI (TS 23.003 clause 13). Findings name the files `USIM/EF.AD`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from apdu.files import FID_CURRENT_APP
from apdu.ins import INS_SELECT, SELECT_BY_AID, SELECT_BY_PATH, SELECT_RETURN_FCP
from apdu.sw import SW_FILE_NOT_FOUND, SW_OK
from isim.identity import from_imsi as identities
from isim.identity import trust
from isim.usim.contents import USIM_ADF
from specs.layout import DFSpec, EFSpec, layout

from .findings import ERROR, WARNING, Finding
from .reader import _APP_CODE_END, EFRead, _read_ef

if TYPE_CHECKING:
    from .checks import DecodedEF
    from .reader import CardRead, _Reader

__all__ = ["UsimRead", "read_usim", "usim_findings"]

_CURRENT_APP = FID_CURRENT_APP.to_bytes(2, "big")
_PREFIX = "USIM/"


@dataclass
class UsimRead:
    aid: bytes = b""
    in_dir: bool = False
    fcp: bytes = b""
    files: list[EFRead] = field(default_factory=list)
    absent: list[EFSpec] = field(default_factory=list)

    def file(self, name: str) -> EFRead | None:
        return next((f for f in self.files if f.name == name), None)


def _dfs() -> list[DFSpec]:
    adf = layout().applications[USIM_ADF]
    return [adf, *adf.dfs.values()]


def read_usim(reader: _Reader, out: CardRead) -> UsimRead | None:
    """The USIM's files, or None when the card has no USIM."""
    spec_aid = layout().applications[USIM_ADF].aid or b""
    prefix = spec_aid[:_APP_CODE_END]
    listed = [a.template.aid for a in out.applications
              if a.template is not None and a.template.aid.startswith(prefix)]
    usim = UsimRead(in_dir=bool(listed))
    for aid in (*listed, spec_aid):
        data, sw = reader.link.send(INS_SELECT, SELECT_BY_AID, SELECT_RETURN_FCP, aid, 0)
        if sw == SW_OK:
            usim.aid, usim.fcp = aid, data
            break
    else:
        return None
    for df in _dfs():
        path = b"" if df.fid is None or df.parent is None else df.fid.to_bytes(2, "big")
        for spec in df.files.values():
            where = _CURRENT_APP + path + spec.fid.to_bytes(2, "big")
            data, sw = reader.link.send(INS_SELECT, SELECT_BY_PATH, SELECT_RETURN_FCP, where, 0)
            if sw == SW_FILE_NOT_FOUND:
                usim.absent.append(spec)
            elif sw == SW_OK or sw >> 8 == 0x62:
                usim.files.append(_read_ef(reader, spec, sw, data))
            else:
                usim.files.append(EFRead(spec=spec, select_sw=sw,
                                         read_error=f"SELECT answered {sw:04X}"))
    return usim


def _first(decoded: dict[str, DecodedEF], name: str) -> object:
    ef = decoded.get(name)
    return ef.values[0] if ef is not None and ef.values else None


def _service_findings(usim: UsimRead, decoded: dict[str, DecodedEF]) -> list[Finding]:
    out: list[Finding] = []
    present = {ef.name for ef in usim.files}
    specs = [s for df in _dfs() for s in df.files.values()]
    for spec in specs:
        if not spec.services and spec.name not in present:
            out.append(Finding(ERROR, "services", _PREFIX + spec.name, None,
                               "mandatory file missing"))
    services = _first(decoded, "EF.UST")
    if not isinstance(services, frozenset):
        return out
    for spec in specs:
        if not spec.services:
            continue
        on = [s for s in spec.services if s in services]
        if on and spec.name not in present:
            out.append(Finding(ERROR, "services", _PREFIX + spec.name, None,
                               f"EF.UST service {', '.join(map(str, on))} is on but the "
                               "file is missing"))
        elif not on and spec.name in present:
            numbers = ", ".join(map(str, spec.services))
            out.append(Finding(WARNING, "services", _PREFIX + spec.name, None,
                               f"present but its EF.UST service ({numbers}) is off"))
    return out


def _imsi_findings(decoded: dict[str, DecodedEF], has_isim: bool,
                   trust_domains: Sequence[str] | None) -> list[Finding]:
    imsi, ad = _first(decoded, "EF.IMSI"), _first(decoded, "EF.AD")
    if not isinstance(imsi, str):
        return [Finding(ERROR, "identities", _PREFIX + "EF.IMSI", None, "no IMSI")]
    mnc_length = getattr(ad, "mnc_length", None)
    if mnc_length not in (2, 3):
        return [Finding(ERROR, "spec", _PREFIX + "EF.AD", None,
                        f"MNC length {mnc_length} is not 2 or 3 (TS 31.102 4.2.18)")]
    assert isinstance(mnc_length, int)
    if len(imsi) <= 3 + mnc_length:
        return [Finding(ERROR, "identities", _PREFIX + "EF.IMSI", None,
                        f"IMSI {imsi} has no MSIN after MCC and a {mnc_length}-digit MNC")]
    if has_isim or trust_domains is None:
        return []
    impi, impu, domain = identities.derived_identities(imsi, mnc_length)
    return [Finding(ERROR, "rule", _PREFIX + "EF.IMSI", None,
                    f"{v.value!r}: {v.reason} (derived from the IMSI, TS 23.003 clause 13)")
            for v in trust.check_identities(impi, [impu], domain, list(trust_domains))]


def usim_findings(card: CardRead, trust_domains: Sequence[str] | None
                  ) -> tuple[dict[str, DecodedEF], list[Finding]]:
    """The USIM's decoded files and findings (none without a USIM)."""
    from .checks import _decode, _fcp_findings  # the ISIM's checks, applied alike

    usim: UsimRead | None = card.usim
    if usim is None:
        return {}, []
    findings: list[Finding] = []
    if not usim.in_dir:
        findings.append(Finding(ERROR, "spec", "EF.DIR", None,
                                "EF.DIR lists no USIM application (it was selected by AID)"))
    decoded: dict[str, DecodedEF] = {}
    for ef in usim.files:
        if ef.read_error:
            findings.append(Finding(ERROR, "read", _PREFIX + ef.name, None,
                                    f"not read: {ef.read_error}"))
        found = _fcp_findings(ef)
        decoded[ef.name], more = _decode(ef)
        findings += [Finding(f.level, f.check, _PREFIX + ef.name, f.record, f.message)
                     for f in (*found, *more)]
    findings += _service_findings(usim, decoded)
    findings += _imsi_findings(decoded, bool(card.isim_aid), trust_domains)
    return decoded, findings
