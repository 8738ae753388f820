"""The one builder of the engine's card tree (the dict of `apdu.engine.Card.from_dict`) from
the layout in specs/filesystem.yaml: production images (isim.card.image over isim.card.contents),
tests, the demo and the fuzzers all make their nodes here.

Parts (used by isim.card.contents / isim.card.image, which choose the files and contents per card):

* `default_content(ef)`: a fresh file: the layout's `default` (transparent body or every
  record), else all FF; `arr_records(df, ...)`: an EF.ARR from the DF's `access_rules`.
* `effective_spec(ef, override)`: an EFSpec with size / record_length / records overridden.
* `ef_node(ef, arr_fid, content)`, `df_node(df, files, aid)`: the engine's entries.

And the whole card for tests and the demo:

    card_dict(pins={...}, contents={"ADF.ISIM/EF.IMPI": b"...", "MF/EF.DIR": [rec1, rec2]},
              sizes={"ADF.ISIM/EF.IMPU": {"records": 4}, "ADF.ISIM/EF.IMPI": {"size": 64}},
              omit={"ADF.ISIM/EF.GBABP"}, aids={"ADF.ISIM": bytes}, atr=bytes)

EFs are addressed as "<DF name>/<EF name>" with the names of the layout ("MF", "ADF.ISIM").
Contents: bytes for a transparent EF, a list of records (or the whole body as bytes) for a
record EF; shorter values are padded with FF, longer ones are a ValueError.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from apdu.arr import encode_rule
from apdu.files import LCSI_ACTIVATED_HEX
from specs.layout import DFSpec, EFSpec, Layout, layout

__all__ = [
    "SIZE_KEYS",
    "arr_fid",
    "arr_records",
    "card_dict",
    "default_content",
    "df_node",
    "ef_node",
    "effective_spec",
    "hex_content",
]

Content = bytes | list[bytes]
SIZE_KEYS = ("size", "record_length", "records")


def _pad(value: bytes, length: int, where: str) -> bytes:
    if len(value) > length:
        raise ValueError(f"{where}: {len(value)} bytes do not fit in {length}")
    return bytes(value) + b"\xff" * (length - len(value))


# -- the parts --------------------------------------------------------------------------------


def effective_spec(ef: EFSpec, override: tuple[tuple[str, int], ...]) -> EFSpec:
    """`ef` with (key, value) pairs of SIZE_KEYS overriding its dimensions."""
    return _replaced(ef, override) if override else ef


@lru_cache(maxsize=256)
def _replaced(ef: EFSpec, override: tuple[tuple[str, int], ...]) -> EFSpec:
    unknown = {k for k, _ in override} - set(SIZE_KEYS)
    if unknown:
        raise ValueError(f"{ef.name}: unknown size keys {sorted(unknown)}")
    return dataclasses.replace(ef, **dict(override))


@lru_cache(maxsize=256)
def default_content(ef: EFSpec) -> bytes | tuple[bytes, ...]:
    """A fresh file: the layout's `default` (the body, or every record), else all FF."""
    if ef.is_record:
        return (_pad(ef.default or b"", ef.record_length, ef.name),) * ef.records
    return _pad(ef.default or b"", ef.size, ef.name)


def arr_records(df: DFSpec, record_length: int, records: int) -> tuple[bytes, ...]:
    """The EF.ARR records of a DF: its `access_rules` encoded by apdu.arr, else all FF."""
    key = (id(df), record_length, records)
    hit = _ARR.get(key)
    if hit is not None and hit[0] is df:
        return hit[1]
    refs = layout().key_references
    out = tuple(
        encode_rule(df.access_rules[n], record_length, refs)
        if n in df.access_rules else b"\xff" * record_length
        for n in range(1, records + 1)
    )
    if len(_ARR) >= 64:
        _ARR.clear()
    _ARR[key] = (df, out)  # holding `df` keeps its id from being reused
    return out


_ARR: dict[tuple[int, int, int], tuple[DFSpec, tuple[bytes, ...]]] = {}


def hex_content(data: bytes | Iterable[bytes]) -> str | list[str]:
    """An EF's content as the engine's dict holds it."""
    return data.hex().upper() if isinstance(data, bytes) else [r.hex().upper() for r in data]


def ef_node(ef: EFSpec, arr_fid: str, content: Any) -> dict[str, Any]:
    """The engine's entry of an EF (`content`: hex_content, or a placeholder)."""
    d: dict[str, Any] = {
        "name": ef.name,
        "fid": ef.fid_hex,
        "sfi": ef.sfi,
        "lcsi": LCSI_ACTIVATED_HEX,  # a fresh card: every file activated
        "structure": ef.structure,
        "arr": {"file": arr_fid, "record": ef.arr},
    }
    if ef.is_record:
        d["record_length"] = ef.record_length
    else:
        d["size"] = ef.size
    if ef.secret:
        d["secret"] = True  # apdu.files: traces mask its content
    d["content"] = content
    return d


