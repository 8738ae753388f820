"""Persistent state (to_dict / from_dict, state_changed), the builder from apdu.layout,
AUTHENTICATE through the Application plug-in, GET CHALLENGE, TERMINAL PROFILE/CAPABILITY,
and "never raise"."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from apdu.application import Application, FileContents
from apdu.build import card_dict
from apdu.demo import DEMO_PINS, DemoApplication, demo_card
from apdu.engine import Card
from apdu.layout import layout

AID = layout().applications["ADF.ISIM"].aid
assert AID is not None
AID_HEX = AID.hex().upper()
PIN1 = "002000010831323334FFFFFFFF"
ADM1 = "0020000A083131313131313131"


def tx(card: Card, h: str) -> tuple[bytes, int]:
    r = card.process(bytes.fromhex(h.replace(" ", "")))
    return r[:-2], int.from_bytes(r[-2:], "big")


def test_demo_application_satisfies_the_protocol() -> None:
    assert isinstance(DemoApplication(AID), Application)


def test_round_trip_is_exact_and_json() -> None:
    d = card_dict(pins=DEMO_PINS, contents={"ADF.ISIM/EF.IMPI": b"\x80\x01a"})
    card = Card.from_dict(json.loads(json.dumps(d)))
    assert card.to_dict() == json.loads(json.dumps(card.to_dict()))
    again = Card.from_dict(card.to_dict()).to_dict()
    assert again == card.to_dict()
    # the builder's dict and to_dict() describe the same card
    assert Card.from_dict(d).to_dict()["mf"]["files"] == again["mf"]["files"]


def test_round_trip_keeps_contents_lcsi_and_pin_state() -> None:
    card = demo_card()
    tx(card, f"00A4040C10{AID_HEX}")
    tx(card, ADM1)
    tx(card, "00A4000C026F02")
    tx(card, "00D6000003800161")
    tx(card, "00A4000C026F04")
    tx(card, "00DC010480" + ("80" + "05" + b"sip:z".hex()).ljust(256, "F"))
    tx(card, "00A4000C026FAD")
    tx(card, "00040000")
    tx(card, "002000010831313131FFFFFFFF")  # wrong PIN1: 2 tries left
    tx(card, "0026008108" + "35363738FFFFFFFF")  # disable PIN2
    d = json.loads(json.dumps(card.to_dict()))
    restored = Card.from_dict(d)
    assert restored.to_dict() == card.to_dict()
    assert restored.ef("ADF.ISIM/EF.IMPI").body[:3] == b"\x80\x01a"
    assert restored.ef("ADF.ISIM/EF.IMPU").records[0][:7] == b"\x80\x05sip:z"
    assert restored.ef("ADF.ISIM/EF.AD").lcsi == 0x04
    assert d["pins"]["01"]["tries"] == 2
    assert d["pins"]["81"]["enabled"] is False
    assert tx(restored, "00200001") == (b"", 0x63C2)
    assert tx(restored, "00200081") == (b"", 0x9000)  # disabled
    isim = next(a for a in d["adfs"] if a["name"] == "ADF.ISIM")
    assert isim["aid"] == AID_HEX and isim["label"] == "ISIM"


def test_builder_sizes_contents_and_errors() -> None:
    d = card_dict(
        pins=DEMO_PINS,
        sizes={
            "ADF.ISIM/EF.IMPU": {"records": 2, "record_length": 64},
            "ADF.ISIM/EF.IMPI": {"size": 40},
        },
        contents={"ADF.ISIM/EF.IMPU": [b"\x80\x01a"], "MF/EF.ICCID": bytes(10)},
        omit={"ADF.ISIM/EF.SMS"},
    )
    card = Card.from_dict(d)
    impu = card.ef("ADF.ISIM/EF.IMPU")
    assert (impu.record_length, len(impu.records)) == (64, 2)
    assert impu.records == [b"\x80\x01a" + b"\xff" * 61, b"\xff" * 64]
    assert card.ef("ADF.ISIM/EF.IMPI").size == 40
    assert card.ef("MF/EF.PL").body[:2] == b"en"  # default
    with pytest.raises(KeyError):
        card.ef("ADF.ISIM/EF.SMS")
    tx(card, f"00A4040C10{AID_HEX}")
    assert bytes.fromhex("8205422100400283026F04") in tx(card, "00A40004026F0400")[0]
    # EF.ARR gets the layout's access rules
    arr = card.ef("ADF.ISIM/EF.ARR")
    assert arr.records[0].startswith(b"\x80\x01")
    for bad in (
        {"contents": {"ADF.ISIM/EF.IMPI": bytes(200)}},
        {"contents": {"ADF.ISIM/EF.NOPE": b""}},
        {"contents": {"ADF.ISIM/EF.IMPU": [b""] * 9}},
        {"sizes": {"ADF.ISIM/EF.IMPI": {"bytes": 3}}},
        {"omit": ["X/Y"]},
    ):
        with pytest.raises(ValueError):
            card_dict(pins=DEMO_PINS, **bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.__setitem__("atr", "3B9F96801F878031E073FE211B674A357530350265F9"),
        lambda d: d["mf"]["files"][0].__setitem__("fid", "2F0"),
        lambda d: d["mf"]["files"][0].__setitem__("sfi", 31),
        lambda d: d["mf"]["files"][0].__setitem__("structure", "ber_tlv"),
        lambda d: d["mf"]["files"][0]["content"].append("00"),
        lambda d: d["mf"]["files"][1].__setitem__("content", "00"),
        lambda d: d["mf"]["files"][1].__setitem__("fid", "2F00"),
        lambda d: d["mf"]["files"][1].__setitem__("fid", "7FFF"),
        lambda d: d["mf"]["files"][1].__setitem__("lcsi", "07"),
        lambda d: d["mf"]["files"][1].__setitem__("arr", {"file": "2F06", "record": 0}),
        lambda d: d["adfs"][0].__setitem__("aid", ""),
        lambda d: d["pins"]["01"].__setitem__("value", "12"),
        lambda d: d["pins"]["01"].__setitem__("value", "12\u00e94"),
        lambda d: d.pop("mf"),
        lambda d: d["mf"]["files"][0].pop("content"),
        lambda d: d["adfs"][0].__setitem__("files", [{"name": "EF.X"}]),
    ],
)
def test_from_dict_refuses_inconsistent_cards(mutate: Any) -> None:
    d = copy.deepcopy(card_dict(pins=DEMO_PINS))
    mutate(d)
    with pytest.raises(ValueError) as e:
        Card.from_dict(d)
    assert "1234" not in str(e.value) and "\u00e9" not in str(e.value)


def test_applications_attach_by_aid() -> None:
    d = card_dict(pins=DEMO_PINS)
    app = DemoApplication(AID)
    card = Card.from_dict(d, applications={AID_HEX: app})
    assert card.applications[card.adf(AID)] is app
    with pytest.raises(ValueError):
        Card.from_dict(d, applications=[DemoApplication(b"\xa0\x00")])


def test_state_changed_signalling() -> None:
    card = demo_card()
    assert card.state_changed is False
    serial = card.state_serial
    for h in (
        "00A40004023F0000",
        "00A4000C022F00",
        "00B2010400",
        "80F2000000",
        PIN1,
        "0070000001",
        "00200001",
    ):
        tx(card, h)
    assert card.state_changed is False and card.state_serial == serial
    tx(card, "002000010830303030FFFFFFFF")
    assert card.state_changed is True and card.state_serial == serial + 1
    assert card.take_state_changed() is True
    assert card.take_state_changed() is False


# --- AUTHENTICATE ------------------------------------------------------------------------------


class CountingApp:
    """An Application without the optional state_changed attribute handling."""

    label = "X"

    def __init__(self, aid: bytes, fail: bool = False) -> None:
        self.aid = aid
        self.calls: list[tuple[int, int, bytes]] = []
        self.fail = fail

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        if self.fail:
            raise RuntimeError("guard broke")
        return True

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        self.calls.append((p1, p2, data))
        if self.fail:
            raise RuntimeError("boom")
        return b"\xdb\x00", 0x9000

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


def test_authenticate_checks_pin1_then_calls_the_application() -> None:
    card = demo_card()
    app = card.applications[next(a for a in card.adfs if a.name == "ADF.ISIM")]
    assert isinstance(app, DemoApplication)
    assert tx(card, "008800810401020304") == (b"", 0x6985)  # no application selected
    tx(card, f"00A4040C10{AID_HEX}")
    assert tx(card, "008800810401020304") == (b"", 0x6982)
    assert app.counter == 0
    tx(card, PIN1)
    card.take_state_changed()
    data, sw = tx(card, "00880081040102030400")
    assert sw == 0x9000 and data == b"\xdb\x04" + bytes(b ^ 0x5A for b in b"\x01\x02\x03\x04")
    assert app.counter == 1 and card.take_state_changed() is True
    assert app.state_changed is False  # folded into the card and reset
    assert tx(card, "008800840401020304") == (b"", 0x9864)  # application's own SW
    assert card.take_state_changed() is False
    assert tx(card, "008801810401020304")[1] == 0x6A86
    # on a logical channel, with the application of that channel
    tx(card, "0070000001")
    assert tx(card, "018800810401020304")[1] == 0x6985
    tx(card, f"01A4040C10{AID_HEX}")
    assert tx(card, "01880081040102030400")[1] == 0x9000


def test_authenticate_with_pin1_disabled_and_an_app_without_flag() -> None:
    pins = {**DEMO_PINS, "01": {**DEMO_PINS["01"], "enabled": False}}
    app = CountingApp(AID)
    card = Card.from_dict(card_dict(pins=pins), applications=[app])
    tx(card, f"00A4040C10{AID_HEX}")
    assert tx(card, "0088008102AABB00") == (b"\xdb\x00", 0x9000)
    assert app.calls == [(0, 0x81, b"\xaa\xbb")]
    assert card.take_state_changed() is True  # no flag: assumed changed


def test_exceptions_in_the_application_become_6f00_and_change_nothing() -> None:
    app = CountingApp(AID, fail=True)
    card = Card.from_dict(card_dict(pins=DEMO_PINS), applications=[app])
    tx(card, f"00A4040C10{AID_HEX}")
    tx(card, PIN1)
    tx(card, ADM1)
    assert tx(card, "0088008102AABB00") == (b"", 0x6F00)
    tx(card, "00A4000C026F02")
    before = card.ef("ADF.ISIM/EF.IMPI").body
    assert tx(card, "00D6000001AA") == (b"", 0x6F00)
    assert card.ef("ADF.ISIM/EF.IMPI").body == before
    assert tx(card, "00B0000001")[1] == 0x9000  # the card still works


# --- GET CHALLENGE, TERMINAL PROFILE / CAPABILITY ---------------------------------------------


def test_get_challenge_uses_the_injected_random_source() -> None:
    asked: list[int] = []

    def rng(n: int) -> bytes:
        asked.append(n)
        return bytes(range(n))

    card = demo_card(rng=rng)
    assert tx(card, "0084000008") == (bytes(range(8)), 0x9000)
    assert tx(card, "0084000010") == (bytes(range(16)), 0x9000)
    assert asked == [8, 16]
    assert tx(card, "0084000000") == (bytes(range(256)), 0x9000)
    assert tx(card, "00840000")[1] == 0x6700
    assert tx(card, "0084010008")[1] == 0x6A86
    assert tx(demo_card(), "0084000008") == (b"", 0x6A81)  # no random source
    assert tx(demo_card(rng=lambda n: b"x"), "0084000008") == (b"", 0x6F00)


def test_terminal_profile_and_capability_are_accepted() -> None:
    card = demo_card()
    assert tx(card, "8010000005FFFFFFFFFF") == (b"", 0x9000)
    assert tx(card, "80AA000005A903830100") == (b"", 0x9000)
    assert tx(card, "0010000001FF") == (b"", 0x6E00)
    assert tx(card, "8010010001FF")[1] == 0x6A86
    assert tx(card, "80AA000101FF")[1] == 0x6A86


def test_unexpected_exception_becomes_6f00(monkeypatch: pytest.MonkeyPatch) -> None:
    card = demo_card()

    def broken(*args: Any) -> Any:
        raise ZeroDivisionError

    monkeypatch.setattr(card, "fcp_of", broken)
    assert card.process(bytes.fromhex("00A40004023F0000")) == b"\x6f\x00"
    monkeypatch.undo()
    assert card.process(bytes.fromhex("00A40004023F0000"))[-2:] == b"\x90\x00"
