"""A validated profile -> the bytes of every EF of the card (codecs over specs/).

This is the one place that decides which files a card has and what they hold:
the emulator's image, the personalizer's APDU scripts and the real-card writer all
start from `card_contents(profile)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from apdu.arr import encode_rule
from apdu.layout import DFSpec, EFSpec, layout
from isim.codecs import codec_for
from isim.codecs.binary import AdministrativeData
from isim.codecs.errors import CodecError
from isim.codecs.identities import PcscfAddress
from isim.codecs.uicc import ApplicationTemplate
from isim.profile import Profile, pcscf_address_type

ISIM_ADF = "ADF.ISIM"
_PCSCF_TYPES = ("fqdn", "ipv4", "ipv6")


@dataclass(frozen=True, slots=True)
class EFContent:
    """One EF as it goes onto the card: its effective spec (size overrides applied) and its
    body (transparent) or records (record EFs), each exactly the file/record size."""

    df: str
    spec: EFSpec
    data: bytes | tuple[bytes, ...]

    @property
    def records(self) -> tuple[bytes, ...]:
        assert isinstance(self.data, tuple)
        return self.data

    @property
    def body(self) -> bytes:
        assert isinstance(self.data, bytes)
        return self.data


@dataclass(frozen=True, slots=True)
class CardContents:
    """Every EF of one card, DF by DF in spec order (MF first)."""

    dfs: tuple[tuple[DFSpec, tuple[EFContent, ...]], ...]

    def __iter__(self) -> Iterator[EFContent]:
        for _, files in self.dfs:
            yield from files

    def get(self, df: str, ef: str) -> EFContent:
        for spec, files in self.dfs:
            if spec.name == df:
                for f in files:
                    if f.spec.name == ef:
                        return f
        raise KeyError(f"{df}/{ef}")


def effective_spec(
    spec: EFSpec, sizes: Mapping[str, Mapping[str, int]], df: str = ISIM_ADF
) -> EFSpec:
    """The EF spec with a profile's `sizes` override (size / record_length / records).
    ADF.ISIM files are keyed by their name (`EF.IMPU`), MF files as `MF/EF.DIR`."""
    override = sizes.get(spec.name if df == ISIM_ADF else f"{df}/{spec.name}")
    if not override:
        return spec
    return _override(spec, tuple(sorted(override.items())))


@lru_cache(maxsize=256)
def _override(spec: EFSpec, items: tuple[tuple[str, int], ...]) -> EFSpec:
    return dataclasses.replace(spec, **dict(items))


def file_present(spec: EFSpec, services: frozenset[int]) -> bool:
    """Mandatory files always; an optional file when one of its services is on (TS 31.103 4.2)."""
    return not spec.services or any(s in services for s in spec.services)


def _pad(data: bytes, size: int) -> bytes:
    return data + b"\xff" * (size - len(data))


@lru_cache(maxsize=64)
def _arr_records(df_name: str, record_length: int, records: int) -> tuple[bytes, ...]:
    df = _df_spec(df_name)
    refs = layout().key_references
    out = []
    for n in range(1, records + 1):
        rule = df.access_rules.get(n)
        out.append(encode_rule(rule, record_length, refs) if rule else b"\xff" * record_length)
    return tuple(out)


def _df_spec(name: str) -> DFSpec:
    lay = layout()
    return lay.mf if name == lay.mf.name else lay.applications[name]


@lru_cache(maxsize=64)
def _default(spec: EFSpec) -> bytes | tuple[bytes, ...]:
    if spec.is_record:
        return (b"\xff" * spec.record_length,) * spec.records
    return _pad(spec.default or b"", spec.size)


def _records(spec: EFSpec, encoded: list[bytes]) -> tuple[bytes, ...]:
    if len(encoded) > spec.records:
        raise CodecError(spec.name, f"{len(encoded)} records given, the file has {spec.records}")
    empty = b"\xff" * spec.record_length
    return (*encoded, *([empty] * (spec.records - len(encoded))))


def _dir_records(spec: EFSpec, label: str) -> tuple[bytes, ...]:
    codec = codec_for(spec)
    apps = layout().applications
    encoded = [
        codec.encode(
            ApplicationTemplate(aid=df.aid or b"", label=label or df.label), spec.record_length
        )
        for df in apps.values()
    ]
    return _records(spec, encoded)


Content = bytes | tuple[bytes, ...]
Producer = Callable[[Profile], Content]


def _producer(spec: EFSpec) -> Producer | None:
    """How a file's content comes from the profile; None: the spec default, for every card."""
    codec = codec_for(spec)
    size, rlen = spec.size, spec.record_length
    match spec.name:
        case "EF.IMPI":
            return lambda p: codec.encode(p.impi, size)
        case "EF.DOMAIN":
            return lambda p: codec.encode(p.domain, size)
        case "EF.IMPU":
            return lambda p: _records(spec, [codec.encode(u, rlen) for u in p.impu])
        case "EF.IST":
            ist = lru_cache(maxsize=16)(lambda services: codec.encode(frozenset(services), size))
            return lambda p: ist(p.ist)  # batch-wide values: encoded once per distinct value
        case "EF.AD":
            ad = lru_cache(maxsize=16)(
                lambda mode: codec.encode(AdministrativeData(ue_operation_mode=mode), size)
            )
            return lambda p: ad(p.ad)
        case "EF.P-CSCF":
            pcscf = lru_cache(maxsize=16)(
                lambda addresses: _records(
                    spec,
                    [
                        codec.encode(PcscfAddress(_PCSCF_TYPES[pcscf_address_type(a)], a), rlen)
                        for a in addresses
                    ],
                )
            )
            return lambda p: pcscf(p.pcscf)
        case "EF.ICCID":
            return lambda p: codec.encode(p.iccid, size)
        case "EF.DIR":
            records = lru_cache(maxsize=16)(lambda label: _dir_records(spec, label))
            return lambda p: records(p.label)
    return None


