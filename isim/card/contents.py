"""A validated profile -> the bytes of every EF of the card (codecs over specs/).

This is the one place that decides which files a card has and what they hold:
the emulator's image, the personalizer's APDU scripts and the real-card writer all
start from `card_contents(profile)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apdu import build
from isim.codecs import codec_for
from isim.codecs.binary import AdministrativeData
from isim.codecs.errors import CodecError
from isim.codecs.identities import PcscfAddress
from isim.codecs.uicc import ApplicationTemplate
from isim.profile.model import Profile, pcscf_address_type
from isim.usim import contents as usim_contents
from specs.layout import DFSpec, EFSpec, layout

ISIM_ADF = "ADF.ISIM"
_PCSCF_TYPES = ("fqdn", "ipv4", "ipv6")


@dataclass(frozen=True, slots=True, init=False)
class EFContent:
    """One EF as it goes onto the card: its effective spec (size overrides applied) and its
    body (transparent) or records (record EFs), each exactly the file/record size."""

    df: str
    spec: EFSpec
    data: bytes | tuple[bytes, ...]

    def __init__(self, df: str, spec: EFSpec, data: bytes | tuple[bytes, ...]) -> None:
        # Sets the slots directly: the frozen dataclass's own __init__ goes through
        # object.__setattr__ by name, twice as slow, and this runs for every card.
        _SET_DF(self, df)
        _SET_SPEC(self, spec)
        _SET_DATA(self, data)

    @property
    def records(self) -> tuple[bytes, ...]:
        assert isinstance(self.data, tuple)
        return self.data

    @property
    def body(self) -> bytes:
        assert isinstance(self.data, bytes)
        return self.data


_SET_DF, _SET_SPEC, _SET_DATA = (EFContent.__dict__[f].__set__ for f in ("df", "spec", "data"))


@dataclass(frozen=True, slots=True, init=False)
class CardContents:
    """Every EF of one card, DF by DF in spec order (MF first)."""

    dfs: tuple[tuple[DFSpec, tuple[EFContent, ...]], ...]

    def __init__(self, dfs: tuple[tuple[DFSpec, tuple[EFContent, ...]], ...]) -> None:
        _SET_DFS(self, dfs)  # as EFContent.__init__

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


_SET_DFS = CardContents.__dict__["dfs"].__set__


def effective_spec(
    spec: EFSpec, sizes: Mapping[str, Mapping[str, int]], df: str = ISIM_ADF
) -> EFSpec:
    """The EF spec with a profile's `sizes` override (size / record_length / records).
    ADF.ISIM files are keyed by their name (`EF.IMPU`), MF files as `MF/EF.DIR`."""
    override = sizes.get(spec.name if df == ISIM_ADF else f"{df}/{spec.name}")
    if not override:
        return spec
    return build.effective_spec(spec, tuple(sorted(override.items())))


def file_present(spec: EFSpec, services: frozenset[int]) -> bool:
    """Mandatory files always; an optional file when one of its services is on (TS 31.103 4.2)."""
    return not spec.services or any(s in services for s in spec.services)


def _records(spec: EFSpec, encoded: list[bytes]) -> tuple[bytes, ...]:
    """The encoded records, then empty (all-FF) ones up to the file's number of records."""
    missing = spec.records - len(encoded)
    if missing < 0:
        raise CodecError(spec.name, f"{len(encoded)} records given, the file has {spec.records}")
    return (*encoded, *(b"\xff" * spec.record_length,) * missing)


def _dir_records(spec: EFSpec, label: str, applications: tuple[str, ...]) -> tuple[bytes, ...]:
    """One record per application of the card; `label` is the ISIM's."""
    codec = codec_for(spec)
    encoded = [
        codec.encode(
            ApplicationTemplate(
                aid=df.aid or b"", label=(label if df.name == ISIM_ADF else "") or df.label
            ),
            spec.record_length,
        )
        for df in _adfs(applications)
    ]
    return _records(spec, encoded)


def _adfs(applications: tuple[str, ...]) -> list[DFSpec]:
    """The layout's ADFs that the profile's `applications` (usim, isim) name."""
    return [
        df
        for df in layout().applications.values()
        if df.name.removeprefix("ADF.").lower() in applications
    ]


Content = bytes | tuple[bytes, ...]
Producer = Callable[[Profile], EFContent]


