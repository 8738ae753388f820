"""The numbers of AUTHENTICATE at the card (TS 31.102 clause 7.1.2, TS 31.103 clause 7.1.2):
the security contexts named by P2 and the tags of the command and response data.

The one home of these values: the ISIM application, its IMS AKA and GBA handlers, the
network-side helpers and the tools import them from here (and so will the USIM).
"""

from __future__ import annotations

# P2: b8 = 1 (application-specific reference data), b3..b1 = the security context
P2_GSM = 0x80  # TS 31.102 7.1.2: GSM context (USIM)
P2_3G = 0x81  # TS 31.102 7.1.2: 3G context (USIM)
P2_IMS_AKA = P2_3G  # TS 31.103 7.1.2: IMS AKA, the same coding at the ISIM
P2_GBA = 0x84  # GBA security context (TS 31.103 7.1.2, TS 31.102 7.1.2.4)

# the first byte of the response data
TAG_SUCCESS = 0xDB  # successful 3G / IMS AKA / GBA context
TAG_SYNC_FAILURE = 0xDC  # synchronisation failure: AUTS follows
# the first byte of GBA command data (TS 31.102 7.1.2.4)
TAG_GBA_BOOTSTRAP = 0xDD  # bootstrapping mode: RAND, AUTN
TAG_GBA_NAF_DERIVATION = 0xDE  # NAF derivation mode: NAF_ID, IMPI

# The AMF isim's network side puts into a vector: the "separation bit" (b15) set, which
# EAP-AKA' requires (TS 33.402 6.2; wpa_supplicant rejects AKA' vectors without it)
AMF_DEFAULT = b"\x80\x00"
