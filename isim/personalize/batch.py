"""Batch readers: one row per card, streamed, numbered for reports.

* CSV (`.csv`): a header row of profile keys, then one row per card. Rows are streamed;
  a row's number is the **line number** in the file of its first line (the header is line 1).
  Several values in one cell (`impu`, `pcscf`, `ist`) are separated by `|`. An empty cell
  means "not given" (template value, IMSI-derived identity or generator).
* YAML (`.yaml`, `.yml`) or JSON (`.json`): a list of mappings, loaded whole (at most
  MAX_LIST_BATCH_BYTES, bounded once aliases are expanded: `isim.profile.documents`). A row's number
  is its **1-based index** in the list. A key given twice in a row, a YAML merge key, a
  number too long or a string that is not Unicode makes that row invalid, naming the key.

Bytes that are not UTF-8 make that row invalid (the column is named), not the whole batch.
Every pass over the batch also hashes the bytes it read, so that a batch changed between
the validating pass and the writing pass is noticed.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isim.digits import is_number
from isim.errors import InputError, Problem
from isim.fileio import read_bounded
from isim.profile.documents import MAX_EXPANDED, document_problems, parse_document

__all__ = ["Batch", "Row", "open_batch"]

LIST_KEYS = frozenset({"impu", "pcscf", "ist"})
INT_KEYS = frozenset({"mnc_length"})
BOOL_KEYS = frozenset({"pin1_enabled"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
MAX_LIST_BATCH_BYTES = 256 << 20  # loaded whole: use CSV for larger batches
EXPANSION_PER_BYTE = 16  # aliases may repeat a row's values, not blow up a batch


@dataclass
class Row:
    """One card's row: its number in the batch, the given values and read-level problems."""

    number: int
    values: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Batch:
    """A batch file; `rows()` streams it again on every call (one call per pass)."""

    path: Path
    kind: str  # "csv" | "list"
    digest: str = ""  # SHA-256 (hex) of the bytes the last complete pass read
    _sha: Any = field(default=None, repr=False, compare=False)

    def digest_so_far(self) -> bytes:
        """SHA-256 of the bytes the current pass has read so far (every line of every row
        yielded, and nothing after the last one: rows are read lazily)."""
        assert self._sha is not None, "no pass is running"
        return self._sha.digest()

    @property
    def row_label(self) -> str:
        return "line" if self.kind == "csv" else "item"

    def rows(self) -> Iterator[Row]:
        sha = self._sha = hashlib.sha256()
        it = _csv_rows(self.path, sha) if self.kind == "csv" else _list_rows(self.path, sha)
        yield from it
        self.digest = sha.hexdigest()


def open_batch(path: str | Path) -> Batch:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such batch file", source=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return Batch(path, "csv")
    if suffix in (".yaml", ".yml", ".json"):
        return Batch(path, "list")
    raise InputError("batch must be .csv, .yaml, .yml or .json", source=str(path))


def _list_cell(text: str) -> list[str]:
    return [item for part in text.split("|") if (item := part.strip())]


def _number(text: str) -> int | str:
    """A cell of ASCII digits as a number; anything else (`²`, a thousand digits) stays text
    for the profile check to refuse."""
    return int(text) if is_number(text) else text


def _ist_cell(text: str) -> list[int | str]:
    return [_number(i) for i in _list_cell(text)]


def _int_cell(text: str) -> int | str:
    return _number(text)


def _bool_cell(text: str) -> bool | str:
    lowered = text.lower()
    return lowered in _TRUE if lowered in _TRUE | _FALSE else text


_CELLS: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(LIST_KEYS, _list_cell),
    "ist": _ist_cell,
    **dict.fromkeys(INT_KEYS, _int_cell),
    **dict.fromkeys(BOOL_KEYS, _bool_cell),
}


def _bad_utf8(column: str, text: str) -> Problem | None:
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return Problem(column, f"not valid UTF-8 (byte 0x{ord(found.group()) - 0xDC00:02X})")


def _decoded_lines(fh: Any, sha: Any, bad: set[int]) -> Iterator[str]:
    """Lines of the file as text; numbers (from 1) of lines that were not UTF-8 go to `bad`."""
    for number, raw in enumerate(fh, start=1):
        sha.update(raw)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(number)
            yield raw.decode("utf-8", "surrogateescape")


def _csv_rows(path: Path, sha: Any) -> Iterator[Row]:
    bad: set[int] = set()
    with path.open("rb") as fh:
        reader = csv.reader(_decoded_lines(fh, sha, bad), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("empty batch (no header row)", source=str(path)) from None
        except csv.Error as exc:
            raise InputError(f"line 1: {exc}", source=str(path)) from None
        header = [h.strip().lstrip("\ufeff").strip() for h in header]
        if bad:
            raise InputError("line 1: header is not valid UTF-8", source=str(path))
        if not all(header):
            raise InputError("line 1: empty column name in header", source=str(path))
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise InputError(f"line 1: repeated column {', '.join(repeated)} in header",
                             source=str(path))
        converters = [(key, _CELLS.get(key)) for key in header]
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"line {reader.line_num}: {exc}", source=str(path)) from None
            number, last = last + 1, reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            problems: list[Problem] = []
            if len(cells) != len(header):
                problems.append(Problem(
                    "(row)", f"{len(cells)} cells where the header has {len(header)} columns"))
            if bad and any(n in bad for n in range(number, last + 1)):
                cells = _without_bad_utf8(header, cells, problems)
            values: dict[str, Any] = {}
            for (key, convert), text in zip(converters, cells, strict=False):
                text = text.strip()
                if text:
                    values[key] = text if convert is None else convert(text)
            yield Row(number, values, problems)


def _without_bad_utf8(header: list[str], cells: list[str], problems: list[Problem]
                      ) -> list[str]:
    """The cells with those holding bytes that were not UTF-8 emptied (each one a problem)."""
    out = []
    for key, text in zip(header, cells, strict=False):
        problem = _bad_utf8(key, text)
        if problem is not None:
            problems.append(problem)
            text = ""
        out.append(text)
    return out


def _list_rows(path: Path, sha: Any) -> Iterator[Row]:
    source = str(path)
    raw = read_bounded(path, MAX_LIST_BATCH_BYTES, what="batch")
    sha.update(raw)
    json_only = path.suffix.lower() == ".json"
    # bytes that are not UTF-8 inside a JSON string invalidate only their row
    data = parse_document(raw, source=source, max_bytes=MAX_LIST_BATCH_BYTES,
                          json_only=json_only,
                          errors="surrogateescape" if json_only else "strict")
    if not isinstance(data, list):
        raise InputError("expected a list of rows (one mapping per card)", source=source)
    limit = max(MAX_EXPANDED, EXPANSION_PER_BYTE * len(raw))
    memo: dict[int, int] = {}
    expanded = 0
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            yield Row(index, {}, [Problem("(row)", "not a mapping")])
            continue
        try:
            size, problems = document_problems(item, memo=memo)
        except ValueError as exc:
            raise InputError(f"item {index}: {exc}", source=source) from None
        expanded += size
        if expanded > limit:
            raise InputError(f"larger than {limit} items and characters once YAML aliases "
                             "are expanded", source=source)
        row = Row(index, {}, problems)
        if not problems:
            for key, value in item.items():
                if value is not None and value != "":
                    row.values[str(key)] = value
        yield row
