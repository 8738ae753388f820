"""Children of the test tools die with the process that started them, even when it is
SIGKILLed (tools/lifetime.py): a killed test run leaves no emulator behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A parent that starts `isim emulate` through EmulatorProcess, prints its pid and waits.
_PARENT = """
import sys, time
sys.path[:0] = [{root!r}, {tools!r}]
from emulator_proc import EmulatorProcess
from pcsc_stack import free_port_pair
emu = EmulatorProcess({card!r}, vpcd_port=free_port_pair(), listen=True).start()
print(emu.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_sigkilled_parent_takes_the_emulator_along() -> None:
    script = _PARENT.format(root=str(ROOT), tools=str(ROOT / "tools"),
                            card=str(ROOT / "examples" / "alice.yaml"))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.5)
        assert _alive(child), "the emulator did not start"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the emulator outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(10)
