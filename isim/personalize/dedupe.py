"""Duplicate ICCIDs and IMSIs in a batch of up to millions of rows, in little memory.

Each value is kept as a 64-bit integer in an `array` (8 bytes a row, not a Python object),
next to the row number (4 bytes). A digit string of n digits is stored in the array of
length n as `int(digits)`, so leading zeros stay significant ("0012" and "12" differ). An
ICCID's Luhn digit is dropped first (it follows from the other digits, and validation has
checked it), which keeps 20-digit ICCIDs below 2**64.
"""

from __future__ import annotations

import itertools
from array import array
from dataclasses import dataclass, field

__all__ = ["Duplicate", "DuplicateIndex"]


@dataclass(frozen=True)
class Duplicate:
    """`row` has the same `column` value as `others` (all rows involved are reported: which
    one of them is right cannot be told)."""

    column: str
    row: int
    others: tuple[int, ...]


@dataclass
class _Column:
    name: str
    drop_last: bool
    values: dict[int, array] = field(default_factory=dict)  # digit count -> values
    rows: dict[int, array] = field(default_factory=dict)  # digit count -> row numbers

    def add(self, digits: str, row: int) -> None:
        if self.drop_last:
            digits = digits[:-1]
        n = len(digits)
        if n not in self.values:
            self.values[n] = array("Q")
            self.rows[n] = array("I")
        self.values[n].append(int(digits))
        self.rows[n].append(row)

    def duplicates(self) -> list[Duplicate]:
        out: list[Duplicate] = []
        for n, values in self.values.items():
            ordered = sorted(values)  # transient: one column and one length at a time
            repeated = {a for a, b in itertools.pairwise(ordered) if a == b}
            del ordered
            if not repeated:
                continue
            groups: dict[int, list[int]] = {}
            for value, row in zip(values, self.rows[n], strict=True):
                if value in repeated:
                    groups.setdefault(value, []).append(row)
            for rows in groups.values():
                out.extend(
                    Duplicate(self.name, row, tuple(r for r in rows if r != row)) for row in rows
                )
        return out


class DuplicateIndex:
    """Collects (row, ICCID, IMSI) of the valid rows of pass 1; `duplicates()` at the end."""

    def __init__(self) -> None:
        self._iccid = _Column("iccid", drop_last=True)
        self._imsi = _Column("imsi", drop_last=False)

    def add(self, row: int, iccid: str, imsi: str | None) -> None:
        self._iccid.add(iccid, row)
        if imsi:
            self._imsi.add(imsi, row)

    def duplicates(self) -> list[Duplicate]:
        """Every row whose ICCID or IMSI another row has too, in row order."""
        found = self._iccid.duplicates() + self._imsi.duplicates()
        return sorted(found, key=lambda d: (d.row, d.column))
