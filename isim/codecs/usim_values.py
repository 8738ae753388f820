"""Value codings shared by the USIM files (TS 31.102, TS 24.008, TS 23.038).

* PLMN identities (TS 24.008 10.5.1.3, TS 31.102 4.2.5): 3 bytes, MCC/MNC BCD nibbles;
* access technology identifiers of the xPLMNwAcT files (TS 31.102 4.2.5, table 4.2.5.1);
* swapped BCD digit strings ('F' padded: EF.ECC, EF.MSISDN, EF.Routing_Indicator);
* alpha identifiers (TS 31.102 4.4.2.3 -> TS 102 221 annex A): the SMS default alphabet of
  TS 23.038 6.2.1 with b8 = 0, or UCS2 (coding '80').
"""

from __future__ import annotations

import re

__all__ = [
    "ACT_BITS",
    "decode_act",
    "decode_alpha",
    "decode_bcd",
    "decode_plmn",
    "encode_act",
    "encode_alpha",
    "encode_bcd",
    "encode_plmn",
    "plmn_of_imsi",
]

_PLMN = re.compile(r"[0-9]{5,6}")

# TS 31.102 4.2.5: AcT byte 1 b8..b1, byte 2 b8..b3, as one 16-bit big-endian integer.
ACT_BITS: dict[str, int] = {
    "utran": 0x8000,
    "e-utran": 0x4000,
    "e-utran-wb-s1": 0x2000,
    "e-utran-nb-s1": 0x1000,
    "ng-ran": 0x0800,
    "sat-ng-ran": 0x0400,
    "sat-e-utran-wb-s1": 0x0200,
    "sat-e-utran-nb-s1": 0x0100,
    "gsm": 0x0080,
    "gsm-compact": 0x0040,
    "cdma2000-hrpd": 0x0020,
    "cdma2000-1xrtt": 0x0010,
    "ec-gsm-iot-b4": 0x0008,  # with gsm: 01 GSM only, 10 EC-GSM-IoT only (b4 b3)
    "ec-gsm-iot-b3": 0x0004,
}


def encode_plmn(plmn: str) -> bytes:
    """'00101' (MCC 001, MNC 01) -> 00 F1 10; a 6-digit string has a 3-digit MNC."""
    if not isinstance(plmn, str) or not _PLMN.fullmatch(plmn):
        raise ValueError(f"PLMN must be MCC + MNC, 5 or 6 decimal digits, not {plmn!r}")
    d = [int(c) for c in plmn]
    mnc3 = d[5] if len(d) == 6 else 0xF
    return bytes(((d[1] << 4) | d[0], (mnc3 << 4) | d[2], (d[4] << 4) | d[3]))


def decode_plmn(data: bytes) -> str | None:
    """3 bytes -> '00101' / '310410'; None for an unused entry (FF FF FF)."""
    if data == b"\xff\xff\xff":
        return None
    nibbles = [data[0] & 0xF, data[0] >> 4, data[1] & 0xF, data[2] & 0xF, data[2] >> 4]
    if any(n > 9 for n in nibbles):
        raise ValueError(f"PLMN {data.hex()} is not BCD")
    mnc3 = data[1] >> 4
    if mnc3 != 0xF and mnc3 > 9:
        raise ValueError(f"PLMN {data.hex()} is not BCD")
    return "".join(map(str, nibbles)) + ("" if mnc3 == 0xF else str(mnc3))


def plmn_of_imsi(imsi: str, mnc_length: int) -> str:
    """The home PLMN (MCC + MNC) of an IMSI."""
    return imsi[: 3 + mnc_length]


def encode_act(names: list[str] | tuple[str, ...]) -> bytes:
    bits = 0
    for name in names:
        if name not in ACT_BITS:
            raise ValueError(f"unknown access technology {name!r} (one of {', '.join(ACT_BITS)})")
        bits |= ACT_BITS[name]
    return bits.to_bytes(2, "big")


def decode_act(data: bytes) -> tuple[str, ...]:
    bits = int.from_bytes(data, "big")
    unknown = bits & ~sum(ACT_BITS.values())
    if unknown:
        raise ValueError(f"access technology {data.hex()} has RFU bits set")
    return tuple(name for name, bit in ACT_BITS.items() if bits & bit)


