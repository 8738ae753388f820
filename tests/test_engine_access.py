"""READ/UPDATE BINARY/RECORD, SEARCH RECORD, DEACTIVATE/ACTIVATE, EF.ARR rules, write guard
(TS 102 221 clauses 9.2.7, 11.1.3-11.1.7, 11.1.14, 11.1.15)."""

from __future__ import annotations

from typing import Any

import pytest

from apdu.application import FileContents
from apdu.arr import encode_rule
from apdu.build import card_dict
from apdu.engine import Card
from demo_card import DEMO_PINS, DemoApplication
from specs.layout import layout

AID = layout().applications["ADF.ISIM"].aid
assert AID is not None
AID_HEX = AID.hex().upper()
PIN1 = "002000010831323334FFFFFFFF"
ADM1 = "0020000A083131313131313131"


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    return r[:-2], int.from_bytes(r[-2:], "big")


class RecordingApp(DemoApplication):
    """The demo guard, plus a log of what file_contents showed."""

    def __init__(self, aid: bytes) -> None:
        super().__init__(aid)
        self.seen: list[Any] = []

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        self.seen.append((ef_name, record, file_contents(ef_name), file_contents("EF.AD")))
        with pytest.raises(KeyError):
            file_contents("EF.NOPE")
        return super().check_update(ef_name, record, new_content, file_contents)


def make(
    contents: dict[str, Any] | None = None, pins: dict[str, Any] | None = None, **kw: Any
) -> tuple[Card, RecordingApp]:
    app = RecordingApp(AID)
    card = Card.from_dict(
        card_dict(pins=pins or DEMO_PINS, contents=contents or {}, **kw), applications=[app]
    )
    return card, app


def isim(card: Card) -> None:
    assert tx(card, f"00A4040C10{AID_HEX}")[1] == 0x9000


IMPI = b"\x80\x10user@example.org"
IMPUS = [b"\x80\x0csip:a@b.org", b"\x80\x0dsip:c@d.org"]


@pytest.fixture
def card() -> Card:
    c, _ = make(
        {
            "ADF.ISIM/EF.IMPI": IMPI,
            "ADF.ISIM/EF.IMPU": IMPUS,
            "MF/EF.ICCID": bytes.fromhex("988812010000400310F0"),
        }
    )
    isim(c)
    return c


# --- READ BINARY -------------------------------------------------------------------------------


def test_read_binary_needs_pin1(card: Card) -> None:
    assert tx(card, "00A4000C026F02")[1] == 0x9000
    assert tx(card, "00B0000012") == (b"", 0x6982)
    assert tx(card, PIN1)[1] == 0x9000
    assert tx(card, "00B0000012") == (IMPI, 0x9000)
    data, sw = tx(card, "00B0000000")
    assert (len(data), sw) == (128, 0x9000) and data.startswith(IMPI)
    assert tx(card, "00B00002")[0] == IMPI[2:] + b"\xff" * (128 - len(IMPI))  # no Le: all


def test_read_binary_offsets_and_end_of_file(card: Card) -> None:
    tx(card, PIN1)
    tx(card, "00A4000C026F02")
    assert tx(card, "00B0007808") == (b"\xff" * 8, 0x9000)
    assert tx(card, "00B0007810") == (b"\xff" * 8, 0x6282)  # explicit Le past the end
    assert tx(card, "00B0007800") == (b"\xff" * 8, 0x9000)  # Le=00: what is there
    assert tx(card, "00B0008001") == (b"", 0x6B00)
    assert tx(card, "00B07FFF01") == (b"", 0x6B00)
    assert tx(card, "00B00000023F00") == (b"", 0x6700)  # data on a READ


def test_read_binary_by_sfi_and_errors(card: Card) -> None:
    tx(card, PIN1)
    assert tx(card, "00B0820012") == (IMPI, 0x9000)  # SFI 2 = EF.IMPI
    assert tx(card, "00B0000012") == (IMPI, 0x9000)  # it became the current EF
    assert tx(card, "00B0830003") == (b"\x00\x00\x00", 0x9000)  # SFI 3 = EF.AD
    assert tx(card, "00B09E0001")[1] == 0x6A82  # SFI 30 not in the ADF
    assert tx(card, "00B0C20001")[1] == 0x6A86  # b7b6 must be 0
    assert tx(card, "00B0840001")[1] == 0x6981  # SFI 4 = EF.IMPU (record EF)
    tx(card, "00A4000C023F00")
    assert tx(card, "00B0000001")[1] == 0x6986  # no EF selected
    assert tx(card, "00B0820001")[1] == 0x9000  # SFI 2 under the MF = EF.ICCID
    tx(card, "00A4000C022F00")
    assert tx(card, "00B0000001")[1] == 0x6981


