"""The virtual card end to end: `isim emulate` (a real subprocess, the real CLI) -> vpcd ->
pcscd -> pyscard / scriptor / opensc-tool.  No mocks."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apdu.atr import ATR_T0, ATR_T1
from emulator_proc import ROOT, EmulatorProcess, isim_argv, isim_env
from isim.card.image import CardImage, build_image, save_image
from isim.codecs import codec_for, decode_fcp
from isim.profile.model import Profile, load_profile
from pcsc_stack import PcscStack
from transport import pcsc

pytestmark = pytest.mark.stack

ALICE = ROOT / "examples" / "alice.yaml"
VERIFY_ADM1 = bytes.fromhex("0020000A08") + b"12345678"
SELECT_MF_FCP = bytes.fromhex("00A40004023F0000")
SET1_APDU = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300")
SET1_RESPONSE = bytes.fromhex(
    "db08a54211d5e3ba50bf10b40ba9a3c58b2a05bbf0d987b21bf8cb10f769bcd751044604127672711c6d3441")


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile(ALICE)


@pytest.fixture(scope="module")
def image(profile: Profile) -> CardImage:
    return build_image(profile)


@pytest.fixture(scope="module")
def image_path(image: CardImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("image") / "alice.json"
    save_image(path, image)
    return path


@pytest.fixture(scope="module")
def running(pcsc_stack: PcscStack, image_path: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator for the read-mostly tests of this module (tests leave the card as
    they found it)."""
    state = tmp_path_factory.mktemp("state") / "alice.state"
    with EmulatorProcess(image_path, vpcd_port=pcsc_stack.vpcd_port, state=state) as emu:
        emu.wait_inserted(pcsc_stack.reader_name)
        yield emu
    EmulatorProcess.wait_removed(pcsc_stack.reader_name)


def ok(card: pcsc.PcscCard, capdu: bytes | str) -> bytes:
    raw = bytes.fromhex(capdu) if isinstance(capdu, str) else capdu
    r = card.transmit(raw)
    assert r[-2:] == b"\x90\x00", f"{raw.hex().upper()} -> {r.hex().upper()}"
    return r[:-2]


def sw(card: pcsc.PcscCard, capdu: bytes | str) -> int:
    raw = bytes.fromhex(capdu) if isinstance(capdu, str) else capdu
    return int.from_bytes(card.transmit(raw)[-2:], "big")


def select_isim(card: pcsc.PcscCard, image: CardImage, cla: int = 0) -> bytes:
    aid = bytes.fromhex(image.isim["aid"])
    return ok(card, bytes([cla, 0xA4, 0x04, 0x04, len(aid)]) + aid + b"\x00")


def _reader_index(stack: PcscStack) -> int:
    return pcsc.list_readers().index(stack.reader_name)


# ------------------------------------------------------------------------ pyscard


def test_pyscard_session(running: EmulatorProcess, pcsc_stack: PcscStack, image: CardImage,
                         profile: Profile) -> None:
    with pcsc.connect(pcsc_stack.reader_name) as card:
        assert card.atr == ATR_T0  # the default: a T=0 card
        assert card.protocol == "T=0"
        fcp = ok(card, SELECT_MF_FCP)
        assert fcp[0] == 0x62 and fcp[1] == len(fcp) - 2
        assert decode_fcp(fcp) is not None
        # EF.DIR: the USIM's application template, then the ISIM's
        ok(card, "00A4000C022F00")
        usim = codec_for("EF.DIR").decode(ok(card, "00B2010400"))
        assert usim is not None and usim.label == "USIM"
        template = codec_for("EF.DIR").decode(ok(card, "00B2020400"))
        assert template is not None
        assert template.aid.hex().upper() == image.isim["aid"] and template.label == "ISIM"
        # a GSM-era probe (pySim, old readers) is refused as on a real UICC
        assert sw(card, "A0A40000023F00") == 0x6E00
        assert sw(card, "A0C0000000") == 0x6E00
        # the ISIM on a logical channel
        channel = ok(card, "0070000001")
        assert channel == b"\x01"
        adf_fcp = select_isim(card, image, cla=0x01)
        assert bytes.fromhex(image.isim["aid"]) in adf_fcp
        values: dict[str, list[str | None]] = {}
        for name, fid, record in (("EF.IMPI", "6F02", False), ("EF.DOMAIN", "6F03", False),
                                  ("EF.IMPU", "6F04", True)):
            ok(card, f"01A4000C02{fid}")
            if record:
                values[name] = [codec_for(name).decode(ok(card, f"01B2{n:02X}0400"))
                                for n in (1, 2, 3)]
            else:
                values[name] = [codec_for(name).decode(ok(card, "01B0000000"))]
        assert values["EF.IMPI"] == [profile.impi]
        assert values["EF.DOMAIN"] == [profile.domain]
        assert values["EF.IMPU"] == list(profile.impu)
        ok(card, "01708001")  # close channel 1
        assert sw(card, "01B0000000") == 0x6881


