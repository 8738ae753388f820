"""Instruction codes (INS) of the UICC commands, ETSI TS 102 221 clause 10.1.2, table 10.5.

The one home of these numbers: the engine's dispatch, the host side (inspect, personalize
scripts and the writer), the trace masking and the tools import them from here.
"""

from __future__ import annotations

# ISO/IEC 7816-4 interindustry class (CLA 0X / 4X / 6X)
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_UPDATE_BINARY = 0xD6
INS_READ_RECORD = 0xB2
INS_UPDATE_RECORD = 0xDC
INS_SEARCH_RECORD = 0xA2
INS_VERIFY = 0x20
INS_CHANGE_PIN = 0x24
INS_DISABLE_PIN = 0x26
INS_ENABLE_PIN = 0x28
INS_UNBLOCK_PIN = 0x2C
INS_DEACTIVATE_FILE = 0x04
INS_ACTIVATE_FILE = 0x44
INS_AUTHENTICATE = 0x88
INS_GET_CHALLENGE = 0x84
INS_MANAGE_CHANNEL = 0x70
INS_GET_RESPONSE = 0xC0

# ETSI proprietary class (CLA 8X / CX / EX)
INS_STATUS = 0xF2
INS_TERMINAL_PROFILE = 0x10
INS_TERMINAL_CAPABILITY = 0xAA

# the PIN commands: their data field is a secret (trace masking)
PIN_INS = frozenset({INS_VERIFY, INS_CHANGE_PIN, INS_DISABLE_PIN, INS_ENABLE_PIN, INS_UNBLOCK_PIN})
# AUTHENTICATE: its response holds keys (trace masking)

# SELECT (TS 102 221 clause 11.1.1.2, tables 11.1 and 11.2)
SELECT_BY_FID = 0x00  # P1: select by file identifier (MF, DF or EF)
SELECT_BY_AID = 0x04  # P1: select by DF name (an application's AID)
SELECT_BY_PATH = 0x08  # P1: select by path from the MF (7FFF: the current application)
SELECT_RETURN_FCP = 0x04  # P2: return the FCP template
SELECT_RETURN_NONE = 0x0C  # P2: no data returned

# READ / UPDATE RECORD P2 b3..b1 (clause 11.1.5): the record mode
RECORD_NEXT = 0x02
RECORD_PREVIOUS = 0x03
RECORD_ABSOLUTE = 0x04  # absolute, or current when P1 = 00