# --- UPDATE BINARY ---------------------------------------------------------------------------


def test_update_binary_needs_adm1_and_passes_the_guard() -> None:
    card, app = make({"ADF.ISIM/EF.IMPI": IMPI})
    isim(card)
    tx(card, "00A4000C026F02")
    tx(card, PIN1)
    assert tx(card, "00D6000002AAAA")[1] == 0x6982
    assert card.state_changed is False
    assert tx(card, ADM1)[1] == 0x9000
    card.take_state_changed()
    before = card.ef("ADF.ISIM/EF.IMPI").body
    assert tx(card, "00D600000200AA")[1] == 0x6A80  # guard: may not start with 00
    assert card.ef("ADF.ISIM/EF.IMPI").body == before
    assert card.state_changed is False
    assert tx(card, "00D6000202BBCC")[1] == 0x9000
    body = card.ef("ADF.ISIM/EF.IMPI").body
    assert body == before[:2] + b"\xbb\xcc" + before[4:]
    assert card.take_state_changed() is True
    name, record, seen, ad = app.seen[-1]
    assert (name, record, seen, ad) == ("EF.IMPI", None, body, b"\x00\x00\x00")
    assert tx(card, "00D6007E03010203")[1] == 0x6700  # past the end
    assert tx(card, "00D6008001FF")[1] == 0x6B00
    assert tx(card, "00D60000")[1] == 0x6700
    assert tx(card, "00D6820001AB")[1] == 0x9000  # by SFI
    assert card.ef("ADF.ISIM/EF.IMPI").body[0] == 0xAB
    # the same bytes again: accepted, nothing to persist
    card.take_state_changed()
    assert tx(card, "00D6820001AB")[1] == 0x9000
    assert card.state_changed is False


def test_mf_rules_pin1_update_and_never(card: Card) -> None:
    tx(card, "00A4000C023F00")
    tx(card, "00A4000C022F05")  # EF.PL: update PIN1
    assert tx(card, "00D60000026465")[1] == 0x6982
    tx(card, PIN1)
    assert tx(card, "00D60000026465")[1] == 0x9000  # no application guard under the MF
    assert tx(card, "00B0000002") == (b"de", 0x9000)
    tx(card, ADM1)
    tx(card, "00A4000C022FE2")  # EF.ICCID: update never
    assert tx(card, "00D600000101")[1] == 0x6982
    assert tx(card, "00B000000A") == (bytes.fromhex("988812010000400310F0"), 0x9000)


def test_pin1_disabled_satisfies_pin1_conditions() -> None:
    pins = {**DEMO_PINS, "01": {**DEMO_PINS["01"], "enabled": False}}
    card, _ = make({"ADF.ISIM/EF.IMPI": IMPI}, pins=pins)
    isim(card)
    assert tx(card, "00B0820012") == (IMPI, 0x9000)
    assert tx(card, "00D6820001AA")[1] == 0x6982  # ADM1 still needed


# --- records -----------------------------------------------------------------------------------


def test_read_record_modes(card: Card) -> None:
    tx(card, PIN1)
    tx(card, "00A4000C026F04")  # EF.IMPU, 8 x 128
    rec1 = IMPUS[0] + b"\xff" * (128 - len(IMPUS[0]))
    rec2 = IMPUS[1] + b"\xff" * (128 - len(IMPUS[1]))
    assert tx(card, "00B2010480") == (rec1, 0x9000)
    assert tx(card, "00B2000480")[1] == 0x6A83  # absolute does not set the pointer
    assert tx(card, "00B2000280") == (rec1, 0x9000)  # next: first record
    assert tx(card, "00B2000280") == (rec2, 0x9000)
    assert tx(card, "00B2000480") == (rec2, 0x9000)  # current
    assert tx(card, "00B2000380") == (rec1, 0x9000)  # previous
    assert tx(card, "00B2000380")[1] == 0x6A83  # linear fixed: no wrap
    assert tx(card, "00B2080400") == (b"\xff" * 128, 0x9000)
    assert tx(card, "00B2090400")[1] == 0x6A83
    assert tx(card, "00B2010410") == (b"", 0x6C80)  # Le other than the record length
    assert tx(card, "00B2010500")[1] == 0x6A86  # mode 101
    assert tx(card, "00B2010200")[1] == 0x6A86  # next with a record number
    assert tx(card, "00B2012400") == (rec1, 0x9000)  # SFI 4
    assert tx(card, "00B201FC00")[1] == 0x6A86  # SFI 31
    assert tx(card, "00B2013C00")[1] == 0x6981  # SFI 7 = EF.IST, transparent
    assert tx(card, "00B2014C00")[1] == 0x6A82  # SFI 9: none
    tx(card, "00A4000C026F02")
    assert tx(card, "00B2010400")[1] == 0x6981


