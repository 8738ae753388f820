"""Problems found in a batch: one per (row, column), spooled to a temporary file so that a
batch with a million bad rows does not hold a million objects in memory."""

from __future__ import annotations

import csv
import heapq
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from isim.errors import Problem, ef_location

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
            where = f" ({ef_location(self.file, self.record or None)})"
        return f"{label} {self.row}: {self.column}: {self.reason}{where}"


class ProblemLog:
    """Collects problems; remembers which rows are bad.

    Problems of the streaming pass arrive in row order and go to a spool file; duplicates,
    known only at the end of the pass, are kept apart (`add_late`) and merged on reading.
    """

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by close())
            max_size=1 << 20, mode="w+", encoding="utf-8"
        )
        self._late: list[RowProblem] = []
        self.count = 0
        self._bad_rows: set[int] = set()

    def add(self, problem: RowProblem) -> None:
        """A problem of a row at or after every row added so far."""
        self._spool.write(json.dumps(asdict(problem)) + "\n")
        self.count += 1
        self._bad_rows.add(problem.row)

    def add_late(self, problem: RowProblem) -> None:
        """A problem of any row (duplicates, found after the pass)."""
        self._late.append(problem)
        self.count += 1
        self._bad_rows.add(problem.row)

    @property
    def bad_rows(self) -> frozenset[int]:
        return frozenset(self._bad_rows)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[RowProblem]:
        """Problems sorted by row (each row's problems in the order found)."""
        self._spool.flush()
        self._spool.seek(0)
        try:
            spooled = (RowProblem(**json.loads(line)) for line in self._spool)
            late = sorted(self._late, key=lambda p: p.row)
            yield from heapq.merge(spooled, late, key=lambda p: p.row)
        finally:
            self._spool.seek(0, io.SEEK_END)

    def to_csv(self, label: str) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([label, "column", "file", "record", "reason"])
        for p in self:
            writer.writerow([p.row, p.column, p.file or "", p.record or "", p.reason])
        return buf.getvalue()

    def close(self) -> None:
        self._spool.close()