def test_rule_violating_update_is_refused(running: EmulatorProcess, pcsc_stack: PcscStack,
                                          image: CardImage) -> None:
    impi = codec_for("EF.IMPI")
    with pcsc.connect(pcsc_stack.reader_name) as card:
        select_isim(card, image)
        ok(card, "00A4000C026F02")
        before = ok(card, "00B0000000")
        bad = impi.encode("mallory@evil.example.net", 128)
        assert sw(card, b"\x00\xd6\x00\x00\x80" + bad) == 0x6982  # no ADM1 yet
        ok(card, VERIFY_ADM1)
        assert sw(card, b"\x00\xd6\x00\x00\x80" + bad) == 0x6A80
        assert ok(card, "00B0000000") == before
        good = impi.encode("bob@ims.example.com", 128)
        ok(card, b"\x00\xd6\x00\x00\x80" + good)
        assert impi.decode(ok(card, "00B0000000")) == "bob@ims.example.com"
        ok(card, b"\x00\xd6\x00\x00\x80" + before)  # as it was
        assert ok(card, "00B0000000") == before


def test_power_cycles(running: EmulatorProcess, pcsc_stack: PcscStack,
                      image: CardImage) -> None:
    with pcsc.connect(pcsc_stack.reader_name) as card:
        atr = card.atr
        for i in range(6):
            ok(card, VERIFY_ADM1)
            ok(card, "0070000001")
            assert card.reset(cold=bool(i % 2)) == atr
            # a reset loses the verification state and the logical channels
            select_isim(card, image)
            ok(card, "00A4000C026F04")
            assert sw(card, b"\x00\xdc\x01\x04\x80" + b"\xff" * 128) == 0x6982
            assert sw(card, "01A4000C023F00") == 0x6881
            assert ok(card, SELECT_MF_FCP)[0] == 0x62


def _lengths(image: CardImage) -> tuple[int, int]:
    """The MF's FCP length and EF.IMPI's size, from the same card in process."""
    from isim.card.emulator import Emulator

    emu = Emulator.open(image)
    fcp = emu.transmit(SELECT_MF_FCP)[:-2]
    emu.transmit(bytes.fromhex("00A4040C10") + bytes.fromhex(image.isim["aid"]))
    emu.transmit(bytes.fromhex("00A4000C026F02"))
    return len(fcp), len(emu.transmit(bytes.fromhex("00B0000000"))[:-2])


def test_scriptor_is_a_raw_t0_client(running: EmulatorProcess, pcsc_stack: PcscStack,
                                     image: CardImage) -> None:
    # scriptor passes APDUs as they are: the T=0 procedure bytes reach the user
    aid = bytes.fromhex(image.isim["aid"]).hex(" ").upper()
    fcp_len, impi_len = _lengths(image)
    script = "\n".join([
        "# MF: 61XX, GET RESPONSE with P3=00 -> 6CXX, then with P3=XX",
        "00 A4 00 04 02 3F 00",
        "00 C0 00 00 00",
        f"00 C0 00 00 {fcp_len:02X}",
        "# EF.DIR record 2 (the ISIM; record 1 is the USIM): Le=00 -> 6C26",
        "00 A4 00 0C 02 2F 00",
        "00 B2 02 04 00",
        "00 B2 02 04 26",
        "A0 A4 00 00 02 3F 00",
        "reset",
        f"00 A4 04 0C 10 {aid}",
        "00 A4 00 0C 02 6F 02",
        "00 B0 00 00 00",
        f"00 B0 00 00 {impi_len:02X}",
        "exit",
        "00 B0 00 00 01",  # never sent: "exit" stopped scriptor
    ]) + "\n"
    done = pcsc_stack.run(["scriptor", "-r", pcsc_stack.reader_name], input=script)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"< 61 {fcp_len:02X} :" in out, out
    assert out.count(f"< 6C {fcp_len:02X} :") == 1, out
    assert re.search(rf"< 62 {fcp_len - 2:02X} 82 ", out), out  # the FCP after GET RESPONSE
    assert "< 6C 26 :" in out, out
    assert f"< 6C {impi_len:02X} :" in out, out
    assert out.count(": Normal processing.") == 6, out
    assert re.search(r"< 61 \w\w 4F 10 A0 00 00 00 87 10 04", out), out  # EF.DIR record
    assert "< 6E 00" in out, out
    impi = b"001010123456789@ims.mnc001.mcc001.3gppnetwork.org".hex(" ").upper()
    assert impi[:60] in out.replace("\n", " ").replace("  ", " "), out
    assert "00 B0 00 00 01" not in out


