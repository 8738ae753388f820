"""Duplicate ICCIDs and IMSIs in a batch of up to millions of rows, in little memory.

Each value is kept as a 64-bit integer in an `array` (8 bytes a row, not a Python object),
next to the row number (4 bytes), spread over BUCKETS arrays by value; at the end of the pass
the buckets are searched one at a time, so the transient Python objects are those of one
bucket (1/64 of the batch). A digit string of n digits is stored in the array of
length n as `int(digits)`, so leading zeros stay significant ("0012" and "12" differ). An
ICCID's Luhn digit is dropped first (it follows from the other digits, and validation has
checked it), which keeps 20-digit ICCIDs below 2**64.
"""

from __future__ import annotations

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


BUCKETS = 64  # the end-of-pass search holds Python objects for one bucket at a time


@dataclass
class _Column:
    name: str
    drop_last: bool
    # (digit count, value % BUCKETS) -> values, and the row numbers alongside
    values: dict[tuple[int, int], array] = field(default_factory=dict)
    rows: dict[tuple[int, int], array] = field(default_factory=dict)

    def add(self, digits: str, row: int) -> None:
        if self.drop_last:
            digits = digits[:-1]
        value = int(digits)
        key = (len(digits), value % BUCKETS)
        if key not in self.values:
            self.values[key] = array("Q")
            self.rows[key] = array("I")
        self.values[key].append(value)
        self.rows[key].append(row)

    def duplicates(self) -> list[Duplicate]:
        out: list[Duplicate] = []
        for key, values in self.values.items():
            seen: dict[int, int] = {}
            repeated: dict[int, list[int]] = {}
            for value, row in zip(values, self.rows[key], strict=True):
                first = seen.setdefault(value, row)
                if first != row:
                    repeated.setdefault(value, [first]).append(row)
            del seen
            for rows in repeated.values():
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
