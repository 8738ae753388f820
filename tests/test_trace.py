"""Traces mask by what the data is (issue 12 item 4): PIN data, AUTHENTICATE results, also
when a T=0 GET RESPONSE returns them; `isim emulate --trace` in both modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from apdu.engine import SECRET_COMMAND_DATA, SECRET_RESPONSE_DATA
from apdu.trace import mask_capdu, mask_rapdu, masked_capdu, masked_rapdu
from emulator_proc import EmulatorProcess, FakeVpcd
from isim.card.emulator import Emulator
from isim.card.image import build_image, save_image
from isim.profile.model import load_profile
from specs.layout import layout

ROOT = Path(__file__).resolve().parent.parent
ADM1 = b"12345678"  # examples/alice.yaml
SET1_AUTH = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb3"
)
SET1_CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"
SET1_RES = "a54211d5e3ba50bf"
SELECT_ISIM = bytes.fromhex("00A4040410A0000000871004FFFFFFFF8907090000")
VERIFY_ADM1 = bytes.fromhex("0020000A08") + ADM1


def test_masks() -> None:
    assert mask_capdu(VERIFY_ADM1, SECRET_COMMAND_DATA) == "0020000A08" + "**" * 8
    assert mask_capdu(VERIFY_ADM1, 0) == VERIFY_ADM1.hex().upper()
    assert masked_capdu(VERIFY_ADM1, SECRET_COMMAND_DATA) == VERIFY_ADM1[:5] + bytes(8)
    r = b"\xdb\x08" + bytes(range(42)) + b"\x90\x00"
    assert mask_rapdu(r, SECRET_RESPONSE_DATA) == "**" * 44 + "9000"
    assert masked_rapdu(r, SECRET_RESPONSE_DATA) == bytes(44) + b"\x90\x00"
    assert mask_rapdu(b"\x98\x62", SECRET_RESPONSE_DATA) == "9862"
    assert mask_rapdu(r, SECRET_COMMAND_DATA) == r.hex().upper()


def _emu(t0: bool) -> Emulator:
    return Emulator.open(build_image(load_profile(ROOT / "examples" / "alice.yaml")), t0=t0)


@pytest.mark.parametrize("t0", [False, True])
def test_the_card_says_what_the_data_is(t0: bool) -> None:
    emu = _emu(t0)
    card = emu.card
    emu.transmit(SELECT_ISIM)
    assert card.secrecy == 0
    emu.transmit(VERIFY_ADM1)
    assert card.secrecy == SECRET_COMMAND_DATA
    emu.transmit(b"\x80" + VERIFY_ADM1[1:])  # refused (CLA), still PIN data
    assert card.secrecy == SECRET_COMMAND_DATA
    r = emu.transmit(SET1_AUTH)
    assert card.secrecy == SECRET_RESPONSE_DATA
    if t0:  # the results come later, through GET RESPONSE: still secret, in any slices
        assert r == b"\x61\x2c"
        assert emu.transmit(bytes.fromhex("00C0000000")) == b"\x6c\x2c"
        part = emu.transmit(bytes.fromhex("00C0000010"))
        assert part[-2:] == b"\x61\x1c" and card.secrecy == SECRET_RESPONSE_DATA
        rest = emu.transmit(bytes.fromhex("00C000001C"))
        assert card.secrecy == SECRET_RESPONSE_DATA
        r = part[:-2] + rest
    assert SET1_CK in r.hex()
    r = emu.transmit(bytes.fromhex("00A40004023F00"))  # an FCP, also through GET RESPONSE
    if t0:
        r = emu.transmit(bytes([0, 0xC0, 0, 0, r[1]]))
    assert r[0] == 0x62 and r[-2:] == b"\x90\x00" and card.secrecy == 0


@pytest.mark.parametrize("mode", ["--t0", "--t1"])
def test_emulator_trace_never_shows_secrets(tmp_path: Path, mode: str) -> None:
    image = tmp_path / "alice.img"
    save_image(image, build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    t0 = mode == "--t0"
    ok = b"\x61" if t0 else b"\x90"
    with FakeVpcd() as vpcd, EmulatorProcess(image, vpcd_port=vpcd.port,
                                             extra=["--trace", mode]) as emu:
        vpcd.accept(emu)
        assert vpcd.transmit(VERIFY_ADM1)[-2:] == b"\x90\x00"
        assert vpcd.transmit(SELECT_ISIM + (b"" if t0 else b"\x00"))[:1] in (ok, b"\x62")
        impi = layout().find_ef("EF.IMPI")[1]  # a refused write is explained
        assert vpcd.transmit(bytes.fromhex(f"00A4000C02{impi.fid_hex}"))[-2:] == b"\x90\x00"
        evil = b"\x80\x0b" + b"a@evil.test"
        evil += b"\xff" * (impi.size - len(evil))  # the whole file: only the realm is wrong
        assert vpcd.transmit(bytes.fromhex("00D6000000") + evil)[-2:] == b"\x67\x00"
        update = bytes([0x00, 0xD6, 0x00, 0x00, len(evil)]) + evil
        assert vpcd.transmit(update)[-2:] == b"\x6a\x80"
        response = vpcd.transmit(SET1_AUTH)
        if t0:
            assert response == b"\x61\x2c"
            response = vpcd.transmit(bytes.fromhex("00C000002C"))
        assert SET1_CK in response.hex()  # the card answered with the keys...
        assert emu.terminate() == 0
        log = emu.output()
    assert "> 0020000A08" + "**" * 8 in log and "> 00A40404" in log  # every APDU traced...
    assert "write refused: EF.IMPI" in log and "evil.test" in log
    assert ADM1.hex().upper() not in log.upper()  # ...but never the ADM key...
    assert SET1_CK not in log.lower() and SET1_RES not in log.lower()  # ...nor RES/CK/IK
    assert "< " + "**" * 44 + "9000" in log  # the AUTHENTICATE answer, masked, with its SW
    if t0:
        assert "> 00C000002C" in log and "< 612C" in log
    assert "465b5ce8b199b49faa5f0a2ee238a6bc" not in log.lower()  # nor K


def _tree_with_a_secret_ef(card: dict, name: str) -> None:
    for node in card["mf"]["files"]:
        if node["name"] == name:
            node["secret"] = True
            return
    raise KeyError(name)


@pytest.mark.parametrize("t0", [False, True])
def test_key_files_are_masked_whatever_reads_them(t0: bool) -> None:
    # "anything derived": an EF holding key material (the USIM's EF.KEYS holds CK/IK) is
    # masked in READ and UPDATE, by what it is, not by the command
    from apdu.build import card_dict
    from apdu.engine import Card
    from demo_card import DEMO_PINS

    d = card_dict(pins=DEMO_PINS)
    _tree_with_a_secret_ef(d, "EF.ICCID")
    card = Card.from_dict(d, t0=t0)
    assert Card.from_dict(card.to_dict(), t0=t0).ef("MF/EF.ICCID").secret  # kept in images
    card.process(bytes.fromhex("00A4000C022FE2"))
    r = card.process(bytes.fromhex("00B000000A"))
    assert r[-2:] == b"\x90\x00" and card.secrecy == SECRET_RESPONSE_DATA
    assert mask_rapdu(r, card.secrecy) == "**" * 10 + "9000"
    card.process(bytes.fromhex("0020000A083131313131313131"))  # demo ADM
    card.process(bytes.fromhex("00D600000A") + bytes(10))
    assert card.secrecy & SECRET_COMMAND_DATA
    card.process(bytes.fromhex("00A4000C022F00"))  # an ordinary EF: visible
    card.process(bytes.fromhex("00B2010426"))
    assert card.secrecy == 0


def test_the_usim_key_files_are_secret_on_the_real_card() -> None:
    # EF.KEYS holds CK/IK derived by AUTHENTICATE (TS 31.102 4.2.4): a terminal writes them
    # back and reads them; the trace never shows them
    emu = _emu(True)
    card = emu.card
    keys = card.ef("ADF.USIM/EF.KEYS")
    assert keys.secret and not card.ef("ADF.USIM/EF.IMSI").secret
    usim = card.adfs[0].aid
    assert usim is not None
    emu.transmit(bytes([0, 0xA4, 4, 0x0C, len(usim)]) + usim)
    emu.transmit(bytes.fromhex("00A4000C026F08"))
    r = emu.transmit(bytes.fromhex("00B0000021"))
    assert r[-2:] == b"\x90\x00" and card.secrecy == SECRET_RESPONSE_DATA
    emu.transmit(VERIFY_ADM1)
    emu.transmit(bytes.fromhex("0020000108") + b"1234\xff\xff\xff\xff")  # alice's PIN1
    r = emu.transmit(bytes.fromhex("00D6000021") + bytes(range(33)))
    assert card.secrecy & SECRET_COMMAND_DATA
