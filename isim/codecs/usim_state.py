"""Codecs of the USIM files the UE writes (keys, location, security contexts) and of
DF.5GS's TLV files (TS 31.102 clauses 4.2, 4.4.3, 4.4.11).

The fixed layouts are declared once as construct Structs; a value is the mapping of field
names to bytes (hex in JSON) or integers. The TLV files (EF.EPSNSC, EF.5GSxNSC,
EF.5GAUTHKEYS) keep their top-level data objects; EF.SUCI_Calc_Info is typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from construct import Bytes, Int8ub, Struct

from specs import ber

from . import tlv
from .base import Codec, hex_bytes
from .errors import CodecError

__all__ = ["SuciCalcInfo"]

Fields = dict[str, bytes | int]


class _StructCodec(Codec[Fields]):
    layout: ClassVar[Struct]

    def _decode(self, data: bytes) -> tuple[Fields, int]:
        parsed = self.layout.parse(data)
        return {k: v for k, v in parsed.items() if not k.startswith("_")}, self.layout.sizeof()

    def _encode(self, value: Fields, size: int) -> bytes:
        return self.layout.build(value)

    def _to_json(self, value: Fields) -> dict[str, Any]:
        return {k: v.hex() if isinstance(v, bytes) else v for k, v in value.items()}

    def _from_json(self, obj: Mapping[str, Any]) -> Fields:
        out: Fields = {}
        for sub in self.layout.subcons:
            v = obj[sub.name]
            out[sub.name] = int(v) if sub.subcon is Int8ub else hex_bytes(v, sub.name)
        return out


def _struct_codec(codec_name: str, layout: Struct, doc: str,
                  all_ff_is_value: bool = False) -> type[_StructCodec]:
    return type(f"{codec_name.title()}Codec", (_StructCodec,),
                {"name": codec_name, "layout": layout, "__doc__": doc,
                 "all_ff_is_value": all_ff_is_value})


# TS 31.102 4.2.4 / 4.2.5: KSI, CK, IK
_KEYS = Struct("ksi" / Int8ub, "ck" / Bytes(16), "ik" / Bytes(16))
# 4.2.17: TMSI, LAI (PLMN + LAC), RFU, location update status
_LOCI = Struct("tmsi" / Bytes(4), "lai" / Bytes(5), "rfu" / Bytes(1), "update_status" / Int8ub)
# 4.2.23: P-TMSI, P-TMSI signature, RAI (PLMN + LAC + RAC), routing area update status
_PSLOCI = Struct("p_tmsi" / Bytes(4), "p_tmsi_signature" / Bytes(3), "rai" / Bytes(6),
                 "update_status" / Int8ub)
# 4.2.91: GUTI, last visited registered TAI, EPS update status
_EPSLOCI = Struct("guti" / Bytes(12), "last_visited_tai" / Bytes(5), "update_status" / Int8ub)
# 4.4.11.2 / 4.4.11.3: 5G-GUTI, last visited registered TAI (PLMN + TAC), 5GS update status
_LOCI_5GS = Struct("guti" / Bytes(13), "last_visited_tai" / Bytes(6), "update_status" / Int8ub)
# 4.2.51 / 4.2.52: START-CS, START-PS; maximum value of START
_START_HFN = Struct("start_cs" / Bytes(3), "start_ps" / Bytes(3))
_THRESHOLD = Struct("max_start" / Bytes(3))
# 4.2.6: HPLMN search period
_HPPLMN = Struct("search_period" / Int8ub)
# 4.4.3.1 (DF.GSM-ACCESS): Kc, CKSN
_KC = Struct("kc" / Bytes(8), "cksn" / Int8ub)

_STRUCTS = (
    _struct_codec("keys", _KEYS, "EF.KEYS / EF.KEYSPS: KSI, CK, IK (TS 31.102 4.2.4, 4.2.5)"),
    _struct_codec("loci", _LOCI, "EF.LOCI (TS 31.102 4.2.17)"),
    _struct_codec("psloci", _PSLOCI, "EF.PSLOCI (TS 31.102 4.2.23)"),
    _struct_codec("epsloci", _EPSLOCI, "EF.EPSLOCI (TS 31.102 4.2.91)"),
    _struct_codec("loci_5gs", _LOCI_5GS, "EF.5GS3GPPLOCI / 5GSN3GPPLOCI (4.4.11.2/3)"),
    # 'FFFFFF' is a START / THRESHOLD value (the largest), not an empty file
    _struct_codec("start_hfn", _START_HFN, "EF.START-HFN (TS 31.102 4.2.51)", True),
    _struct_codec("threshold", _THRESHOLD, "EF.THRESHOLD (TS 31.102 4.2.52)", True),
    _struct_codec("hpplmn", _HPPLMN, "EF.HPPLMN (TS 31.102 4.2.6)"),
    _struct_codec("kc", _KC, "EF.Kc (TS 31.102 4.4.3.1)"),
)


# -- TLV files -------------------------------------------------------------------------------


def _tlvs(ef: str, data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Top-level (tag, value) pairs up to the 'FF' padding."""
    end = tlv.tlv_span(ef, data)  # checked here: the walk below cannot fail
    return [(tag, bytes(data[v0:v1])) for tag, v0, v1 in ber.iter_tlvs(data, 0, end)], end


