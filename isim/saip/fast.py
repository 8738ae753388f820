"""Packages for a batch (`isim personalize --format saip`, tools/bench_saip.py).

The same bytes as `export.export_image(build_image(profile))` (tests/test_saip_fast.py),
faster. The cards of a batch share their file tree; what differs from card to card is a few
EF contents (ICCID, IMSI, ACC, IMPI, IMPU ...), the PINs, PUKs, K and OPc. So a card gives
its tree a plan (`_Plan`): its PEs as export makes them (`export.image_outline`), encoded,
and where each EF's content went. A card of the same tree (every EF the very `EFContent` of
the plan's card, or one with a place in the plan) is encoded from the plan: only the
members holding its own EF contents are encoded again, and the PEs holding secrets (their
bodies from `export.secret_bodies`) by `encoder.PackageEncoder`, which keeps no secret.
Another card (another tree, other PIN references, an EF without a place of its own that
differs, such as a genericFileManagement file) gets a plan of its own. A plan holds no
secret: the PEs holding one are left out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1tools.codecs.ber import encode_length_definite

from apdu.build import ef_node
from isim.card.contents import CardContents, EFContent, card_contents
from isim.card.image import build_image
from isim.card.image_build import image_sections
from isim.profile.model import Profile
from specs.layout import DFSpec, EFSpec

from .asn import encode_pe
from .encoder import PackageEncoder, encode_file, member_parts
from .export import FilePlace, image_outline, image_pes, pe_value, secret_bodies

__all__ = ["profile_package", "reference_package"]

_MAX_PLANS = 8  # the trees (and PIN references) of the last cards


@dataclass(frozen=True)
class _Target:
    """A member a per-card EF content goes to: `place` says which and its value; `index`
    is the member's among its PE's (`_Plan.parts`)."""

    place: FilePlace
    index: int
    seq: Any  # the PE's asn1tools type
    member: Any  # the member's


@dataclass(frozen=True)
class _Slot:
    """An EF whose content may differ per card: its ARR file and where its content goes."""

    arr_fid: str
    targets: tuple[_Target, ...]


def _pin_shape(pins: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    """What of the PINs the PEs without secrets depend on: the references (FCPs' PIN status,
    which PE-PINCodes there are) and whether each has an unblock code (PE-PUKCodes)."""
    return tuple([(ref, bool(pin.get("unblock"))) for ref, pin in pins.items()])


class _Plan:
    """The PEs of a card tree, encoded; the members holding EF contents kept apart."""

    def __init__(self, profile: Profile, contents: CardContents,
                 pins_shape: tuple[tuple[str, bool], ...]) -> None:
        made: list[tuple[str, dict[str, Any]]] = []  # (ARR file, entry) in contents order

        def node(spec: EFSpec, data: bytes | tuple[bytes, ...], arr_fid: str) -> dict:
            made.append((arr_fid, ef_node(spec, arr_fid, data)))
            return made[-1][1]

        outline = image_outline(build_image(profile, contents, ef_node=node))
        self.pins_shape = pins_shape
        self.dfs: tuple[tuple[DFSpec, tuple[EFContent, ...]], ...] = contents.dfs
        # PE -> (its name, its body's key in export.secret_bodies)
        self.secrets = {i: (outline.pes[i][0], role) for i, role in outline.secrets.items()}
        self.encoded: list[bytes] = []
        self.tags: dict[int, bytes] = {}
        self.parts: dict[int, list[bytes]] = {}
        members: dict[int, tuple[Any, list[Any]]] = {}  # PE -> (its type, its members)
        for i, (name, value) in enumerate(outline.pes):
            if i in self.secrets:  # encoded per card; the plan holds no secret
                self.encoded.append(b"")
                continue
            seq, tag, parts = member_parts(name, value)
            self.tags[i], self.parts[i] = tag, [p for _, p in parts]
            members[i] = (seq, [m for m, _ in parts])
            body = b"".join(self.parts[i])
            self.encoded.append(tag + bytes(encode_length_definite(len(body))) + body)
        places: dict[int, list[_Target]] = {}
        for entry, place in outline.files:
            seq, pe_members = members[place.pe]
            index = next(n for n, m in enumerate(pe_members) if m.name == place.member)
            places.setdefault(id(entry), []).append(
                _Target(place, index, seq, pe_members[index]))
        slots: list[dict[int, _Slot]] = []
        it = iter(made)
        for _, files in contents.dfs:
            here: dict[int, _Slot] = {}
            for k in range(len(files)):
                arr_fid, entry = next(it)
                if id(entry) in places:
                    here[k] = _Slot(arr_fid, tuple(places[id(entry)]))
            slots.append(here)
        self.slots = slots
        self._fcps: dict[int, tuple[Any, bytes]] = {}

    def package(self, contents: CardContents, pins: dict[str, Any], isim: dict[str, Any],
                encoder: PackageEncoder) -> bytes | None:
        """The card's package; None when the card is not of this plan's tree."""
        dfs = contents.dfs
        if len(dfs) != len(self.dfs):
            return None
        edited: dict[int, list[bytes]] = {}
        for (df, files), (own_df, own), slots in zip(dfs, self.dfs, self.slots, strict=True):
            if df is not own_df or len(files) != len(own):
                return None
            for k, (ef, was) in enumerate(zip(files, own, strict=True)):
                if ef is was:
                    continue
                slot = slots.get(k)
                if ef.spec is not was.spec or (slot is None and ef.data != was.data):
                    return None
                if slot is not None:
                    self._place(slot, ef, edited)
        out = self.encoded.copy()
        for i, parts in edited.items():
            body = b"".join(parts)
            out[i] = self.tags[i] + bytes(encode_length_definite(len(body))) + body
        bodies = secret_bodies(pins, isim)
        for i, (name, role) in self.secrets.items():
            out[i] = encoder.pe(name, pe_value(name, i, bodies[role]))
        return b"".join(out)

    def _place(self, slot: _Slot, ef: EFContent, edited: dict[int, list[bytes]]) -> None:
        """The members holding this EF's content, encoded into `edited` (PE -> members)."""
        entry = ef_node(ef.spec, slot.arr_fid, ef.data)
        for target in slot.targets:
            place = target.place
            parts = edited.get(place.pe)
            if parts is None:
                parts = edited[place.pe] = self.parts[place.pe].copy()
            value = place.value(entry)
            if type(value) is list:  # a `File`
                parts[target.index] = encode_file(target.member, value, self._fcps)
            else:
                part = bytearray()
                target.seq.encode_member(target.member, {place.member: value}, part)
                parts[target.index] = bytes(part)


_PLANS: list[_Plan] = []  # the most recently used first
_ENCODER = PackageEncoder()


def profile_package(profile: Profile, contents: CardContents | None = None) -> bytes:
    """The package of a validated profile (= export_image(build_image(profile, contents)))."""
    contents = contents or card_contents(profile)
    pins, isim = image_sections(profile)
    shape = _pin_shape(pins)
    for n, plan in enumerate(_PLANS):
        if plan.pins_shape == shape:
            out = plan.package(contents, pins, isim, _ENCODER)
            if out is not None:
                if n:
                    _PLANS.insert(0, _PLANS.pop(n))
                return out
    plan = _Plan(profile, contents, shape)
    _PLANS.insert(0, plan)
    del _PLANS[_MAX_PLANS:]
    out = plan.package(contents, pins, isim, _ENCODER)
    assert out is not None  # the plan's own card
    return out


def reference_package(profile: Profile, contents: CardContents | None = None) -> bytes:
    """The same through asn1tools' whole-PE encoder (for tests and the benchmark)."""
    return b"".join(encode_pe(n, v) for n, v in image_pes(build_image(profile, contents)))
