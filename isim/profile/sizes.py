"""What the card can hold: the `sizes` overrides of a profile, and whether each value fits
its file or record (TS 31.103 clause 4.2: every identity is an `80 L V` data object)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from apdu.files import MAX_RECORD_LENGTH, MAX_RECORDS, MAX_TRANSPARENT_SIZE
from isim.errors import Problem
from isim.profile.checker import Checker, did_you_mean
from isim.profile.documents import type_name
from specs.ber import tag_of, tags, tlv_size
from specs.layout import layout

__all__ = ["NO_SIZES", "check_sizes", "ef_dims", "pcscf_address_type", "size_problems"]

_IPV4_SHAPE = re.compile(r"[0-9.]+")


@lru_cache(maxsize=4096)
def pcscf_address_type(address: str) -> int:
    """EF.P-CSCF address type (TS 31.103 clause 4.2.8): 0 FQDN, 1 IPv4, 2 IPv6."""
    if "%" in address or (":" not in address and not _IPV4_SHAPE.fullmatch(address)):
        return 0  # fast path: neither IPv6 nor dotted-quad (an IPv6 zone id cannot be stored)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return 0
    return 1 if ip.version == 4 else 2


@lru_cache(maxsize=1)
def _longest_aid_tlv() -> int:
    aid_tag = tags("ApplicationTemplate")["aid"]
    return max(tlv_size(len(app.aid or b""), aid_tag) for app in layout().applications.values())


def _layout_files() -> dict[str, Any]:
    """EF name -> EFSpec for the size overrides: ADF.ISIM files, MF files as `MF/EF.x`, the
    other DFs' files as `ADF.USIM/EF.x`, `DF.5GS/EF.x`."""
    global _FILES
    if _FILES is None:
        lay = layout()
        files: dict[str, Any] = {}
        bare = list(lay.applications)[-1]  # ADF.ISIM (the bare names' ADF): files by name
        for df in lay.dfs()[1:]:
            for name, ef in df.files.items():
                files[name if df.name == bare else f"{df.name}/{name}"] = ef
        for name, ef in lay.mf.files.items():
            files[f"MF/{name}"] = ef
        _FILES = files
    return _FILES


_FILES: dict[str, Any] | None = None

_SIZE_LIMITS = {
    "size": (1, MAX_TRANSPARENT_SIZE),
    "records": (1, MAX_RECORDS),
    "record_length": (1, MAX_RECORD_LENGTH),
}


def check_sizes(c: Checker) -> dict[str, dict[str, int]]:
    raw = c.data.get("sizes", {})
    if not isinstance(raw, Mapping):
        c.add("sizes", f"must be a mapping of EF name to sizes, not {type_name(raw)}")
        return {}
    files = _layout_files()
    out: dict[str, dict[str, int]] = {}
    for name, spec in raw.items():
        ef = files.get(name) if isinstance(name, str) else None
        if ef is None:
            hint = did_you_mean(str(name), files)
            c.add("sizes", f"unknown EF {name!r}{hint}")
            continue
        allowed = ("size",) if ef.structure == "transparent" else ("records", "record_length")
        if not isinstance(spec, Mapping):
            c.add("sizes", f"{name}: must be a mapping with {' and/or '.join(allowed)}")
            continue
        entry: dict[str, int] = {}
        for attr, value in spec.items():
            if attr not in allowed:
                c.add("sizes", f"{name}: unknown key {attr!r} ({ef.structure} EF takes {allowed})")
                continue
            lo, hi = _SIZE_LIMITS[attr]
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                c.add("sizes", f"{name}: {attr} must be an integer in {lo}..{hi}")
                continue
            entry[attr] = value
        out[name] = entry
    return out


def ef_dims(name: str, sizes: Mapping[str, Mapping[str, int]]) -> tuple[int, int, int]:
    """(size, record_length, records) of an EF after overrides."""
    ef = _layout_files()[name]
    over = sizes.get(name)
    if not over:
        return ef.size, ef.record_length, ef.records
    return (
        over.get("size", ef.size),
        over.get("record_length", ef.record_length),
        over.get("records", ef.records),
    )


NO_SIZES: Mapping[str, Mapping[str, int]] = MappingProxyType({})  # read-only: shareable


