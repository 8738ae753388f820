"""Reading a YAML or JSON document into a mapping: UTF-8, bounded size, safe YAML, no
duplicate keys (a silent override hides typos). Used for profiles and batch templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from isim.errors import InputError, Problem, ProfileError

__all__ = ["MAX_DOCUMENT_BYTES", "parse_mapping", "read_mapping", "type_name"]

MAX_DOCUMENT_BYTES = 1 << 20  # a profile is a few hundred bytes; refuse anything absurd


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int | None) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that refuses duplicate keys (a silent override hides typos)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: the base constructor reports it
            if duplicate:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, None)
        out[key] = value
    return out


def _parse_text(text: str, source: str) -> Any:
    json_error: json.JSONDecodeError | None = None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_json_pairs)
        except json.JSONDecodeError as exc:
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


def parse_mapping(raw: bytes, *, source: str = "", what: str = "profile") -> dict[str, Any]:
    """The mapping of a YAML or JSON document (recognised by content): UTF-8, no duplicate
    keys, at most MAX_DOCUMENT_BYTES. Raises `InputError`, or `ProfileError` for a duplicate
    key (a silent override hides typos)."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InputError(f"larger than {MAX_DOCUMENT_BYTES} bytes", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (bad byte at offset {exc.start})", source=source) from None
    try:
        data = _parse_text(text, source)
    except _DuplicateKey as dup:
        where = f" (line {dup.line})" if dup.line else ""
        raise ProfileError([Problem(dup.key, f"duplicate key{where}")], source=source) from None
    except RecursionError:
        raise InputError("nested too deeply", source=source) from None
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type_name(data)
        raise InputError(f"not a mapping of {what} keys (the document is {kind})", source=source)
    return dict(data)


def read_mapping(path: str | Path, *, what: str = "profile") -> dict[str, Any]:
    """`parse_mapping` of a file; unreadable files raise `InputError`."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    except IsADirectoryError:
        raise InputError("is a directory", source=source) from None
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except PermissionError:
        raise InputError("permission denied", source=source) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), source=source) from None
    return parse_mapping(raw, source=source, what=what)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
