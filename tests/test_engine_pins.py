"""VERIFY / CHANGE / DISABLE / ENABLE / UNBLOCK PIN, counters, verification state
(TS 102 221 clauses 9.5, 11.1.9-11.1.13)."""

from __future__ import annotations

import json

import pytest

from apdu.demo import DEMO_PINS, demo_card
from apdu.engine import Card
from apdu.pins import PinStore, encode_pin, is_pin_block


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    return r[:-2], int.from_bytes(r[-2:], "big")


def blk(pin: str) -> str:
    return encode_pin(pin).hex()


def verify(ref: str, pin: str) -> str:
    return f"002000{ref}08{blk(pin)}"


@pytest.fixture
def card() -> Card:
    return demo_card()


def test_pin_block_coding() -> None:
    assert encode_pin("1234") == b"1234\xff\xff\xff\xff"
    assert is_pin_block(b"12345678")
    for bad in (
        b"123\xff\xff\xff\xff\xff",
        b"12a4\xff\xff\xff\xff",
        b"1234\xff\xff\xff1",
        b"1234\xff\xff\xff",
    ):
        assert not is_pin_block(bad)
    with pytest.raises(ValueError):
        encode_pin("12")


def test_verify_counter_and_block(card: Card) -> None:
    assert tx(card, "00200001") == (b"", 0x63C3)  # query
    card.take_state_changed()
    assert tx(card, verify("01", "0000")) == (b"", 0x63C2)
    assert card.take_state_changed() is True
    assert tx(card, "00200001") == (b"", 0x63C2)
    assert tx(card, verify("01", "1234")) == (b"", 0x9000)  # counter back to 3
    assert card.take_state_changed() is True
    assert tx(card, "00200001") == (b"", 0x9000)  # verified
    assert tx(card, verify("01", "1234")) == (b"", 0x9000)
    assert card.take_state_changed() is False  # nothing persistent changed
    assert tx(card, verify("01", "9999")) == (b"", 0x63C2)
    assert tx(card, "00200001") == (b"", 0x63C2)  # a wrong PIN clears the verified state
    assert tx(card, verify("01", "9999")) == (b"", 0x63C1)
    assert tx(card, verify("01", "9999")) == (b"", 0x63C0)
    assert tx(card, verify("01", "1234")) == (b"", 0x6983)  # blocked
    assert tx(card, "00200001") == (b"", 0x63C0)


def test_verify_errors(card: Card) -> None:
    assert tx(card, "0020000104" + "31323334") == (b"", 0x6700)
    assert tx(card, "00200002")[1] == 0x6A88  # no such key
    assert tx(card, verify("02", "1234"))[1] == 0x6A88
    assert tx(card, f"0020010108{blk('1234')}")[1] == 0x6A86
    assert tx(card, verify("81", "5678")) == (b"", 0x9000)  # PIN2
    assert tx(card, verify("0A", "11111111")) == (b"", 0x9000)  # ADM1
    assert tx(card, "0020000A") == (b"", 0x9000)


def test_verification_state_is_lost_on_reset_and_power_cycle(card: Card) -> None:
    assert tx(card, verify("01", "1234"))[1] == 0x9000
    card.reset()
    assert tx(card, "00200001") == (b"", 0x63C3)
    tx(card, verify("01", "1234"))
    card.power_off()
    card.power_on()
    assert tx(card, "00200001") == (b"", 0x63C3)


def test_change_pin(card: Card) -> None:
    assert tx(card, f"002400010C{blk('1234')}31323334")[1] == 0x6700  # 12 bytes
    bad_new = blk("1234") + "3132FFFFFFFFFFFF"  # 2 digits: refused, no try used
    assert tx(card, f"0024000110{bad_new}") == (b"", 0x6A80)
    assert tx(card, "00200001") == (b"", 0x63C3)
    assert tx(card, f"0024000110{blk('0000')}{blk('4321')}") == (b"", 0x63C2)
    assert tx(card, f"0024000110{blk('1234')}{blk('87654321')}") == (b"", 0x9000)
    assert tx(card, "00200001") == (b"", 0x9000)  # verified by CHANGE
    assert tx(card, verify("01", "1234")) == (b"", 0x63C2)
    assert tx(card, verify("01", "87654321")) == (b"", 0x9000)
    assert card.to_dict()["pins"]["01"]["value"] == "87654321"
    assert tx(card, "00240001")[1] == 0x6700


