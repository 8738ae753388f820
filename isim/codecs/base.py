"""The `Codec` base: padding, the empty (all-FF) case, sizes, errors and JSON plumbing.

A subclass provides `_decode(data) -> (value, end)`, `_encode(value, size) -> bytes`
(unpadded), `_to_json(value) -> dict` and `_from_json(obj) -> value`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import construct

from isim.profile.checker import shown
from specs.layout import EFSpec

from .errors import CodecError, SizeError

T = TypeVar("T")

__all__ = ["Codec", "Decoded", "hex_bytes"]

_FF = 0xFF
# Exceptions a subclass may raise on bad input; the base turns them into CodecError.
# (asn1tools errors are turned into CodecError where asn1tools is called: codecs/tlv.py.)
_INPUT_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    construct.ConstructError,
)


@dataclass(frozen=True)
class Decoded(Generic[T]):
    """A decoded value and the non-FF bytes found after it.

    `value` is None for an all-FF (empty) file or record. `trailing` is empty when everything
    after the data objects is 'FF' padding; otherwise it holds the bytes from `end` up to the
    last non-FF byte (the card's write guard accepts these, the validator reports them).
    """

    value: T | None
    trailing: bytes = b""
    end: int = 0


class Codec(Generic[T]):
    """Coding of one EF's content (a transparent body or one record)."""

    name: ClassVar[str] = ""  # the `codec:` key in specs/filesystem.yaml
    # An all-'FF' body is an empty file (None), except where 'FF's are a value (counters)
    all_ff_is_value: ClassVar[bool] = False

    def __init__(self, spec: EFSpec) -> None:
        self.spec = spec
        self.ef = spec.name
        self.default_size = spec.record_length if spec.is_record else spec.size
        self._unit = "record" if spec.is_record else "file"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ef}>"

    # -- public API -----------------------------------------------------------------------

    def _run(self, data: bytes) -> tuple[T | None, int, bytes]:
        """(value, end of the data objects, non-FF bytes after them)."""
        if type(data) is not bytes:
            data = bytes(data)
        if not data.rstrip(b"\xff") and not self.all_ff_is_value:
            return None, 0, b""
        try:
            value, end = self._decode(data)
        except CodecError:
            raise
        except _INPUT_ERRORS as exc:
            raise CodecError(self.ef, _describe(exc)) from None
        return value, end, data[end:].rstrip(b"\xff")

    def decode_detailed(self, data: bytes) -> Decoded[T]:
        value, end, rest = self._run(data)
        return Decoded(value, rest, end)

    def decode(self, data: bytes) -> T | None:
        """The value, None when empty; CodecError if non-FF bytes follow the data."""
        value, end, rest = self._run(data)
        if rest:
            raise CodecError(
                self.ef,
                f"{len(rest)} unexpected non-FF byte(s) after the data at offset {end}",
            )
        return value

    def encode(self, value: T | None, size: int | None = None) -> bytes:
        """The content padded with 'FF' to `size` (default: the spec's file/record size)."""
        if size is None:
            size = self.default_size
        if value is None:
            return b"\xff" * size
        try:
            raw = self._encode(value, size)
        except CodecError:
            raise
        except _INPUT_ERRORS as exc:
            raise CodecError(self.ef, f"cannot encode {shown(value)}: {_describe(exc)}") from None
        n = len(raw)
        if n > size:
            raise SizeError(self.ef, n, size, self._unit)
        return raw + b"\xff" * (size - n) if n < size else raw

    def to_json(self, value: T | None) -> Any:
        return None if value is None else self._to_json(value)

    def from_json(self, obj: Any) -> T | None:
        if obj is None:
            return None
        if not isinstance(obj, Mapping):
            raise CodecError(self.ef, f"JSON value must be an object or null, not {shown(obj)}")
        try:
            return self._from_json(obj)
        except CodecError:
            raise
        except KeyError as exc:
            raise CodecError(self.ef, f"JSON object lacks the key {exc.args[0]!r}") from None
        except _INPUT_ERRORS as exc:
            raise CodecError(self.ef, f"bad JSON value: {_describe(exc)}") from None

    # -- subclass hooks -------------------------------------------------------------------

    def _decode(self, data: bytes) -> tuple[T, int]:
        raise NotImplementedError

    def _encode(self, value: T, size: int) -> bytes:
        raise NotImplementedError

    def _to_json(self, value: T) -> dict[str, Any]:
        raise NotImplementedError

    def _from_json(self, obj: Mapping[str, Any]) -> T:
        raise NotImplementedError

    def error(self, problem: str) -> CodecError:
        return CodecError(self.ef, problem)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"bad UTF-8 at byte {exc.start}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def hex_bytes(value: Any, what: str) -> bytes:
    """Bytes from a JSON hex string (spaces allowed)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{what} is not hex: {shown(value)}") from None
