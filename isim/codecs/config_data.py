"""Codecs of the configuration-data EFs (TS 31.103 clauses 4.2.18, 4.2.19, 4.2.21).

EF.IMSConfigData and EF.MuDMiDConfigData: `80 01 <encoding>` then `81 L <data>`.
EF.XCAPConfigData: `80 L { A0 L { 81 access, 82 number of policy parts, A1 part ... } }`.
The meaning of the encoding byte and of several XCAP fields is not confirmed (digest 7.5),
so those stay bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import tlv
from .base import Codec, hex_bytes
from .errors import CodecError

__all__ = ["ConfigData", "XcapConfigData", "XcapPolicyPart"]


@dataclass(frozen=True)
class ConfigData:
    """EF.IMSConfigData / EF.MuDMiDConfigData: encoding byte and opaque data."""

    encoding: int
    data: bytes


class ConfigDataCodec(Codec[ConfigData]):
    name = "ims_config_data"

    def _decode(self, data: bytes) -> tuple[ConfigData, int]:
        value, end = tlv.decode_contents(self.ef, "ConfigDataContents", data)
        if len(value["encoding"]) != 1:
            raise CodecError(self.ef, "the encoding data object must be 1 byte")
        return ConfigData(value["encoding"][0], bytes(value["data"])), end

    def _encode(self, value: ConfigData, size: int) -> bytes:
        if not 0 <= value.encoding <= 0xFF:
            raise CodecError(self.ef, f"encoding {value.encoding} is not a byte")
        asn = {"encoding": bytes((value.encoding,)), "data": bytes(value.data)}
        return tlv.encode_contents(self.ef, "ConfigDataContents", asn)

    def _to_json(self, value: ConfigData) -> dict[str, Any]:
        return {"encoding": value.encoding, "data": value.data.hex()}

    def _from_json(self, obj: Mapping[str, Any]) -> ConfigData:
        encoding = obj["encoding"]
        if not isinstance(encoding, int) or isinstance(encoding, bool):
            raise CodecError(self.ef, "'encoding' must be an integer")
        return ConfigData(encoding, hex_bytes(obj["data"], "data"))


class MudmidConfigDataCodec(ConfigDataCodec):
    name = "mudmid_config_data"


# -- EF.XCAPConfigData ----------------------------------------------------------------------

# Python field name -> (ASN.1 component of XCAPPolicyPart, is text)
_PART_FIELDS: dict[str, tuple[str, bool]] = {
    "access": ("access", False),
    "application_name": ("applicationName", True),
    "provider_id": ("providerId", True),
    "uri": ("uri", True),
    "xcap_auth_user_name": ("xcapAuthUserName", True),
    "xcap_auth_password": ("xcapAuthPassword", True),
    "xcap_auth_type": ("xcapAuthType", False),
    "address_type": ("addressType", False),
    "address": ("address", False),
    "pdp_auth_type": ("pdpAuthType", False),
    "pdp_auth_name": ("pdpAuthName", True),
    "pdp_auth_secret": ("pdpAuthSecret", True),
}


@dataclass(frozen=True)
class XcapPolicyPart:
    """One `A1` policy part; absent data objects are None."""

    access: bytes | None = None
    application_name: str | None = None
    provider_id: str | None = None
    uri: str | None = None
    xcap_auth_user_name: str | None = None
    xcap_auth_password: str | None = None
    xcap_auth_type: bytes | None = None
    address_type: bytes | None = None
    address: bytes | None = None
    pdp_auth_type: bytes | None = None
    pdp_auth_name: str | None = None
    pdp_auth_secret: str | None = None


@dataclass(frozen=True)
class XcapConfigData:
    access_for_xcap: bytes | None = None
    number_of_policy_parts: int | None = None
    policy_parts: tuple[XcapPolicyPart, ...] = ()


class XcapConfigDataCodec(Codec[XcapConfigData]):
    name = "xcap_config_data"

    def _decode(self, data: bytes) -> tuple[XcapConfigData, int]:
        outer = tlv.decode_tag80(self.ef, data)
        if outer is None:
            outer = tlv.decode_type(self.ef, "XCAPConfigDataDO", data)
        inner, end = outer
        elements, used = tlv.decode_type(self.ef, "XCAPConfigDataPolicy", inner)
        if used != len(inner):
            raise CodecError(self.ef, f"{len(inner) - used} extra byte(s) after the A0 policy")
        access: bytes | None = None
        count: int | None = None
        parts: list[XcapPolicyPart] = []
        for kind, value in elements:
            if kind == "accessForXCAP":
                access = bytes(value)
            elif kind == "numberOfPolicyParts":
                count = value[0]
            elif kind == "policyPart":
                parts.append(
                    XcapPolicyPart(**{py: value.get(asn) for py, (asn, _) in _PART_FIELDS.items()})
                )
            else:
                raise CodecError(self.ef, "unknown data object in the A0 policy")
        return XcapConfigData(access, count, tuple(parts)), end

    def _encode(self, value: XcapConfigData, size: int) -> bytes:
        elements: list[tuple[str, Any]] = []
        if value.access_for_xcap is not None:
            elements.append(("accessForXCAP", bytes(value.access_for_xcap)))
        if value.number_of_policy_parts is not None:
            if not 0 <= value.number_of_policy_parts <= 0xFF:
                raise CodecError(self.ef, "number_of_policy_parts must be 0..255")
            elements.append(("numberOfPolicyParts", bytes((value.number_of_policy_parts,))))
        for part in value.policy_parts:
            asn = {
                asn_name: getattr(part, py)
                for py, (asn_name, _) in _PART_FIELDS.items()
                if getattr(part, py) is not None
            }
            elements.append(("policyPart", asn))
        inner = tlv.encode_type(self.ef, "XCAPConfigDataPolicy", elements)
        return tlv.encode_tag80(inner)

    def _to_json(self, value: XcapConfigData) -> dict[str, Any]:
        def part_json(part: XcapPolicyPart) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for f in fields(part):
                v = getattr(part, f.name)
                if v is not None:
                    out[f.name] = v if _PART_FIELDS[f.name][1] else v.hex()
            return out

        return {
            "access_for_xcap": (
                None if value.access_for_xcap is None else value.access_for_xcap.hex()
            ),
            "number_of_policy_parts": value.number_of_policy_parts,
            "policy_parts": [part_json(p) for p in value.policy_parts],
        }

    def _from_json(self, obj: Mapping[str, Any]) -> XcapConfigData:
        parts = []
        for raw in obj.get("policy_parts", []):
            if not isinstance(raw, Mapping):
                raise CodecError(self.ef, "each policy part must be an object")
            unknown = set(raw) - set(_PART_FIELDS)
            if unknown:
                raise CodecError(self.ef, f"unknown policy part keys {sorted(unknown)}")
            kwargs: dict[str, Any] = {}
            for key, v in raw.items():
                if v is None:
                    continue
                if _PART_FIELDS[key][1]:
                    if not isinstance(v, str):
                        raise CodecError(self.ef, f"{key!r} must be a string")
                    kwargs[key] = v
                else:
                    kwargs[key] = hex_bytes(v, key)
            parts.append(XcapPolicyPart(**kwargs))
        access = obj.get("access_for_xcap")
        count = obj.get("number_of_policy_parts")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise CodecError(self.ef, "'number_of_policy_parts' must be an integer")
        return XcapConfigData(
            None if access is None else hex_bytes(access, "access_for_xcap"), count, tuple(parts)
        )


CODECS: tuple[type[Codec[Any]], ...] = (
    ConfigDataCodec,
    MudmidConfigDataCodec,
    XcapConfigDataCodec,
)