def test_disable_enable(card: Card) -> None:
    isim_aid = next(a for a in card.adfs if a.name == "ADF.ISIM").aid.hex()
    tx(card, f"00A4040C10{isim_aid}")
    tx(card, "00A4000C026F02")
    assert tx(card, "00B0000001")[1] == 0x6982
    assert tx(card, f"0026000108{blk('0000')}") == (b"", 0x63C2)
    assert tx(card, f"0026000108{blk('1234')}") == (b"", 0x9000)
    assert card.take_state_changed() is True
    card.reset()
    tx(card, f"00A4040C10{isim_aid}")
    assert tx(card, "00B0820001")[1] == 0x9000  # PIN1 disabled: condition satisfied
    assert tx(card, "00200001") == (b"", 0x9000)
    assert tx(card, verify("01", "1234")) == (b"", 0x6984)
    assert tx(card, f"0024000110{blk('1234')}{blk('4321')}") == (b"", 0x6984)
    assert tx(card, f"0026000108{blk('1234')}") == (b"", 0x6985)  # already disabled
    fcp = tx(card, "80F2000000")[0]
    assert bytes.fromhex("90016083010183018183010A") in fcp  # PS_DO: PIN1 off
    assert tx(card, f"0028000108{blk('1234')}") == (b"", 0x9000)
    assert tx(card, f"0028000108{blk('1234')}") == (b"", 0x6985)
    assert bytes.fromhex("9001E0") in tx(card, "80F2000000")[0]
    card.reset()
    tx(card, f"00A4040C10{isim_aid}")
    assert tx(card, "00B0820001")[1] == 0x6982
    assert tx(card, f"0026000A08{blk('11111111')}") == (b"", 0x6985)  # ADM: not disablable
    assert tx(card, f"0026000104{'31323334'}")[1] == 0x6700
    assert tx(card, f"0026800108{blk('1234')}")[1] == 0x6A86


def test_unblock(card: Card) -> None:
    for _ in range(3):
        tx(card, verify("01", "0000"))
    assert tx(card, verify("01", "1234")) == (b"", 0x6983)
    assert tx(card, "002C0001") == (b"", 0x63CA)  # query
    assert tx(card, f"002C000110{blk('00000000')}{blk('4321')}") == (b"", 0x63C9)
    assert tx(card, f"002C000110{blk('12345678')}3132FFFFFFFFFFFF") == (b"", 0x6A80)
    assert tx(card, f"002C000110{blk('12345678')}{blk('4321')}") == (b"", 0x9000)
    assert tx(card, "00200001") == (b"", 0x9000)
    assert tx(card, "002C0001") == (b"", 0x63CA)
    card.reset()
    assert tx(card, "00200001") == (b"", 0x63C3)
    assert tx(card, verify("01", "4321")) == (b"", 0x9000)
    assert tx(card, "002C000A") == (b"", 0x6A88)  # ADM1 has no unblock key
    assert tx(card, f"002C000108{blk('12345678')}")[1] == 0x6700


def test_unblock_key_blocks_after_ten(card: Card) -> None:
    for left in range(9, -1, -1):
        assert tx(card, f"002C000110{blk('00000000')}{blk('4321')}") == (b"", 0x63C0 | left)
    assert tx(card, f"002C000110{blk('12345678')}{blk('4321')}") == (b"", 0x6983)


def test_unblock_reenables_a_disabled_pin(card: Card) -> None:
    tx(card, f"0026000108{blk('1234')}")
    assert tx(card, f"002C000110{blk('12345678')}{blk('2222')}") == (b"", 0x9000)
    assert card.pins.pins[1].enabled
    assert bytes.fromhex("9001E0") in tx(card, "80F2000000")[0]


def test_secrets_are_not_in_repr_or_errors(card: Card) -> None:
    text = repr(card) + repr(card.pins) + repr(card.pins.pins[1])
    for secret in ("1234", "12345678", "5678", "87654321", "11111111"):
        assert secret not in text
    with pytest.raises(ValueError) as e:
        PinStore({"01": {"value": "98"}})
    assert "98" not in str(e.value)
    # responses never carry PIN values
    for h in ("00200001", "80F2000000", "00A40004023F0000"):
        assert b"1234" not in card.process(bytes.fromhex(h))


def test_pins_round_trip_and_value_hex() -> None:
    d = {**DEMO_PINS, "0B": {"value_hex": "0102030405060708"}}
    store = PinStore(d)
    out = store.to_dict()
    assert out["0B"]["value_hex"] == "0102030405060708"
    assert out["01"]["value"] == "1234" and out["01"]["unblock"] == "12345678"
    assert PinStore(json.loads(json.dumps(out))).to_dict() == out
    card = demo_card(pins=d)
    assert tx(card, "0020000B080102030405060708") == (b"", 0x9000)
    with pytest.raises(ValueError):
        PinStore({"01": {"value": "1234", "tries": 4, "max_tries": 3}})
