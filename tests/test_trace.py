"""`isim emulate --trace`: every APDU logged, PINs, ADM keys and AUTHENTICATE results masked."""

from __future__ import annotations

from pathlib import Path

from apdu.layout import layout
from apdu.trace import mask_capdu, mask_rapdu
from emulator_proc import EmulatorProcess, FakeVpcd
from isim.image import build_image, save_image
from isim.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
ADM1 = b"12345678"  # examples/alice.yaml
SET1_AUTH = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300"
)
SET1_CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"


def test_masks() -> None:
    verify = bytes.fromhex("0020000A08") + ADM1
    assert mask_capdu(verify) == "0020000A08" + "**" * 8
    assert mask_capdu(bytes.fromhex("00A4000C026F02")) == "00A4000C026F02"
    assert mask_rapdu(SET1_AUTH, b"\xdb\x08" + bytes(42) + b"\x90\x00") == "**" * 44 + "9000"
    assert mask_rapdu(SET1_AUTH, b"\x98\x62") == "9862"


def test_emulator_trace_never_shows_secrets(tmp_path: Path) -> None:
    image = tmp_path / "alice.img"
    save_image(image, build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    select_isim = bytes.fromhex("00A4040410A0000000871004FFFFFFFF890709000000")
    with FakeVpcd() as vpcd, EmulatorProcess(image, vpcd_port=vpcd.port, extra=["--trace"]) as emu:
        vpcd.accept(emu)
        assert vpcd.transmit(bytes.fromhex("0020000A08") + ADM1)[-2:] == b"\x90\x00"
        assert vpcd.transmit(select_isim)[-2:] == b"\x90\x00"
        impi = layout().find_ef("EF.IMPI")[1]  # a refused write is explained
        assert vpcd.transmit(bytes.fromhex(f"00A4000C02{impi.fid_hex}"))[-2:] == b"\x90\x00"
        evil = b"\x80\x0b" + b"a@evil.test"
        evil += b"\xff" * (impi.size - len(evil))  # the whole file: only the realm is wrong
        assert vpcd.transmit(bytes.fromhex("00D6000000") + evil)[-2:] == b"\x67\x00"
        update = bytes([0x00, 0xD6, 0x00, 0x00, len(evil)]) + evil
        assert vpcd.transmit(update)[-2:] == b"\x6a\x80"
        response = vpcd.transmit(SET1_AUTH)
        assert SET1_CK in response.hex()  # the card answered with the keys...
        assert emu.terminate() == 0
        log = emu.output()
    assert "> 0020000A08" in log and "> 00A40404" in log  # ...every APDU is traced...
    assert "write refused: EF.IMPI" in log and "evil.test" in log
    assert ADM1.hex().upper() not in log.upper()  # ...but never the ADM key...
    assert SET1_CK not in log.lower()  # ...nor CK/IK/RES
    assert "465b5ce8b199b49faa5f0a2ee238a6bc" not in log.lower()  # nor K
