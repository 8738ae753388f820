"""`isim inspect` never writes, and spends PIN tries only as told: PIN1 / ADM are presented
only when given and needed, after a counter query, never on the last try, never twice.
In-process: the APDU log of the engine run is inspected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from apdu.arr import encode_rule
from broken_images import ALICE, BROKEN, alice_image, set_record, write
from isim.card.image import CardImage
from isim.cli import EXIT_OK, EXIT_VIOLATION, main
from isim.inspect import CardSource, Inspection, inspect_source, open_image
from isim.inspect.auth import adm_block, pin_block
from isim.inspect.link import READ_ONLY_INS
from isim.profile.model import load_profile
from specs.layout import layout

INS_VERIFY = 0x20
# TS 102 221 table 10.5 / TS 102 222: every command that changes a card
WRITE_INS = {0xD6, 0xDC, 0xE2, 0x32, 0x04, 0x44, 0x24, 0x26, 0x28, 0x2C, 0xE0, 0xE4, 0xE6,
             0xE8, 0xFE, 0xD4, 0xDB, 0x88, 0x89}
PIN1 = "9753"
ADM = "86420135"


def pin1_ref() -> str:
    return f"{layout().key_references['PIN1']:02X}"


def with_pin1(image: CardImage, *, tries: int | None = None) -> CardImage:
    out = CardImage(image.iccid, json.loads(json.dumps(image.card)), dict(image.isim))
    pin = out.card["pins"][pin1_ref()]
    pin["value"], pin["enabled"] = PIN1, True
    if tries is not None:
        pin["tries"] = tries
    return out


class Logged:
    """An image in the engine with every C-APDU kept."""

    def __init__(self, image: CardImage) -> None:
        self.src = open_image(image)
        self.log: list[bytes] = []

    def transmit(self, capdu: bytes) -> bytes:
        self.log.append(capdu)
        return self.src.transmit(capdu)

    def source(self) -> CardSource:
        return CardSource("logged", self.src.atr, self.transmit, self.src.trust_domains)

    def inspect(self, **secrets: bytes | None) -> Inspection:
        return inspect_source(self.source(), **secrets)  # type: ignore[arg-type]

    def verifies(self) -> list[bytes]:
        return [c for c in self.log if c[1] == INS_VERIFY]

    def presentations(self) -> list[bytes]:
        return [c for c in self.log if c[1] == INS_VERIFY and len(c) > 5]


def tries_left(card: Logged) -> int:
    return int(card.src.transmit(bytes((0, INS_VERIFY, 0, int(pin1_ref(), 16))))[-1]) & 0x0F


# ---------------------------------------------------------------------------- no writes


@pytest.mark.parametrize("name", [None, *sorted(BROKEN)])
def test_no_write_command_is_ever_sent(name: str | None) -> None:
    image = alice_image() if name is None else BROKEN[name][0](alice_image())
    card = Logged(with_pin1(image))
    card.inspect(pin1=pin_block(PIN1), adm=adm_block(ADM))
    sent = {c[1] for c in card.log}
    assert sent <= READ_ONLY_INS and not sent & WRITE_INS, sorted(sent)
    assert {0xA4, 0xB0, 0xB2, INS_VERIFY} <= sent  # the log is real: everything was read
    assert card.src.transmit.__self__.card.state_serial == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- PIN1 policy


def test_pin1_needed_but_not_given_stops_without_verify() -> None:
    card = Logged(with_pin1(alice_image()))
    ins = card.inspect()
    assert card.verifies() == []
    unread = {f.file for f in ins.findings if f.check == "read"}
    assert {"EF.IMPI", "EF.IMPU", "EF.DOMAIN"} <= unread
    assert all("give --pin1" in f.message for f in ins.findings if f.check == "read")
    assert not ins.passed()
    assert tries_left(card) == 3


def test_right_pin1_is_presented_once() -> None:
    card = Logged(with_pin1(alice_image()))
    ins = card.inspect(pin1=pin_block(PIN1))
    assert ins.findings == []
    assert len(card.presentations()) == 1
    assert len(card.verifies()) == 2  # the counter query, then the PIN
    assert card.verifies()[0] == bytes((0, INS_VERIFY, 0, int(pin1_ref(), 16)))


def test_wrong_pin1_is_presented_once_and_reported() -> None:
    card = Logged(with_pin1(alice_image()))
    ins = card.inspect(pin1=pin_block("0000"))
    assert len(card.presentations()) == 1
    assert tries_left(card) == 2
    messages = [f.message for f in ins.findings if f.file is None]
    assert messages == ["PIN1 given with --pin1 is wrong (2 tries left); not retried"]
    assert not ins.passed()


@pytest.mark.parametrize("tries", [1, 0])
def test_last_try_and_blocked_pin1_are_not_presented(tries: int) -> None:
    card = Logged(with_pin1(alice_image(), tries=tries))
    ins = card.inspect(pin1=pin_block(PIN1))
    assert card.presentations() == []
    assert len(card.verifies()) == 1
    text = "only 1 try left" if tries == 1 else "blocked"
    assert any(text in f.message for f in ins.findings if f.file is None)
    assert tries_left(card) == tries


def test_secrets_given_but_not_needed_are_not_sent() -> None:
    card = Logged(alice_image())  # PIN1 disabled: nothing answers 6982
    ins = card.inspect(pin1=pin_block(PIN1), adm=adm_block(ADM))
    assert card.verifies() == []
    assert ins.findings == []


def test_adm_unlocks_an_adm_protected_read() -> None:
    image = alice_image()
    rules = layout().applications["ADF.ISIM"].access_rules
    arr_length = layout().applications["ADF.ISIM"].files["EF.ARR"].record_length
    read_adm = {**rules[1], "read": "ADM1"}
    set_record(image, "EF.ARR", 1, encode_rule(read_adm, arr_length)[:arr_length])
    without = Logged(image).inspect()
    assert any(f.check == "read" and "give --pin1 or --adm" in f.message
               for f in without.findings)
    card = Logged(image)
    ins = card.inspect(adm=load_profile(ALICE).adm1)
    assert len(card.presentations()) == 1
    assert {f.check for f in ins.findings} == {"access"}  # read: ADM1 (specs/: PIN1)
    assert all(f.level == "warning" for f in ins.findings)


# ---------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("as_json", [False, True])
def test_secrets_are_never_printed(tmp_path: Path, as_json: bool) -> None:
    path = write(with_pin1(alice_image()), tmp_path / "pin.json")
    args = ["inspect", "--image", str(path), "--pin1", PIN1, "--adm", ADM]
    result = CliRunner().invoke(main, args + (["--json"] if as_json else []))
    assert result.exit_code == EXIT_OK, result.output
    for secret in (PIN1, ADM, PIN1.encode().hex(), ADM.encode().hex()):
        assert secret.lower() not in result.output.lower()
    short = CliRunner().invoke(main, ["inspect", "--image", str(path), "--pin1", "975"])
    assert short.exit_code == 2 and "975" not in short.output
    wrong = CliRunner().invoke(main, [*args[:3], "--pin1", "8642"])
    assert wrong.exit_code == EXIT_VIOLATION and "8642" not in wrong.output
