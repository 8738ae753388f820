"""The whole PC/SC stack with the trivial responder: pyscard / scriptor / opensc-tool ->
pcscd -> vpcd -> transport.vpcd -> card.  Real processes, no mocks."""

from __future__ import annotations

import re
import time
from contextlib import AbstractContextManager

import pytest

from pcsc_stack import PcscStack, pcsc_stack, serve_card, wait_for_card
from responders import UICC_ATR, TrivialCard
from transport import pcsc

pytestmark = pytest.mark.stack

SELECT_MF = bytes.fromhex("00A4000C023F00")
ATR_SPACED = " ".join(f"{b:02X}" for b in UICC_ATR)


def _reader_index(stack: PcscStack) -> int:
    return pcsc.list_readers().index(stack.reader_name)


def test_reader_is_listed_without_a_card(pcsc_stack: PcscStack) -> None:
    assert set(pcsc.list_readers()) >= set(pcsc_stack.readers)
    with pytest.raises(pcsc.ReaderError, match="cannot connect"):
        pcsc.connect(pcsc_stack.reader_name)


def test_pyscard_round_trip(pcsc_stack: PcscStack) -> None:
    card = TrivialCard()
    with serve_card(pcsc_stack, card), pcsc.connect(pcsc_stack.reader_name) as conn:
        assert conn.atr == UICC_ATR
        assert conn.protocol == "T=0"
        assert conn.transmit(SELECT_MF) == b"\x90\x00"
        assert card.last_capdu == SELECT_MF
        for i in range(50):
            assert conn.transmit(bytes([0x00, 0xB0, 0x00, i, 0x00])) == b"\x90\x00"
        assert card.commands == 51
        assert conn.reset() == UICC_ATR
        assert card.resets + card.power_ons >= 2
    assert not card.powered
    with pytest.raises(pcsc.ReaderError):
        pcsc.connect(pcsc_stack.reader_name)


def test_second_slot(pcsc_stack: PcscStack) -> None:
    card = TrivialCard()
    with serve_card(pcsc_stack, card, slot=1), pcsc.connect(pcsc_stack.readers[1]) as conn:
        assert conn.transmit(SELECT_MF) == b"\x90\x00"
    assert card.commands == 1


def test_opensc_tool(pcsc_stack: PcscStack) -> None:
    card = TrivialCard()
    with serve_card(pcsc_stack, card):
        index = str(_reader_index(pcsc_stack))
        listing = pcsc_stack.run(["opensc-tool", "--list-readers"])
        assert re.search(rf"^{index}\s+Yes\s.*{re.escape(pcsc_stack.reader_name)}",
                         listing.stdout, re.M), listing.stdout
        atr = pcsc_stack.run(["opensc-tool", "--reader", index, "--atr"])
        assert atr.returncode == 0, atr.stderr
        assert UICC_ATR.hex(":") in atr.stdout.lower()
        sent = pcsc_stack.run(["opensc-tool", "--reader", index, "--send-apdu",
                               SELECT_MF.hex().upper()])
        assert sent.returncode == 0, sent.stderr
        assert "SW1=0x90, SW2=0x00" in sent.stdout, sent.stdout
    assert card.last_capdu == SELECT_MF


def test_scriptor(pcsc_stack: PcscStack) -> None:
    card = TrivialCard()
    script = "# select MF\n00 A4 00 0C 02 3F 00\nreset\n00 B0 00 00 10\n"
    with serve_card(pcsc_stack, card):
        done = pcsc_stack.run(["scriptor", "-r", pcsc_stack.reader_name], input=script)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("< 90 00 : Normal processing.") == 2, done.stdout
    assert ATR_SPACED in done.stdout  # printed after "reset"
    assert card.commands >= 2  # opensc-tool also probes the card
    assert card.last_capdu == bytes.fromhex("00B0000010")


def test_card_removed_and_reinserted(pcsc_stack: PcscStack) -> None:
    for _ in range(2):
        with serve_card(pcsc_stack, TrivialCard()), pcsc.connect(0) as conn:
            assert conn.transmit(SELECT_MF) == b"\x90\x00"
        wait_for_card(pcsc_stack.reader_name, present=False)


class T0Card(TrivialCard):
    """Answers like a T=0 card: case 4 -> 61XX then GET RESPONSE; case 2 with a wrong Le
    -> 6CXX."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = b""
        self.gr_cla: list[int] = []

    def process(self, capdu: bytes) -> bytes:
        super().process(capdu)
        ins = capdu[1]
        if ins == 0xC0:
            self.gr_cla.append(capdu[0])
            n = capdu[4] or 256
            out, self.pending = self.pending[:n], self.pending[n:]
            return out + (bytes([0x61, len(self.pending)]) if self.pending else b"\x90\x00")
        if ins == 0xA4:  # SELECT with data: 300 bytes of FCP waiting, served in chunks
            self.pending = bytes(i & 0xFF for i in range(300))
            return b"\x61\x00"  # 256 available (first chunk)
        if ins == 0xB0:
            if capdu[4] != 0x10:
                return b"\x6c\x10"
            return bytes(range(16)) + b"\x90\x00"
        return b"\x90\x00"


def test_t0_procedure_bytes_are_handled(pcsc_stack: PcscStack) -> None:
    card = T0Card()
    with serve_card(pcsc_stack, card), pcsc.connect(pcsc_stack.reader_name) as conn:
        assert conn.transmit(bytes.fromhex("01A40004023F00")) == (
            bytes(i & 0xFF for i in range(300)) + b"\x90\x00")
        assert card.gr_cla == [0x01, 0x01]  # same logical channel as the command
        assert conn.transmit(bytes.fromhex("00B0000000")) == bytes(range(16)) + b"\x90\x00"
        assert card.last_capdu == bytes.fromhex("00B0000010")


def test_unknown_reader_is_a_clear_error(pcsc_stack: PcscStack) -> None:
    with pytest.raises(pcsc.ReaderError, match="no reader number 99"):
        pcsc.connect(99)
    with pytest.raises(pcsc.ReaderError, match="no reader matches"):
        pcsc.connect("No Such Reader")


def _opensc_select(stack: PcscStack, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = stack.run(["opensc-tool", "--reader", "0", "--send-apdu",
                          SELECT_MF.hex().upper()])
        if done.returncode == 0 and "SW1=0x90, SW2=0x00" in done.stdout:
            return True
        time.sleep(0.1)
    return False


def test_transport_survives_pcscd_restart(pcsc_stack: PcscStack) -> None:
    """A card served to pcscd comes back by itself when pcscd restarts on the same port.
    Uses a second private pcscd and subprocess clients (pyscard in this process is tied
    to the session stack)."""
    card = TrivialCard()
    with private_stack() as first:
        assert first.process is not None
        with serve_card(first, card, wait=False, backoff_max=0.2) as transport:
            assert _opensc_select(first)
            assert transport.connections == 1
            first.process.terminate()  # pcscd goes away: vpcd's socket closes
            first.process.wait(10)
            with private_stack(port=first.vpcd_port) as second:
                assert _opensc_select(second), second.log_tail()
                assert transport.connections >= 2  # (a dying pcscd may accept once more)
    assert card.commands >= 2  # opensc-tool also probes the card


def private_stack(port: int | None = None) -> AbstractContextManager[PcscStack]:
    return pcsc_stack("private", port=port)
