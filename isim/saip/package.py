"""A package as its Profile Elements: split by their DER headers, each decoded on its own.

Splitting first (instead of decoding one SEQUENCE OF) gives every error the PE and the
offset where it is, lets a PE isim does not model (securityDomain, rfm, a vendor's ...) keep
its bytes untouched, and makes decode-then-encode byte-identical: a modelled PE is
re-encoded by asn1tools, any other PE is written back as it was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import asn1tools

from isim.errors import InputError
from isim.fileio import read_bounded

from .asn import decode_pe, encode_pe, pe_tags, spec

__all__ = ["MAX_PACKAGE_BYTES", "PE", "Package", "PackageError", "load_package",
           "read_package"]

MAX_PACKAGE_BYTES = 4 << 20  # a profile package is tens of kB; applets can make it larger


class PackageError(InputError):
    """A package that cannot be read: names the PE and the byte offset."""


@dataclass
class PE:
    """One Profile Element. `value` is None for a PE isim keeps as bytes (not modelled or
    unknown tag); `name` is the ProfileElement alternative, or `unknown(<tag hex>)`."""

    name: str
    offset: int
    raw: bytes = field(repr=False)
    value: Any = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"PE {self.name} at offset {self.offset}"

    def encode(self) -> bytes:
        return self.raw if self.value is None else encode_pe(self.name, self.value)


@dataclass
class Package:
    pes: list[PE]

    def encode(self) -> bytes:
        return b"".join(pe.encode() for pe in self.pes)

    def of(self, name: str) -> list[PE]:
        return [pe for pe in self.pes if pe.name == name]

    def first(self, name: str) -> PE | None:
        found = self.of(name)
        return found[0] if found else None

    @property
    def unmodelled(self) -> list[PE]:
        return [pe for pe in self.pes if pe.value is None]


@cache
def modelled() -> frozenset[str]:
    """The alternatives specs/saip.asn gives a full type (the others are `Opaque`)."""
    choice = spec().types["ProfileElement"].type
    return frozenset(m.name for m in choice.members if getattr(m, "root_members", None))


def _header(data: bytes, offset: int) -> tuple[bytes, int, int]:
    """(tag, length, offset of the value) of the TLV at `offset` (X.690 8.1.2 / 8.1.3)."""
    end = len(data)
    pos = offset + 1
    if data[offset] & 0x1F == 0x1F:  # high tag number: more tag bytes while b8 is set
        while pos < end and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= end:
        raise ValueError("truncated tag or length")
    tag = data[offset:pos]
    first = data[pos]
    pos += 1
    if first < 0x80:
        return tag, first, pos
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ValueError(f"length field of {count} octets (indefinite or huge)")
    if pos + count > end:
        raise ValueError("truncated length")
    length = int.from_bytes(data[pos:pos + count], "big")
    return tag, length, pos + count


def _split(data: bytes, source: str) -> Iterable[tuple[str, int, bytes]]:
    tags = pe_tags()
    offset = 0
    index = 0
    while offset < len(data):
        index += 1
        try:
            tag, length, start = _header(data, offset)
        except ValueError as exc:
            raise PackageError(f"PE #{index} at offset {offset}: {exc}", source=source) from None
        name = tags.get(tag, f"unknown({tag.hex().upper()})")
        if start + length > len(data):
            raise PackageError(
                f"PE #{index} {name} at offset {offset}: length {length} runs past the end "
                f"of the package ({len(data) - start} bytes left)", source=source)
        yield name, offset, data[offset:start + length]
        offset = start + length


def read_package(data: bytes, *, source: str = "package") -> Package:
    """Split and decode; check the order rules (see `_check_order`). Raises PackageError."""
    if not data:
        raise PackageError("empty file: no Profile Element", source=source)
    known = modelled()
    pes = []
    for name, offset, raw in _split(data, source):
        pe = PE(name, offset, raw)
        if name in known:
            try:
                decoded, pe.value = decode_pe(raw)
            except (asn1tools.Error, ValueError, TypeError, KeyError, IndexError) as exc:
                raise PackageError(f"{pe.where}: cannot decode ({_short(exc)})",
                                   source=source) from None
            if decoded != name:  # cannot happen: the tag chose it
                raise PackageError(f"{pe.where}: decodes as {decoded}", source=source)
        pes.append(pe)
    _check_order(pes, source)
    return Package(pes)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _check_order(pes: list[PE], source: str) -> None:
    """Clause 8.1: the ProfileHeader first, PE-End last, each once; PE-MF once; an optional
    files PE (opt-usim, opt-isim) after its NAA's PE."""

    def fail(pe: PE, message: str) -> None:
        raise PackageError(f"{pe.where}: {message}", source=source)

    if pes[0].name != "header":
        fail(pes[0], "the first PE must be the ProfileHeader")
    seen: set[str] = set()
    for i, pe in enumerate(pes):
        if pe.name in ("header", "mf", "end") and pe.name in seen:
            fail(pe, f"a second {pe.name} PE")
        if "end" in seen:
            fail(pe, "after PE-End (which must be last)")
        for opt, naa in (("opt-usim", "usim"), ("opt-isim", "isim")):
            if pe.name == opt and naa not in seen:
                fail(pe, f"{opt} before {naa}")
        seen.add(pe.name)
        if i == len(pes) - 1 and pe.name != "end":
            fail(pe, "the package does not end with PE-End (truncated?)")


def load_package(path: str | Path) -> Package:
    """Read (a regular file of at most MAX_PACKAGE_BYTES: InputError otherwise) and split."""
    data = read_bounded(Path(path), MAX_PACKAGE_BYTES, what="package")
    return read_package(data, source=str(path))
