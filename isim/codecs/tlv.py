"""asn1tools glue: the compiled ASN.1 modules and BER-TLV helpers.

`specs/isim.asn` and `specs/uicc.asn` are the definitions; they are compiled once per process.
The `80 L value` data object (EF.IMPI, EF.DOMAIN, EF.IMPU ... records) is on the bureau's hot
path, so `encode_tag80` / `decode_tag80` code it directly with `specs.ber`, as the EF.DIR codec
does (so that a batch run never loads asn1tools, ~0.3 s a process); tests/test_codecs_tlv.py
proves the fast paths give the same bytes and values as asn1tools.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import specs
from specs.ber import BerError, header, length, span, tag_of, tlv

from .errors import CodecError

__all__ = [
    "TAG_DATA_OBJECT",
    "compiled",
    "decode_contents",
    "decode_tag80",
    "decode_type",
    "encode_contents",
    "encode_tag80",
    "encode_type",
    "tlv_span",
]


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


TAG_DATA_OBJECT = tag_of("IMPI")  # '80': the [0] data object of every ISIM EF (isim.asn)


def encode_tag80(value: bytes) -> bytes:
    """`80 L value`: context-specific primitive tag [0] (the asn1tools result, faster)."""
    n = len(value)
    if n < 0x80:  # inline of `tlv` for the common short form: this runs for every identity
        return bytes((TAG_DATA_OBJECT, n)) + value
    return tlv(TAG_DATA_OBJECT, value)


def decode_tag80(ef: str, data: bytes) -> tuple[bytes, int] | None:
    """Value and end offset of a leading `80 L value`.

    None when the data does not start with tag 80 and a 1..4-byte length (asn1tools then
    decides). A length running past the data raises CodecError.
    """
    if len(data) < 2 or data[0] != TAG_DATA_OBJECT:
        return None
    try:
        _, start, n = header(data)
    except BerError:
        return None
    end = start + n
    if end > len(data):
        raise CodecError(
            ef, f"truncated TLV: tag 80 announces {n} bytes, {len(data) - start} follow"
        )
    return bytes(data[start:end]), end


def tlv_span(ef: str, data: bytes) -> int:
    """Length of the run of TLVs at the start of `data`, up to 'FF' padding or the end."""
    try:
        return span(data)
    except BerError as exc:
        raise CodecError(ef, str(exc)) from None


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
    end = tlv_span(ef, data)
    body = bytes(data[:end])
    head = bytes((tag_of(type_name),)) + length(end)
    value, used = decode_type(ef, type_name, head + body)
    if used != end + len(head):
        raise CodecError(ef, "malformed TLV: trailing bytes inside the data objects")
    return value, end


def encode_contents(ef: str, type_name: str, value: Any) -> bytes:
    """Encode a SEQUENCE type and return its contents octets (the '30 L' header stripped)."""
    encoded = encode_type(ef, type_name, value)
    _, start, n = header(encoded)
    return encoded[start : start + n]
