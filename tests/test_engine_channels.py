"""Logical channels (TS 102 221 clause 11.1.17) and the T=0 response style
(clause 7.3.1.1.4, annex C: 61XX / GET RESPONSE, 6CXX)."""

from __future__ import annotations

import pytest

from apdu.engine import Card
from demo_card import demo_card
from specs.layout import layout

AID = layout().applications["ADF.ISIM"].aid
assert AID is not None
AID_HEX = AID.hex().upper()
PIN1 = "002000010831323334FFFFFFFF"


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    return r[:-2], int.from_bytes(r[-2:], "big")


def fid_of_current_df(card: Card, cla: str) -> bytes:
    data, sw = tx(card, f"{cla}F2000000")
    assert sw == 0x9000
    i = data.index(b"\x83\x02") if b"\x84\x10" not in data else data.index(b"\x84\x10")
    return data[i + 2 : i + 2 + data[i + 1]]


@pytest.fixture
def card() -> Card:
    return demo_card()


def test_open_select_and_close(card: Card) -> None:
    assert tx(card, "0070000001") == (b"\x01", 0x9000)
    assert tx(card, f"01A4040C10{AID_HEX}")[1] == 0x9000
    assert fid_of_current_df(card, "81") == AID
    assert fid_of_current_df(card, "80") == bytes.fromhex("3F00")  # channel 0 untouched
    assert tx(card, "0070000001") == (b"\x02", 0x9000)
    assert tx(card, "00700003") == (b"", 0x9000)  # a given number
    assert tx(card, "00700003")[1] == 0x6A86  # already open
    assert tx(card, "00700013") == (b"", 0x9000)  # channel 19
    assert tx(card, "4FA4000C023F00")[1] == 0x9000
    assert tx(card, "CFF2000C")[1] == 0x9000  # ETSI class on channel 19
    assert tx(card, "00700014")[1] == 0x6A86  # 20: no such channel
    assert tx(card, "00708001")[1] == 0x9000
    assert tx(card, "01A4000C023F00")[1] == 0x6881
    assert tx(card, "00708001")[1] == 0x6A86  # not open
    assert tx(card, "00708000")[1] == 0x6A86  # basic channel
    assert tx(card, "00700200")[1] == 0x6A86
    assert tx(card, "007000000101")[1] == 0x6700


def test_all_channels_and_exhaustion(card: Card) -> None:
    opened = [tx(card, "0070000001") for _ in range(19)]
    assert opened == [(bytes((n,)), 0x9000) for n in range(1, 20)]
    assert tx(card, "0070000001")[1] == 0x6A81
    for n in range(1, 20):
        cla = f"{n:02X}" if n < 4 else f"{0x40 + n - 4:02X}"
        assert tx(card, f"{cla}A4000C022F00")[1] == 0x9000
    card.reset()  # channels are closed by a reset
    assert tx(card, "01A4000C023F00")[1] == 0x6881
    assert tx(card, "0070000001") == (b"\x01", 0x9000)


def test_verification_is_shared_and_state_is_per_channel(card: Card) -> None:
    tx(card, "0070000001")
    tx(card, f"01A4040C10{AID_HEX}")
    tx(card, f"00A4040C10{AID_HEX}")
    tx(card, "01A4000C026F02")
    assert tx(card, "01B0000001")[1] == 0x6982
    assert tx(card, PIN1)[1] == 0x9000  # on channel 0
    assert tx(card, "01B0000001")[1] == 0x9000
    # record pointers are per channel
    tx(card, "00A4000C026F04")
    tx(card, "01A4000C026F04")
    assert tx(card, "00B2000200")[1] == 0x9000  # ch0 -> record 1
    assert tx(card, "00B2000200")[1] == 0x9000  # ch0 -> record 2
    assert tx(card, "01B2000300")[1] == 0x9000  # ch1: previous from none = last record
    assert tx(card, "00B2000300")[1] == 0x9000  # ch0: back to record 1
    assert tx(card, "00B2000300")[1] == 0x6A83


def test_channel_opened_from_a_channel_inherits_its_selection(card: Card) -> None:
    tx(card, "0070000001")
    tx(card, f"01A4040C10{AID_HEX}")
    assert tx(card, "0170000000") == (b"\x02", 0x9000)  # opened from channel 1
    assert fid_of_current_df(card, "82") == AID
    assert tx(card, "02A4000C027FFF")[1] == 0x9000
    assert tx(card, "0070000000") == (b"\x03", 0x9000)  # from channel 0: the MF
    assert fid_of_current_df(card, "83") == bytes.fromhex("3F00")
    assert tx(card, "03A4000C027FFF")[1] == 0x6A82


# --- T=0 style ---------------------------------------------------------------------------------


@pytest.fixture
def t0card() -> Card:
    return demo_card(t0=True)


