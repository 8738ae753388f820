"""asn1tools glue: the compiled ASN.1 modules and BER-TLV helpers.

`specs/isim.asn` and `specs/uicc.asn` are the definitions; they are compiled once per process.
The `80 L value` data object (EF.IMPI, EF.DOMAIN, EF.IMPU ... records) is on the bureau's hot
path, so `encode_tag80` / `decode_tag80` code it directly, as `encode_tlv` does for an EF.DIR
record (so that a batch run never loads asn1tools, ~0.3 s a process); tests/test_codecs_tlv.py
proves the fast paths give the same bytes and values as asn1tools.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import specs

from .errors import CodecError

__all__ = [
    "ber_length",
    "compiled",
    "decode_contents",
    "decode_tag80",
    "decode_type",
    "encode_contents",
    "encode_tag80",
    "encode_tlv",
    "encode_type",
    "tlv_span",
]

PADDING = 0xFF


@cache
def compiled() -> Any:
    """The ISIM and UICC ASN.1 modules compiled for BER (once per process)."""
    import asn1tools  # imported on first use: it costs ~150 ms, the fast paths never need it

    files = [str(specs.path("isim.asn")), str(specs.path("uicc.asn"))]
    return asn1tools.compile_files(files, "ber")


def _asn1_error() -> type[Exception]:
    """asn1tools' base exception (asn1tools is loaded whenever one can be raised)."""
    import asn1tools

    return asn1tools.Error


def ber_length(n: int) -> bytes:
    """BER definite length (ISO/IEC 8825-1 8.1.3; digest 1.2): `L`, `81 L`, `82 LL`."""
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return bytes((0x82, n >> 8, n & 0xFF))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")  # beyond any EF; kept for BER
    return bytes((0x80 | len(body),)) + body


def encode_tag80(value: bytes) -> bytes:
    """`80 L value`: context-specific primitive tag [0] (the asn1tools result, faster)."""
    n = len(value)
    if n < 0x80:
        return bytes((0x80, n)) + value
    return b"\x80" + ber_length(n) + value


def encode_tlv(tag: int, value: bytes) -> bytes:
    """`tag L value` for a one-byte tag (what asn1tools gives, without loading it)."""
    n = len(value)
    return bytes((tag, n)) + value if n < 0x80 else bytes((tag,)) + ber_length(n) + value


def decode_tag80(ef: str, data: bytes) -> tuple[bytes, int] | None:
    """Value and end offset of a leading `80 L value`.

    None when the data does not start with tag 80 and a 1..3-byte length (asn1tools then
    decides). A length running past the data raises CodecError.
    """
    if len(data) < 2 or data[0] != 0x80:
        return None
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    elif first == 0x81 and len(data) >= 3:
        length, start = data[2], 3
    elif first == 0x82 and len(data) >= 4:
        length, start = (data[2] << 8) | data[3], 4
    else:
        return None
    end = start + length
    if end > len(data):
        raise CodecError(
            ef, f"truncated TLV: tag 80 announces {length} bytes, {len(data) - start} follow"
        )
    return bytes(data[start:end]), end


def _header(data: bytes, offset: int) -> tuple[int, int]:
    """(value offset, value length) of the TLV at `offset`; multi-byte tags allowed."""
    n = len(data)
    pos = offset + 1
    if data[offset] & 0x1F == 0x1F:  # multi-byte tag number (8825-1 8.1.2.4)
        while pos < n and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= n:
        raise ValueError(f"truncated TLV at offset {offset}: no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return pos, first
    count = first & 0x7F
    if count == 0 or count > 3:
        raise ValueError(f"unsupported BER length form {first:02X} at offset {pos - 1}")
    if pos + count > n:
        raise ValueError(f"truncated BER length at offset {pos - 1}")
    return pos + count, int.from_bytes(data[pos : pos + count], "big")


def tlv_span(ef: str, data: bytes) -> int:
    """Length of the run of TLVs at the start of `data`, up to 'FF' padding or the end."""
    offset = 0
    n = len(data)
    try:
        while offset < n and data[offset] != PADDING:
            start, length = _header(data, offset)
            if start + length > n:
                raise ValueError(
                    f"truncated TLV at offset {offset}: announces {length} bytes, "
                    f"{n - start} follow"
                )
            offset = start + length
    except ValueError as exc:
        raise CodecError(ef, str(exc)) from None
    return offset


def _problem(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"bad UTF-8 at byte {exc.start} of a text value"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"malformed TLV: {text}"


def decode_type(ef: str, type_name: str, data: bytes) -> tuple[Any, int]:
    """Decode one ASN.1 value at the start of `data`: (value, bytes consumed)."""
    try:
        return compiled().decode_with_length(type_name, bytes(data))
    except (_asn1_error(), ValueError, IndexError, TypeError, KeyError) as exc:
        raise CodecError(ef, _problem(exc)) from None
    except RecursionError:
        raise CodecError(ef, "malformed TLV: templates nested too deeply") from None


def encode_type(ef: str, type_name: str, value: Any) -> bytes:
    try:
        return bytes(compiled().encode(type_name, value))
    except (_asn1_error(), ValueError, TypeError, KeyError) as exc:
        raise CodecError(ef, f"cannot encode: {exc}") from None


def decode_contents(ef: str, type_name: str, data: bytes) -> tuple[Any, int]:
    """Decode a bare concatenation of TLVs as the contents octets of a SEQUENCE type.

    The TLV run ends at 'FF' padding or the end of the data; a '30 L' header is put in
    front of it so that asn1tools sees one SEQUENCE (see the note in specs/isim.asn).
    """
    span = tlv_span(ef, data)
    body = bytes(data[:span])
    value, used = decode_type(ef, type_name, b"\x30" + ber_length(span) + body)
    if used != span + 1 + len(ber_length(span)):
        raise CodecError(ef, "malformed TLV: trailing bytes inside the data objects")
    return value, span


def encode_contents(ef: str, type_name: str, value: Any) -> bytes:
    """Encode a SEQUENCE type and return its contents octets (the '30 L' header stripped)."""
    encoded = encode_type(ef, type_name, value)
    start, length = _header(encoded, 0)
    return encoded[start : start + length]
