"""C-APDU parsing, class byte, status words of malformed commands, ATR (TS 102 221 cl. 6-10)."""

from __future__ import annotations

import pytest

from apdu.atr import (
    ATR_T0,
    ATR_T1,
    DEFAULT_ATR,
    HISTORICAL_BYTES,
    atr_for,
    check_atr,
    historical_bytes,
    needs_tck,
    offered_protocols,
    tck,
    with_tck,
)
from apdu.build import card_dict
from apdu.command import CLA_TABLE, CommandError, channel_of, parse, split_body
from apdu.engine import Card
from demo_card import DEMO_PINS, demo_card


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    assert len(r) >= 2
    return r[:-2], int.from_bytes(r[-2:], "big")


@pytest.fixture
def card() -> Card:
    return demo_card()


# --- ATR ---------------------------------------------------------------------------------------


def test_the_cards_own_atr_with_a_computed_tck() -> None:
    assert DEFAULT_ATR == ATR_T0
    assert ATR_T0.hex().upper() == "3B9C96801F878031E073FE211F546973696DBA"
    assert ATR_T1.hex().upper() == "3B9C96811F878031E073FE211F546973696DBB"
    for atr in (ATR_T0, ATR_T1):
        assert needs_tck(atr)  # T=15 is announced
        check_atr(atr)
        x = 0
        for b in atr[1:]:
            x ^= b
        assert x == 0
    assert tck(ATR_T0[:-1]) == 0xBA


def test_the_atr_announces_what_the_card_does() -> None:
    assert offered_protocols(ATR_T0) == [0]
    assert offered_protocols(ATR_T1) == [1]
    assert offered_protocols(bytes.fromhex("3B00")) == [0]
    assert atr_for(True) == ATR_T0 and atr_for(False) == ATR_T1
    assert demo_card().atr == ATR_T1 and demo_card(t0=True).atr == ATR_T0
    d = card_dict(pins=DEMO_PINS)
    with pytest.raises(ValueError, match="ATR"):
        Card.from_dict({**d, "atr": ATR_T0.hex()}, t0=False)
    with pytest.raises(ValueError, match="ATR"):
        Card.from_dict({**d, "atr": ATR_T1.hex()}, t0=True)


def test_historical_bytes_name_this_card() -> None:
    # ISO/IEC 7816-4 clause 8.1.1: category 80, COMPACT-TLV; tag 5 (issuer's data) = "isim"
    hb = historical_bytes(ATR_T0)
    assert hb == historical_bytes(ATR_T1) == HISTORICAL_BYTES
    assert hb[0] == 0x80
    objects, i = {}, 1
    while i < len(hb):
        tag, n = hb[i] >> 4, hb[i] & 0x0F
        objects[tag] = hb[i + 1 : i + 1 + n]
        i += 1 + n
    assert i == len(hb)
    assert objects[5] == b"isim"
    assert objects[7][2] & 0x07 == 0x07  # 8 or more logical channels


def test_atr_with_wrong_tck_or_length_is_refused() -> None:
    with pytest.raises(ValueError):
        check_atr(DEFAULT_ATR[:-1] + b"\x00")
    with pytest.raises(ValueError):
        check_atr(DEFAULT_ATR[:-1])
    with pytest.raises(ValueError):
        check_atr(b"\x3b")
    with pytest.raises(ValueError):
        with_tck(bytes.fromhex("3B9F9680"))
    # T=0 only: no TCK
    assert with_tck(bytes.fromhex("3B00")) == bytes.fromhex("3B00")


def test_power_cycle_returns_the_atr(card: Card) -> None:
    for _ in range(50):
        assert card.power_on() == ATR_T1
        assert card.reset() == ATR_T1
        assert card.atr == ATR_T1
        assert tx(card, "00A40004023F0000")[1] == 0x9000
    card.power_off()
    assert not card.powered
    assert tx(card, "00A4000C023F00") == (b"", 0x6F00)
    card.power_on()
    assert tx(card, "00A4000C023F00") == (b"", 0x9000)


# --- parsing -----------------------------------------------------------------------------------


