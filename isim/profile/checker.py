"""Field checks that collect problems instead of stopping at the first: the building block
of profile validation (`isim.profile.checks`, `isim.profile.sizes`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from isim.errors import Problem
from isim.profile.documents import type_name

__all__ = ["Checker", "did_you_mean"]


class Checker:
    """Collects problems; one instance per profile."""

    __slots__ = ("data", "problems")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []

    def add(self, key: str, message: str, file: str | None = None, record: int | None = None):
        self.problems.append(Problem(key, message, file, record))

    # --- scalars ---------------------------------------------------------------------------

    def text(self, key: str, pattern: re.Pattern[str], what: str, default: Any = None) -> Any:
        """A string matching `pattern`; secrets-safe messages (the value is never echoed)."""
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, str):
            if pattern.fullmatch(value):
                return value
            self.add(key, f"must be {what} (got {len(value)} characters)")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            self.add(key, f"must be {what}, written as a quoted string (a number loses zeros)")
            return None
        self.add(key, f"must be {what}, not {type_name(value)}")
        return None

    def hex_bytes(self, key: str, pattern: re.Pattern[str], n: int) -> bytes | None:
        value = self.text(key, pattern, f"{n} hex digits")
        return bytes.fromhex(value) if value is not None else None

    def integer(self, key: str, lo: int, hi: int | None, default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(key, f"must be an integer, not {type_name(value)}")
            return None
        if value < lo or (hi is not None and value > hi):
            bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            self.add(key, f"must be in {bound}, not {value}")
            return None
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(key, f"must be true or false, not {type_name(value)}")
        return default

    def string(self, key: str, default: str | None) -> str | None:
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, str):
            return value
        self.add(key, f"must be a string, not {type_name(value)}")
        return None

    def string_list(self, key: str) -> list[str | None] | None:
        """A list of strings; a bad entry becomes None after its problem is recorded."""
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, (list, tuple)):
            self.add(key, f"must be a list, not {type_name(value)}")
            return None
        out: list[str | None] = []
        for i, item in enumerate(value, start=1):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                what = "empty" if item == "" else type_name(item)
                self.add(key, f"entry {i} must be a non-empty string, not {what}")
                out.append(None)
        return out

    def number_set(self, key: str, lo: int, hi: int, what: str) -> tuple[int, ...] | None:
        """A list of integers in lo..hi (`what`: "an ISIM service number"), sorted and
        without repeats; None when the value is not a list. Bad entries are left out and
        reported by their entry number: a value is never repeated into the message."""
        raw = self.data[key]
        if not isinstance(raw, (list, tuple)):
            self.add(key, f"must be a list of numbers, not {type_name(raw)}")
            return None
        out: set[int] = set()
        bad: list[int] = []
        for n, item in enumerate(raw, start=1):
            if type(item) is int and lo <= item <= hi:
                out.add(item)
            else:
                bad.append(n)
        if bad:
            more = f" and {len(bad) - 5} more" if bad[5:] else ""
            entries = ", ".join(map(str, bad[:5])) + more
            self.add(key, f"entry {entries}: not {what} ({lo}..{hi})")
        return tuple(sorted(out))


SHOWN_CHARS = 64


def shown(value: Any) -> str:
    """A value for an error message: a short printable string quoted, anything else only
    described (never the repr of a huge or nested value)."""
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARS and value.isprintable():
            return repr(value)
        return f"(a string of {len(value)} characters)"
    return f"({type_name(value)})"


def did_you_mean(key: str, choices: Any) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
