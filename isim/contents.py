"""A validated profile -> the bytes of every EF of the card (codecs over specs/).

This is the one place that decides which files a card has and what they hold:
the emulator's image, the personalizer's APDU scripts and the real-card writer all
start from `card_contents(profile)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
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
    codec = codec_for(spec.name)
    apps = layout().applications
    encoded = [
        codec.encode(
            ApplicationTemplate(aid=df.aid or b"", label=label or df.label), spec.record_length
        )
        for df in apps.values()
    ]
    return _records(spec, encoded)


def _isim_value(spec: EFSpec, p: Profile) -> bytes | tuple[bytes, ...] | None:
    """Profile-driven content of an ADF.ISIM EF, or None for the spec default."""
    name = spec.name
    if name == "EF.IMPI":
        return codec_for(name).encode(p.impi, spec.size)
    if name == "EF.DOMAIN":
        return codec_for(name).encode(p.domain, spec.size)
    if name == "EF.IMPU":
        codec = codec_for(name)
        return _records(spec, [codec.encode(u, spec.record_length) for u in p.impu])
    if name == "EF.IST":
        return codec_for(name).encode(frozenset(p.ist), spec.size)
    if name == "EF.AD":
        return codec_for(name).encode(AdministrativeData(ue_operation_mode=p.ad), spec.size)
    if name == "EF.P-CSCF":
        codec = codec_for(name)
        return _records(
            spec,
            [
                codec.encode(
                    PcscfAddress(_PCSCF_TYPES[pcscf_address_type(a)], a), spec.record_length
                )
                for a in p.pcscf
            ],
        )
    return None


def _mf_value(spec: EFSpec, p: Profile) -> bytes | tuple[bytes, ...] | None:
    if spec.name == "EF.ICCID":
        return codec_for(spec.name).encode(p.iccid, spec.size)
    if spec.name == "EF.DIR":
        return _dir_records(spec, p.label)
    return None


def _sizes_key(sizes: Mapping[str, Mapping[str, int]]) -> tuple[tuple[str, tuple], ...]:
    return tuple(sorted((name, tuple(sorted(v.items()))) for name, v in sizes.items()))


@lru_cache(maxsize=256)
def _plan(
    services: frozenset[int], sizes: tuple[tuple[str, tuple], ...]
) -> tuple[tuple[DFSpec, tuple[EFSpec, ...]], ...]:
    """The files a card has, with their effective specs, for a set of services and sizes."""
    lay = layout()
    overrides = {name: dict(items) for name, items in sizes}
    return tuple(
        (
            df,
            tuple(
                effective_spec(base, overrides, df.name)
                for base in df.files.values()
                if df is lay.mf or file_present(base, services)
            ),
        )
        for df in lay.dfs()
    )


def card_contents(profile: Profile) -> CardContents:
    """Every EF of the card described by a validated profile.

    Raises `CodecError` (`SizeError` for a value too large: naming the EF and the sizes) when
    a value does not fit the file; nothing is truncated.
    """
    mf = layout().mf
    dfs = []
    for df, specs in _plan(frozenset(profile.ist), _sizes_key(profile.sizes)):
        value_of = _mf_value if df is mf else _isim_value
        files = []
        for spec in specs:
            if spec.name == df.arr_file:
                data: bytes | tuple[bytes, ...] | None = _arr_records(
                    df.name, spec.record_length, spec.records
                )
            else:
                data = value_of(spec, profile)
            files.append(EFContent(df.name, spec, _default(spec) if data is None else data))
        dfs.append((df, tuple(files)))
    return CardContents(tuple(dfs))
