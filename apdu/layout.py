"""Typed view of the card's file-system layout, read from specs/filesystem.yaml.

Nothing here restates a FID or a size: it only gives the YAML a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import specs

Structure = Literal["transparent", "linear_fixed", "cyclic"]
STRUCTURES: tuple[str, ...] = ("transparent", "linear_fixed", "cyclic")
OPERATIONS: tuple[str, ...] = ("read", "update", "activate", "deactivate")


@dataclass(frozen=True)
class EFSpec:
    name: str
    fid: int
    sfi: int | None
    structure: Structure
    arr: int
    size: int = 0  # transparent: body size
    record_length: int = 0  # record EFs
    records: int = 0
    services: tuple[int, ...] = ()  # IST/UST services governing the file; () = mandatory
    codec: str = ""
    default: bytes | None = None

    @property
    def fid_hex(self) -> str:
        return f"{self.fid:04X}"

    @property
    def is_record(self) -> bool:
        return self.structure != "transparent"

    @property
    def body_size(self) -> int:
        return self.record_length * self.records if self.is_record else self.size


@dataclass(frozen=True)
class DFSpec:
    """The MF, an ADF or a DF below an ADF (`parent` names it) with its EFs (name -> EFSpec,
    in spec order) and its DFs (`dfs`). A DF below an ADF uses the ADF's EF.ARR."""

    name: str
    fid: int | None
    aid: bytes | None
    label: str
    arr_file: str
    arr: int
    files: dict[str, EFSpec] = field(default_factory=dict)
    access_rules: dict[int, dict[str, str]] = field(default_factory=dict)
    dfs: dict[str, DFSpec] = field(default_factory=dict)
    parent: str | None = None


@dataclass(frozen=True)
class Layout:
    key_references: dict[str, int]
    mf: DFSpec
    applications: dict[str, DFSpec]

    def dfs(self) -> tuple[DFSpec, ...]:
        """The MF, then each ADF followed by the DFs below it."""
        return (self.mf, *(d for a in self.applications.values() for d in (a, *a.dfs.values())))

    def df(self, name: str) -> DFSpec:
        """A DF by its layout name ("MF", "ADF.USIM", "DF.5GS")."""
        for d in self.dfs():
            if d.name == name:
                return d
        raise KeyError(name)

    def find_ef(self, key: str) -> tuple[DFSpec, EFSpec]:
        """An EF by `EF.IMPI`, `IMPI` or FID `6F02` (ADFs first, then the MF; on a clash the
        ADF listed last in the layout), or qualified by its DF: `ADF.USIM/EF.AD`, `USIM/AD`."""
        wanted = key.strip()
        found = self._index().get(wanted.upper())
        if found is None:
            raise KeyError(wanted)
        return found

    def _index(self) -> dict[str, tuple[DFSpec, EFSpec]]:
        index = self.__dict__.get("_ef_index")
        if index is None:
            index = {}
            for df in self.dfs():
                for ef in df.files.values():
                    for alias in (ef.name, ef.name.removeprefix("EF."), ef.fid_hex):
                        index[alias.upper()] = (df, ef)  # later DFs (ADFs) win
                        for qual in {df.name, df.name.split(".", 1)[-1]}:
                            index[f"{qual}/{alias}".upper()] = (df, ef)
            object.__setattr__(self, "_ef_index", index)
        return index


def _services(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def _ef(name: str, raw: dict[str, Any]) -> EFSpec:
    structure = raw["structure"]
    if structure not in STRUCTURES:
        raise ValueError(f"specs: {name}: unknown structure {structure!r}")
    default = raw.get("default")
    return EFSpec(
        name=name,
        fid=int(str(raw["fid"]), 16),
        sfi=raw.get("sfi"),
        structure=structure,
        arr=int(raw["arr"]),
        size=int(raw.get("size", 0)),
        record_length=int(raw.get("record_length", 0)),
        records=int(raw.get("records", 0)),
        services=_services(raw.get("service")),
        codec=str(raw.get("codec", "")),
        default=bytes.fromhex(default) if default else None,
    )


def _df(
    raw: dict[str, Any], rules: dict[int, dict[str, str]], name: str, parent: DFSpec | None = None
) -> DFSpec:
    if parent is not None:  # a DF below an ADF: the ADF's EF.ARR
        raw = {"arr_file": parent.arr_file, **raw}
    aid = raw.get("aid")
    fid = raw.get("fid")
    df = DFSpec(
        name=raw.get("name", name),
        fid=int(str(fid), 16) if fid is not None else None,
        aid=bytes.fromhex(aid) if aid else None,
        label=str(raw.get("label", "")),
        arr_file=raw["arr_file"],
        arr=int(raw["arr"]),
        files={n: _ef(n, f) for n, f in raw["files"].items()},
        access_rules={int(k): dict(v) for k, v in rules.items()},
        parent=parent.name if parent is not None else None,
    )
    for child, sub in raw.get("dfs", {}).items():
        df.dfs[child] = _df(sub, rules, child, df)
    return df


@cache
def layout() -> Layout:
    raw = specs.filesystem()
    rules = raw["access_rules"]
    apps = {
        name: _df(app, rules[name.removeprefix("ADF.").lower()], name)
        for name, app in raw["applications"].items()
    }
    return Layout(
        key_references={k: int(v) for k, v in raw["key_references"].items()},
        mf=_df(raw["mf"], rules["mf"], "MF"),
        applications=apps,
    )
