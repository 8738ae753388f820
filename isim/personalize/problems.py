"""Problems found in a batch: one per (row, column), spooled to a temporary file so that a
batch with a million bad rows does not hold a million objects in memory."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from isim.errors import Problem

__all__ = ["ProblemLog", "RowProblem"]


@dataclass(frozen=True)
class RowProblem:
    """`row` is the CSV line number or the 1-based list index (see `Batch.row_label`).
    Never holds a secret value: the messages come from validation, which never echoes one."""

    row: int
    column: str
    reason: str
    file: str | None = None
    record: int | None = None

    @classmethod
    def of(cls, row: int, problem: Problem) -> RowProblem:
        return cls(row, problem.field, problem.message, problem.file, problem.record)

    def text(self, label: str) -> str:
        where = ""
        if self.file:
            where = f" ({self.file}" + (f" record {self.record}" if self.record else "") + ")"
        return f"{label} {self.row}: {self.column}: {self.reason}{where}"


class ProblemLog:
    """Collects problems in arrival order; remembers which rows are bad."""

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")
        self.count = 0
        self._bad_rows: set[int] = set()

    def add(self, problem: RowProblem) -> None:
        self._spool.write(json.dumps(asdict(problem)) + "\n")
        self.count += 1
        self._bad_rows.add(problem.row)

    @property
    def bad_rows(self) -> frozenset[int]:
        return frozenset(self._bad_rows)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[RowProblem]:
        """Problems sorted by row (each row's problems in the order found)."""
        self._spool.seek(0)
        items = [RowProblem(**json.loads(line)) for line in self._spool]
        self._spool.seek(0, io.SEEK_END)
        items.sort(key=lambda p: p.row)  # stable: per-row order kept
        return iter(items)

    def to_csv(self, label: str) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([label, "column", "file", "record", "reason"])
        for p in self:
            writer.writerow([p.row, p.column, p.file or "", p.record or "", p.reason])
        return buf.getvalue()

    def close(self) -> None:
        self._spool.close()
