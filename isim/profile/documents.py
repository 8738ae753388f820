"""Reading a YAML or JSON document: UTF-8, bounded, safe YAML, every key once.

Used for profiles, batch templates and YAML/JSON batches. What a document may not do, each
reported with the key it concerns and never with a value (docs/security.md):

* be larger than its byte limit, or than `MAX_EXPANDED` once YAML aliases are expanded (an
  alias bomb: a few hundred bytes that stand for a billion list items), nest deeper than
  `MAX_DEPTH` or refer to itself;
* give a key twice (a silent override hides typos, and the last K would win), or use YAML
  merge keys (`<<`), which would slip keys past that check;
* hold numbers of more than `MAX_NUMBER_CHARS` characters (Python refuses to convert
  decimal numbers over 4,300 digits; no profile value comes near) or strings that are not
  Unicode (lone surrogates, from `\\udc80` escapes or bytes that were not UTF-8).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from isim.errors import InputError, Problem, ProfileError
from isim.fileio import read_bounded

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANDED",
    "MAX_NUMBER_CHARS",
    "KeyProblem",
    "TooLongNumber",
    "document_problems",
    "parse_document",
    "parse_mapping",
    "read_mapping",
    "type_name",
]

MAX_DOCUMENT_BYTES = 1 << 20  # a profile is a few hundred bytes; refuse anything absurd
MAX_EXPANDED = 1 << 20  # items + characters of a profile with its aliases expanded
MAX_DEPTH = 32  # a profile nests three levels (sizes: EF: records)
MAX_NUMBER_CHARS = 64  # no profile number comes near; int() refuses 4,300 digits
_SURROGATE = re.compile("[\ud800-\udfff]")
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class TooLongNumber:
    """Stands for a number too long to convert (reported by `document_problems`)."""

    chars: int


@dataclass(frozen=True)
class KeyProblem:
    """A problem of one key of a mapping: `key` given twice, or a merge key."""

    key: str
    message: str


class _Mapping(dict[Any, Any]):
    """A decoded mapping, with the problems of its keys (duplicates, merge keys)."""

    key_problems: tuple[KeyProblem, ...] = ()


class _Refused(Exception):
    """The whole document is refused (too large once expanded, too deep, recursive)."""


def _key_text(key: Any) -> str:
    text = key if isinstance(key, str) else type_name(key)
    return text if len(text) <= 40 and not _SURROGATE.search(text) else "(a long key)"


# ------------------------------------------------------------------ YAML

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader: records duplicate and merge keys, keeps long numbers unconverted."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        out = _Mapping()
        problems: list[KeyProblem] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                problems.append(KeyProblem("<<", "YAML merge keys (<<) are not allowed; "
                                                 "write every key out"))
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in out
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key is a list or mapping", key_node.start_mark) from None
            if duplicate:
                line = key_node.start_mark.line + 1
                problems.append(KeyProblem(_key_text(key), f"duplicate key (line {line})"))
            out[key] = self.construct_object(value_node, deep=deep)
        out.key_problems = tuple(problems)
        return out

    def construct_yaml_map(self, node: yaml.MappingNode) -> Any:
        data = _Mapping()
        yield data
        value = self.construct_mapping(node)
        data.update(value)
        data.key_problems = value.key_problems

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            return TooLongNumber(len(node.value))
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


# ------------------------------------------------------------------ JSON


def _json_pairs(pairs: list[tuple[str, Any]]) -> _Mapping:
    out = _Mapping()
    problems: list[KeyProblem] = []
    for key, value in pairs:
        if key in out:
            problems.append(KeyProblem(_key_text(key), "duplicate key"))
        out[key] = value
    out.key_problems = tuple(problems)
    return out


def _json_number(text: str) -> Any:
    return TooLongNumber(len(text)) if len(text) > MAX_NUMBER_CHARS else None


def _json_int(text: str) -> Any:
    return _json_number(text) or int(text)


def _json_float(text: str) -> Any:
    return _json_number(text) or float(text)


def _parse_text(text: str, source: str, json_only: bool) -> Any:
    json_error: json.JSONDecodeError | None = None
    if json_only or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_json_pairs, parse_int=_json_int,
                              parse_float=_json_float)
        except json.JSONDecodeError as exc:
            if json_only:
                msg = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
                raise InputError(f"not valid JSON: {msg}", source=source) from None
            json_error = exc  # maybe a YAML flow mapping: try YAML, report JSON's error
    try:
        return yaml.load(text, Loader=_Loader)  # a safe loader, see _Loader
    except yaml.YAMLError as exc:
        if json_error is not None:
            msg = f"{json_error.msg} (line {json_error.lineno}, column {json_error.colno})"
            raise InputError(f"not valid JSON: {msg}", source=source) from None
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"not valid YAML: {problem}{where}", source=source) from None


# ------------------------------------------------------------------ checks


def _walk(value: Any, path: str, depth: int, memo: dict[int, int],
          out: list[tuple[str, str]]) -> int:
    """The expanded size of `value` (items + characters); its problems go to `out` as
    (path, message). Shared nodes (aliases) are walked once and counted every time."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            out.append((path, "is not valid Unicode (a lone surrogate, or bytes that were "
                              "not UTF-8)"))
        return 1 + len(value)
    if isinstance(value, TooLongNumber):
        out.append((path, f"number of {value.chars} characters (at most {MAX_NUMBER_CHARS})"))
        return 1
    if not isinstance(value, list | dict):
        return 1
    known = memo.get(id(value))
    if known is not None:
        if known < 0:
            raise _Refused("refers to itself (a recursive YAML alias)")
        return known
    if depth >= MAX_DEPTH:
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
    memo[id(value)] = -1
    total = 1
    if isinstance(value, dict):
        for p in getattr(value, "key_problems", ()):
            out.append((f"{path}.{p.key}" if path else p.key, p.message))
        for key, item in value.items():
            where = f"{path}.{_key_text(key)}" if path else _key_text(key)
            total += _walk(key, where, depth + 1, memo, out)
            total += _walk(item, where, depth + 1, memo, out)
    else:
        for n, item in enumerate(value, 1):
            total += _walk(item, f"{path}[{n}]", depth + 1, memo, out)
    memo[id(value)] = total
    return total


