"""Encode/decode vectors of the USIM files (spec-digest-wave2 1.3, 1.4; "digest" marks bytes
taken from it, the others were assembled by hand from the layouts it gives)."""

from __future__ import annotations

from isim.codecs.usim import (
    EmergencyNumber,
    Msisdn,
    PlmnAct,
    ServiceProviderName,
    UsimAdministrativeData,
)
from isim.codecs.usim_state import SuciCalcInfo

H = bytes.fromhex
_UNUSED = "ffffff0000"

USIM_VECTORS: list[tuple[str, str, object]] = [
    # digest 1.3: EF.IMSI (15 digits odd, 14 digits even, pySim's vector)
    ("EF.IMSI", "080910100000000010", "001010000000001"),
    ("EF.IMSI", "0801101021436587f9", "00101123456789"),
    ("EF.IMSI", "082926101160845740", "262011106487504"),
    # digest 1.3: EF.AD (template default, TS.48, a software USIM's body)
    ("ADF.USIM/EF.AD", "00000002", UsimAdministrativeData(0, H("0000"), 2)),
    ("ADF.USIM/EF.AD", "80000002", UsimAdministrativeData(0x80, H("0000"), 2)),
    ("ADF.USIM/EF.AD", "01000803", UsimAdministrativeData(1, H("0008"), 3)),
    # digest 1.3: EF.UST {27,33,38,85,122..125} (16 bytes there, 17 on this card)
    ("EF.UST", "000000042100000000001000000000" + "1e00",
     frozenset({27, 33, 38, 85, 122, 123, 124, 125})),
    ("EF.EST", "00", frozenset()),
    ("EF.EST", "05", frozenset({1, 3})),
    # digest 1.3: EF.ACC
    ("EF.ACC", "0001", frozenset({0})),
    ("EF.ACC", "0002", frozenset({1})),
    ("EF.ACC", "8000", frozenset({15})),
    ("EF.ACC", "802b", frozenset({0, 1, 3, 5, 15})),
    # digest 1.3 / 1.4: PLMN with access technology, PLMN BCD
    ("EF.PLMNwAcT", "62f2104000" + _UNUSED * 7, (PlmnAct("26201", ("e-utran",)),)),
    ("EF.OPLMNwACT", "62f2108000" + _UNUSED * 7, (PlmnAct("26201", ("utran",)),)),
    ("EF.HPLMNwAcT", "00f110c880" + _UNUSED,
     (PlmnAct("00101", ("utran", "e-utran", "ng-ran", "gsm")),)),
    ("EF.HPLMNwAcT", "130014" + "0084" + "001100" + "0088",
     (PlmnAct("310410", ("gsm", "ec-gsm-iot-b3")), PlmnAct("001001", ("gsm", "ec-gsm-iot-b4")))),
    ("EF.FPLMN", "130014" + "22f860" + "ffffff" * 2, ("310410", "22806")),
    # digest 1.3: TS.48's EF.SPN "GSMA_TEST" (0x11 is '_' in the SMS default alphabet)
    ("EF.SPN", "0147534d411154455354", ServiceProviderName("GSMA_TEST", 1)),
    ("EF.SPN", "00800041002d20ac", ServiceProviderName("A-€", 0)),  # UCS2: no € in GSM 7-bit

    # EF.MSISDN: 10 alpha bytes, then length, TON/NPI, 10 BCD bytes, CCP2, EXT5
    ("EF.MSISDN", "ff" * 10 + "04812143f5" + "ff" * 9, Msisdn("12345")),
    ("EF.MSISDN", "416c696365" + "ff" * 5 + "08919471271991" + "81f3" + "ff" * 5,
     Msisdn("+4917729119183", "Alice")),
    # digest 1.3: EF.ECC (TS.48's 112 "Euro Emer"; 911 police)
    ("EF.ECC", "11f2ff" + "4575726f20456d6572" + "ff" + "00", EmergencyNumber("112", "Euro Emer")),
    ("EF.ECC", "19f1ff" + "ff" * 10 + "01", EmergencyNumber("911", "", ("police",))),
    ("EF.LI", "656e", ("en",)),
    ("EF.Routing_Indicator", "f0ff0000", "0"),
    ("EF.Routing_Indicator", "21430000", "1234"),
    ("EF.SUCI_Calc_Info", "a0020000", SuciCalcInfo(((0, 0),), ())),
    (
        "EF.SUCI_Calc_Info",
        "a00401010000" + "a108" + "80010a" + "8103aabbcc",
        SuciCalcInfo(((1, 1), (0, 0)), ((10, H("aabbcc")),)),
    ),
    ("EF.UAC_AIC", "03000000", frozenset({1, 2})),
    ("EF.KEYS", "07" + "ff" * 32, {"ksi": 7, "ck": b"\xff" * 16, "ik": b"\xff" * 16}),
    ("EF.KEYSPS", "02" + "11" * 16 + "22" * 16, {"ksi": 2, "ck": b"\x11" * 16, "ik": b'"' * 16}),
    # digest 1.3: TS.48's EF.LOCI (MCC 246 MNC 81, LAC FFFE, not updated)
    ("EF.LOCI", "ffffffff42f618fffeff01",
     {"tmsi": H("ffffffff"), "lai": H("42f618fffe"), "rfu": H("ff"), "update_status": 1}),
    ("EF.PSLOCI", "ffffffffffffffffffff0000ff01",
     {"p_tmsi": H("ffffffff"), "p_tmsi_signature": H("ffffff"), "rai": H("ffffff0000ff"),
      "update_status": 1}),
    ("EF.EPSLOCI", "ff" * 15 + "000001",
     {"guti": b"\xff" * 12, "last_visited_tai": H("ffffff0000"), "update_status": 1}),
    ("EF.5GS3GPPLOCI", "ff" * 13 + "42f618000000" + "01",
     {"guti": b"\xff" * 13, "last_visited_tai": H("42f618000000"), "update_status": 1}),
    ("EF.5GSN3GPPLOCI", "ff" * 16 + "00000002",
     {"guti": b"\xff" * 13, "last_visited_tai": H("ffffff000000"), "update_status": 2}),
    ("EF.START-HFN", "f00000f00000", {"start_cs": H("f00000"), "start_ps": H("f00000")}),
    ("EF.THRESHOLD", "00ffff", {"max_start": H("00ffff")}),
    # 'FFFFFF' is the largest START / THRESHOLD (4.2.51/4.2.52), a value, not an empty file
    ("EF.THRESHOLD", "ffffff", {"max_start": H("ffffff")}),
    ("EF.START-HFN", "ffffffffffff", {"start_cs": H("ffffff"), "start_ps": H("ffffff")}),
    ("EF.HPPLMN", "0a", {"search_period": 10}),
    ("EF.Kc", "0011223344556677" + "07", {"kc": H("0011223344556677"), "cksn": 7}),
    ("EF.EPSNSC", "a006800100840100", ((0xA0, H("800100840100")),)),
    ("EF.5GS3GPPNSC", "a003800101", ((0xA0, H("800101")),)),
    ("EF.5GSN3GPPNSC", "a003800102", ((0xA0, H("800102")),)),
    ("EF.5GAUTHKEYS", "8002abcd8102ef01", ((0x80, H("abcd")), (0x81, H("ef01")))),
]
