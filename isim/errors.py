"""Exception types shared by the library and the command line.

* `InputError`   the input could not be read at all (missing file, bad UTF-8, not YAML/JSON,
                 not a mapping). The CLI maps it to exit code 2.
* `ProfileError` the input was read but breaks a format or naming rule. It carries every
                 problem found, not just the first. The CLI maps it to exit code 1.

Messages never contain secret values (K, OP/OPc, PINs, PUKs, ADM keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CardContentError",
    "InputError",
    "IsimError",
    "Problem",
    "ProfileError",
    "ef_location",
]


def ef_location(file: str, record: int | None) -> str:
    """Where in the card: `EF.IMPU record 3`, or `EF.IMPI` for a whole file."""
    return file if record is None else f"{file} record {record}"


class IsimError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(IsimError):
    """An input that cannot be read or parsed (exit code 2 at the CLI)."""

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


@dataclass(frozen=True)
class Problem:
    """One format or rule violation in a profile.

    `field` is the profile key (`impu`, `k`, `sizes`...). `file` and `record` name the EF and
    record number (from 1) when the problem is about what the card would hold.
    """

    field: str
    message: str
    file: str | None = None
    record: int | None = None

    @property
    def where(self) -> str:
        """`EF.IMPU record 3`, `EF.IMPI` or the field name."""
        if self.file is None:
            return self.field
        return ef_location(self.file, self.record)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "file": self.file,
            "record": self.record,
            "message": self.message,
        }


class ProfileError(IsimError):
    """A profile that breaks one or more rules; `problems` lists all of them."""

    def __init__(self, problems: Iterable[Problem], *, source: str = "") -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self._summary())

    def _summary(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        lines = [f"{prefix}{p}" for p in self.problems]
        return "\n".join(lines) if lines else f"{prefix}invalid profile"

    def __str__(self) -> str:
        return self._summary()


class CardContentError(IsimError):
    """A card (image, state file) whose content breaks the trust-domain rule or an ISIM
    format. The CLI maps it to exit code 1."""
