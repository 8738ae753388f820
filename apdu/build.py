"""Build a card dict (see apdu.engine) from the layout in specs/filesystem.yaml.

    card_dict(pins={...}, contents={"ADF.ISIM/EF.IMPI": b"...", "MF/EF.DIR": [rec1, rec2]},
              sizes={"ADF.ISIM/EF.IMPU": {"records": 4}, "ADF.ISIM/EF.IMPI": {"size": 64}},
              omit={"ADF.ISIM/EF.GBABP"}, aids={"ADF.ISIM": bytes}, atr=bytes)

EFs are addressed as "<DF name>/<EF name>" with the names of the layout ("MF", "ADF.ISIM").
Contents: bytes for a transparent EF, a list of records (or the whole body as bytes) for a
record EF; shorter values are padded with FF, longer ones are a ValueError. Without a
content an EF gets the layout's `default`, else all FF; an EF.ARR (the DF's `arr_file`)
gets the DF's `access_rules`, encoded by apdu.arr.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apdu.arr import encode_rule
from apdu.layout import DFSpec, EFSpec, Layout, layout

__all__ = ["card_dict"]

Content = bytes | list[bytes]


def _pad(value: bytes, length: int, where: str) -> bytes:
    if len(value) > length:
        raise ValueError(f"{where}: {len(value)} bytes do not fit in {length}")
    return bytes(value) + b"\xff" * (length - len(value))


def _ef_dict(
    df: DFSpec, ef: EFSpec, arr_fid: str, size: Mapping[str, int], content: Any
) -> dict[str, Any]:
    where = f"{df.name}/{ef.name}"
    out: dict[str, Any] = {
        "name": ef.name,
        "fid": ef.fid_hex,
        "sfi": ef.sfi,
        "structure": ef.structure,
        "lcsi": "05",
        "arr": {"file": arr_fid, "record": ef.arr},
    }
    if ef.secret:
        out["secret"] = True  # apdu.files: traces mask its content
    unknown = set(size) - {"size", "record_length", "records"}
    if unknown:
        raise ValueError(f"{where}: unknown size keys {sorted(unknown)}")
    if not ef.is_record:
        n = int(size.get("size", ef.size))
        if content is None:
            content = ef.default or b""
        if not isinstance(content, bytes | bytearray):
            raise ValueError(f"{where}: transparent content must be bytes")
        out["size"] = n
        out["content"] = _pad(bytes(content), n, where).hex().upper()
        return out
    length = int(size.get("record_length", ef.record_length))
    count = int(size.get("records", ef.records))
    if content is None:
        if ef.name == df.arr_file and df.access_rules:
            content = [
                encode_rule(df.access_rules[i], length) if i in df.access_rules else b""
                for i in range(1, count + 1)
            ]
        else:
            content = [ef.default or b""] * count if ef.default else []
    if isinstance(content, bytes | bytearray):
        content = [bytes(content[i : i + length]) for i in range(0, len(content), length)]
    records = list(content)
    if len(records) > count:
        raise ValueError(f"{where}: {len(records)} records do not fit in {count}")
    records += [b""] * (count - len(records))
    out["record_length"] = length
    out["content"] = [_pad(bytes(r), length, where).hex().upper() for r in records]
    return out


def _df_dict(
    df: DFSpec,
    sizes: Mapping[str, Mapping[str, int]],
    contents: Mapping[str, Content],
    omit: set[str],
    aid: bytes | None,
) -> dict[str, Any]:
    arr_spec = df.files.get(df.arr_file)
    if arr_spec is None:
        raise ValueError(f"{df.name}: arr_file {df.arr_file!r} is not one of its files")
    arr_fid = arr_spec.fid_hex
    out: dict[str, Any] = {
        "name": df.name,
        "fid": None if df.fid is None else f"{df.fid:04X}",
        "lcsi": "05",
        "arr": {"file": arr_fid, "record": df.arr},
    }
    if aid is not None:
        out["aid"] = aid.hex().upper()
        out["label"] = df.label
    out["files"] = [
        _ef_dict(
            df, ef, arr_fid, sizes.get(f"{df.name}/{name}", {}), contents.get(f"{df.name}/{name}")
        )
        for name, ef in df.files.items()
        if f"{df.name}/{name}" not in omit
    ]
    return out


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
        aid = aids.get(name, df.aid)
        adfs.append(_df_dict(df, sizes, contents, omitted, aid))
    out = {
        "pins": {k: dict(v) for k, v in (pins or {}).items()},
        "mf": _df_dict(spec.mf, sizes, contents, omitted, None),
        "adfs": adfs,
    }
    if atr is not None:  # else the engine's own ATR for its response style
        out["atr"] = atr.hex().upper()
    return out
