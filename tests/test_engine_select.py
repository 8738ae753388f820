"""SELECT and STATUS, FCP templates (TS 102 221 clauses 8.4, 11.1.1, 11.1.2)."""

from __future__ import annotations

import copy

import pytest

from apdu.build import card_dict
from apdu.demo import DEMO_PINS, DemoApplication, demo_card
from apdu.engine import Card
from apdu.layout import layout

AID = layout().applications["ADF.ISIM"].aid
assert AID is not None
AID_HEX = AID.hex().upper()


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    return r[:-2], int.from_bytes(r[-2:], "big")


def tlvs(data: bytes) -> dict[int, bytes]:
    """One level of single-byte-tag BER-TLVs."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        tag, n = data[i], data[i + 1]
        i += 2
        if n == 0x81:
            n = data[i]
            i += 1
        out[tag] = data[i : i + n]
        i += n
    assert i == len(data)
    return out


def fcp(data: bytes) -> dict[int, bytes]:
    assert data[0] == 0x62 and data[1] == len(data) - 2
    return tlvs(data[2:])


def select_aid(
    card: Card, aid: str = AID_HEX, p2: str = "04", cla: str = "00"
) -> tuple[bytes, int]:
    return tx(card, f"{cla}A404{p2}{len(aid) // 2:02X}{aid}" + ("00" if p2 == "04" else ""))


@pytest.fixture
def card() -> Card:
    return demo_card()


def two_adf_card() -> Card:
    d = card_dict(pins=DEMO_PINS, applications=["ADF.ISIM"])
    second = copy.deepcopy(d["adfs"][0])
    second["name"] = "ADF.SECOND"
    second["aid"] = AID_HEX[:-4] + "FF01"
    d["adfs"].append(second)
    return Card.from_dict(d)


def nested_df_card() -> Card:
    d = card_dict(pins=DEMO_PINS)
    d["mf"]["files"].append(
        {
            "name": "DF.TEST",
            "structure": "df",
            "fid": "7F10",
            "arr": {"file": "2F06", "record": 1},
            "files": [
                {
                    "name": "EF.T",
                    "fid": "6F3A",
                    "sfi": None,
                    "structure": "transparent",
                    "arr": {"file": "2F06", "record": 1},
                    "size": 4,
                    "content": "01020304",
                }
            ],
        }
    )
    return Card.from_dict(d)


def test_select_mf_with_fcp_as_real_clients_do(card: Card) -> None:
    data, sw = tx(card, "00A40004023F0000")
    assert sw == 0x9000
    t = fcp(data)
    assert t[0x82] == bytes.fromhex("7821")
    assert t[0x83] == bytes.fromhex("3F00")
    assert t[0x8A] == b"\x05"
    assert t[0x8B] == bytes.fromhex("2F0601")
    assert 0x81 in t and 0xA5 in t and 0x84 not in t
    proprietary = tlvs(t[0xA5])
    assert proprietary[0x80] == b"\x71"
    ps = tlvs(t[0xC6])
    # PIN1, PIN2, ADM1 all enabled: bits b8 b7 b6
    assert ps[0x90] == b"\xe0"
    assert tx(card, "00A4000C023F00") == (b"", 0x9000)
    assert tx(card, "00A40000023F0000")[1] == 0x9000  # P2=00 answered like 04
    assert tx(card, "00A4000C")[1] == 0x9000  # no data: MF


def test_ef_fcps(card: Card) -> None:
    t = fcp(tx(card, "00A40004022F0000")[0])  # EF.DIR, SFI 30 != low bits of 2F00
    assert t[0x82] == bytes.fromhex("4221002604")
    assert t[0x83] == bytes.fromhex("2F00")
    assert t[0x80] == (38 * 4).to_bytes(2, "big")
    assert t[0x88] == bytes((30 << 3,))
    assert t[0x8B] == bytes.fromhex("2F0601")
    assert t[0x8A] == b"\x05"
    t = fcp(tx(card, "00A40004022FE200")[0])  # EF.ICCID: SFI 2 = low bits of 2FE2
    assert t[0x82] == bytes.fromhex("4121")
    assert 0x88 not in t
    assert t[0x80] == b"\x00\x0a"
    select_aid(card)
    t = fcp(tx(card, "00A40004026F0900")[0])  # EF.P-CSCF: no SFI
    assert t[0x88] == b""
    t = fcp(tx(card, "00A40004026F0200")[0])  # EF.IMPI
    assert t[0x8B] == bytes.fromhex("6F0601")


def test_select_adf_by_aid_and_truncated_aid(card: Card) -> None:
    data, sw = select_aid(card)
    assert sw == 0x9000
    t = fcp(data)
    assert t[0x84] == AID
    assert 0x83 not in t and 0xC6 in t
    assert select_aid(card, AID_HEX[:14])[1] == 0x9000  # right-truncated (7 bytes)
    assert select_aid(card, AID_HEX[:14], "0C") == (b"", 0x9000)
    assert select_aid(card, "A0000000871009")[1] == 0x6A82  # no such application
    assert select_aid(card, AID_HEX + "00")[1] == 0x6700  # 17 bytes
    assert tx(card, "00A4040400")[1] == 0x6700  # no AID
    assert select_aid(card, AID_HEX, "84")[1] == 0x6A86  # b8 set
    assert select_aid(card, AID_HEX, "08")[1] == 0x6A86  # FMD


def test_occurrences_first_last_next_previous() -> None:
    card = two_adf_card()
    part = AID_HEX[:14]

    def current() -> bytes:
        return tlvs(tx(card, "80F2000100")[0])[0x84]

    first, second = card.adfs[0].aid, card.adfs[1].aid
    assert select_aid(card, part, "0C")[1] == 0x9000 and current() == first
    assert select_aid(card, part, "0E")[1] == 0x9000 and current() == second  # next
    assert select_aid(card, part, "0E")[1] == 0x6A82  # no further occurrence
    assert select_aid(card, part, "0F")[1] == 0x9000 and current() == first  # previous
    assert select_aid(card, part, "0F")[1] == 0x6A82
    assert select_aid(card, part, "0D")[1] == 0x9000 and current() == second  # last


def test_fid_search_path_and_7fff(card: Card) -> None:
    assert tx(card, "00A4000C027FFF")[1] == 0x6A82  # no application yet
    assert tx(card, "00A4000C026F02")[1] == 0x6A82  # not reachable from the MF
    select_aid(card, p2="0C")
    assert tx(card, "00A4000C026F02")[1] == 0x9000
    assert tx(card, "00A4000C022F00")[1] == 0x6A82  # MF's EFs are not on the search path
    assert tx(card, "00A4000C023F00")[1] == 0x9000
    assert tx(card, "00A4000C027FFF")[1] == 0x9000  # back to the application
    assert tlvs(tx(card, "80F2000000")[0][2:])[0x84] == AID
    assert tx(card, "00A4000C026F04")[1] == 0x9000
    # paths
    assert tx(card, "00A4080C027FFF")[1] == 0x9000
    assert tx(card, "00A4080C047FFF6F02")[1] == 0x9000
    assert fcp(tx(card, "00A40804047FFF6F0200")[0])[0x83] == bytes.fromhex("6F02")
    assert tx(card, "00A4080C022F00")[1] == 0x9000
    assert tx(card, "00A4080C043F002F00")[1] == 0x9000  # tolerated MF prefix
    assert tx(card, "00A4080C032F00")[1] == 0x6700  # odd path
    assert tx(card, "00A4080C042F006F02")[1] == 0x6A82  # through an EF
    assert tx(card, "00A4080C026FFF")[1] == 0x6A82
    assert tx(card, "00A4000C027FFF")[1] == 0x9000
    assert tx(card, "00A4090C026F02")[1] == 0x9000  # from the current DF (the ADF)
    assert tx(card, "00A4090C022F00")[1] == 0x6A82
    assert tx(card, "00A4000C03000000")[1] == 0x6700
    assert tx(card, "00A4000C029999")[1] == 0x6A82


def test_child_and_parent_df() -> None:
    card = nested_df_card()
    assert tx(card, "00A4010C027F10")[1] == 0x9000
    assert tx(card, "00A4000C026F3A")[1] == 0x9000
    tx(card, "002000010831323334FFFFFFFF")
    assert tx(card, "00B0000004") == (bytes.fromhex("01020304"), 0x9000)
    assert tx(card, "00A4030C")[1] == 0x9000  # parent of DF.TEST: MF
    assert fcp(tx(card, "80F2000000")[0])[0x83] == bytes.fromhex("3F00")
    assert tx(card, "00A4030C")[1] == 0x6A82  # the MF has no parent
    assert tx(card, "00A4010C022F00")[1] == 0x6A82  # an EF is no child DF
    assert tx(card, "00A4010C01")[1] == 0x6700
    assert tx(card, "00A4030C023F00")[1] == 0x6700
    t = fcp(tx(card, "00A40104027F1000")[0])
    assert t[0x83] == bytes.fromhex("7F10") and 0xC6 not in t  # no PIN template below MF
    assert tx(card, "00A4000C027F10")[1] == 0x9000  # the DF itself by FID
    assert tx(card, "00A4080C047F106F3A")[1] == 0x9000
    select_aid(card, p2="0C")
    assert tx(card, "00A4030C")[1] == 0x9000  # parent of the ADF: MF
    assert fcp(tx(card, "80F2000000")[0])[0x83] == bytes.fromhex("3F00")


def test_bad_p1_p2(card: Card) -> None:
    assert tx(card, "00A4020C023F00")[1] == 0x6A86
    assert tx(card, "00A40008023F00")[1] == 0x6A86
    assert tx(card, "00A4000D023F00")[1] == 0x6A86
    assert tx(card, "00A4004C023F00")[1] == 0x6A86


def test_short_le_for_fcp_gives_6cxx(card: Card) -> None:
    full, sw = tx(card, "00A40004023F0000")
    data, sw = tx(card, "00A40004023F0010")
    assert (data, sw) == (b"", 0x6C00 | len(full))
    data, sw = tx(card, f"00A40004023F00{len(full):02X}")
    assert (data, sw) == (full, 0x9000)


def test_application_termination(card: Card) -> None:
    select_aid(card, p2="0C")
    assert select_aid(card, AID_HEX, "4C") == (b"", 0x9000)
    assert tx(card, "00A4000C027FFF")[1] == 0x6A82
    assert fcp(tx(card, "80F2000000")[0])[0x83] == bytes.fromhex("3F00")


def test_status(card: Card) -> None:
    t = fcp(tx(card, "80F2000000")[0])
    assert t[0x83] == bytes.fromhex("3F00")
    assert tx(card, "80F2000100") == (b"", 0x9000)  # no application: no DF name
    assert tx(card, "80F2000C") == (b"", 0x9000)
    select_aid(card, p2="0C")
    tx(card, "00A4000C026F02")  # an EF is current: STATUS still reports the DF
    assert fcp(tx(card, "80F2000000")[0])[0x84] == AID
    assert tx(card, "80F2000100") == (bytes((0x84, len(AID))) + AID, 0x9000)
    assert tx(card, "80F2010C")[1] == 0x9000
    assert tx(card, "80F2020C")[1] == 0x9000
    assert tx(card, "80F2030C")[1] == 0x6A86
    assert tx(card, "80F2000500")[1] == 0x6A86
    assert tx(card, "80F2000C0100")[1] == 0x6700


def test_start_up_sequence_of_real_clients() -> None:
    card = demo_card()
    d = card_dict(
        pins=DEMO_PINS,
        contents={"MF/EF.DIR": [bytes.fromhex("61194F10" + AID_HEX + "500549536D3131")]},
    )
    card = Card.from_dict(d, applications=[DemoApplication(AID)])
    for _ in range(3):
        assert card.power_on() == card.atr
        assert card.reset() == card.atr
    assert tx(card, "00A40004023F0000")[1] == 0x9000
    assert tx(card, "A0A40000023F00") == (b"", 0x6E00)  # GSM probe
    assert tx(card, "A0F2000016") == (b"", 0x6E00)
    assert tx(card, "00A40004022F0000")[1] == 0x9000
    rec, sw = tx(card, "00B2010426")
    assert sw == 0x9000 and rec.startswith(bytes.fromhex("61194F10") + AID)
    assert tx(card, "00B2020400") == (b"\xff" * 38, 0x9000)
    assert tx(card, "00B2050400")[1] == 0x6A83
    assert tx(card, "0070000001") == (b"\x01", 0x9000)
    data, sw = select_aid(card, cla="01")
    assert sw == 0x9000 and fcp(data)[0x84] == AID
    assert tx(card, "01A4000C026F02")[1] == 0x9000
    assert tx(card, "81F2000000")[1] == 0x9000