def test_update_record_and_guard_sees_the_other_records() -> None:
    card, app = make({"ADF.ISIM/EF.IMPU": IMPUS[:1]})
    isim(card)
    tx(card, PIN1)
    tx(card, "00A4000C026F04")
    new = b"\x80\x05sip:x" + b"\xff" * 121
    assert tx(card, "00DC0104" + "80" + new.hex())[1] == 0x6982
    tx(card, ADM1)
    assert tx(card, "00DC010405" + "8003414243")[1] == 0x6700  # not the record length
    assert tx(card, "00DC0204" + "80" + new.hex())[1] == 0x9000
    ef = card.ef("ADF.ISIM/EF.IMPU")
    assert ef.records[1] == new
    name, record, seen, _ = app.seen[-1]
    assert (name, record) == ("EF.IMPU", 2) and seen[1] == new and len(seen) == 8
    # emptying record 2 is fine (record 1 stays), emptying 1 too is refused by the guard
    empty = "FF" * 128
    assert tx(card, "00DC020480" + empty)[1] == 0x9000
    before = list(ef.records)
    assert tx(card, "00DC010480" + empty)[1] == 0x6A80
    assert ef.records == before
    # next / previous modes move the pointer
    assert tx(card, "00DC000280" + new.hex())[1] == 0x9000  # next from none: record 1
    assert ef.records[0] == new
    assert tx(card, "00DC000280" + new.hex())[1] == 0x9000  # record 2
    assert ef.records[1] == new
    assert tx(card, "00DC000380" + "AA" * 128)[1] == 0x9000  # previous: record 1
    assert ef.records[0] == b"\xaa" * 128
    assert tx(card, "00DC000580" + empty)[1] == 0x6A86
    assert tx(card, "00DC090480" + empty)[1] == 0x6A83


def cyclic_card() -> Card:
    d = card_dict(pins=DEMO_PINS)
    d["mf"]["files"].append(
        {
            "name": "EF.CYC",
            "fid": "6F50",
            "sfi": None,
            "structure": "cyclic",
            "arr": {"file": "2F06", "record": 2},
            "record_length": 2,
            "content": ["0101", "0202", "0303"],
        }
    )
    return Card.from_dict(d)


def test_cyclic_ef() -> None:
    card = cyclic_card()
    tx(card, PIN1)
    assert tx(card, "00A40004026F5000")[1] == 0x9000
    assert tx(card, "00B2000202") == (b"\x01\x01", 0x9000)
    assert tx(card, "00B2000202") == (b"\x02\x02", 0x9000)
    assert tx(card, "00B2000202") == (b"\x03\x03", 0x9000)
    assert tx(card, "00B2000202") == (b"\x01\x01", 0x9000)  # wraps
    assert tx(card, "00B2000302") == (b"\x03\x03", 0x9000)  # wraps back
    assert tx(card, "00DC01040209 09")[1] == 0x6A86  # cyclic: only PREVIOUS
    assert tx(card, "00DC0003020909")[1] == 0x9000
    assert card.ef("MF/EF.CYC").records == [b"\x09\x09", b"\x01\x01", b"\x02\x02"]
    assert tx(card, "00B2000402") == (b"\x09\x09", 0x9000)  # pointer on record 1


def test_search_record(card: Card) -> None:
    tx(card, PIN1)
    tx(card, "00A4000C026F04")
    pattern = b"sip:".hex()
    assert tx(card, f"00A20104{len(pattern) // 2:02X}{pattern}00") == (b"\x01\x02", 0x9000)
    assert tx(card, f"00A20204{len(pattern) // 2:02X}{pattern}00") == (b"\x02", 0x9000)
    assert tx(card, f"00A20205{len(pattern) // 2:02X}{pattern}00") == (b"\x02\x01", 0x9000)
    assert tx(card, "00B2000480")[0].startswith(IMPUS[1])  # pointer on the first hit
    assert tx(card, "00A2010403AABBCC00") == (b"", 0x6282)
    assert tx(card, "00A2010603AABBCC00")[1] == 0x6A81  # enhanced search
    assert tx(card, "00A2010703AABBCC00")[1] == 0x6A86
    assert tx(card, "00A20104" + "81" + "AA" * 129 + "00")[1] == 0x6700
    assert tx(card, "00A2090403AABBCC00")[1] == 0x6A83
    assert tx(card, "00A2012403" + b"c@d".hex() + "00") == (b"\x02", 0x9000)  # by SFI 4
    tx(card, "00A4000C026F02")
    assert tx(card, "00A2010403AABBCC00")[1] == 0x6981


