"""Exceptions of the EF codecs.

Both subclass `ValueError` (a bad value or bad bytes) and `isim.errors.IsimError` (an error
this package raises on purpose). `SizeError` is a `CodecError`, so `except CodecError`
catches every codec problem.
"""

from __future__ import annotations

from isim.errors import IsimError

__all__ = ["CodecError", "SizeError"]


class CodecError(IsimError, ValueError):
    """Bytes that do not decode for an EF, or a value that cannot be encoded.

    The message names the EF and the problem: `EF.IMPI: truncated TLV: ...`.
    """

    def __init__(self, ef: str, problem: str) -> None:
        self.ef = ef
        self.problem = problem
        super().__init__(f"{ef}: {problem}" if ef else problem)


class SizeError(CodecError):
    """An encoded value larger than the file or record that should hold it."""

    def __init__(self, ef: str, encoded: int, size: int, unit: str = "file") -> None:
        self.encoded = encoded
        self.size = size
        super().__init__(ef, f"encoded value is {encoded} bytes, {unit} is {size}")
