"""BER-TLV, once, for `apdu/` and `isim/` (ISO/IEC 8825-1 clause 8.1; ISO/IEC 7816-4 clause 5.2),
and the tags of the data objects defined in specs' ASN.1 modules.

The tags are those of `specs/uicc.asn` and `specs/isim.asn`: asn1tools compiles the modules and
`specs/tags.json` keeps what it says each tag is, so that a process coding an FCP, an EF.ARR
record or an EF.DIR record never loads asn1tools (~0.2 s a process). The JSON is derived, not
written: `python -m specs.ber` regenerates it, and tests/test_ber.py fails when it differs from
what asn1tools derives from the modules (and proves `tlv`/`header` equal to asn1tools' BER).

Pure: no I/O but reading tags.json once; imports nothing of `apdu` or `isim`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from specs import path

__all__ = [
    "PADDING",
    "TAG_MODULES",
    "BerError",
    "Tags",
    "derive_tags",
    "header",
    "iter_tlvs",
    "length",
    "span",
    "tag_of",
    "tags",
    "tlv",
    "tlv_size",
]

PADDING = 0xFF  # unused bytes after the data objects of a record or transparent EF
TAG_MODULES = ("uicc.asn", "isim.asn")  # the modules whose tags `tags()` knows
TAGS_FILE = "tags.json"
_MAX_LENGTH_OCTETS = 3  # 82 LL is the longest any EF needs; 83 LLL kept for BER


class BerError(ValueError):
    """Malformed BER-TLV: truncated, or a length form this layer does not accept."""


# -- lengths and TLVs ------------------------------------------------------------------------


def length(n: int) -> bytes:
    """Definite length (8825-1 8.1.3): `L` (< 128), `81 L`, `82 LL`, ..."""
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return bytes((0x82, n >> 8, n & 0xFF))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tag_bytes(tag: int) -> bytes:
    return bytes((tag,)) if tag <= 0xFF else tag.to_bytes((tag.bit_length() + 7) // 8, "big")


def tlv(tag: int, value: bytes) -> bytes:
    """`tag L value`; a multi-byte tag is given as one integer (0x5F50)."""
    n = len(value)
    if tag <= 0xFF and n < 0x80:
        return bytes((tag, n)) + value
    return _tag_bytes(tag) + length(n) + value


def tlv_size(n: int, tag: int = 0x80) -> int:
    """Octets of a data object holding an n-octet value."""
    if tag <= 0xFF and n < 0x80:  # the common case, on the validation path: T L V
        return 2 + n
    return len(_tag_bytes(tag)) + (1 if n < 0x80 else len(length(n))) + n


def header(data: bytes, offset: int = 0, end: int | None = None) -> tuple[int, int, int]:
    """(tag, value offset, value length) of the TLV at `offset`; multi-byte tags (8.1.2.4)."""
    n = len(data) if end is None else end
    if offset >= n:
        raise BerError(f"truncated TLV at offset {offset}: no tag")
    pos = offset + 1
    if data[offset] & 0x1F == 0x1F:  # multi-byte tag number
        while pos < n and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= n:
        raise BerError(f"truncated TLV at offset {offset}: no length")
    tag = int.from_bytes(data[offset:pos], "big")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return tag, pos, first
    count = first & 0x7F
    if count == 0 or count > _MAX_LENGTH_OCTETS:
        raise BerError(f"unsupported BER length form {first:02X} at offset {pos - 1}")
    if pos + count > n:
        raise BerError(f"truncated BER length at offset {pos - 1}")
    return tag, pos + count, int.from_bytes(data[pos : pos + count], "big")


def iter_tlvs(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """(tag, value offset, value end) of each TLV in data[start:end], up to 'FF' padding."""
    stop = len(data) if end is None else end
    pos = start
    while pos < stop and data[pos] != PADDING:
        tag, value_start, n = header(data, pos, stop)
        value_end = value_start + n
        if value_end > stop:
            raise BerError(
                f"truncated TLV at offset {pos}: announces {n} bytes, {stop - value_start} follow"
            )
        yield tag, value_start, value_end
        pos = value_end


def span(data: bytes) -> int:
    """Length of the run of TLVs at the start of `data`, up to 'FF' padding or the end."""
    last = 0
    for _, _, value_end in iter_tlvs(data):
        last = value_end
    return last


# -- tags of the ASN.1 modules ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tags:
    """The tags of one ASN.1 type: its own (None for an untagged CHOICE) and its members'."""

    tag: int | None
    members: Mapping[str, int]

    def __getitem__(self, member: str) -> int:
        return self.members[member]

    def names(self) -> dict[int, str]:
        """Tag -> member name (the inverse table, e.g. for reading an FCP)."""
        return {t: name for name, t in self.members.items()}


@cache
def _table() -> dict[str, Tags]:
    with path(TAGS_FILE).open(encoding="utf-8") as fh:
        raw: dict[str, Any] = json.load(fh)
    return {
        name: Tags(
            int(entry["tag"], 16) if entry["tag"] else None,
            MappingProxyType({m: int(t, 16) for m, t in entry["members"].items()}),
        )
        for name, entry in raw.items()
    }


def tags(type_name: str) -> Tags:
    """The tags of an ASN.1 type of TAG_MODULES (`tags("FcpDataObject")["fileIdentifier"]`)."""
    try:
        return _table()[type_name]
    except KeyError:
        raise KeyError(f"{type_name} is not a type of specs/{'/'.join(TAG_MODULES)}") from None


def tag_of(type_name: str) -> int:
    """The tag of a tagged type (`tag_of("FcpTemplate")` is 0x62)."""
    own = tags(type_name).tag
    if own is None:
        raise KeyError(f"{type_name} is an untagged CHOICE")
    return own


def derive_tags() -> dict[str, Any]:
    """What asn1tools says the tags of TAG_MODULES are: the content of specs/tags.json."""
    import asn1tools

    compiled = asn1tools.compile_files([str(path(m)) for m in TAG_MODULES], "ber")
    out: dict[str, Any] = {}
    for name, compiled_type in compiled.types.items():
        typ = compiled_type.type
        members = getattr(typ, "root_members", None) or getattr(typ, "members", None) or []
        own = getattr(typ, "tag", None)
        out[name] = {
            "tag": bytes(own).hex().upper() if own else None,
            "members": {
                m.name: bytes(m.tag).hex().upper() for m in members if getattr(m, "tag", None)
            },
        }
    return out


def render_tags() -> str:
    return json.dumps(derive_tags(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m specs.ber: regenerate specs/tags.json from the modules
    path(TAGS_FILE).write_text(render_tags(), encoding="utf-8")
    print(f"wrote {path(TAGS_FILE)}")