def test_t0_case4_gives_61xx_then_get_response(t0card: Card) -> None:
    card = t0card
    ref = demo_card()
    fcp = tx(ref, "00A40004023F0000")[0]
    assert tx(card, "00A40004023F00") == (b"", 0x6100 | len(fcp))
    assert tx(card, f"00C00000{len(fcp):02X}") == (fcp, 0x9000)
    assert tx(card, f"00C00000{len(fcp):02X}") == (b"", 0x6F00)  # nothing pending
    # partial GET RESPONSE, then the rest
    tx(card, "00A40004023F00")
    assert tx(card, "00C0000010") == (fcp[:16], 0x6100 | (len(fcp) - 16))
    assert tx(card, f"00C00000{len(fcp) - 16:02X}") == (fcp[16:], 0x9000)
    # Le too large: 6CXX and the data is kept
    tx(card, "00A40004023F00")
    assert tx(card, "00C00000FF") == (b"", 0x6C00 | len(fcp))
    assert tx(card, f"00C00000{len(fcp):02X}") == (fcp, 0x9000)
    # any other command in between discards the data
    tx(card, "00A40004023F00")
    assert tx(card, "80F2000C")[1] == 0x9000
    assert tx(card, f"00C00000{len(fcp):02X}") == (b"", 0x6F00)
    # GET RESPONSE on another channel than the command: out of sequence
    tx(card, "0070000001")
    tx(card, "00A40004023F00")
    assert tx(card, f"01C00000{len(fcp):02X}") == (b"", 0x6F00)
    # a case 3 command with no response data is answered directly
    assert tx(card, "00A4000C023F00") == (b"", 0x9000)
    assert tx(card, "00C0010000")[1] == 0x6F00
    tx(card, "00A40004023F00")
    assert tx(card, "00C0010000")[1] == 0x6A86


def test_t0_case2_wrong_le_gives_6cxx(t0card: Card) -> None:
    card = t0card
    tx(card, "00A4000C022FE2")  # EF.ICCID, 10 bytes, read always
    assert tx(card, "00B0000000") == (b"", 0x6C0A)  # P3=00 means 256
    assert tx(card, "00B000000A")[1] == 0x9000
    assert tx(card, "00B0000010") == (b"", 0x6C0A)
    tx(card, "00A4000C022F00")
    assert tx(card, "00B2010400") == (b"", 0x6C26)
    assert tx(card, "00B2010426")[1] == 0x9000
    full = demo_card().process(bytes.fromhex("80F2000000"))[:-2]
    assert tx(card, "80F2000000") == (b"", 0x6C00 | len(full))
    assert tx(card, f"80F20000{len(full):02X}") == (full, 0x9000)


def test_t0_wrong_le_has_no_side_effects(t0card: Card) -> None:
    card = t0card
    assert tx(card, "0070000000") == (b"", 0x6C01)
    assert tx(card, "0070000001") == (b"\x01", 0x9000)  # the first channel: nothing opened
    tx(card, "00A4000C022F00")
    assert tx(card, "00B2000200") == (b"", 0x6C26)
    rec1, sw = tx(card, "00B2000226")
    assert sw == 0x9000
    assert tx(card, "00B2000426") == (rec1, 0x9000)  # the pointer is on record 1


def test_t0_warning_with_data_keeps_it_for_get_response(t0card: Card) -> None:
    card = t0card
    tx(card, f"00A4040C10{AID_HEX}")
    tx(card, "0020000A083131313131313131")
    tx(card, "00A4000C026F02")
    tx(card, "00040000")
    assert tx(card, "00A40004026F02") == (b"", 0x6283)
    # pySim's way (annex C): GET RESPONSE with P3=00, the card tells the length by 6CXX
    _, sw = tx(card, "00C0000000")
    assert sw & 0xFF00 == 0x6C00
    data, sw = tx(card, f"00C00000{sw & 0xFF:02X}")
    assert sw == 0x6283 and data.startswith(b"\x62") and len(data) == data[1] + 2


def test_t0_get_response_p3_00_is_256(t0card: Card) -> None:
    # TS 102 221 annex C: GET RESPONSE is a case-2 command, P3=00 asks for 256 bytes; a
    # length other than what is pending is answered 6CXX and the data stays pending.
    card = t0card
    fcp = tx(demo_card(), "00A40004023F0000")[0]
    assert tx(card, "00A40004023F00") == (b"", 0x6100 | len(fcp))
    assert tx(card, "00C0000000") == (b"", 0x6C00 | len(fcp))
    assert tx(card, "00C00000") == (b"", 0x6C00 | len(fcp))  # case 1 form: P3=00 added
    assert tx(card, f"00C00000{len(fcp):02X}") == (fcp, 0x9000)


def test_default_mode_has_no_get_response(card: Card) -> None:
    assert tx(card, "00A40004023F0000")[1] == 0x9000
    assert tx(card, "00C0000010") == (b"", 0x6F00)
