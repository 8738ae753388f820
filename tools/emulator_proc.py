"""`isim emulate` as a subprocess, the way a user runs it, for end-to-end tests and tools.

    with EmulatorProcess(image, vpcd_port=stack.vpcd_port, state=path) as emu:
        emu.wait_inserted(stack.reader_name)        # pcscd reports the card
        with pcsc.connect(stack.reader_name) as card: ...
        assert emu.terminate() == 0                 # SIGTERM: clean stop

The process always dies with the context (SIGKILL if it did not stop), so a failing test
leaves no orphan emulator, and with the starting thread (`lifetime`) when the test process
itself is killed.  `FakeVpcd` is the other end of the vpcd protocol for tests that
drive the emulator directly (no pcscd): it listens, the emulator connects to it with
``--vpcd 127.0.0.1:PORT``, and it speaks the 2-byte-length framing of transport.vpcd.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from lifetime import dies_with_parent, kill_process

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "EmulatorError", "EmulatorProcess", "FakeVpcd", "isim_argv", "isim_env"]


class EmulatorError(RuntimeError):
    """The emulator did not start, stop or answer as expected (message has its stderr)."""


def isim_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which ``python -m isim`` imports this tree."""
    env = dict(base if base is not None else os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def isim_argv(*args: str) -> list[str]:
    """``python -m isim ARGS`` with this interpreter (the suite never relies on PATH)."""
    return [sys.executable, "-m", "isim", *args]


class EmulatorProcess:
    """One ``isim emulate SOURCE --vpcd 127.0.0.1:PORT [--state F] [--t1]`` process (T=0,
    the default, unless ``t1``)."""

    def __init__(self, source: str | Path, *, vpcd_port: int, state: str | Path | None = None,
                 t0: bool = False, t1: bool = False, extra: Sequence[str] = (),
                 env: dict[str, str] | None = None, host: str = "127.0.0.1",
                 listen: bool = False) -> None:
        """``listen``: ``--listen HOST:PORT`` (reversed vpcd) instead of ``--vpcd``."""
        where = "--listen" if listen else "--vpcd"
        argv = ["emulate", str(source), where, f"{host}:{vpcd_port}"]
        if state is not None:
            argv += ["--state", str(state)]
        if t0:
            argv.append("--t0")
        if t1:
            argv.append("--t1")
        self.argv = isim_argv(*argv, *extra)
        self.env = isim_env(env)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(); no pipe to fill
        self.proc: subprocess.Popen[bytes] | None = None

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            dies_with_parent(self.argv), env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def output(self) -> str:
        """Everything the emulator wrote (stdout and stderr) so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise EmulatorError(f"emulator still running after {timeout}s:\n"
                                f"{self.output()}") from None

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL, now (the crash)."""
        kill_process(self.proc)

    def close(self) -> None:
        self.kill()
        self._log.close()

    def __enter__(self) -> EmulatorProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- in the reader -----------------------------------------------------------------

    def wait_inserted(self, reader: str, timeout: float = 15.0) -> None:
        """Block until pcscd reports the card in ``reader`` (the stack must be activated in
        this process); fail early, with the emulator's output, if it exits."""
        from pcsc_stack import StackError, wait_for_card

        deadline = time.monotonic() + timeout
        while True:
            if self.returncode is not None:
                raise EmulatorError(f"isim emulate exited with status {self.returncode}:\n"
                                    f"{self.output()}")
            try:
                wait_for_card(reader, timeout=min(1.0, max(0.05, deadline - time.monotonic())))
                return
            except StackError as exc:
                if time.monotonic() >= deadline:
                    raise EmulatorError(f"card not in {reader!r} after {timeout}s ({exc}):\n"
                                        f"{self.output()}") from None

    @staticmethod
    def wait_removed(reader: str, timeout: float = 15.0) -> None:
        from pcsc_stack import wait_for_card

        wait_for_card(reader, present=False, timeout=timeout)


class FakeVpcd:
    """vpcd's side of the protocol (a 2-byte length, then the body), for driving a card
    without pcscd: the one fake vpcd peer of the tests and tools.

    ``FakeVpcd()`` listens: ``accept()`` waits for the emulator to connect (it powers the
    card on and reads the ATR like vpcd does), ``transmit(capdu)`` returns the R-APDU; one
    write per message, TCP_NODELAY. ``FakeVpcd(sock)`` speaks on a connected socket, written
    like Debian's vpcd: length and body in two send() calls, Nagle on (the card side must
    cope with partial reads); ``insert()``, ``send``/``recv``/``transact``. A dead peer shows
    as `ConnectionError`.
    """

    def __init__(self, sock: socket.socket | None = None, *, host: str = "127.0.0.1",
                 timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.atr = b""
        self.sock: socket.socket | None = sock
        self._split = sock is not None  # Debian vpcd's two writes
        self._listener: socket.socket | None = None
        self.port = 0
        if sock is not None:
            sock.settimeout(5)
            return
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(4)
        self.port = self._listener.getsockname()[1]

    def accept(self, proc: EmulatorProcess | None = None) -> bytes:
        """Wait for the emulator's connection; power on; return the ATR."""
        self.disconnect()
        assert self._listener is not None, "FakeVpcd(sock) is connected already"
        deadline = time.monotonic() + self.timeout
        self._listener.settimeout(0.1)
        while True:
            try:
                sock, _ = self._listener.accept()
                break
            except TimeoutError:
                if proc is not None and proc.returncode is not None:
                    raise EmulatorError(f"isim emulate exited with status {proc.returncode} "
                                        f"before connecting:\n{proc.output()}") from None
                if time.monotonic() > deadline:
                    raise EmulatorError("the emulator did not connect"
                                        + (f":\n{proc.output()}" if proc else "")) from None
        sock.settimeout(self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.send(b"\x01")  # power on
        self.atr = self._exchange(b"\x04")  # get ATR
        return self.atr

    def send(self, body: bytes) -> None:
        assert self.sock is not None
        if self._split:
            self.sock.sendall(len(body).to_bytes(2, "big"))
            self.sock.sendall(body)
        else:
            self.sock.sendall(len(body).to_bytes(2, "big") + body)

    def _recv_exact(self, n: int) -> bytes:
        assert self.sock is not None
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the card side closed the connection")
            buf += chunk
        return buf

    def recv(self) -> bytes:
        size = int.from_bytes(self._recv_exact(2), "big")
        return self._recv_exact(size)

    def _exchange(self, body: bytes) -> bytes:
        self.send(body)
        return self.recv()

    transact = _exchange

    def insert(self) -> bytes:
        """What vpcd does on insertion: power on, then ask for the ATR."""
        self.send(b"\x01")
        return self._exchange(b"\x04")

    def transmit(self, capdu: bytes) -> bytes:
        return self._exchange(capdu)

    def send_only(self, capdu: bytes) -> None:
        """Send a C-APDU without waiting for the answer (to kill the card mid-command)."""
        self.send(capdu)

    recv_response = recv

    def reset(self) -> bytes:
        self.send(b"\x02")
        return self._exchange(b"\x04")

    def disconnect(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def close(self) -> None:
        self.disconnect()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> FakeVpcd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
