"""transport.vpcd_session (sans-IO) and transport.driver, and the socket transport against an
in-process fake vpcd that behaves like Debian's (length and body in two writes, no
TCP_NODELAY)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from apdu.events import ApduExchanged, Response, StateChanged
from emulator_proc import FakeVpcd
from responders import UICC_ATR, TrivialCard
from transport import vpcd
from transport.vpcd import VpcdTransport
from transport.vpcd_session import (
    AtrSent,
    CardInserted,
    CardRemoved,
    FramingError,
    PoweredOff,
    PoweredOn,
    VirtualCard,
    VpcdSession,
    WarmReset,
    frame,
)

SELECT_MF = bytes.fromhex("00A4000C023F00")


class EchoCard(TrivialCard):
    """Returns the C-APDU's data followed by 9000 (so responses differ per command)."""

    def process(self, capdu: bytes) -> bytes:
        super().process(capdu)
        return capdu[5:] + b"\x90\x00"


class ChangingCard(EchoCard):
    """A card whose every command changes persistent state (typed events, like apdu's)."""

    def receive(self, capdu: bytes) -> list[object]:
        rapdu = self.process(capdu)
        return [StateChanged(self.commands), ApduExchanged(capdu, rapdu, 0), Response(rapdu)]


class FailingCard(TrivialCard):
    def process(self, capdu: bytes) -> bytes:
        raise RuntimeError("engine bug")


def test_trivial_card_is_a_virtual_card() -> None:
    assert isinstance(TrivialCard(), VirtualCard)


# -- engine ------------------------------------------------------------------------------


def test_control_codes() -> None:
    card = TrivialCard()
    events: list[object] = []
    engine = VpcdSession(card, observe=events.append)
    assert engine.receive(frame(b"\x01")) == []
    assert card.powered
    assert engine.receive(frame(b"\x04")) == [frame(UICC_ATR)]
    assert engine.receive(frame(b"\x02")) == []
    assert card.resets == 1
    assert engine.receive(frame(b"\x00")) == []
    assert not card.powered
    assert engine.receive(frame(b"\x07")) == []  # unknown control code: ignored
    assert events == [PoweredOn(), AtrSent(UICC_ATR), WarmReset(), PoweredOff()]
    engine.connection_made()
    engine.connection_lost()
    assert events[-2:] == [CardInserted(), CardRemoved()]


def test_split_at_every_byte_and_batched() -> None:
    card = EchoCard()
    engine = VpcdSession(card)
    stream = frame(b"\x01") + frame(b"\x04") + frame(SELECT_MF) + frame(b"\x00\xb0\x00\x00\x10")
    expected = [frame(UICC_ATR), frame(b"\x3f\x00\x90\x00"), frame(b"\x90\x00")]
    # one byte at a time
    out: list[bytes] = []
    for i in range(len(stream)):
        out += engine.receive(stream[i : i + 1])
    assert out == expected
    assert engine.pending == 0
    # everything at once
    assert VpcdSession(EchoCard()).receive(stream) == expected


def test_empty_message_is_a_framing_error() -> None:
    with pytest.raises(FramingError):
        VpcdSession(TrivialCard()).receive(b"\x00\x00")


def test_frame_limits() -> None:
    assert frame(b"") == b"\x00\x00"
    with pytest.raises(FramingError):
        frame(bytes(0x10000))


def test_card_exception_answers_6f00() -> None:
    engine = VpcdSession(FailingCard())
    assert engine.receive(frame(SELECT_MF)) == [frame(b"\x6f\x00")]


def test_driver_persists_then_observes_then_answers() -> None:
    order: list[object] = []
    engine = VpcdSession(ChangingCard(), persist=order.append, observe=order.append)
    assert engine.receive(frame(b"\x04") + frame(SELECT_MF)) == [
        frame(UICC_ATR), frame(b"\x3f\x00\x90\x00")]
    assert order[0] == AtrSent(UICC_ATR)
    assert order[1] == StateChanged(1)
    assert isinstance(order[2], ApduExchanged) and order[2].rapdu == b"\x3f\x00\x90\x00"
    assert len(order) == 3 and engine.commands == 1


def test_connection_lost_powers_off() -> None:
    card = TrivialCard()
    engine = VpcdSession(card)
    engine.receive(frame(b"\x01"))
    engine.connection_lost()
    assert not card.powered


# -- a fake vpcd -------------------------------------------------------------------------


def _listener() -> socket.socket:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(5)
    return lsock


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    lsock = _listener()
    yield lsock
    lsock.close()


def _run(transport: VpcdTransport) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            transport.serve_forever()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def _finish(transport: VpcdTransport, thread: threading.Thread) -> None:
    transport.stop()
    thread.join(5)
    assert not thread.is_alive(), "serve_forever did not stop"
    transport.close()


def test_connect_mode_round_trips(listener: socket.socket) -> None:
    card = EchoCard()
    transport = VpcdTransport(card, port=listener.getsockname()[1])
    thread, errors = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    assert fake.insert() == UICC_ATR
    assert card.powered
    assert fake.transact(SELECT_MF) == b"\x3f\x00\x90\x00"
    big = bytes([0x00, 0xD6, 0x00, 0x00, 0xFF]) + bytes(range(255))
    assert fake.transact(big) == bytes(range(255)) + b"\x90\x00"
    fake.send(b"\x02")  # reset: not answered
    assert fake.transact(b"\x04") == UICC_ATR
    assert card.resets == 1
    fake.close()
    _finish(transport, thread)
    assert not errors
    assert not card.powered  # the card left the reader


