"""Generators for bureau runs: ICCID and IMSI ranges, random secrets, OPc from a batch OP.

A template may carry a `generate:` section; a row that leaves a column empty gets the
generated value:

    generate:
      iccid: {first: "898821100000000001"}   # ICCID body (without the Luhn digit)
      imsi: {first: "001010000000001"}        # MCC+MNC never change, MSIN counts up
      k: random                               # 16 random bytes from `secrets`
      pin1: random                            # 4 digits (pin1_digits: N for more)
      puk1: random                            # 8 digits
      adm1: random                            # 8 digits

The batch OP is the template's `op` key (each card then gets OPc = f(K, OP)); see
`template.py`.

Ranges are deterministic: the n-th row without an ICCID gets `first + n`, in both passes.
Digit strings keep their leading zeros and their width; a range that would overflow its
width (for an IMSI: carry into MCC+MNC) is an error, never a silent wrap.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from isim.profile import luhn

__all__ = [
    "GenerateError",
    "Generators",
    "NumberRange",
    "luhn_digit",
    "random_digits",
]

SECRET_DIGITS = {"pin1": 4, "puk1": 8, "adm1": 8}
_PLACEHOLDER_K = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
GENERATED_KEYS = ("iccid", "imsi", "k", *SECRET_DIGITS)
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class GenerateError(ValueError):
    """A generator that cannot be configured or has run out of numbers."""


def luhn_digit(body: str) -> str:
    """The Luhn check digit that completes `body` (a string of decimal digits)."""
    if not body.isdigit() or not body.isascii():
        raise GenerateError(f"not a string of decimal digits: {body!r}")
    return luhn.luhn_digit(body)


def random_digits(n: int) -> str:
    """`n` decimal digits from the `secrets` module (leading zeros allowed)."""
    return "".join(secrets.choice("0123456789") for _ in range(n))


@dataclass(frozen=True)
class NumberRange:
    """Fixed-width decimal numbers `first`, `first + 1`, ... of which the first `fixed`
    digits never change (the MCC+MNC of an IMSI). `luhn` appends a Luhn digit (ICCID)."""

    first: str
    fixed: int = 0
    luhn: bool = False
    name: str = "range"

    def __post_init__(self) -> None:
        if not (self.first.isascii() and self.first.isdigit()):
            raise GenerateError(f"{self.name}: first must be decimal digits")
        if not 0 <= self.fixed < len(self.first):
            raise GenerateError(f"{self.name}: no digits left to count in {self.first!r}")

    @property
    def capacity(self) -> int:
        """How many numbers the range holds from `first` on."""
        width = len(self.first) - self.fixed
        return 10**width - int(self.first[self.fixed :])

    def __getitem__(self, n: int) -> str:
        if not 0 <= n < self.capacity:
            raise GenerateError(
                f"{self.name}: range starting at {self.first} holds {self.capacity} numbers, "
                f"number {n + 1} asked for"
            )
        width = len(self.first) - self.fixed
        counted = int(self.first[self.fixed :]) + n
        body = self.first[: self.fixed] + f"{counted:0{width}d}"
        return body + luhn_digit(body) if self.luhn else body


def _range(spec: Any, name: str, fixed: int, luhn: bool) -> NumberRange:
    if isinstance(spec, str | int):
        spec = {"first": spec}
    if not isinstance(spec, Mapping) or "first" not in spec:
        raise GenerateError(f"generate.{name}: expected {{first: DIGITS}}")
    return NumberRange(str(spec["first"]), fixed=fixed, luhn=luhn, name=f"generate.{name}")


@dataclass(frozen=True)
class Generators:
    """The generators of one batch, built from the template's `generate:` section."""

    iccid: NumberRange | None = None
    imsi: NumberRange | None = None
    random_k: bool = False
    secret_digits: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None, *, mnc_length: int = 2) -> Generators:
        if not spec:
            return cls()
        if not isinstance(spec, Mapping):
            raise GenerateError("generate: expected a mapping")
        unknown = sorted(set(spec) - set(GENERATED_KEYS) - {f"{k}_digits" for k in SECRET_DIGITS})
        if unknown:
            raise GenerateError(f"generate: unknown keys {', '.join(unknown)}")
        iccid = _range(spec["iccid"], "iccid", 0, True) if "iccid" in spec else None
        imsi = _range(spec["imsi"], "imsi", 3 + mnc_length, False) if "imsi" in spec else None
        k = spec.get("k")
        if k not in (None, "random"):
            raise GenerateError("generate.k: only 'random' is supported")
        digits = []
        for key, default in SECRET_DIGITS.items():
            if key in spec:
                if spec[key] != "random":
                    raise GenerateError(f"generate.{key}: only 'random' is supported")
                n = int(spec.get(f"{key}_digits", default))
                if not 4 <= n <= 8:
                    raise GenerateError(f"generate.{key}_digits: 4 to 8 digits")
                digits.append((key, n))
        return cls(iccid, imsi, k == "random", tuple(digits))

    @cached_property  # asked for every row of both passes
    def draws_secrets(self) -> bool:
        """Whether rows get random secrets (K, PIN1, PUK1, ADM1)."""
        return self.random_k or bool(self.secret_digits)

    def numbers(self, row: dict[str, Any], counters: dict[str, int]) -> None:
        """Fill an empty `iccid` / `imsi` of `row` from the ranges (deterministic: used in
        both passes). `counters` holds how many numbers each range has given out so far."""
        for key, rng in (("iccid", self.iccid), ("imsi", self.imsi)):
            if rng is not None and not row.get(key):
                n = counters.get(key, 0)
                counters[key] = n + 1
                row[key] = rng[n]

    def secrets_for(self, row: dict[str, Any], base: Mapping[str, Any] = _NOTHING) -> None:
        """Fill the random secrets of `row` (pass 2 only: they need no check, being
        well-formed by construction). A value the row (or the template, `base`) already has
        is kept."""
        if self.random_k and not (row.get("k") or base.get("k")):
            row["k"] = secrets.token_hex(16)
        for key, n in self.secret_digits:
            if not (row.get(key) or base.get(key)):
                row[key] = random_digits(n)

    def placeholders(self, row: dict[str, Any], base: Mapping[str, Any] = _NOTHING) -> None:
        """Pass 1: stand-ins for values generated in pass 2, so that validation of the rest
        of the row sees a complete profile. They are well-formed by construction."""
        if self.random_k and not (row.get("k") or base.get("k")):
            row["k"] = _PLACEHOLDER_K
        for key, n in self.secret_digits:
            if not (row.get(key) or base.get(key)):
                row[key] = "1234567890"[:n]
