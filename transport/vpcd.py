"""The vpcd transport: a virtual card behind vsmartcard's virtual PC/SC reader driver.

`VpcdTransport` is the socket adapter around `transport.vpcd_session.VpcdSession` (the
sans-IO protocol and the driver loop), in *connect* mode (vpcd listens, the default
127.0.0.1:35963) or *listen* mode (vpcd configured with ``DEVICENAME host:port`` connects
out to us). It reconnects with backoff when pcscd restarts.

Latency: Debian's vpcd writes the length and the body in two writes without
TCP_NODELAY, so a peer that delays its ACK stalls every APDU by the delayed-ACK timer
(40 ms on Linux). The adapter sets TCP_NODELAY, re-arms TCP_QUICKACK after every
receive, and sends each reply (length + body) in one write. The hot loop is a blocking
recv -> session -> send, with no select() per APDU (a watcher thread does the waiting).

Nothing here prints; diagnostics go to the ``transport.vpcd`` logger.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from transport.driver import Observer, Persist
from transport.loopback import is_loopback
from transport.vpcd_session import FramingError, VirtualCard, VpcdSession

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "VpcdTransport"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963  # 0x8C7B, Debian's /etc/reader.conf.d/vpcd


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _quickack(sock)


_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def _quickack(sock: socket.socket) -> None:
    # Linux clears TCP_QUICKACK by itself; it has to be re-armed after every receive.
    if _TCP_QUICKACK is not None:
        try:  # noqa: SIM105 - hot path: contextlib.suppress costs a context manager per APDU
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            pass


class _Stopped(Exception):
    pass


@dataclass
class _Newcomer:
    """A connection accepted while another is served (listen mode)."""

    sock: socket.socket
    since: float
    spoke: bool = False


@dataclass
class VpcdTransport:
    """Serve a `VirtualCard` to vpcd over TCP.

    ``listen=False`` (default): connect to vpcd at host:port, reconnecting with backoff.
    ``listen=True``: listen on host:port for vpcd to connect (reversed vpcd, configured
    with ``DEVICENAME host:port``).  Listening on a non-loopback address needs
    ``allow_remote=True``.

    ``persist`` and ``observe`` go to the driver loop (transport.driver): ``persist`` is
    called for a `StateChanged` before the response is sent (an exception there ends
    `serve_forever` without sending it), ``observe`` gets the trace events of the card and
    of the connection (transport.vpcd_session).

    `serve_forever(stop)` runs until ``stop`` is set or `stop()` is called, and returns
    once the connection is closed (the card removed).  ``reconnect=False`` returns after
    the first connection ends instead (used by tests).

    The hot loop is a blocking ``recv`` -> card -> ``send``; a watcher thread does all the
    waiting: it notices a stop request (and shuts the connection down so that ``recv``
    returns), and in listen mode it accepts the connections that arrive meanwhile:

    * a connection that has sent no whole message ``handshake_timeout`` seconds after it was
      accepted is closed (vpcd powers the card on as soon as it connects);
    * a new connection that has spoken replaces the one being served when that one has been
      silent for ``stale_after`` seconds (a vpcd restarted behind a half-open connection, or
      an idle peer in the way of the real vpcd); otherwise it waits for its turn.
    """

    card: VirtualCard
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    listen: bool = False
    allow_remote: bool = False
    persist: Persist | None = None
    observe: Observer | None = None
    reconnect: bool = True
    backoff_initial: float = 0.05
    backoff_max: float = 2.0
    poll_interval: float = 0.2
    handshake_timeout: float = 10.0
    stale_after: float = 5.0
    recv_size: int = 65536 + 2
    connected: threading.Event = field(default_factory=threading.Event, init=False)
    listening: threading.Event = field(default_factory=threading.Event, init=False)
    address: tuple[str, int] | None = field(default=None, init=False)
    connections: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.listen and not self.allow_remote and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on non-loopback address {self.host!r} "
                "(pass allow_remote=True to expose the card to the network)"
            )
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._active: socket.socket | None = None  # the connection being served
        self._active_since = 0.0
        self._last_message = 0.0  # monotonic time of its last whole message (0: none yet)
        self._waiting: list[_Newcomer] = []  # accepted, not yet served
        self._handoff: socket.socket | None = None  # chosen by the watcher, for the loop
        # the watcher tells the main loop about a handoff through a pipe: the main thread
        # never blocks on a lock that a signal handler (stop()) might need
        self._handoff_r, self._handoff_w = os.pipe()
        os.set_blocking(self._handoff_w, False)

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `serve_forever` to return (thread- and signal-safe)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        with contextlib.suppress(OSError):
            os.write(self._handoff_w, b"x")
        self._kick()

    def _kick(self) -> None:
        """End the connection being served: its blocking recv returns."""
        sock = self._active
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Release the wake-up pipe and any listening socket (after serve_forever)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for new in self._waiting:
            new.sock.close()
        self._waiting.clear()
        for fd in (self._wake_r, self._wake_w, self._handoff_r, self._handoff_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = self._handoff_r = self._handoff_w = -1

    def bind(self) -> tuple[str, int]:
        """Listen mode: create the listening socket now; returns the bound address."""
        if not self.listen:
            raise ValueError("bind() is only for listen mode")
        if self._listener is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            lsock = socket.socket(family, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lsock.bind((self.host, self.port))
                lsock.listen(8)
            except OSError:
                lsock.close()
                raise
            self._listener = lsock
            self.address = lsock.getsockname()[:2]
            self.listening.set()
            log.info("listening for vpcd on %s:%d", *self.address)
        assert self.address is not None
        return self.address

    # -- main loop -----------------------------------------------------------------------

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Serve until ``stop`` (or `stop()`); exceptions from ``persist`` propagate."""
        ext = stop if stop is not None else threading.Event()
        if self.listen:
            self.bind()
        for fd in (self._wake_r, self._handoff_r):  # wake-ups left over from an earlier run
            while select.select([fd], [], [], 0)[0]:
                os.read(fd, 64)
        done = threading.Event()  # this run is over: the watcher ends too
        watcher = threading.Thread(target=self._watch, args=(ext, done), name="vpcd-watch",
                                   daemon=True)
        watcher.start()
        delay = self.backoff_initial
        try:
            while not self._should_stop(ext):
                try:
                    sock = self._next_listened(ext) if self.listen else self._connect()
                except _Stopped:
                    return
                except OSError as exc:
                    log.info("vpcd at %s:%d not reachable (%s); retrying in %.2fs",
                             self.host, self.port, exc, delay)
                    if self._wait(ext, delay):
                        return
                    delay = min(delay * 2, self.backoff_max)
                    continue
                delay = self.backoff_initial
                try:
                    self._serve_connection(sock, ext)
                finally:
                    sock.close()
                if not self.reconnect:
                    return
        finally:
            self.connected.clear()
            done.set()
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
            watcher.join(5)

    def _should_stop(self, ext: threading.Event) -> bool:
        return self._stop.is_set() or ext.is_set()

    def _wait(self, ext: threading.Event, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if asked to stop meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if self._should_stop(ext):
                return True
            if remaining <= 0:
                return False
            # select, not Event.wait: a signal handler calling stop() must never find a lock
            # of this thread held
            select.select([self._wake_r], [], [], min(remaining, self.poll_interval))

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=5.0)
        sock.settimeout(None)
        log.info("connected to vpcd at %s:%d", self.host, self.port)
        return sock

    def _next_listened(self, ext: threading.Event) -> socket.socket:
        """Listen mode: the next connection the watcher hands over."""
        while True:
            ready, _, _ = select.select([self._handoff_r], [], [], self.poll_interval)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(self._handoff_r, 64)
            if self._should_stop(ext):
                raise _Stopped
            with self._lock:
                sock, self._handoff = self._handoff, None
            if sock is not None:
                return sock

    # -- the watcher thread ----------------------------------------------------------------

    def _watch(self, ext: threading.Event, done: threading.Event) -> None:
        try:
            while not (self._should_stop(ext) or done.is_set()):
                fds: list[Any] = [self._wake_r]
                if self._listener is not None:
                    fds.append(self._listener)
                fds.extend(new.sock for new in self._waiting if not new.spoke)
                try:
                    ready, _, _ = select.select(fds, [], [], self.poll_interval)
                except (OSError, ValueError):  # a socket closed under us: look again
                    ready = []
                if self._should_stop(ext) or done.is_set():
                    break
                if self._wake_r in ready:  # a wake-up without a stop: drain it
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 64)
                if self._listener is not None and self._listener in ready:
                    self._accept()
                self._police(time.monotonic(), ready)
        finally:
            self._kick()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, peer = self._listener.accept()
        except OSError:
            return
        log.info("vpcd connected from %s:%d", *peer[:2])
        self._waiting.append(_Newcomer(sock, time.monotonic()))

    def _police(self, now: float, ready: list[Any]) -> None:
        """Drop silent newcomers, hand one over when nothing (or something stale) is served."""
        for new in list(self._waiting):
            gone = False
            if not new.spoke and new.sock in ready:
                try:
                    head = new.sock.recv(3, socket.MSG_PEEK)
                except OSError:
                    head = b""
                gone = not head
                new.spoke = len(head) >= 3  # a whole control message: vpcd's power on
            if gone or (not new.spoke and now - new.since >= self.handshake_timeout):
                if not gone:
                    log.warning("closing a connection that sent nothing for %.0f s",
                                now - new.since)
                self._waiting.remove(new)
                new.sock.close()
        spoke = [new for new in self._waiting if new.spoke]
        with self._lock:
            if self._active is not None:
                quiet_since = self._last_message or self._active_since
                if not self._last_message and now - quiet_since >= self.handshake_timeout:
                    log.warning("closing a connection that sent nothing for %.0f s",
                                now - quiet_since)
                    self._kick()
                elif spoke and now - quiet_since >= self.stale_after:
                    log.warning("a new vpcd connection replaces one silent for %.0f s",
                                now - quiet_since)
                    self._kick()
                return
            if self._handoff is not None or not self._waiting:
                return
            # nothing served: the newest connection that spoke, else the oldest one
            chosen = spoke[-1] if spoke else self._waiting[0]
            self._waiting.remove(chosen)
            self._handoff = chosen.sock
            with contextlib.suppress(OSError):
                os.write(self._handoff_w, b"x")

    # -- one connection --------------------------------------------------------------------

    def _serve_connection(self, sock: socket.socket, ext: threading.Event) -> None:
        _tune(sock)
        sock.setblocking(True)
        engine = VpcdSession(self.card, persist=self.persist, observe=self.observe)
        with self._lock:
            self._active = sock
            self._active_since = time.monotonic()
            self._last_message = 0.0
        engine.connection_made()
        self.connections += 1
        self.connected.set()
        recv = sock.recv
        size = self.recv_size
        monotonic = time.monotonic
        try:
            if self._should_stop(ext):
                return
            while True:
                try:
                    data = recv(size)
                except (ConnectionResetError, ConnectionAbortedError) as exc:
                    log.info("vpcd connection reset (%s)", exc)
                    return
                if not data:
                    log.info("vpcd closed the connection")
                    return
                _quickack(sock)
                try:
                    replies = engine.receive(data)
                except FramingError as exc:
                    log.error("dropping the vpcd connection: %s", exc)
                    return
                if engine.messages:
                    self._last_message = monotonic()
                for reply in replies:
                    try:
                        sock.sendall(reply)
                    except (BrokenPipeError, ConnectionResetError) as exc:
                        log.info("vpcd went away while answering (%s)", exc)
                        return
        finally:
            with self._lock:
                self._active = None
            self.connected.clear()
            if engine.pending:
                log.warning("connection closed with %d bytes of a partial message",
                            engine.pending)
            engine.connection_lost()
