"""One codec per EF of specs/filesystem.yaml: bytes <-> typed values <-> JSON.

    >>> from isim.codecs import codec_for
    >>> codec_for("IMPI").decode(bytes.fromhex("800d616c69636540696d732e636f6d"))
    'alice@ims.com'

Each `Codec` has `.spec` (the EFSpec), `decode`, `decode_detailed`, `encode(value, size=None)`,
`to_json` and `from_json`. An all-FF file or record is the value None.
"""

from __future__ import annotations

from apdu.arr import AccessRule, Condition

from .base import Codec, Decoded
from .binary import AdministrativeData, GbaBootstrapping, ImsDataChannelIndication
from .config_data import ConfigData, XcapConfigData, XcapPolicyPart
from .errors import CodecError, SizeError
from .identities import GbaNafEntry, GbaUapiEntry, PcscfAddress
from .registry import CODEC_CLASSES, codec_for
from .sms import ShortMessage, SmsParameters, SmsStatus, SmsStatusReport
from .uicc import ApplicationTemplate, decode_fcp, encode_fcp

__all__ = [
    "CODEC_CLASSES",
    "AccessRule",
    "AdministrativeData",
    "ApplicationTemplate",
    "Codec",
    "CodecError",
    "Condition",
    "ConfigData",
    "Decoded",
    "GbaBootstrapping",
    "GbaNafEntry",
    "GbaUapiEntry",
    "ImsDataChannelIndication",
    "PcscfAddress",
    "ShortMessage",
    "SizeError",
    "SmsParameters",
    "SmsStatus",
    "SmsStatusReport",
    "XcapConfigData",
    "XcapPolicyPart",
    "codec_for",
    "decode_fcp",
    "encode_fcp",
]
