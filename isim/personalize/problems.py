"""Problems found in a batch: one per (row, column), spooled to a temporary file so that a
batch with a million bad rows does not hold a million objects in memory."""

from __future__ import annotations

import csv
import heapq
import io
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from isim.errors import Problem, ef_location

__all__ = ["ProblemLog", "RowProblem", "redact"]

HIDDEN = "(value not shown)"
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_MIN_SHOWN = 3  # shorter values (mnc_length 2, a flag) cannot carry a secret


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def redact(message: str, values: Mapping[str, Any]) -> str:
    """`message` without anything of a row's `values`, whatever column they sit in (a K
    pasted into `impi` must not reach the reject file): every occurrence of a value, and
    every quoted text that is part of one, becomes HIDDEN."""
    texts = {t.casefold() for t in _texts(values) if len(t) >= _MIN_SHOWN}
    if not texts:
        return message

    def quoted(m: re.Match[str]) -> str:
        inner = m.group()[1:-1].casefold()
        hit = len(inner) >= _MIN_SHOWN and any(inner in t for t in texts)
        return HIDDEN if hit else m.group()

    message = _QUOTED.sub(quoted, message)
    for text in sorted(texts, key=len, reverse=True):
        message = re.sub(re.escape(text), HIDDEN, message, flags=re.IGNORECASE)
    return message


@dataclass(frozen=True)
class RowProblem:
    """`row` is the CSV line number or the 1-based list index (see `Batch.row_label`).
    Never holds a value of the row: `of` removes them from the message (`redact`)."""

    row: int
    column: str
    reason: str
    file: str | None = None
    record: int | None = None

    @classmethod
    def of(cls, row: int, problem: Problem, values: Mapping[str, Any] | None = None
           ) -> RowProblem:
        """The report of `problem` in `row`; `values` (the row's) never appear in it."""
        reason = problem.message if values is None else redact(problem.message, values)
        return cls(row, problem.field, reason, problem.file, problem.record)

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
