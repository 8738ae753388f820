"""Codecs of the MF-level files (ETSI TS 102 221 clause 13) and the FCP template.

EF.DIR (13.1), EF.ICCID (13.2), EF.PL (13.5), EF.ARR (13.4 / 9.2.7, via apdu.arr).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from construct import Array, Bytes, GreedyRange

from apdu import arr
from specs import ber

from . import tlv
from .base import Codec, hex_bytes
from .errors import CodecError

__all__ = ["ApplicationTemplate", "decode_fcp", "encode_fcp"]


# -- EF.DIR (13.1) --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationTemplate:
    """An EF.DIR record `61 { 4F AID, 50 label }`; other data objects are not kept."""

    aid: bytes
    label: str | None = None


_APPLICATION_TEMPLATE = ber.tags("ApplicationTemplate")


class DirCodec(Codec[ApplicationTemplate]):
    name = "dir"

    def _decode(self, data: bytes) -> tuple[ApplicationTemplate, int]:
        value, end = tlv.decode_type(self.ef, "ApplicationTemplate", data)
        aid = bytes(value["aid"])
        if not 1 <= len(aid) <= 16:
            raise CodecError(self.ef, f"AID of {len(aid)} bytes (1..16 allowed)")
        return ApplicationTemplate(aid, value.get("label")), end

    def _encode(self, value: ApplicationTemplate, size: int) -> bytes:
        if not 1 <= len(value.aid) <= 16:
            raise CodecError(self.ef, f"AID of {len(value.aid)} bytes (1..16 allowed)")
        # 61 L { 4F L <AID> [50 L <label>] } (TS 102 221 clause 13.1): ApplicationTemplate
        # of specs/uicc.asn, coded without loading asn1tools
        t = _APPLICATION_TEMPLATE
        body = ber.tlv(t["aid"], bytes(value.aid))
        if value.label is not None:
            body += ber.tlv(t["label"], value.label.encode("utf-8"))
        return ber.tlv(t.tag, body)  # type: ignore[arg-type]

    def _to_json(self, value: ApplicationTemplate) -> dict[str, Any]:
        return {"aid": value.aid.hex(), "label": value.label}

    def _from_json(self, obj: Mapping[str, Any]) -> ApplicationTemplate:
        label = obj.get("label")
        if label is not None and not isinstance(label, str):
            raise CodecError(self.ef, "'label' must be a string or null")
        return ApplicationTemplate(hex_bytes(obj["aid"], "aid"), label)


# -- EF.ICCID (13.2): BCD, nibbles swapped, 'F' padded ---------------------------------------

# swapped BCD (TS 102 221 13.2, TS 31.102 4.2.2): each byte with its two nibbles exchanged
SWAP_NIBBLES = bytes(((b & 0x0F) << 4) | (b >> 4) for b in range(256))


class IccidCodec(Codec[str]):
    name = "iccid"

    def _decode(self, data: bytes) -> tuple[str, int]:
        nibbles = []
        for byte in data:
            nibbles += (byte & 0x0F, byte >> 4)  # low nibble is the first digit
        digits = []
        for i, nibble in enumerate(nibbles):
            if nibble == 0xF:
                if any(n != 0xF for n in nibbles[i:]):
                    raise CodecError(self.ef, f"digit after the 'F' filler at nibble {i}")
                break
            if nibble > 9:
                raise CodecError(self.ef, f"non-BCD nibble {nibble:X} at nibble {i}")
            digits.append(str(nibble))
        return "".join(digits), len(data)

    def _encode(self, value: str, size: int) -> bytes:
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise CodecError(self.ef, f"ICCID must be decimal digits, not {value!r}")
        if len(value) % 2:
            value += "F"
        # the digits read as hex give each pair's first digit in the high nibble: swap them
        return bytes.fromhex(value).translate(SWAP_NIBBLES)

    def _to_json(self, value: str) -> dict[str, Any]:
        return {"iccid": value}

    def _from_json(self, obj: Mapping[str, Any]) -> str:
        return obj["iccid"]


# -- EF.PL (13.5): 2-byte language codes, unused entries 'FFFF' -----------------------------

_PL = GreedyRange(Bytes(2))


class PlCodec(Codec[tuple[str, ...]]):
    name = "pl"

    def _decode(self, data: bytes) -> tuple[tuple[str, ...], int]:
        languages = []
        for entry in _PL.parse(data):
            if entry == b"\xff\xff":
                break
            if not all(0x20 < b < 0x7F for b in entry):
                raise CodecError(self.ef, f"language code {entry.hex()} is not ASCII")
            languages.append(entry.decode("ascii"))
        return tuple(languages), 2 * len(languages)

    def _encode(self, value: tuple[str, ...], size: int) -> bytes:
        for code in value:
            if not isinstance(code, str) or len(code) != 2 or not code.isascii():
                raise CodecError(self.ef, f"language code {code!r} is not 2 ASCII characters")
        return Array(len(value), Bytes(2)).build([c.encode("ascii") for c in value])

    def _to_json(self, value: tuple[str, ...]) -> dict[str, Any]:
        return {"languages": list(value)}

    def _from_json(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        languages = obj["languages"]
        if not isinstance(languages, list):
            raise CodecError(self.ef, "'languages' must be a list")
        return tuple(languages)


# -- EF.ARR (13.4, 9.2.7) -------------------------------------------------------------------


class ArrCodec(Codec[arr.AccessRule]):
    """One EF.ARR record as an `apdu.arr.AccessRule`.

    JSON: `{"rules": [{"operations": ["read"], "condition": ["PIN1"]}, ...]}` where a
    rule's mode is `operations` (AM byte) or `command` (`{"ins": "D4", ...}`) and its
    condition is "always", "never", or a list of alternatives, each a key name / hex key ref
    or a list of them that must all be verified.
    """

    name = "arr"

    def _decode(self, data: bytes) -> tuple[arr.AccessRule, int]:
        try:
            return arr.parse_rule(data)
        except arr.ArrError as exc:
            raise CodecError(self.ef, str(exc)) from None

    def _encode(self, value: arr.AccessRule, size: int) -> bytes:
        try:
            return arr.encode_access_rule(value)
        except arr.ArrError as exc:
            raise CodecError(self.ef, str(exc)) from None

    @staticmethod
    def _key_names() -> dict[int, str]:
        from specs.layout import layout

        return {v: k for k, v in layout().key_references.items()}

    def _to_json(self, value: arr.AccessRule) -> dict[str, Any]:
        names = self._key_names()

        def key_name(ref: int) -> str:
            return names.get(ref, f"{ref:02X}")

        out = []
        for mode, cond in value.rules:
            entry: dict[str, Any]
            if mode.am_byte is not None:
                entry = {"operations": list(mode.operations), "am_byte": f"{mode.am_byte:02X}"}
            else:
                fields = {"cla": mode.cla, "ins": mode.ins, "p1": mode.p1, "p2": mode.p2}
                entry = {"command": {k: f"{v:02X}" for k, v in fields.items() if v is not None}}
            if cond.kind != "keys":
                entry["condition"] = cond.kind
            else:
                entry["condition"] = [
                    key_name(min(alt)) if len(alt) == 1 else [key_name(r) for r in sorted(alt)]
                    for alt in cond.alternatives
                ]
            out.append(entry)
        return {"rules": out}

    def _from_json(self, obj: Mapping[str, Any]) -> arr.AccessRule:
        from specs.layout import layout

        refs = layout().key_references

        def ref(item: Any) -> int:
            if isinstance(item, int) and not isinstance(item, bool):
                return item
            if isinstance(item, str):
                if item.upper() in {k.upper() for k in refs}:
                    return {k.upper(): v for k, v in refs.items()}[item.upper()]
                return int(item, 16)
            raise ValueError(f"bad key reference {item!r}")

        rules = []
        for entry in obj["rules"]:
            if "am_byte" in entry:
                mode = arr.AccessMode(am_byte=int(entry["am_byte"], 16))
            elif "operations" in entry:
                bits = 0
                for op in entry["operations"]:
                    if op not in arr.OPERATION_BITS:
                        raise CodecError(self.ef, f"unknown operation {op!r}")
                    bits |= arr.OPERATION_BITS[op]
                mode = arr.AccessMode(am_byte=bits)
            else:
                cmd = {k: int(v, 16) for k, v in entry["command"].items()}
                mode = arr.AccessMode(**cmd)
            raw = entry["condition"]
            if raw == "always":
                cond = arr.ALWAYS
            elif raw == "never":
                cond = arr.NEVER
            else:
                cond = arr.NEVER
                for alt in raw:
                    keys = alt if isinstance(alt, list) else [alt]
                    cond = cond | arr.key(*(ref(k) for k in keys))
            rules.append((mode, cond))
        return arr.AccessRule(tuple(rules))


# -- FCP template (11.1.1.3) ----------------------------------------------------------------


def decode_fcp(data: bytes) -> list[tuple[str, Any]]:
    """The FCP data objects in card order, e.g. `[("fileDescriptor", b"\\x41\\x21"), ...]`.

    `pinStatusTemplate` is decoded into its own list of (name, bytes). Card-proprietary data
    objects unknown to specs/uicc.asn are left out.
    """
    items, end = tlv.decode_type("FCP", "FcpTemplate", data)
    if data[end:].rstrip(b"\xff"):
        raise CodecError("FCP", "bytes after the FCP template")
    out: list[tuple[str, Any]] = []
    for name, value in items:
        if name is None:
            continue
        if name == "pinStatusTemplate":
            value, _ = tlv.decode_contents("FCP", "PinStatusContents", value)
        elif name == "proprietaryInformation":
            value = [(n, v) for n, v in value if n is not None]
        out.append((name, value))
    return out


def encode_fcp(items: list[tuple[str, Any]]) -> bytes:
    """The reverse of `decode_fcp` (order kept)."""
    prepared: list[tuple[str, Any]] = []
    for name, value in items:
        if name == "pinStatusTemplate" and isinstance(value, list):
            value = tlv.encode_contents("FCP", "PinStatusContents", value)
        prepared.append((name, value))
    return tlv.encode_type("FCP", "FcpTemplate", prepared)


CODECS: tuple[type[Codec[Any]], ...] = (DirCodec, IccidCodec, PlCodec, ArrCodec)