def document_problems(value: Any, *, limit: int = MAX_EXPANDED, memo: dict[int, int] | None
                      = None) -> tuple[int, list[Problem]]:
    """(expanded size, problems) of a decoded value: each problem names its top-level key
    as the field and the path below it in the message, never a value. Raises `ValueError`
    when the value is larger than `limit` once aliases are expanded, too deep or recursive.
    `memo`: share it across the rows of one document (their aliases count every time)."""
    found: list[tuple[str, str]] = []
    try:
        size = _walk(value, "", 0, {} if memo is None else memo, found)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    if size > limit:
        raise ValueError(f"larger than {limit} items and characters once YAML aliases "
                         "are expanded")
    problems = []
    for path, message in found:
        field, dot, rest = path.partition(".")
        field, bracket, index = field.partition("[")
        below = f"{dot}{rest}" if dot else ""
        inside = f"[{index}{below}" if bracket else below.lstrip(".")
        problems.append(Problem(field or "(document)",
                                f"{inside}: {message}" if inside else message))
    return size, problems


def parse_document(raw: bytes, *, source: str = "", max_bytes: int = MAX_DOCUMENT_BYTES,
                   json_only: bool = False, errors: str = "strict") -> Any:
    """The decoded YAML or JSON document (recognised by content, or JSON when `json_only`),
    with its mappings carrying their key problems (`document_problems` reports them).
    `errors="surrogateescape"`: bytes that are not UTF-8 become lone surrogates, so that
    only the values holding them are refused. Raises `InputError`."""
    if len(raw) > max_bytes:
        raise InputError(f"larger than {max_bytes} bytes", source=source)
    try:
        text = raw.decode("utf-8", errors).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (bad byte at offset {exc.start})", source=source) from None
    try:
        return _parse_text(text, source, json_only)
    except RecursionError:
        raise InputError("nested too deeply", source=source) from None
    except ValueError as exc:  # a number the JSON decoder could not convert
        raise InputError(f"not valid JSON ({type(exc).__name__})", source=source) from None


def parse_mapping(raw: bytes, *, source: str = "", what: str = "profile") -> dict[str, Any]:
    """The mapping of a YAML or JSON document (recognised by content): UTF-8, at most
    MAX_DOCUMENT_BYTES, bounded once expanded, every key once. Raises `InputError`, or
    `ProfileError` for a duplicate or merge key, a number too long or a string that is not
    Unicode (each naming its key)."""
    data = parse_document(raw, source=source)
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type_name(data)
        raise InputError(f"not a mapping of {what} keys (the document is {kind})", source=source)
    try:
        _, problems = document_problems(data)
    except ValueError as exc:
        raise InputError(str(exc), source=source) from None
    if problems:
        raise ProfileError(problems, source=source)
    return dict(data)


def read_mapping(path: str | Path, *, what: str = "profile") -> dict[str, Any]:
    """`parse_mapping` of a file; unreadable files raise `InputError`."""
    if Path(path).is_dir():
        raise InputError("is a directory", source=str(path))
    if not Path(path).exists() and not Path(path).is_symlink():
        raise InputError("no such file", source=str(path))
    raw = read_bounded(Path(path), MAX_DOCUMENT_BYTES, what=what)
    return parse_mapping(raw, source=str(path), what=what)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | TooLongNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
