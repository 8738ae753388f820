"""The engine's typed events (issue 10): `Card.receive` in the h11 sense, and the driver loop
of transport.driver: process -> persist -> send."""

from __future__ import annotations

from pathlib import Path

import pytest

from apdu.engine import SECRET_COMMAND_DATA
from apdu.events import ApduExchanged, Response, StateChanged, WriteRefused
from demo_card import demo_card
from isim.card.emulator import Emulator
from isim.card.image import build_image, load_image
from isim.profile.model import load_profile
from transport.driver import Driver

ROOT = Path(__file__).resolve().parent.parent
VERIFY_ADM1 = bytes.fromhex("0020000A08") + b"12345678"  # examples/alice.yaml
SELECT_ISIM = bytes.fromhex("00A4040C10A0000000871004FFFFFFFF8907090000")


def test_a_read_gives_a_trace_event_then_the_response() -> None:
    card = demo_card()
    events = card.receive(bytes.fromhex("00A4000C023F00"))
    assert [type(e) for e in events] == [ApduExchanged, Response]
    assert events[-1] == Response(b"\x90\x00")
    assert not card.state_changed  # nothing to poll: the event said it all


def test_a_change_comes_first_as_state_changed() -> None:
    card = demo_card()
    card.receive(bytes.fromhex("00A4000C022F00"))
    events = card.receive(bytes.fromhex("0020000A083131313131313131"))  # demo ADM
    assert isinstance(events[0], ApduExchanged) and events[0].secrecy == SECRET_COMMAND_DATA
    events = card.receive(b"\x00\xdc\x01\x04\x26" + bytes(0x26))
    assert [type(e) for e in events] == [StateChanged, ApduExchanged, Response]
    first = events[0]
    assert isinstance(first, StateChanged) and first.serial == card.state_serial
    assert events[-1] == Response(b"\x90\x00")
    assert "31313131" not in repr(card.receive(bytes.fromhex("0020000A083131313131313131")))


def test_a_guard_refusal_is_a_typed_event() -> None:
    emu = Emulator.open(build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    card = emu.card
    for capdu in (VERIFY_ADM1, SELECT_ISIM, bytes.fromhex("00A4000C026F02")):
        assert card.receive(capdu)[-1] == Response(b"\x90\x00")
    size = len(card.ef("ADF.ISIM/EF.IMPI").body)
    evil = b"\x80\x0b" + b"a@evil.test"
    evil += b"\xff" * (size - len(evil))  # the whole file: only the realm is wrong
    events = card.receive(bytes([0, 0xD6, 0, 0, len(evil)]) + evil)
    refused = [e for e in events if isinstance(e, WriteRefused)]
    assert len(refused) == 1 and refused[0].ef_name == "EF.IMPI"
    assert "evil.test" in refused[0].reason
    assert events[-1] == Response(b"\x6a\x80")
    assert not any(isinstance(e, StateChanged) for e in events)  # the file is unchanged
    later = card.receive(bytes.fromhex("00B0000010"))
    assert not any(isinstance(e, WriteRefused) for e in later)


def test_a_refusal_in_the_bare_exchange_is_not_reported_later() -> None:
    """`process` (what `Emulator.transmit` runs) has no events: a refusal there must not
    surface as a WriteRefused of the next `receive`."""
    emu = Emulator.open(build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    for capdu in (VERIFY_ADM1, SELECT_ISIM, bytes.fromhex("00A4000C026F02")):
        assert emu.transmit(capdu) == b"\x90\x00"
    size = len(emu.card.ef("ADF.ISIM/EF.IMPI").body)
    evil = b"\x80\x0b" + b"a@evil.test"
    evil += b"\xff" * (size - len(evil))
    assert emu.transmit(bytes([0, 0xD6, 0, 0, len(evil)]) + evil) == b"\x6a\x80"
    later = emu.card.receive(bytes.fromhex("00B0000010"))
    assert [type(e) for e in later] == [Response]


def test_transmit_persists_a_change_before_it_answers(tmp_path: Path) -> None:
    state = tmp_path / "alice.state"
    emu = Emulator.open(build_image(load_profile(ROOT / "examples" / "alice.yaml")),
                        state_path=state)
    assert emu.transmit(bytes.fromhex("0020000A08") + b"99999999") == b"\x63\xc2"
    assert load_image(state).card["pins"]["0A"]["tries"] == 2
    assert not emu.card.state_changed  # taken by transmit
    emu.close()


def test_driver_persists_before_it_returns_the_response(tmp_path: Path) -> None:
    state = tmp_path / "alice.state"
    emu = Emulator.open(build_image(load_profile(ROOT / "examples" / "alice.yaml")),
                        state_path=state)
    seen: list[object] = []

    def persist(event: StateChanged) -> None:
        emu.persist(event)
        seen.append(event)

    emu.card.trace_exchanges = True  # as isim emulate --trace does (Emulator.open: off)
    driver = Driver(emu.card, persist=persist, observe=seen.append)
    assert driver.exchange(bytes.fromhex("0020000A08") + b"99999999") == b"\x63\xc2"
    assert isinstance(seen[0], StateChanged) and isinstance(seen[1], ApduExchanged)
    assert load_image(state).card["pins"]["0A"]["tries"] == 2  # on disk before the answer


def test_driver_never_answers_a_change_it_could_not_persist() -> None:
    card = demo_card()

    def persist(event: StateChanged) -> None:
        raise OSError("disk full")

    driver = Driver(card, persist=persist)
    assert driver.exchange(bytes.fromhex("00A4000C023F00")) == b"\x90\x00"
    with pytest.raises(OSError, match="disk full"):
        driver.exchange(bytes.fromhex("0020000A083939393939393939"))  # a wrong ADM: counted


def test_receive_answers_a_failing_command_with_technical_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # TS 102 221 clause 10.2.1.6: an exception inside the engine is 6F00, never raised
    card = demo_card()
    card.power_on()

    def broken(capdu: bytes) -> bytes:
        raise RuntimeError("bug")

    monkeypatch.setattr(card, "_process", broken)
    card.trace_exchanges = False
    assert card.receive(bytes.fromhex("00B0000010")) == [Response(b"\x6f\x00")]
    assert card.process(bytes.fromhex("00B0000010")) == b"\x6f\x00"
