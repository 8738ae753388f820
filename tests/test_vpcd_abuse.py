"""Issue 12 item 8: an idle TCP connection to --listen must not keep the real vpcd out;
a new connection replaces a stale one; a flood of unknown control codes gives one warning."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from emulator_proc import ROOT, EmulatorProcess
from emulator_proc import FakeVpcd as EmulatorPeer
from isim.card.image import build_image, save_image
from isim.profile.model import load_profile
from responders import UICC_ATR, TrivialCard
from test_vpcd import SELECT_MF, FakeVpcd, _finish, _run
from transport.vpcd import VpcdTransport
from transport.vpcd_session import VpcdSession, frame

UNKNOWN = b"\x07"


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)  # nothing here waits longer: a hang fails the test
    return sock


def _listening(**options: float) -> tuple[VpcdTransport, int, TrivialCard]:
    card = TrivialCard()
    transport = VpcdTransport(card, port=0, listen=True, poll_interval=0.02, **options)
    return transport, transport.bind()[1], card


def _eof(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


def test_an_idle_connection_gives_way_to_the_real_vpcd() -> None:
    transport, port, _ = _listening(stale_after=0.2, handshake_timeout=30)
    thread, errors = _run(transport)
    idle = _connect(port)  # connects first and never says anything
    real = FakeVpcd(_connect(port))
    assert real.insert() == UICC_ATR
    assert real.transact(SELECT_MF) == b"\x90\x00"
    assert _eof(idle)  # the idle one was closed
    real.close()
    idle.close()
    _finish(transport, thread)
    assert not errors


def test_a_connection_that_never_speaks_is_closed() -> None:
    transport, port, _ = _listening(stale_after=30, handshake_timeout=0.3)
    thread, errors = _run(transport)
    idle = _connect(port)
    assert _eof(idle)
    waiting = _connect(port)  # one that waits behind another, silent too
    assert _eof(waiting)
    idle.close()
    waiting.close()
    _finish(transport, thread)
    assert not errors


def test_a_new_connection_replaces_a_stale_one_not_a_busy_one() -> None:
    transport, port, card = _listening(stale_after=0.5, handshake_timeout=30)
    thread, errors = _run(transport)
    old = FakeVpcd(_connect(port))
    assert old.insert() == UICC_ATR
    new = FakeVpcd(_connect(port))
    new.send(b"\x01")  # the new vpcd powers on...
    new.send(b"\x04")  # ...and asks for the ATR
    for _ in range(30):  # while the old one is busy, it keeps the reader
        assert old.transact(SELECT_MF) == b"\x90\x00"
        time.sleep(0.05)
    assert card.power_ons == 1
    assert new.recv() == UICC_ATR  # once the old one is quiet, the new one gets the card
    assert new.transact(SELECT_MF) == b"\x90\x00"
    assert _eof(old.sock)
    assert card.power_ons == 2 and transport.connections == 2
    old.close()
    new.close()
    _finish(transport, thread)
    assert not errors


def test_unknown_control_codes_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    engine = VpcdSession(TrivialCard())
    caplog.set_level(logging.INFO, logger="transport.vpcd")
    assert engine.receive(frame(UNKNOWN) * 10_000) == []
    assert engine.receive(frame(b"\x04")) == [frame(UICC_ATR)]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "07" in warnings[0].getMessage()
    engine.connection_lost()
    assert any("10000 unknown" in r.getMessage() for r in caplog.records)


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "alice.img"
    save_image(path, build_image(load_profile(ROOT / "examples" / "alice.yaml")))
    return path


def test_emulate_flood_of_unknown_control_codes_prints_one_warning(tmp_path: Path) -> None:
    with EmulatorPeer() as peer, EmulatorProcess(_image(tmp_path), vpcd_port=peer.port) as emu:
        peer.accept(emu)
        assert peer.sock is not None
        peer.sock.sendall(frame(UNKNOWN) * 10_000)
        assert peer.transmit(SELECT_MF) == b"\x90\x00"
        assert emu.terminate() == 0
        out = emu.output()
    assert out.count("unknown vpcd control code") == 1, out[:2000]


def test_emulate_listen_is_not_blocked_by_an_idle_connection(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port for --listen
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmulatorProcess(_image(tmp_path), vpcd_port=port, listen=True) as emu:
        deadline = time.monotonic() + 20
        while "waiting for vpcd" not in emu.output():
            assert emu.returncode is None and time.monotonic() < deadline, emu.output()
            time.sleep(0.05)
        idle = _connect(port)  # in the way, silent
        real = FakeVpcd(_connect(port))
        real.sock.settimeout(30)  # the default stale_after (5 s) lets it in
        assert real.insert()[:1] == b"\x3b"
        assert real.transact(SELECT_MF) == b"\x90\x00"
        assert _eof(idle)
        real.close()
        idle.close()
        assert emu.terminate() == 0
