"""The checks of an inspected card: FCP against specs/, content format and padding, IST
services against the files present, access rules, then the identities (`identity`).

Levels: errors for format, rule and spec (structure, SFI, record length, sizes) problems and
for what could not be read; warnings for consistency (services, IMPI realm, access rules,
life cycle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apdu.arr import AccessRule, Condition, rule_from_symbolic
from apdu.files import LCSI_ACTIVATED
from isim.card.contents import ISIM_ADF
from isim.codecs import CodecError, codec_for
from specs.layout import OPERATIONS, DFSpec, EFSpec, layout

from .findings import ERROR, WARNING, Finding
from .identity import identity_findings
from .reader import CardRead, EFRead

__all__ = ["DecodedEF", "Inspection", "inspect", "minimum_size"]

_BITS_PER_BYTE = 8


@dataclass
class DecodedEF:
    """The decoded content of one EF: one value per record (one for a transparent EF)."""

    values: list[Any] = field(default_factory=list)  # None: empty or undecodable
    json: list[Any] = field(default_factory=list)
    complete: bool = True  # every unit read and decoded


@dataclass
class Inspection:
    card: CardRead
    trust_domains: tuple[str, ...] | None
    decoded: dict[str, DecodedEF]
    findings: list[Finding]
    usim_decoded: dict[str, DecodedEF] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    def passed(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)


def _isim_df() -> DFSpec:
    return layout().applications[ISIM_ADF]


def minimum_size(spec: EFSpec) -> int | None:
    """The smallest body specs/ allows for a transparent EF, where one follows from specs/:
    the length of its fixed default content (EF.AD, EF.SMSS, ...), and for EF.IST the bytes
    that hold the highest service number specs/ knows."""
    if spec.is_record:
        return None
    if spec.default is not None:
        return len(spec.default)
    if spec.codec == "ist":
        highest = max(s for ef in _isim_df().files.values() for s in ef.services)
        return -(-highest // _BITS_PER_BYTE)
    return None


# -- reading ---------------------------------------------------------------------------------


def _read_findings(card: CardRead) -> list[Finding]:
    out = [Finding(ERROR, "read", None, None, e.message)
           for e in card.auth_events if e.level == ERROR]
    if card.dir_error:
        out.append(Finding(ERROR, "read", "EF.DIR", None, card.dir_error))
    for app in card.applications:
        if app.error:
            out.append(Finding(ERROR, "format", "EF.DIR", app.record, app.error))
    if not card.isim_in_dir and card.isim_aid:
        out.append(Finding(ERROR, "spec", "EF.DIR", None,
                           "EF.DIR lists no ISIM application (it was selected by AID)"))
    for ef in card.files:
        if ef.fcp_error:
            out.append(Finding(ERROR, "fcp", ef.name, None, f"FCP: {ef.fcp_error}"))
        if ef.read_error:
            out.append(Finding(ERROR, "read", ef.name, None, f"not read: {ef.read_error}"))
        if ef.select_sw >> 8 == 0x62 or (ef.fcp and ef.fcp.lcsi not in (None, LCSI_ACTIVATED)):
            state = ef.fcp.life_cycle if ef.fcp else None
            out.append(Finding(WARNING, "fcp", ef.name, None,
                               f"SELECT answered {ef.select_sw:04X}, life cycle {state}"))
    return out


# -- FCP against specs/ ----------------------------------------------------------------------


def _sfi_text(sfi: int | None) -> str:
    return "none" if sfi is None else str(sfi)


def _fcp_findings(ef: EFRead) -> list[Finding]:
    fcp, spec, name = ef.fcp, ef.spec, ef.name
    if fcp is None:
        return []
    out: list[Finding] = []

    def error(message: str) -> None:
        out.append(Finding(ERROR, "spec", name, None, message))

    if fcp.fid is not None and fcp.fid != spec.fid:
        error(f"FCP file identifier is {fcp.fid:04X}, specs/ says {spec.fid_hex}")
    if fcp.structure != spec.structure:
        error(f"structure is {fcp.structure}, specs/ says {spec.structure}")
    if fcp.sfi != spec.sfi:
        error(f"SFI is {_sfi_text(fcp.sfi)}, specs/ says {_sfi_text(spec.sfi)}")
    if spec.is_record and fcp.record_length is not None:
        if fcp.record_length != spec.record_length:
            error(f"record length is {fcp.record_length}, specs/ says {spec.record_length}")
        if fcp.records == 0:
            error("the file has no record")
        if fcp.size is not None and fcp.records is not None and \
                fcp.size != fcp.record_length * fcp.records:
            error(f"file size {fcp.size} is not {fcp.records} records of "
                  f"{fcp.record_length} bytes")
    minimum = minimum_size(spec)
    if minimum is not None and fcp.size is not None and fcp.size < minimum:
        error(f"size {fcp.size} is smaller than the minimum {minimum}")
    return out


# -- content ---------------------------------------------------------------------------------


def _units(ef: EFRead) -> list[tuple[int | None, bytes]]:
    if ef.records is not None:
        return list(enumerate(ef.records, start=1))
    return [(None, ef.body)] if ef.body is not None else []


def _decode(ef: EFRead) -> tuple[DecodedEF, list[Finding]]:
    codec = codec_for(ef.spec)
    decoded = DecodedEF(complete=ef.read_error is None)
    out: list[Finding] = []
    for record, raw in _units(ef):
        try:
            result = codec.decode_detailed(raw)
        except CodecError as exc:
            out.append(Finding(ERROR, "format", ef.name, record, exc.problem))
            decoded.values.append(None)
            decoded.json.append(None)
            decoded.complete = False
            continue
        decoded.values.append(result.value)
        decoded.json.append(codec.to_json(result.value))
        if result.trailing:
            out.append(Finding(
                ERROR, "padding", ef.name, record,
                f"garbage after the TLV: {len(result.trailing)} non-FF byte(s) from offset "
                f"{result.end} ({result.trailing[:16].hex().upper()}); unused bytes must be FF"))
    return decoded, out


# -- services --------------------------------------------------------------------------------


def _service_findings(card: CardRead, decoded: dict[str, DecodedEF]) -> list[Finding]:
    out: list[Finding] = []
    present = {ef.name for ef in card.files}
    for spec in _isim_df().files.values():
        if not spec.services and spec.name not in present:
            out.append(Finding(ERROR, "services", spec.name, None, "mandatory file missing"))
    ist_spec = next(s for s in _isim_df().files.values() if s.codec == "ist")
    ist = decoded.get(ist_spec.name)
    if ist is None or not ist.complete or not ist.values:
        return out  # no service table to compare with (already reported)
    services: frozenset[int] = ist.values[0] or frozenset()
    for spec in _isim_df().files.values():
        if not spec.services:
            continue
        on = sorted(s for s in spec.services if s in services)
        numbers = ", ".join(map(str, spec.services))
        if on and spec.name not in present:
            out.append(Finding(ERROR, "services", spec.name, None,
                               f"{ist_spec.name} service {', '.join(map(str, on))} is on but "
                               f"{spec.name} is missing"))
        elif not on and spec.name in present:
            out.append(Finding(WARNING, "services", spec.name, None,
                               f"present but its {ist_spec.name} service ({numbers}) is off"))
    return out


# -- access rules ----------------------------------------------------------------------------


def _condition_text(cond: Condition) -> str:
    if cond.kind != "keys":
        return cond.kind
    names = {v: k for k, v in layout().key_references.items()}
    return " or ".join("+".join(names.get(r, f"{r:02X}") for r in sorted(alt))
                       for alt in cond.alternatives)


def _access_findings(card: CardRead, decoded: dict[str, DecodedEF]) -> list[Finding]:
    df = _isim_df()
    arr_spec = df.files[df.arr_file]
    rules = decoded.get(arr_spec.name)
    out: list[Finding] = []
    if rules is None:
        return out
    for ef in card.files:
        if ef.fcp is None or ef.fcp.arr is None or ef.spec.arr not in df.access_rules:
            continue
        fid, number = ef.fcp.arr
        if fid != arr_spec.fid or not 1 <= number <= len(rules.values):
            out.append(Finding(WARNING, "access", ef.name, None,
                               f"access rule refers to EF {fid:04X} record {number}, which "
                               f"the ISIM's {arr_spec.name} does not hold"))
            continue
        rule = rules.values[number - 1]
        if not isinstance(rule, AccessRule):
            continue  # empty or malformed record: reported with EF.ARR
        wanted = rule_from_symbolic(df.access_rules[ef.spec.arr], layout().key_references)
        diffs = [f"{op}: {_condition_text(rule.condition(op))} "
                 f"(specs/: {_condition_text(wanted.condition(op))})"
                 for op in OPERATIONS if rule.condition(op) != wanted.condition(op)]
        if diffs:
            out.append(Finding(WARNING, "access", ef.name, None,
                               "access rule differs from specs/: " + "; ".join(diffs)))
    return out


# -- all -------------------------------------------------------------------------------------


def inspect(card: CardRead, trust_domains: Sequence[str] | None) -> Inspection:
    """Judge a card read by `reader.read_card`. `trust_domains` None: the rule is not
    checked, which is an error (a pass must mean the rule holds)."""
    findings = _read_findings(card)
    decoded: dict[str, DecodedEF] = {}
    for ef in card.files:
        findings += _fcp_findings(ef)
        decoded[ef.name], found = _decode(ef)
        findings += found
    if card.isim_aid:  # a card without ISIM (USIM only): the USIM's checks alone
        findings += _service_findings(card, decoded)
        findings += _access_findings(card, decoded)
        findings += identity_findings(card, decoded, trust_domains)
    elif trust_domains is None:
        findings.append(Finding(ERROR, "rule", None, None, "trust-domain rule not checked: "
                                "give --trust-domain (a card does not store them)"))
    from .usim import usim_findings  # it applies this module's checks to the USIM

    usim_decoded, more = usim_findings(card, trust_domains)
    findings += more
    domains = tuple(trust_domains) if trust_domains is not None else None
    return Inspection(card, domains, decoded, findings, usim_decoded)