def encode_bcd(digits: str, size: int, what: str = "number") -> bytes:
    """Swapped BCD, 'F' padded to `size` bytes ('112' -> 11 F2 FF for size 3)."""
    if not digits.isascii() or not digits.isdigit() or len(digits) > 2 * size:
        raise ValueError(f"{what} must be 1 to {2 * size} decimal digits, not {digits!r}")
    text = digits.ljust(2 * size, "F")
    return bytes(int(text[i + 1], 16) << 4 | int(text[i], 16) for i in range(0, len(text), 2))


def decode_bcd(data: bytes, what: str = "number") -> str:
    """Swapped BCD up to the first 'F' filler (after which only fillers may follow)."""
    nibbles = [n for b in data for n in (b & 0xF, b >> 4)]
    out = []
    for i, n in enumerate(nibbles):
        if n == 0xF:
            if any(m != 0xF for m in nibbles[i:]):
                raise ValueError(f"{what}: digit after the 'F' filler")
            break
        if n > 9:
            raise ValueError(f"{what}: non-BCD nibble {n:X}")
        out.append(str(n))
    return "".join(out)


# TS 23.038 6.2.1: the GSM 7 bit default alphabet (0x1B, the escape, is not a character here)
_GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_INDEX = {c: i for i, c in enumerate(_GSM7) if c != "\x1b"}
_UCS2 = 0x80  # TS 102 221 annex A: '80' UCS2; '81', '82' a half page of UCS2 (decoded only)
_UCS2_HALF_PAGE = 0x81
_UCS2_PAGE = 0x82


def encode_alpha(text: str) -> bytes:
    """Default alphabet when every character has one, else UCS2 ('80' + UTF-16BE)."""
    if all(c in _GSM7_INDEX for c in text):
        return bytes(_GSM7_INDEX[c] for c in text)
    data = text.encode("utf-16-be")
    if len(data) != 2 * len(text):
        raise ValueError(f"{text!r} has characters outside UCS2")
    return bytes((_UCS2,)) + data


def decode_alpha(data: bytes) -> str:
    """An alpha identifier without its 'FF' padding."""
    if data[:1] == bytes((_UCS2,)):
        body = data[1:]
        end = len(body) - len(body) % 2  # an odd last byte is padding
        while end >= 2 and body[end - 2 : end] == b"\xff\xff":
            end -= 2
        return body[:end].decode("utf-16-be")
    if data[:1] == bytes((_UCS2_HALF_PAGE,)):  # 81 n base(15..8) chars
        return _half_page(data[3:], data[1:2], data[2] << 7 if len(data) > 2 else -1)
    if data[:1] == bytes((_UCS2_PAGE,)):  # 82 n base(16 bits) chars
        return _half_page(data[4:], data[1:2], int.from_bytes(data[2:4]) if len(data) > 3 else -1)
    text = data.rstrip(b"\xff")
    if any(b >= 0x80 or b == 0x1B for b in text):
        raise ValueError("alpha identifier is not in the SMS default alphabet")
    return "".join(_GSM7[b] for b in text)


def _half_page(chars: bytes, count: bytes, base: int) -> str:
    """TS 102 221 annex A, codings '81' and '82': `count` characters, each a default
    alphabet character (b8 = 0) or b7..b1 added to the UCS2 base pointer (b8 = 1)."""
    if not count or base < 0:
        raise ValueError("UCS2 alpha identifier truncated before its characters")
    n = count[0]
    if len(chars) < n:
        raise ValueError(f"UCS2 alpha identifier announces {n} characters, holds {len(chars)}")
    out = []
    for b in chars[:n]:
        if b < 0x80:
            if b == 0x1B:
                raise ValueError("alpha identifier uses the default alphabet's extension table")
            out.append(_GSM7[b])
            continue
        code = base + (b & 0x7F)
        if 0xD800 <= code <= 0xDFFF or code > 0xFFFF:
            raise ValueError(f"UCS2 alpha identifier character U+{code:04X} is not UCS2")
        out.append(chr(code))
    return "".join(out)
