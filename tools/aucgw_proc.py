"""`isim auc-gw` as a subprocess, and a datagram client speaking its protocol (the part of
hostapd's eap_sim_db that talks to the gateway), for tests and benchmarks.

    with AucGwProcess(["--hss", hss], socket=path) as gw:     # waits for the socket
        with GatewayClient(path) as client:
            reply = client.request("AKA-REQ-AUTH 001010000000001")
        assert gw.terminate() == 0
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from emulator_proc import ROOT, isim_argv, isim_env
from lifetime import dies_with_parent, kill_process

__all__ = ["AucGwProcess", "GatewayClient"]


class AucGwProcess:
    """One ``isim auc-gw --socket PATH ARGS`` process; killed with the context."""

    def __init__(self, args: Sequence[str], *, socket: str | Path) -> None:
        self.socket = Path(socket)
        self.argv = isim_argv("auc-gw", "--socket", str(socket), *args)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> AucGwProcess:
        self.proc = subprocess.Popen(dies_with_parent(self.argv), env=isim_env(), cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "listening on" not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"isim auc-gw exited with {self.proc.returncode}:\n"
                                   f"{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"isim auc-gw not ready after {timeout}s:\n{self.output()}")
            time.sleep(0.02)
        return self

    def output(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        kill_process(self.proc)

    def __enter__(self) -> AucGwProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self._log.close()


class GatewayClient:
    """A bound datagram socket connected to the gateway, as hostapd's eap_sim_db uses."""

    def __init__(self, server: str | Path, timeout: float = 5.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="isim-gwc-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self._dir.name, "client"))
        self.sock.connect(str(server))
        self.sock.settimeout(timeout)

    def send(self, datagram: bytes | str) -> None:
        self.sock.send(datagram.encode() if isinstance(datagram, str) else datagram)

    def receive(self, timeout: float | None = None) -> str | None:
        """The next reply, None when none came within the timeout."""
        previous = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536).decode("ascii")
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(previous)

    def request(self, datagram: bytes | str, timeout: float | None = None) -> str | None:
        self.send(datagram)
        return self.receive(timeout)

    def close(self) -> None:
        self.sock.close()
        self._dir.cleanup()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
