"""specs/saip.yaml typed: which PE carries which DF, the template OIDs, PIN conventions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

import specs

from .asn import fields

__all__ = ["DFPlan", "SaipLayout", "field_key", "saip_layout"]


@cache
def field_key(name: str) -> str:
    """The key that pairs an EF of specs/filesystem.yaml with the PE field of the same file:
    `EF.P-CSCF` and `ef-pcscf`, `EF.START-HFN` and `ef-start-hfn` (case, `.`, `-` dropped)."""
    return name.lower().replace(".", "").replace("-", "").replace("_", "")


@dataclass(frozen=True)
class DFPlan:
    df: str                        # name in specs/filesystem.yaml
    pe: str                        # the template PE that creates it
    template: str                  # its OID
    opt_pe: str | None = None      # the PE of the files not created by default
    opt_template: str | None = None
    temporary_fid: str | None = None
    service: str | None = None     # eUICC-Mandatory-services flag

    def pe_fields(self) -> dict[str, str]:
        """field key -> PE field, for the DF's own PE."""
        return _file_fields(self.pe)

    def opt_fields(self) -> dict[str, str]:
        return _file_fields(self.opt_pe) if self.opt_pe else {}


@cache
def _file_fields(pe: str) -> dict[str, str]:
    return {field_key(f): f for f in fields(pe)[2:]}  # after the header and templateID


@dataclass(frozen=True)
class SaipLayout:
    major_version: int
    minor_version: int
    profile_type: str
    dfs: dict[str, DFPlan]
    algorithm_id: int
    algorithm_options: bytes
    milenage_service: str
    pins: dict[str, int]
    implicit_arr: dict[str, str]

    def by_pe(self, pe: str) -> DFPlan | None:
        """The DF plan whose PE (or optional files PE) `pe` is."""
        index = self.__dict__.get("_by_pe")
        if index is None:
            index = {p: plan for plan in self.dfs.values() for p in (plan.pe, plan.opt_pe) if p}
            object.__setattr__(self, "_by_pe", index)
        return index.get(pe)


@cache
def saip_layout() -> SaipLayout:
    with specs.path("saip.yaml").open(encoding="utf-8") as fh:
        raw: dict[str, Any] = yaml.safe_load(fh)
    header, mil = raw["header"], raw["milenage"]
    return SaipLayout(
        major_version=int(header["major_version"]),
        minor_version=int(header["minor_version"]),
        profile_type=str(header["profile_type"]),
        dfs={name: DFPlan(df=name, **{k: str(v) for k, v in d.items()})
             for name, d in raw["dfs"].items()},
        algorithm_id=int(mil["algorithm_id"]),
        algorithm_options=bytes.fromhex(mil["algorithm_options"]),
        milenage_service=str(mil["service"]),
        pins={k: int(v) for k, v in raw["pins"].items()},
        implicit_arr={k: str(v).upper() for k, v in raw["implicit_arr"].items()},
    )