def arr_fid(df: DFSpec, owner: DFSpec | None = None) -> str:
    """FID (hex) of the EF.ARR the DF's files reference: the DF's own, or for a DF below an
    ADF (`owner`) the ADF's."""
    spec = (owner or df).files.get(df.arr_file)
    if spec is None:
        raise ValueError(f"{df.name}: arr_file {df.arr_file!r} is not one of its files")
    return spec.fid_hex


def df_node(df: DFSpec, files: list[Any], aid: bytes | None, arr: str) -> dict[str, Any]:
    """The engine's entry of the MF (aid None), an ADF, or a DF below an ADF (`df.parent`),
    holding `files` (ef_node / df_node entries); `arr`: the FID of its EF.ARR (`arr_fid`)."""
    out: dict[str, Any] = {
        "name": df.name,
        "fid": None if df.fid is None else f"{df.fid:04X}",
        "lcsi": LCSI_ACTIVATED_HEX,  # a fresh card: every file activated
        "arr": {"file": arr, "record": df.arr},
    }
    if df.parent:
        out["structure"] = "df"
    elif aid is not None:
        out["aid"] = aid.hex().upper()
        out["label"] = df.label
    out["files"] = files
    return out


# -- a whole card (tests, demo, fuzzers) ------------------------------------------------------


def _content(df: DFSpec, ef: EFSpec, where: str, content: Any) -> list[str] | str:
    if not ef.is_record:
        if content is None:
            content = default_content(ef)
        if not isinstance(content, (bytes, bytearray)):
            raise ValueError(f"{where}: transparent content must be bytes")
        return _pad(bytes(content), ef.size, where).hex().upper()
    length, count = ef.record_length, ef.records
    if content is None:
        fresh = arr_records(df, length, count) if ef.name == df.arr_file else None
        content = fresh or default_content(ef)
    if isinstance(content, (bytes, bytearray)):
        content = [bytes(content[i : i + length]) for i in range(0, len(content), length)]
    records = list(content)
    if len(records) > count:
        raise ValueError(f"{where}: {len(records)} records do not fit in {count}")
    records += [b""] * (count - len(records))
    return [_pad(bytes(r), length, where).hex().upper() for r in records]


def _df_dict(
    df: DFSpec,
    sizes: Mapping[str, Mapping[str, int]],
    contents: Mapping[str, Content],
    omit: set[str],
    aid: bytes | None,
    owner: DFSpec | None = None,
) -> dict[str, Any]:
    fid = arr_fid(df, owner)
    files: list[dict[str, Any]] = []
    for name, base in df.files.items():
        key = f"{df.name}/{name}"
        if key in omit:
            continue
        override = tuple(sorted((k, int(v)) for k, v in sizes.get(key, {}).items()))
        try:
            ef = effective_spec(base, override)
        except ValueError as exc:
            raise ValueError(f"{df.name}/{exc}") from None
        files.append(ef_node(ef, fid, _content(df, ef, key, contents.get(key))))
    for child in df.dfs.values():  # DFs below an ADF (TS 31.102 DF.5GS ...): its EF.ARR
        files.append(_df_dict(child, sizes, contents, omit, None, owner or df))
    return df_node(df, files, aid, fid)


def card_dict(
    *,
    pins: Mapping[str, Any] | None = None,
    contents: Mapping[str, Content] | None = None,
    sizes: Mapping[str, Mapping[str, int]] | None = None,
    omit: Iterable[str] = (),
    aids: Mapping[str, bytes] | None = None,
    applications: Iterable[str] | None = None,
    atr: bytes | None = None,
    spec: Layout | None = None,
) -> dict[str, Any]:
    """The card dict of `apdu.engine` for the layout (default: specs/filesystem.yaml).

    `applications`: names of the layout's ADFs to include (default: all); `aids` overrides
    an ADF's AID. Unknown keys in `contents`/`sizes`/`omit` are a ValueError.
    """
    spec = spec or layout()
    contents = dict(contents or {})
    sizes = dict(sizes or {})
    omitted = set(omit)
    aids = dict(aids or {})
    names = list(spec.applications) if applications is None else list(applications)
    known = {f"{df.name}/{ef}" for df in spec.dfs() for ef in df.files}
    for key in (*contents, *sizes, *omitted):
        if key not in known:
            raise ValueError(f"unknown EF {key!r} (expected '<DF name>/<EF name>')")
    adfs = []
    for name in names:
        df = spec.applications[name]
        adfs.append(_df_dict(df, sizes, contents, omitted, aids.get(name, df.aid)))
    out = {
        "pins": {k: dict(v) for k, v in (pins or {}).items()},
        "mf": _df_dict(spec.mf, sizes, contents, omitted, None),
        "adfs": adfs,
    }
    if atr is not None:  # else the engine's own ATR for its response style
        out["atr"] = atr.hex().upper()
    return out