def test_opensc_tool(running: EmulatorProcess, pcsc_stack: PcscStack) -> None:
    index = str(_reader_index(pcsc_stack))
    atr = pcsc_stack.run(["opensc-tool", "--reader", index, "--atr"])
    assert atr.returncode == 0, atr.stderr
    assert ATR_T0.hex(":") in atr.stdout
    sent = pcsc_stack.run(["opensc-tool", "--reader", index,
                           "--send-apdu", "00A40004023F0000",
                           "--send-apdu", "00A4000C022FE2",
                           "--send-apdu", "00B000000A",
                           "--send-apdu", "A0A40000023F00"])
    assert sent.returncode == 0, sent.stderr
    out = sent.stdout
    assert out.count("SW1=0x90, SW2=0x00") == 3, out
    assert "SW1=0x6E, SW2=0x00" in out, out
    assert "98 88 12 01 00 00 40 03 10 F0" in out.upper(), out  # EF.ICCID


# ------------------------------------------------------------------------ T=0 style


def test_t0_mode_is_transparent_through_pyscard(pcsc_stack: PcscStack, image_path: Path,
                                                 image: CardImage, tmp_path: Path) -> None:
    slot = 1
    with EmulatorProcess(image_path, vpcd_port=pcsc_stack.slot_port(slot),
                         state=tmp_path / "t0.state", t0=True) as emu:  # --t0: the alias
        emu.wait_inserted(pcsc_stack.readers[slot])
        with pcsc.connect(pcsc_stack.readers[slot]) as card:
            assert card.atr == ATR_T0 and card.protocol == "T=0"
            fcp = ok(card, SELECT_MF_FCP)  # case 4: 61XX + GET RESPONSE under the hood
            assert fcp[0] == 0x62 and len(fcp) == fcp[1] + 2
            select_isim(card, image)
            assert ok(card, SET1_APDU) == SET1_RESPONSE  # case 4 through 61 2C
            # case 2 with a wrong Le: 6CXX, re-sent by transport.pcsc
            ok(card, "00A4000C026F02")
            assert len(ok(card, "00B0000010")) == 16
            # the raw T=0 behaviour is really there (seen below transport.pcsc's handling)
            raw = card._raw(SELECT_MF_FCP)
            assert raw[0] == 0x61
            assert ok(card, bytes([0, 0xC0, 0, 0, raw[1]]))[0] == 0x62
        assert emu.terminate() == 0
    EmulatorProcess.wait_removed(pcsc_stack.readers[slot])


def _scard_connect(reader: str, protocol: int) -> tuple[Any, int, Any, int]:
    from smartcard import scard

    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    hresult, hcard, active = scard.SCardConnect(ctx, reader, scard.SCARD_SHARE_SHARED, protocol)
    return ctx, hresult, (hcard if hresult == scard.SCARD_S_SUCCESS else None), active


def test_raw_t0_client_sees_61xx_like_eapol_test(running: EmulatorProcess,
                                                 pcsc_stack: PcscStack) -> None:
    # wpa_supplicant's pcsc_funcs (eapol_test, srsUE): T=0 only, SELECT MF with P2=04 and
    # no Le, exactly 2 bytes 61XX expected, then GET RESPONSE with P3=XX.
    from smartcard import scard

    ctx, hresult, hcard, active = _scard_connect(pcsc_stack.reader_name,
                                                 scard.SCARD_PROTOCOL_T1)
    assert hresult == scard.SCARD_E_PROTO_MISMATCH  # the ATR announces T=0 only
    scard.SCardReleaseContext(ctx)
    ctx, hresult, hcard, active = _scard_connect(pcsc_stack.reader_name,
                                                 scard.SCARD_PROTOCOL_T0)
    try:
        assert hresult == scard.SCARD_S_SUCCESS and active == scard.SCARD_PROTOCOL_T0
        hresult, rapdu = scard.SCardTransmit(hcard, scard.SCARD_PCI_T0,
                                             list(bytes.fromhex("00A40004023F00")))
        assert hresult == scard.SCARD_S_SUCCESS
        assert len(rapdu) == 2 and rapdu[0] == 0x61, bytes(rapdu).hex()
        hresult, fcp = scard.SCardTransmit(hcard, scard.SCARD_PCI_T0, [0, 0xC0, 0, 0, rapdu[1]])
        assert hresult == scard.SCARD_S_SUCCESS
        assert fcp[0] == 0x62 and len(fcp) == rapdu[1] + 2 and fcp[-2:] == [0x90, 0x00]
        # EF.DIR record length probe of pcsc_funcs: P3=FF -> exactly 6C LL
        scard.SCardTransmit(hcard, scard.SCARD_PCI_T0, list(bytes.fromhex("00A4000C022F00")))
        hresult, probe = scard.SCardTransmit(hcard, scard.SCARD_PCI_T0,
                                             list(bytes.fromhex("00B20104FF")))
        assert probe == [0x6C, 0x26]
    finally:
        if hcard is not None:
            scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(ctx)