def test_parse_cases_1_to_4() -> None:
    c1 = parse(bytes.fromhex("00200001"))
    assert (c1.case, c1.data, c1.ne) == (1, b"", 0)
    c2 = parse(bytes.fromhex("00B0000000"))
    assert (c2.case, c2.ne) == (2, 256)
    c3 = parse(bytes.fromhex("00A4000C023F00"))
    assert (c3.case, c3.data, c3.ne) == (3, b"\x3f\x00", 0)
    c4 = parse(bytes.fromhex("00A40004023F0010"))
    assert (c4.case, c4.data, c4.ne) == (4, b"\x3f\x00", 16)
    assert parse(bytes.fromhex("4FB0000001")).channel == 19
    assert parse(bytes.fromhex("81F2000000")).proprietary
    for bad, sw in (
        ("00A4", 0x6700),
        ("A0A4000000", 0x6E00),
        ("00A4000C033F00", 0x6700),
        ("00B00000000080", 0x6700),
        ("0CA4000C023F00", 0x6882),
    ):
        with pytest.raises(CommandError) as e:
            parse(bytes.fromhex(bad))
        assert e.value.sw == sw
    assert split_body(bytes.fromhex("00A4000C023F00AABB")) is None


def test_engine_lengths_agree_with_split_body(card: Card) -> None:
    # the engine writes split_body out inline (speed): both must find the same lengths wrong
    card.power_on()
    for head in ("00B00000", "00A4000C", "00B20104", "80F20000"):
        for tail in range(0, 9):
            capdu = bytes.fromhex(head) + bytes([tail % 5]) + bytes(range(1, tail + 1))[:tail]
            for c in (capdu[:4 + n] for n in range(len(capdu) - 3)):
                if split_body(c) is None:
                    assert card.process(c)[-2:] == b"\x67\x00", c.hex()
    for good in ("00A4000C023F00", "00A40004023F0000", "00B0000001", "80F20000"):
        assert split_body(bytes.fromhex(good)) is not None
        assert card.process(bytes.fromhex(good))[-2:] != b"\x67\x00", good


def test_class_byte_table() -> None:
    assert [channel_of(c) for c in (0x00, 0x01, 0x02, 0x03, 0x80, 0x83)] == [0, 1, 2, 3, 0, 3]
    assert [channel_of(c) for c in (0x40, 0x4F, 0xC0, 0xCF)] == [4, 19, 4, 19]
    for cla in (0xA0, 0xFF, 0x20, 0x3F, 0xB0, 0x04, 0x08, 0x0C, 0x60, 0xE0, 0x10, 0x50, 0x90):
        assert channel_of(cla) is None
        assert CLA_TABLE[cla] < 0


@pytest.mark.parametrize(
    ("capdu", "sw"),
    [
        ("", 0x6700),
        ("00", 0x6700),
        ("00A4", 0x6700),
        ("00A400", 0x6700),
        ("00A4000C033F00", 0x6700),  # Lc says 3, 2 bytes follow
        ("00A4000C013F00", 0x6700),  # Lc says 1, 2 bytes follow (+ no valid Le)
        ("00A4000C023F000000", 0x6700),  # two trailing bytes
        ("00B00000000080", 0x6700),  # extended length
        ("00D6000000000101", 0x6700),  # extended length case 3
        ("A0A40000023F00", 0x6E00),  # GSM class
        ("A0C0000000", 0x6E00),
        ("FFA4000C023F00", 0x6E00),
        ("20A4000C023F00", 0x6E00),
        ("04A4000C023F00", 0x6882),  # secure messaging bits b4b3
        ("0CA4000C023F00", 0x6882),
        ("60A4000C023F00", 0x6882),  # further interindustry with SM (b6)
        ("E0F2000000", 0x6882),
        ("10A4000C023F00", 0x6884),  # command chaining
        ("01A4000C023F00", 0x6881),  # channel 1 not open
        ("03B0000001", 0x6881),
        ("4FA4000C023F00", 0x6881),  # channel 19 not open
        ("81F2000000", 0x6881),
        ("00FE000000", 0x6D00),  # unknown INS
        ("0062000000", 0x6D00),
        ("80FE000000", 0x6D00),
        ("00F2000000", 0x6E00),  # STATUS needs the ETSI class
        ("80A4000C023F00", 0x6E00),  # SELECT with the ETSI class
        ("8010000000", 0x9000),  # TERMINAL PROFILE with no data
    ],
)
def test_malformed_commands_get_their_status_word(card: Card, capdu: str, sw: int) -> None:
    assert tx(card, capdu) == (b"", sw)


def test_bytearray_and_memoryview_inputs(card: Card) -> None:
    assert card.process(bytearray.fromhex("00A4000C023F00")) == b"\x90\x00"
    assert card.process(memoryview(bytes.fromhex("00A4000C022F00"))) == b"\x90\x00"  # type: ignore[arg-type]