@dataclass(frozen=True, slots=True)
class _Dims:
    impi: int  # EF.IMPI size
    domain: int  # EF.DOMAIN size
    impu_record: int  # EF.IMPU record length
    impu_records: int


def _dims(sizes: Mapping[str, Mapping[str, int]]) -> _Dims:
    """The identity files' dimensions under `sizes`; remembered per `sizes` object (a batch
    template's is shared by every row)."""
    hit = _DIMS.get(id(sizes))
    if hit is not None and hit[0] is sizes:
        return hit[1]
    _, rec_len, records = ef_dims("EF.IMPU", sizes)
    dims = _Dims(ef_dims("EF.IMPI", sizes)[0], ef_dims("EF.DOMAIN", sizes)[0], rec_len, records)
    if len(_DIMS) >= 64:
        _DIMS.clear()
    _DIMS[id(sizes)] = (sizes, dims)  # holding `sizes` keeps its id from being reused
    return dims


_DIMS: dict[int, tuple[Mapping[str, Mapping[str, int]], _Dims]] = {}


def size_problems(
    c: Checker,
    impi: str | None,
    domain: str | None,
    impus: Sequence[str | None] | None,
    pcscf: tuple[str | None, ...],
    label: str | None,
    sizes: Mapping[str, Mapping[str, int]],
) -> None:
    """What the card can hold (TS 31.103 clause 4.2: each value is an `80 L V` object)."""
    dims = _dims(sizes)
    if impi and (need := tlv_size(len(impi.encode()))) > dims.impi:
        c.add("impi", f"needs {need} bytes, EF.IMPI holds {dims.impi}", "EF.IMPI")
    if domain and (need := tlv_size(len(domain.encode()))) > dims.domain:
        c.add("domain", f"needs {need} bytes, EF.DOMAIN holds {dims.domain}", "EF.DOMAIN")
    if impus:
        rec_len, records = dims.impu_record, dims.impu_records
        if len(impus) > records:
            c.add("impu", f"{len(impus)} IMPUs, EF.IMPU has {records} records", "EF.IMPU")
        for record, uri in enumerate(impus, start=1):
            if uri and (need := tlv_size(len(uri.encode()))) > rec_len:
                c.add("impu", f"needs {need} bytes, a record holds {rec_len}", "EF.IMPU", record)
    if sizes:
        _pcscf_label_problems(c, pcscf, label, sizes)
    elif pcscf or label:  # the template's values, the same problems for every row
        for problem in _pcscf_label_cached(pcscf, label):
            c.problems.append(problem)


@lru_cache(maxsize=64)
def _pcscf_label_cached(pcscf: tuple[str | None, ...], label: str | None) -> tuple[Problem, ...]:
    c = Checker({})
    _pcscf_label_problems(c, pcscf, label, NO_SIZES)
    return tuple(c.problems)


def _pcscf_label_problems(
    c: Checker,
    pcscf: tuple[str | None, ...],
    label: str | None,
    sizes: Mapping[str, Mapping[str, int]],
) -> None:
    if pcscf:
        _, rec_len, records = ef_dims("EF.P-CSCF", sizes)
        if len(pcscf) > records:
            c.add("pcscf", f"{len(pcscf)} addresses, EF.P-CSCF has {records} records", "EF.P-CSCF")
        for record, addr in enumerate(pcscf, start=1):
            if addr is None:
                continue
            kind = pcscf_address_type(addr)
            n = 1 + (4 if kind == 1 else 16 if kind == 2 else len(addr.encode()))
            if (need := tlv_size(n)) > rec_len:
                c.add("pcscf", f"needs {need} bytes, a record holds {rec_len}", "EF.P-CSCF", record)
    if label:
        # EF.DIR record: 61 L { 4F L <AID> } { 50 L <label> } (TS 102 221 clause 13.1)
        _, rec_len, _ = ef_dims("MF/EF.DIR", sizes)
        n = len(label.encode())
        body = _longest_aid_tlv() + tlv_size(n, tags("ApplicationTemplate")["label"])
        if tlv_size(body, tag_of("ApplicationTemplate")) > rec_len:
            c.add("label", f"{n} bytes is too long for an EF.DIR record of {rec_len} bytes")