# --- life cycle --------------------------------------------------------------------------------


def test_deactivate_and_activate(card: Card) -> None:
    tx(card, PIN1)
    tx(card, "00A4000C026F02")
    assert tx(card, "00040000")[1] == 0x6982  # deactivate needs ADM1
    tx(card, ADM1)
    card.take_state_changed()
    assert tx(card, "00040000")[1] == 0x9000
    assert card.take_state_changed() is True
    assert card.ef("ADF.ISIM/EF.IMPI").lcsi == 0x04
    assert tx(card, "00B0000001") == (b"", 0x6283)
    assert tx(card, "00D6000001AA") == (b"", 0x6283)
    assert tx(card, "00B0820001") == (b"", 0x6283)
    data, sw = tx(card, "00A40004026F0200")
    assert sw == 0x6283 and bytes.fromhex("8A0104") in data
    assert tx(card, "00A4000C026F02") == (b"", 0x6283)
    assert tx(card, "00040000")[1] == 0x9000  # again: nothing to do
    assert card.take_state_changed() is False
    assert tx(card, "00440000026F02")[1] == 0x9000  # ACTIVATE by FID
    assert tx(card, "00B0000012") == (IMPI, 0x9000)
    assert bytes.fromhex("8A0105") in tx(card, "00A40004026F0200")[0]
    assert tx(card, "00040800047FFF6F04")[1] == 0x9000  # by path
    assert tx(card, "00B2010400") == (b"", 0x6283)
    assert tx(card, "00A2010401AA00") == (b"", 0x6283)
    assert tx(card, "00440900026F04")[1] == 0x9000
    assert tx(card, "00B2010400")[1] == 0x9000
    assert tx(card, "0004000002 3F00")[1] == 0x6A81  # a DF
    assert tx(card, "0004000102 6F02")[1] == 0x6A86
    assert tx(card, "0004020002 6F02")[1] == 0x6A86
    assert tx(card, "0004000002 1234")[1] == 0x6A82
    assert tx(card, "0004000003 6F0200")[1] == 0x6700
    tx(card, "00A4000C027FFF")
    assert tx(card, "00040000")[1] == 0x6986


# --- EF.ARR ------------------------------------------------------------------------------------


def test_arr_rules_are_reloaded_when_ef_arr_changes(card: Card) -> None:
    tx(card, "00A4000C026F02")
    assert tx(card, "00B0000001")[1] == 0x6982
    tx(card, ADM1)
    assert tx(card, "00B0000001")[1] == 0x6982  # ADM1 is not PIN1
    rule = encode_rule({"read": "always", "update": "ADM1"}, 48)
    assert tx(card, "00DC010430" + rule.hex())[1] == 0x6981  # EF.IMPI is transparent
    tx(card, "00A4000C026F06")
    assert tx(card, "00DC010430" + rule.hex())[1] == 0x9000
    card.reset()
    isim(card)
    assert tx(card, "00B0820012") == (IMPI, 0x9000)  # record 1 now says read: always
    assert tx(card, "00D6820001AA")[1] == 0x6982


def test_malformed_or_missing_rule_fails_closed() -> None:
    d = card_dict(pins=DEMO_PINS)
    d["mf"]["files"][0]["arr"] = {"file": "2F06", "record": 9}  # EF.DIR -> missing record
    d["mf"]["files"][1]["arr"] = None  # EF.ICCID: no rule
    arr = next(f for f in d["mf"]["files"] if f["name"] == "EF.ARR")
    arr["content"][1] = "A4" + "FF" * 47  # record 2: garbage (EF.PL)
    card = Card.from_dict(d)
    tx(card, PIN1)
    tx(card, ADM1)
    for fid in ("2F00", "2FE2", "2F05"):
        tx(card, f"00A4000C02{fid}")
        assert tx(card, "00B0000001")[1] in (0x6982, 0x6981)
        assert tx(card, "00B2010400")[1] in (0x6982, 0x6981)
    tx(card, "00A4000C022F05")
    assert tx(card, "00B0000001")[1] == 0x6982