def _sizes_key(sizes: Mapping[str, Mapping[str, int]]) -> tuple[tuple[str, tuple], ...]:
    return tuple(sorted((name, tuple(sorted(v.items()))) for name, v in sizes.items()))


@dataclass(frozen=True, slots=True)
class _PlannedFile:
    spec: EFSpec
    constant: EFContent | None  # the same for every card of this plan
    produce: Producer | None


@lru_cache(maxsize=256)
def _plan(
    services: frozenset[int], sizes: tuple[tuple[str, tuple], ...]
) -> tuple[tuple[DFSpec, tuple[_PlannedFile, ...]], ...]:
    """The files a card has (effective specs) and how each is filled, for a set of services
    and size overrides: computed once, used for every card of a batch."""
    lay = layout()
    overrides = {name: dict(items) for name, items in sizes}
    plan = []
    for df in lay.dfs():
        files = []
        for base in df.files.values():
            if df is not lay.mf and not file_present(base, services):
                continue
            spec = effective_spec(base, overrides, df.name)
            produce = None if spec.name == df.arr_file else _producer(spec)
            constant = None
            if produce is None:
                data = (
                    _arr_records(df.name, spec.record_length, spec.records)
                    if spec.name == df.arr_file
                    else _default(spec)
                )
                constant = EFContent(df.name, spec, data)
            files.append(_PlannedFile(spec, constant, produce))
        plan.append((df, tuple(files)))
    return tuple(plan)


def card_contents(profile: Profile) -> CardContents:
    """Every EF of the card described by a validated profile.

    Raises `CodecError` (`SizeError` for a value too large: naming the EF and the sizes) when
    a value does not fit the file; nothing is truncated.
    """
    dfs = []
    for df, planned in _plan(frozenset(profile.ist), _sizes_key(profile.sizes)):
        name = df.name
        dfs.append(
            (
                df,
                tuple(
                    f.constant or EFContent(name, f.spec, f.produce(profile))  # type: ignore[misc]
                    for f in planned
                ),
            )
        )
    return CardContents(tuple(dfs))
