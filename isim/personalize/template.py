"""The batch template: the profile keys every card shares, plus the generators.

A template is a profile (YAML or JSON, the keys of `isim.profile.model`) without the per-card
keys (`iccid`, `imsi`, `impi`, `impu`, `k`, `opc`), and with an optional `generate:`
section (see `generate.py`). An `op` in the template is the batch OP: every card gets
OPc = f(K, OP) (TS 35.206), unless its row gives its own `opc` or `op`.

A row's profile is the template with the row's values on top. The template's own values
are checked once, when it is loaded (a bad value is an input error, not a bad row); each row
then runs only the checks of its own keys and those across keys (`ProfileRules`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from isim.errors import InputError, Problem, ProfileError
from isim.fileio import read_bounded
from isim.profile.documents import MAX_DOCUMENT_BYTES, parse_mapping
from isim.profile.model import KEYS, Profile, ProfileRules, profile_from_mapping

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

    def __getstate__(self) -> dict[str, Any]:
        """For spawned workers (work.start_method): without the cached `_rules`, which are
        derived again on use (and hold read-only mappings, which do not pickle)."""
        state = dict(self.__dict__)
        state.pop("_rules", None)
        return state

    @cached_property
    def _rules(self) -> tuple[ProfileRules, ProfileRules]:
        """(the rules over the template, the same without the batch OP)."""
        own_op = {k: v for k, v in self.values.items() if k != "op"}
        return ProfileRules(self.values), ProfileRules(own_op)

    def rules_for(self, row: Mapping[str, Any]) -> ProfileRules:
        """The checks of a row's profile: over the template, without the batch OP when the
        row gives its own `opc` or `op` (as `row_mapping`)."""
        return self._rules[1] if "opc" in row or "op" in row else self._rules[0]

    def check(self, row: Mapping[str, Any], *, derive_opc: bool = True
              ) -> tuple[dict[str, Any], list[Problem]]:
        """`ProfileRules.check` of the row's profile (= `row_mapping(row)`)."""
        return self.rules_for(row).check(row, derive_opc=derive_opc)

    def profile(self, row: Mapping[str, Any], *, source: str = "", known_valid: bool = False
                ) -> Profile:
        """The row's validated profile; raises `ProfileError` listing every problem.
        `known_valid`: see `ProfileRules.check`."""
        return profile_from_mapping(row, source=source, rules=self.rules_for(row),
                                    known_valid=known_valid)


def load_template(path: str | Path) -> Template:
    path = Path(path)
    source = str(path)
    raw = read_bounded(path, MAX_DOCUMENT_BYTES, what="template")
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
    template = Template(data, generators, hashlib.sha256(raw).hexdigest())
    try:
        template.rules_for({})
    except ProfileError as exc:
        raise InputError("; ".join(str(p) for p in exc.problems), source=source) from None
    return template