def test_no_delayed_ack_stall(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a naive card side each APDU from Debian's vpcd waits ~40 ms for a delayed ACK
    (tools/bench_stack.py shows the figures). The cure, checked here without a clock:
    TCP_NODELAY on the card's socket, and TCP_QUICKACK re-armed after every receive (Linux
    clears it by itself)."""
    rearmed: list[socket.socket] = []
    real_quickack = vpcd._quickack

    def spy(sock: socket.socket) -> None:
        rearmed.append(sock)
        real_quickack(sock)

    monkeypatch.setattr(vpcd, "_quickack", spy)
    transport = VpcdTransport(TrivialCard(), port=listener.getsockname()[1])
    thread, _ = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    fake.insert()
    for _ in range(50):
        assert fake.transact(SELECT_MF) == b"\x90\x00"
    card_socket = rearmed[0]
    assert card_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert len(rearmed) >= 50 and all(s is card_socket for s in rearmed)
    fake.close()
    _finish(transport, thread)


def test_reconnects_after_vpcd_restart() -> None:
    # Nothing listens yet: the transport must keep retrying (connection refused).
    lsock = _listener()
    port = lsock.getsockname()[1]
    lsock.close()
    card = TrivialCard()
    transport = VpcdTransport(card, port=port, backoff_initial=0.02, backoff_max=0.1)
    thread, errors = _run(transport)
    time.sleep(0.3)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(4)
    lsock.settimeout(5)
    try:
        first = FakeVpcd(lsock.accept()[0])
        assert first.insert() == UICC_ATR
        # vpcd dies abruptly (RST) mid-session
        first.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        first.close()
        second = FakeVpcd(lsock.accept()[0])
        assert second.insert() == UICC_ATR
        assert second.transact(SELECT_MF) == b"\x90\x00"
        assert transport.connections == 2
        assert card.power_ons == 2
        second.close()
    finally:
        lsock.close()
        _finish(transport, thread)
    assert not errors


def test_stop_event_while_waiting_for_vpcd() -> None:
    lsock = _listener()
    port = lsock.getsockname()[1]
    lsock.close()
    stop = threading.Event()
    transport = VpcdTransport(TrivialCard(), port=port, backoff_max=5.0)
    thread = threading.Thread(target=transport.serve_forever, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    transport.close()


def test_listen_mode() -> None:
    card = EchoCard()
    transport = VpcdTransport(card, port=0, listen=True)
    host, port = transport.bind()
    assert host == "127.0.0.1" and port > 0
    thread, errors = _run(transport)
    for _ in range(2):  # vpcd connects, leaves, connects again
        fake = FakeVpcd(socket.create_connection((host, port), timeout=5))
        assert fake.insert() == UICC_ATR
        assert fake.transact(SELECT_MF) == b"\x3f\x00\x90\x00"
        fake.close()
        deadline = time.monotonic() + 5
        while card.powered and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not card.powered
    _finish(transport, thread)
    assert not errors
    assert transport.connections == 2


def test_listen_refuses_non_loopback_unless_asked() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        VpcdTransport(TrivialCard(), host="0.0.0.0", listen=True)
    transport = VpcdTransport(TrivialCard(), host="0.0.0.0", port=0, listen=True,
                              allow_remote=True)
    assert transport.bind()[1] > 0
    transport.close()


def test_persist_runs_before_the_response(listener: socket.socket) -> None:
    order: list[str] = []
    received = threading.Event()

    def persist(event: StateChanged) -> None:
        assert not received.is_set()
        order.append("persisted")

    transport = VpcdTransport(ChangingCard(), port=listener.getsockname()[1],
                              persist=persist)
    thread, errors = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    fake.insert()
    assert fake.transact(SELECT_MF) == b"\x3f\x00\x90\x00"
    received.set()
    order.append("response")
    fake.close()
    _finish(transport, thread)
    assert order == ["persisted", "response"]
    assert not errors


def test_failing_persist_sends_nothing_and_propagates(listener: socket.socket) -> None:
    def persist(event: StateChanged) -> None:
        raise OSError("disk full")

    card = ChangingCard()
    transport = VpcdTransport(card, port=listener.getsockname()[1], persist=persist)
    thread, errors = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    fake.insert()
    fake.send(SELECT_MF)
    with pytest.raises(ConnectionError):
        fake.recv()
    thread.join(5)
    assert not thread.is_alive()
    transport.close()
    assert len(errors) == 1 and isinstance(errors[0], OSError)
    assert not card.powered


def test_framing_error_drops_the_connection(listener: socket.socket) -> None:
    transport = VpcdTransport(TrivialCard(), port=listener.getsockname()[1], reconnect=False)
    thread, errors = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    fake.sock.sendall(b"\x00\x00")
    with pytest.raises(ConnectionError):
        fake.recv()
    thread.join(5)
    assert not thread.is_alive() and not errors
    transport.close()


def test_module_logs_but_never_prints(capsys: pytest.CaptureFixture[str],
                                      listener: socket.socket) -> None:
    transport = VpcdTransport(FailingCard(), port=listener.getsockname()[1])
    thread, _ = _run(transport)
    fake = FakeVpcd(listener.accept()[0])
    fake.insert()
    assert fake.transact(SELECT_MF) == b"\x6f\x00"
    fake.close()
    _finish(transport, thread)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert vpcd.log.name == "transport.vpcd"


def test_serve_forever_can_run_again(listener: socket.socket) -> None:
    transport = VpcdTransport(TrivialCard(), port=listener.getsockname()[1], reconnect=False)
    for _ in range(2):  # one connection per run; the second run starts as fresh as the first
        thread, errors = _run(transport)
        fake = FakeVpcd(listener.accept()[0])
        assert fake.insert() == UICC_ATR
        fake.close()
        thread.join(5)
        assert not thread.is_alive() and not errors
    transport.close()