def _producer(df: str, spec: EFSpec) -> Producer | None:
    """How a file's content comes from the profile; None: the spec default, for every card.
    (EF.ARR and EF.IST are the plan's own: see `_plan`.)

    The values that are usually the same for a whole batch (EF.DIR, EF.DOMAIN, EF.AD,
    EF.P-CSCF) give one EFContent per distinct value, encoded once.
    """
    if df not in (ISIM_ADF, layout().mf.name):  # the USIM's files
        return usim_contents.producer(df, spec)
    codec = codec_for(spec)
    encode = codec.encode
    size, rlen = spec.size, spec.record_length

    def per_value(content: Callable[[Any], Content]) -> Callable[[Any], EFContent]:
        return lru_cache(maxsize=16)(lambda value: EFContent(df, spec, content(value)))

    match spec.name:
        case "EF.ICCID":
            return lambda p: EFContent(df, spec, encode(p.iccid, size))
        case "EF.IMPI":
            return lambda p: EFContent(df, spec, encode(p.impi, size))
        case "EF.IMPU":
            return lambda p: EFContent(df, spec, _records(spec, [encode(u, rlen) for u in p.impu]))
        case "EF.DOMAIN":
            domain = per_value(lambda name: encode(name, size))
            return lambda p: domain(p.domain)
        case "EF.AD":
            ad = per_value(lambda mode: encode(AdministrativeData(ue_operation_mode=mode), size))
            return lambda p: ad(p.ad)
        case "EF.P-CSCF":
            pcscf = per_value(
                lambda addresses: _records(
                    spec,
                    [
                        encode(PcscfAddress(_PCSCF_TYPES[pcscf_address_type(a)], a), rlen)
                        for a in addresses
                    ],
                )
            )
            return lambda p: pcscf(p.pcscf)
        case "EF.DIR":
            records = per_value(lambda key: _dir_records(spec, *key))
            return lambda p: records((p.label, p.applications))
    return None


def _sizes_key(sizes: Mapping[str, Mapping[str, int]]) -> tuple[tuple[str, tuple], ...]:
    return tuple(sorted((name, tuple(sorted(v.items()))) for name, v in sizes.items()))


@dataclass(frozen=True, slots=True)
class _PlannedDF:
    """One DF of a plan: its files in spec order, the constant ones (the same for every card
    of the plan) in place and None where `producers` (index, producer) fill in the card's."""

    df: DFSpec
    files: tuple[EFContent | None, ...]
    producers: tuple[tuple[int, Producer], ...]


@lru_cache(maxsize=256)
def _plan(
    services: tuple[int, ...],
    sizes: tuple[tuple[str, tuple], ...],
    ust: tuple[int, ...] = (),
    applications: tuple[str, ...] = ("isim",),
) -> tuple[_PlannedDF, ...]:
    """The files a card has (effective specs) and how each is filled, for a profile's IST,
    UST, applications and size overrides: computed once, used for every card of a batch."""
    lay = layout()
    tables = {ISIM_ADF: frozenset(services), usim_contents.USIM_ADF: frozenset(ust)}
    adfs = {df.name for df in _adfs(applications)}
    overrides = {name: dict(items) for name, items in sizes}
    plan = []
    for df in lay.dfs():
        adf = df.parent or df.name
        if df is not lay.mf and adf not in adfs:
            continue
        present = tables.get(adf, frozenset())
        files: list[EFContent | None] = []
        producers = []
        for base in df.files.values():
            if df is not lay.mf and not file_present(base, present):
                continue
            spec = effective_spec(base, overrides, df.name)
            if spec.name == df.arr_file:
                arr = build.arr_records(df, spec.record_length, spec.records)
                files.append(EFContent(df.name, spec, arr))
            elif spec.name in ("EF.IST", "EF.UST"):  # the services this plan is for
                table = codec_for(spec).encode(present, spec.size)
                files.append(EFContent(df.name, spec, table))
            elif (produce := _producer(df.name, spec)) is not None:
                producers.append((len(files), produce))
                files.append(None)
            else:
                files.append(EFContent(df.name, spec, build.default_content(spec)))
        if files or df.parent is None:  # a DF below an ADF only with files in it
            plan.append(_PlannedDF(df, tuple(files), tuple(producers)))
    return tuple(plan)


def card_contents(profile: Profile) -> CardContents:
    """Every EF of the card described by a validated profile.

    Raises `CodecError` (`SizeError` for a value too large: naming the EF and the sizes) when
    a value does not fit the file; nothing is truncated.
    """
    sizes = profile.sizes
    dfs = []
    plan = _plan(
        tuple(profile.ist),
        _sizes_key(sizes) if sizes else (),
        tuple(profile.ust) if profile.has_usim else (),
        profile.applications,
    )
    for planned in plan:
        files = list(planned.files)
        for i, produce in planned.producers:
            files[i] = produce(profile)
        dfs.append((planned.df, tuple(files)))
    return CardContents(tuple(dfs))  # type: ignore[arg-type]  # every None filled in
