"""A card that stops answering is a ReaderError after the exchange timeout, never a hang
(transport.pcsc `connect(timeout=...)`): through real pcscd + vpcd, with `isim emulate`
stopped by SIGSTOP in the middle of a session."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from emulator_proc import EmulatorProcess
from pcsc_stack import PcscStack
from transport import pcsc

ROOT = Path(__file__).resolve().parent.parent
SELECT_MF = bytes.fromhex("00A4000C023F00")


def test_a_stopped_card_is_a_reader_error_not_a_hang(pcsc_stack: PcscStack) -> None:
    with EmulatorProcess(ROOT / "examples" / "alice.yaml",
                         vpcd_port=pcsc_stack.vpcd_port) as emu:
        emu.wait_inserted(pcsc_stack.reader_name)
        card = pcsc.connect(pcsc_stack.reader_name, timeout=2)
        try:
            assert card.transmit(SELECT_MF) == b"\x90\x00"
            os.kill(emu.pid, signal.SIGSTOP)
            try:
                start = time.monotonic()
                with pytest.raises(pcsc.ReaderError, match="did not answer within 2 s"):
                    card.transmit(SELECT_MF)
                assert time.monotonic() - start < 8
                with pytest.raises(pcsc.ReaderError, match="stopped answering"):
                    card.transmit(SELECT_MF)  # the connection is spent, no second wait
            finally:
                os.kill(emu.pid, signal.SIGCONT)
        finally:
            card.disconnect()  # returns at once: the stalled call's context is left alone
        assert emu.terminate() == 0
    EmulatorProcess.wait_removed(pcsc_stack.reader_name)
    assert pcsc_stack.reader_name in pcsc.list_readers()  # the service still answers
