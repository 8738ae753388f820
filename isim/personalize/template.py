"""The batch template: the profile keys every card shares, plus the generators.

A template is a profile (YAML or JSON, the keys of `isim.profile`) without the per-card
keys (`iccid`, `imsi`, `impi`, `impu`, `k`, `opc`), and with an optional `generate:`
section (see `generate.py`). An `op` in the template is the batch OP: every card gets
OPc = f(K, OP) (TS 35.206), unless its row gives its own `opc` or `op`.

A row's profile is the template with the row's values on top.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isim.documents import parse_mapping
from isim.errors import InputError, ProfileError
from isim.profile import KEYS

from .generate import GenerateError, Generators

__all__ = ["PER_CARD_KEYS", "Template", "load_template"]

PER_CARD_KEYS = ("iccid", "imsi", "impi", "impu", "k", "opc")


@dataclass(frozen=True)
class Template:
    values: Mapping[str, Any]
    generators: Generators = field(default_factory=Generators)
    sha256: str = ""

    def row_mapping(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The profile mapping of one row: template values, then the row's."""
        merged = dict(self.values)
        if "opc" in row or "op" in row:
            merged.pop("op", None)
        merged.update(row)
        return merged


def load_template(path: str | Path) -> Template:
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read template: {exc.strerror or exc}", source=source) from None
    try:
        data = parse_mapping(raw, source=source, what="template")
    except ProfileError as exc:  # a duplicate key
        raise InputError("; ".join(str(p) for p in exc.problems), source=source) from None
    spec = data.pop("generate", None)
    shared_only = sorted(set(data) & set(PER_CARD_KEYS))
    if shared_only:
        raise InputError(
            f"per-card keys in the template: {', '.join(shared_only)} (give them per row, "
            "or use the generate: section)", source=source)
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise InputError(f"unknown template keys: {', '.join(unknown)}", source=source)
    mnc_length = data.get("mnc_length", 2)
    try:
        generators = Generators.from_spec(spec, mnc_length=mnc_length if mnc_length in (2, 3)
                                          else 2)
    except GenerateError as exc:
        raise InputError(str(exc), source=source) from None
    return Template(data, generators, hashlib.sha256(raw).hexdigest())
