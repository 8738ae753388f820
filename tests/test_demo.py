"""The README's run command, as the tests can run it: the example card in a virtual reader,
read back through PC/SC (a private pcscd of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_reads_the_example_isim_back_through_pcsc() -> None:
    env = dict(os.environ, ISIM_PCSC_MODE="private")
    env.pop("PCSCLITE_CSOCK_NAME", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--once"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout
    assert "ATR         3B9F96801F878031E073FE211B674A357530350265F8" in lines
    assert "EF.IMPI     001010123456789@ims.mnc001.mcc001.3gppnetwork.org" in lines
    assert "EF.DOMAIN   ims.mnc001.mcc001.3gppnetwork.org" in lines
    assert "EF.IMPU #1  sip:alice@ims.example.com" in lines
    assert "EF.IMSI     001010123456789" in lines
    assert "card removed from the reader" in out.stderr  # the emulator was stopped cleanly
