"""Crash safety of `isim emulate --state`: SIGKILL at random moments, restart on the same
state file, and the state is before or after the last command, every acknowledged write is
there, PIN counters never go back up.  Most kills drive the emulator through the vpcd
protocol directly (tools/crash_test.py: the test is vpcd); a few go through pcscd."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from emulator_proc import ROOT, EmulatorProcess
from isim.card.image import load_image, save_image
from isim.codecs import codec_for
from pcsc_stack import PcscStack
from transport import pcsc


def _crash_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_test", ROOT / "tools" / "crash_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("crash_test", module)
    spec.loader.exec_module(module)
    return module


crash = _crash_tool()


def test_fifty_kills_through_the_vpcd_protocol(tmp_path: Path) -> None:
    stats = crash.run(50, jobs=2, seed=7, workdir=tmp_path)
    assert stats.violations == [], "\n".join(stats.violations[:10])
    assert stats.kills == 50
    assert stats.commands > 200
    # kills landed both before and after the persist-then-respond point
    assert stats.acknowledged_kills > 0 and stats.lost_unacked > 0
    # killed saves leave no secret-bearing temp files behind once the emulator restarted
    assert crash.leftover_temp_files(tmp_path) == []


def test_crash_tool_prints_a_summary(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "crash_test.py"), "--kills", "2",
                           "--jobs", "1", "--seed", "3", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kills: 2," in done.stdout and "violations: 0" in done.stdout, done.stdout


@pytest.mark.stack
def test_kills_through_pcscd(pcsc_stack: PcscStack, tmp_path: Path) -> None:
    image_path = tmp_path / "alice-pin1.json"
    image = crash.alice_crash_image()  # PIN1 enabled
    save_image(image_path, image)
    state = tmp_path / "alice.state"
    aid = bytes.fromhex(image.isim["aid"])
    reader = pcsc_stack.reader_name
    impu = codec_for("EF.IMPU")
    new_impu = impu.encode("sip:after-crash@ims.example.com", 128)

    def start() -> tuple[EmulatorProcess, pcsc.PcscCard]:
        proc = EmulatorProcess(image_path, vpcd_port=pcsc_stack.vpcd_port, state=state).start()
        try:
            proc.wait_inserted(reader)
            card = pcsc.connect(reader)
            assert card.transmit(bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid) == b"\x90\x00"
        except BaseException:
            proc.close()  # no orphan emulator when the restart fails
            raise
        return proc, card

    def crash_now(proc: EmulatorProcess, card: pcsc.PcscCard) -> None:
        proc.kill()
        card.disconnect()
        proc.close()
        EmulatorProcess.wait_removed(reader)

    proc, card = start()
    try:
        # 1: an acknowledged wrong PIN1 (63C2), SIGKILL right after it
        assert card.transmit(bytes.fromhex("002000010830303030FFFFFFFF")) == b"\x63\xc2"
        crash_now(proc, card)
        proc, card = start()
        assert card.transmit(bytes.fromhex("00200001")) == b"\x63\xc2"  # not back up to 3
        # 2: an acknowledged write of EF.IMPU record 2, SIGKILL right after it
        assert card.transmit(bytes.fromhex("0020000A08") + b"12345678") == b"\x90\x00"
        assert card.transmit(b"\x00\xdc\x02\x24\x80" + new_impu) == b"\x90\x00"
        crash_now(proc, card)
        proc, card = start()
        assert card.transmit(bytes.fromhex("002000010831323334FFFFFFFF")) == b"\x90\x00"
        assert card.transmit(b"\x00\xb2\x02\x24\x80") == new_impu + b"\x90\x00"
        # 3: two wrong PIN1s, the second killed right after its 63C1
        assert card.transmit(bytes.fromhex("002000010830303030FFFFFFFF")) == b"\x63\xc2"
        assert card.transmit(bytes.fromhex("002000010830303030FFFFFFFF")) == b"\x63\xc1"
        crash_now(proc, card)
        proc, card = start()
        assert card.transmit(bytes.fromhex("00200001")) == b"\x63\xc1"
        card.disconnect()
        assert proc.terminate() == 0
    finally:
        card.disconnect()
        proc.close()
    EmulatorProcess.wait_removed(reader)
    saved = load_image(state)
    assert saved.card["pins"]["01"]["tries"] == 1
    assert crash.leftover_temp_files(tmp_path) == []
