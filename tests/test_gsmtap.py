"""`isim emulate --gsmtap`: every APDU exchange as GSMTAP type SIM over UDP, masked like
--trace, captured with Debian's tshark on lo and decoded by Wireshark's gsm_sim dissector."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from apdu.engine import SECRET_COMMAND_DATA, SECRET_RESPONSE_DATA
from apdu.trace import GSMTAP_PORT, gsmtap_apdu
from emulator_proc import ROOT, EmulatorProcess, FakeVpcd
from isim.card.image import build_image, save_image
from isim.profile.model import load_profile
from transport.gsmtap import GsmtapSender

ADM1 = b"12345678"  # examples/alice.yaml
VERIFY_ADM1 = bytes.fromhex("0020000A08") + ADM1
SELECT_ISIM = bytes.fromhex("00A4040C10A0000000871004FFFFFFFF8907090000")
SET1_AUTH = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb3")
SET1_SECRETS = ("a54211d5e3ba50bf", "b40ba9a3c58b2a05bbf0d987b21bf8cb",
                "f769bcd751044604127672711c6d3441")
IMPI = b"\x80\x31" + b"001010123456789@ims.mnc001.mcc001.3gppnetwork.org"[:14]
HEADER = bytes.fromhex("02040400000000000000000000000000")


def test_datagram_layout() -> None:
    assert GSMTAP_PORT == 4729
    # case 1: P3=00 added; case 2 as is; case 4: the Le is dropped (travels as case 3)
    assert gsmtap_apdu(bytes.fromhex("80F20000"), b"\x90\x00", 0) == (
        HEADER + bytes.fromhex("80F20000009000"))
    assert gsmtap_apdu(bytes.fromhex("00B0000002"), b"\x01\x02\x90\x00", 0) == (
        HEADER + bytes.fromhex("00B000000201029000"))
    assert gsmtap_apdu(bytes.fromhex("00A40004023F0000"), b"\x62\x00\x90\x00", 0) == (
        HEADER + bytes.fromhex("00A40004023F0062009000"))
    # masked by what the data is, lengths kept
    assert gsmtap_apdu(VERIFY_ADM1, b"\x90\x00", SECRET_COMMAND_DATA) == (
        HEADER + VERIFY_ADM1[:5] + bytes(8) + b"\x90\x00")
    assert gsmtap_apdu(SET1_AUTH, b"\xdb\x08" + bytes(range(8)) + b"\x90\x00",
                       SECRET_RESPONSE_DATA) == HEADER + SET1_AUTH + bytes(10) + b"\x90\x00"


def test_gsmtap_destination_is_loopback_unless_allowed() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        GsmtapSender("192.0.2.1", 4729)
    GsmtapSender("192.0.2.1", 4729, allow_remote=True).close()  # nothing is sent


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Capture:
    """``tshark -i lo -f 'udp port N' -c COUNT -w FILE``, started and ready."""

    def __init__(self, port: int, count: int, path: Path) -> None:
        tshark = shutil.which("tshark")
        assert tshark, "tshark is missing (tools/setup-system installs it)"
        self.path = path
        self.proc = subprocess.Popen(
            [tshark, "-i", "lo", "-f", f"udp port {port}", "-c", str(count), "-w", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.errors: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.errors.append(line)
                if "Capturing on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(30) and self.proc.poll() is None, "".join(self.errors)

    def wait(self) -> bytes:
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("tshark did not see every datagram: "
                                 + "".join(self.errors)) from None
        assert self.proc.returncode == 0, "".join(self.errors)
        return self.path.read_bytes()


FIELDS = ("gsm_sim.apdu.ins", "gsm_sim.file_id", "gsm_sim.aid", "gsm_sim.bin_offset",
          "gsm_sim.auth_rand", "gsm_sim.apdu.data", "gsm_sim.apdu.sw")


def _decode(path: Path, port: int) -> list[dict[str, str]]:
    argv = ["tshark", "-r", str(path), "-d", f"udp.port=={port},gsmtap", "-Y", "gsm_sim",
            "-T", "fields", "-E", "separator=|"]
    for f in FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    return [dict(zip(FIELDS, line.split("|"), strict=True)) for line in out.splitlines()]


@pytest.mark.parametrize("mode", ["--t0", "--t1"])
def test_tshark_decodes_select_read_authenticate(tmp_path: Path, mode: str) -> None:
    t0 = mode == "--t0"
    image = tmp_path / "alice.img"
    save_image(image, build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    port = _free_udp_port()
    le = b"" if t0 else b"\x00"
    apdus = [bytes.fromhex("00A40004023F00") + le]
    if t0:
        apdus.append(bytes.fromhex("00C000002F"))
    apdus += [VERIFY_ADM1, SELECT_ISIM, bytes.fromhex("00A4000C026F02"),
              bytes.fromhex("00B0000010"), SET1_AUTH + le]
    if t0:
        apdus.append(bytes.fromhex("00C000002C"))
    capture = Capture(port, len(apdus), tmp_path / "sim.pcap")
    answers = []
    with FakeVpcd() as vpcd, EmulatorProcess(
            image, vpcd_port=vpcd.port, extra=[mode, f"--gsmtap=127.0.0.1:{port}"]) as emu:
        vpcd.accept(emu)
        answers = [vpcd.transmit(apdu) for apdu in apdus]
        raw = capture.wait()
        assert emu.terminate() == 0
    assert any(s in answers[-1].hex() for s in SET1_SECRETS)  # the card did answer them
    for secret in SET1_SECRETS:  # ...the wire never carries them
        assert bytes.fromhex(secret) not in raw
    assert VERIFY_ADM1 not in raw and VERIFY_ADM1[:5] + bytes(8) + b"\x90\x00" in raw
    rows = _decode(capture.path, port)
    assert [r["gsm_sim.apdu.ins"] for r in rows] == [f"0x{a[1]:02x}" for a in apdus]
    assert rows[0]["gsm_sim.file_id"] == "0x3f00"
    aid = SELECT_ISIM[5:].hex()
    assert [r["gsm_sim.aid"] for r in rows if r["gsm_sim.aid"]] == [aid]
    read = next(r for r in rows if r["gsm_sim.apdu.ins"] == "0xb0")
    assert read["gsm_sim.bin_offset"] == "0" and read["gsm_sim.apdu.data"] == IMPI.hex()
    auth = next(r for r in rows if r["gsm_sim.apdu.ins"] == "0x88")
    assert auth["gsm_sim.auth_rand"].startswith("1023553cbe9637a8")  # RAND: not a secret
    results = rows[-1]
    assert results["gsm_sim.apdu.sw"] == "0x9000"
    if t0:  # the results come in the GET RESPONSE record: RES/CK/IK masked, length kept
        assert rows[0]["gsm_sim.apdu.sw"] == "0x612f" and auth["gsm_sim.apdu.sw"] == "0x612c"
        assert results["gsm_sim.apdu.data"] == "00" * 44
    else:  # one record: command data, then the masked results (Wireshark 4.0 reads this
        # INS 88 record as a GSM RUN GSM ALGORITHM, so only the bytes are checked)
        assert SET1_AUTH + bytes(44) + b"\x90\x00" in raw
