"""Status words, named after ETSI TS 102 221 clause 10.2.1 and 3GPP TS 31.103 clause 7.1.3."""

from __future__ import annotations

SW_OK = 0x9000

# 62xx warnings, NV memory unchanged
SW_WARNING_END_OF_FILE = 0x6282  # end of file/record reached before Le bytes; unsuccessful search
SW_WARNING_FILE_DEACTIVATED = 0x6283  # selected file invalidated

# 63CX: PIN verification failed, X retries left
SW_VERIFICATION_FAILED = 0x63C0  # OR with the remaining tries

# 67xx .. 6Fxx checking errors
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
SW_SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
SW_COMMAND_NOT_ALLOWED = 0x6900
SW_COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE = 0x6981
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCED_DATA_INVALIDATED = 0x6984
SW_CONDITIONS_OF_USE_NOT_SATISFIED = 0x6985
SW_NO_EF_SELECTED = 0x6986
SW_INCORRECT_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_NOT_ENOUGH_MEMORY = 0x6A84
SW_INCORRECT_P1_P2 = 0x6A86
SW_LC_INCONSISTENT_WITH_P1_P2 = 0x6A87
SW_REFERENCED_DATA_NOT_FOUND = 0x6A88
SW_WRONG_P1_P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_TECHNICAL_PROBLEM = 0x6F00

# T=0 procedure bytes (TS 102 221 clause 7.3.1.1.4)
SW_RESPONSE_BYTES_AVAILABLE = 0x6100  # OR with the number of bytes
SW_WRONG_LE = 0x6C00  # OR with the right Le

# Application errors, TS 31.103 clause 7.1.3 / TS 31.102 clause 7.3
SW_AUTH_MAC_FAILURE = 0x9862  # authentication error, incorrect MAC
SW_AUTH_CONTEXT_NOT_SUPPORTED = 0x9864  # authentication error, security context not supported


# SW1 values a UICC may answer with (TS 102 221 clause 10.2: 61/62/63, 67-6F, 90/91/92/93/98)
VALID_SW1 = frozenset(
    {0x61, 0x62, 0x63, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x90, 0x91, 0x98}
)


_SW_BYTES: dict[int, bytes] = {}


def sw_bytes(sw: int) -> bytes:
    """The two status bytes SW1 SW2 (one bytes object per status word, kept)."""
    b = _SW_BYTES.get(sw)
    if b is None:
        b = _SW_BYTES[sw] = sw.to_bytes(2, "big")
    return b


# the status words as bytes, under names distinct from the integers above
SW_OK_BYTES = sw_bytes(SW_OK)
SW_TECHNICAL_PROBLEM_BYTES = sw_bytes(SW_TECHNICAL_PROBLEM)

# Added for the engine (ISO/IEC 7816-4 clause 5.6 / TS 102 221 clause 10.2.1.5)
SW_CLA_FUNCTION_NOT_SUPPORTED = 0x6800
SW_COMMAND_CHAINING_NOT_SUPPORTED = 0x6884