def test_t1_mode_announces_t1_and_answers_at_apdu_level(pcsc_stack: PcscStack,
                                                        image_path: Path, image: CardImage,
                                                        tmp_path: Path) -> None:
    from smartcard import scard

    slot = 1
    with EmulatorProcess(image_path, vpcd_port=pcsc_stack.slot_port(slot),
                         state=tmp_path / "t1.state", t1=True) as emu:
        emu.wait_inserted(pcsc_stack.readers[slot])
        with pcsc.connect(pcsc_stack.readers[slot]) as card:
            assert card.atr == ATR_T1 and card.protocol == "T=1"
            raw = card._raw(SELECT_MF_FCP)  # data and SW in one response
            assert raw[0] == 0x62 and raw[-2:] == b"\x90\x00"
            select_isim(card, image)
            assert card._raw(SET1_APDU) == SET1_RESPONSE + b"\x90\x00"
        ctx, hresult, _, _ = _scard_connect(pcsc_stack.readers[slot],
                                                scard.SCARD_PROTOCOL_T0)
        scard.SCardReleaseContext(ctx)
        assert hresult == scard.SCARD_E_PROTO_MISMATCH  # no T=0 in this ATR
        assert emu.terminate() == 0
    EmulatorProcess.wait_removed(pcsc_stack.readers[slot])


# ------------------------------------------------------------------------ life cycle


def test_sigterm_stops_cleanly_and_state_is_0600(pcsc_stack: PcscStack, image_path: Path,
                                                  tmp_path: Path) -> None:
    state = tmp_path / "alice.state"
    slot = 1
    with EmulatorProcess(image_path, vpcd_port=pcsc_stack.slot_port(slot),
                         state=state) as emu:
        emu.wait_inserted(pcsc_stack.readers[slot])
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
        with pcsc.connect(pcsc_stack.readers[slot]) as card:
            ok(card, VERIFY_ADM1)
            ok(card, "00A4000C022F00")  # EF.DIR is not guarded: a plain write
            ok(card, b"\x00\xdc\x02\x04\x26" + b"\xff" * 0x26)
            assert sw(card, "0020000A08" + b"99999999".hex()) == 0x63C2
        assert emu.terminate() == 0, emu.output()
        assert "stopped" in emu.output()
    EmulatorProcess.wait_removed(pcsc_stack.readers[slot])
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    saved = json.loads(state.read_bytes())
    assert saved["format"] == "isim-card-image/1"
    assert saved["card"]["pins"]["0A"]["tries"] == 2  # the wrong ADM1 was persisted


def _emulate_exits(source: Path, state: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(isim_argv("emulate", str(source), "--state", str(state),
                                    "--vpcd", f"127.0.0.1:{port}"),
                          env=isim_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=30, check=False)


def test_corrupt_state_file_is_refused(image_path: Path, image: CardImage,
                                       tmp_path: Path) -> None:
    state = tmp_path / "alice.state"
    raw = image.to_json()
    # one digit of EF content changed, the JSON still valid: the SHA-256 catches it
    i = raw.index(b'"content":"80')
    state.write_bytes(raw[:i + 12] + b"9" + raw[i + 13:])
    done = _emulate_exits(image_path, state, 9)
    assert done.returncode == 2, done.stderr
    assert "corrupt" in done.stderr and "state file" in done.stderr, done.stderr
    state.write_bytes(raw[: len(raw) // 2])  # torn write
    done = _emulate_exits(image_path, state, 9)
    assert done.returncode == 2, done.stderr
    assert "not JSON" in done.stderr, done.stderr
    assert state.read_bytes() == raw[: len(raw) // 2]  # left alone


def test_foreign_state_file_is_refused(image_path: Path, profile: Profile,
                                       tmp_path: Path) -> None:
    other = build_image(dataclasses.replace(profile, k=bytes(16)))
    state = tmp_path / "bob.state"
    save_image(state, other)
    before = state.read_bytes()
    done = _emulate_exits(image_path, state, 9)
    assert done.returncode == 2, done.stderr
    assert "another card" in done.stderr, done.stderr
    assert state.read_bytes() == before