class TlvListCodec(Codec[tuple[tuple[int, bytes], ...]]):
    """EF.EPSNSC (4.2.92), EF.5GS3GPPNSC / 5GSN3GPPNSC (4.4.11.4/5), EF.5GAUTHKEYS
    (4.4.11.6): the top-level data objects, values kept as bytes."""

    name = "tlv_list"

    def _decode(self, data: bytes) -> tuple[tuple[tuple[int, bytes], ...], int]:
        items, end = _tlvs(self.ef, data)
        return tuple(items), end

    def _encode(self, value: tuple[tuple[int, bytes], ...], size: int) -> bytes:
        return b"".join(ber.tlv(tag, v) for tag, v in value)

    def _to_json(self, value: tuple[tuple[int, bytes], ...]) -> dict[str, Any]:
        return {"tlvs": [{"tag": f"{t:02X}", "value": v.hex()} for t, v in value]}

    def _from_json(self, obj: Mapping[str, Any]) -> tuple[tuple[int, bytes], ...]:
        return tuple((int(e["tag"], 16), hex_bytes(e["value"], "value")) for e in obj["tlvs"])


_PRIORITY_LIST = 0xA0  # protection scheme identifier list
_KEY_LIST = 0xA1  # home network public key list
_KEY_ID = 0x80
_KEY = 0x81


@dataclass(frozen=True)
class SuciCalcInfo:
    """EF.SUCI_Calc_Info (4.4.11.8): protection schemes in priority order, each (scheme
    identifier, key index: 0 for the null scheme), then the home network public keys (id,
    key)."""

    schemes: tuple[tuple[int, int], ...] = ((0, 0),)
    keys: tuple[tuple[int, bytes], ...] = ()


class SuciCalcInfoCodec(Codec[SuciCalcInfo]):
    name = "suci_calc_info"

    def _decode(self, data: bytes) -> tuple[SuciCalcInfo, int]:
        items, end = _tlvs(self.ef, data)
        schemes: list[tuple[int, int]] = []
        keys: list[tuple[int, bytes]] = []
        for tag, value in items:
            if tag == _PRIORITY_LIST:
                if len(value) % 2:
                    raise CodecError(self.ef, "protection scheme list has an odd length")
                schemes += [(value[i], value[i + 1]) for i in range(0, len(value), 2)]
            elif tag == _KEY_LIST:
                inner, _ = _tlvs(self.ef, value)
                for (t1, kid), (t2, key) in zip(inner[::2], inner[1::2], strict=False):
                    if t1 != _KEY_ID or t2 != _KEY or len(kid) != 1:
                        raise CodecError(self.ef, "key list entry is not 80 01 id 81 L key")
                    keys.append((kid[0], key))
                if len(inner) % 2:
                    raise CodecError(self.ef, "key list entry without its key")
            else:
                raise CodecError(self.ef, f"unexpected tag {tag:02X}")
        return SuciCalcInfo(tuple(schemes), tuple(keys)), end

    def _encode(self, value: SuciCalcInfo, size: int) -> bytes:
        out = ber.tlv(_PRIORITY_LIST, b"".join(bytes(p) for p in value.schemes))
        if value.keys:
            body = b"".join(ber.tlv(_KEY_ID, bytes((i,))) + ber.tlv(_KEY, k)
                            for i, k in value.keys)
            out += ber.tlv(_KEY_LIST, body)
        return out

    def _to_json(self, value: SuciCalcInfo) -> dict[str, Any]:
        return {
            "schemes": [{"scheme": s, "key_index": k} for s, k in value.schemes],
            "keys": [{"id": i, "public_key": k.hex()} for i, k in value.keys],
        }

    def _from_json(self, obj: Mapping[str, Any]) -> SuciCalcInfo:
        return SuciCalcInfo(
            tuple((int(s["scheme"]), int(s["key_index"])) for s in obj["schemes"]),
            tuple((int(k["id"]), hex_bytes(k["public_key"], "public_key"))
                  for k in obj.get("keys", ())),
        )


CODECS: tuple[type[Codec[Any]], ...] = (*_STRUCTS, TlvListCodec, SuciCalcInfoCodec)
