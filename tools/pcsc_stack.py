"""A PC/SC stack for tests, benchmarks and demos: pcscd with a vpcd reader on a known port.

    with pcsc_stack() as stack:            # private pcscd when possible
        stack.activate()                   # in-process pyscard uses this pcscd
        with serve_card(stack, TrivialCard()):
            subprocess.run(["opensc-tool", "-a"], env=stack.env)

How the private pcscd works (Debian pcscd 1.9.9 hard-codes /run/pcscd for its socket and
pid file; libpcsclite clients honour PCSCLITE_CSOCK_NAME for the socket path):

    unshare --mount --propagation private -- sh -c '
        mkdir -p /run/pcscd
        mount --bind WORKDIR/run /run/pcscd              # pcscd's files land in WORKDIR/run
        for b in /usr/lib/pcsc/drivers/*.bundle; do      # hide USB drivers: never grab a
            mount -t tmpfs -o ro,size=4k isim-pcsc "$b"  # real reader of the machine
        done
        exec pcscd -f -i -c WORKDIR/conf'                # vpcd reader on free ports P, P+1
    PCSCLITE_CSOCK_NAME=WORKDIR/run/pcscd.comm  <any PC/SC client>

Only pcscd lives in the mount namespace; its socket is an ordinary file outside it, so
clients need no namespace, only the environment variable (as root; without root the same
runs under ``unshare --user --map-root-user`` where user namespaces are allowed).

Modes of `pcsc_stack`: "private" (above), "system" (a pcscd already serving
/run/pcscd/pcscd.comm, with the vpcd port from /etc/reader.conf.d), "global" (no pcscd
runs and no namespace is possible: root starts ``pcscd -f -c WORKDIR/conf`` on the real
/run/pcscd for the duration), and "auto" (private, else system, else global).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lifetime import dies_with_parent, stop_process
from transport.vpcd import DEFAULT_PORT, VpcdTransport
from transport.vpcd_session import VirtualCard

__all__ = [
    "SOCKET_ENV",
    "PcscStack",
    "StackError",
    "pcsc_stack",
    "serve_card",
    "wait_for_card",
]

SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
SYSTEM_SOCKET = "/run/pcscd/pcscd.comm"
SYSTEM_CONF_DIR = Path("/etc/reader.conf.d")
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_BASE = "Virtual PCD"

Mode = Literal["auto", "private", "system", "global"]

_PRIVATE_SCRIPT = r"""
set -e
run=$1; shift
if [ ! -d /run/pcscd ]; then
    # not root: /run is not ours, give the namespace its own (empty) /run
    mkdir -p /run/pcscd 2>/dev/null || {
        mount -t tmpfs -o mode=755 isim-run /run; mkdir /run/pcscd; }
fi
mount --bind "$run" /run/pcscd
for b in /usr/lib/pcsc/drivers/*.bundle; do
    if [ -d "$b" ]; then mount -t tmpfs -o ro,size=4k isim-pcsc "$b"; fi
done
exec "$@"
"""

_active_socket: str | None = None


class StackError(RuntimeError):
    """The PC/SC stack could not be started or used."""


@dataclass
class PcscStack:
    """A running pcscd with a vpcd reader (two slots: ports vpcd_port and vpcd_port + 1)."""

    kind: str  # "private", "system" or "global"
    socket_path: str
    vpcd_port: int
    reader_name: str  # slot 0, the one at vpcd_port
    readers: tuple[str, ...]
    env: dict[str, str] = field(repr=False)  # environment for PC/SC client subprocesses
    workdir: Path | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def slot_port(self, slot: int) -> int:
        return self.vpcd_port + slot

    def activate(self) -> None:
        """Point this process's libpcsclite (pyscard) at this pcscd.

        libpcsclite reads PCSCLITE_CSOCK_NAME once, on the first PC/SC call of a process,
        so a process can use only one stack: activating a second one is an error.
        """
        global _active_socket
        if _active_socket not in (None, self.socket_path):
            raise StackError(
                f"this process already talks to the pcscd at {_active_socket}; libpcsclite "
                "cannot switch sockets within a process"
            )
        os.environ[SOCKET_ENV] = self.socket_path
        _active_socket = self.socket_path

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def run(self, argv: Sequence[str], *, timeout: float = 30.0,
            input: bytes | str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a PC/SC client in this stack's environment; output captured as text."""
        return subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout,
            input=input, check=False,
        )


# -- ports and configuration -------------------------------------------------------------


def free_port_pair() -> int:
    """A TCP port P with P and P+1 free on all addresses (vpcd binds 0.0.0.0)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("0.0.0.0", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
            return port
    raise StackError("no pair of free TCP ports found")


def vpcd_conf(port: int, *, driver: str = VPCD_DRIVER, name: str = READER_BASE) -> str:
    """A reader.conf entry for vpcd listening on ``port`` (slot 1 on port + 1).

    vpcd reads the port from DEVICENAME: ``/dev/null:PORT`` makes it listen for a virtual
    card; ``HOST:PORT`` makes it connect out to HOST (reversed mode).
    """
    return (
        f'FRIENDLYNAME "{name}"\n'
        f"DEVICENAME   /dev/null:0x{port:04X}\n"
        f"LIBPATH      {driver}\n"
        f"CHANNELID    0x{port:04X}\n"
    )


def system_vpcd_port(conf_dir: Path = SYSTEM_CONF_DIR) -> int | None:
    """The listening port of the vpcd reader in the system configuration, if any."""
    if not conf_dir.is_dir():
        return None
    for path in sorted(conf_dir.iterdir()):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if "libifdvpcd" not in text:
            continue
        for line in text.splitlines():
            m = re.match(r"\s*DEVICENAME\s+(\S+)", line)
            if m:
                dev = m.group(1)
                if not dev.startswith("/dev/null"):
                    return None  # reversed vpcd: it connects out, nothing listens
                _, _, port = dev.partition(":")
                return int(port, 0) if port else DEFAULT_PORT
    return None


def _socket_alive(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def _client_env(socket_path: str) -> dict[str, str]:
    env = dict(os.environ)
    env[SOCKET_ENV] = socket_path
    return env


# -- starting pcscd ----------------------------------------------------------------------


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists()
                                  else None)
    if path is None:
        raise StackError(f"{tool} not found: run tools/setup-system (as root) first")
    return path


def _start_pcscd(kind: str, timeout: float, port: int | None = None) -> PcscStack:
    pcscd = _need("pcscd")
    if not Path(VPCD_DRIVER).exists():
        raise StackError(f"{VPCD_DRIVER} missing: install vsmartcard-vpcd (tools/setup-system)")
    workdir = Path(tempfile.mkdtemp(prefix="isim-pcscd-"))
    (workdir / "run").mkdir()
    (workdir / "conf").mkdir()
    if port is None:
        port = free_port_pair()
    (workdir / "conf" / "vpcd").write_text(vpcd_conf(port))
    log_path = workdir / "pcscd.log"
    daemon = [pcscd, "--foreground", "--info", "--config", str(workdir / "conf")]
    if kind == "private":
        ns = ["--mount", "--propagation", "private"]
        if os.geteuid() != 0:
            ns = ["--user", "--map-root-user", *ns]
        argv = [_need("unshare"), *ns, "--", "sh", "-c", _PRIVATE_SCRIPT, "isim-pcscd",
                str(workdir / "run"), *daemon]
        socket_path = str(workdir / "run" / "pcscd.comm")
    else:  # global
        argv = daemon
        socket_path = SYSTEM_SOCKET
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(dies_with_parent(argv), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    stack = PcscStack(
        kind=kind, socket_path=socket_path, vpcd_port=port,
        reader_name=f"{READER_BASE} 00 00",
        readers=(f"{READER_BASE} 00 00", f"{READER_BASE} 00 01"),
        env=_client_env(socket_path), workdir=workdir, log_path=log_path, process=proc,
    )
    try:
        _wait_ready(stack, timeout)
    except BaseException:
        _stop_pcscd(stack)
        raise
    return stack


def _wait_ready(stack: PcscStack, timeout: float) -> None:
    assert stack.process is not None and stack.log_path is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise StackError(
                f"pcscd ({stack.kind}) exited with status {stack.process.returncode}:\n"
                f"{stack.log_tail()}"
            )
        text = stack.log_path.read_text(errors="replace")
        if "Could not initialize connection to virtual ICC" in text:
            raise StackError(f"vpcd could not listen on port {stack.vpcd_port}:\n{text}")
        if "daemon ready" in text and _socket_alive(stack.socket_path):
            return
        time.sleep(0.02)
    raise StackError(f"pcscd ({stack.kind}) not ready after {timeout:.0f}s:\n"
                     f"{stack.log_tail()}")


def _stop_pcscd(stack: PcscStack) -> None:
    if stack.process is not None:
        stop_process(stack.process, timeout=5)
    if stack.workdir is not None:
        shutil.rmtree(stack.workdir, ignore_errors=True)


def _system_stack() -> PcscStack | None:
    if not _socket_alive(SYSTEM_SOCKET):
        return None
    port = system_vpcd_port()
    if port is None:
        return None
    return PcscStack(
        kind="system", socket_path=SYSTEM_SOCKET, vpcd_port=port,
        reader_name=f"{READER_BASE} 00 00",
        readers=(f"{READER_BASE} 00 00", f"{READER_BASE} 00 01"),
        env=_client_env(SYSTEM_SOCKET),
    )


@contextlib.contextmanager
def pcsc_stack(mode: Mode = "auto", *, port: int | None = None, timeout: float = 15.0,
               activate: bool = False) -> Iterator[PcscStack]:
    """Start (or find) a pcscd with a vpcd reader; stop what was started on exit.

    ``port``: the vpcd port of a started pcscd (default: a free pair P, P+1).  ``activate``
    points this process's pyscard at the stack (`PcscStack.activate`).

    Raises `StackError` with the reason (and pcscd's log) when no stack can be had.
    """
    failures: list[str] = []
    stack: PcscStack | None = None
    order: list[str] = ["private", "system", "global"] if mode == "auto" else [mode]
    for kind in order:
        try:
            if kind == "system":
                stack = _system_stack()
                if stack is None:
                    failures.append("system: no running pcscd with a listening vpcd reader")
            elif kind == "global":
                if os.geteuid() != 0:
                    failures.append("global: needs root")
                elif _socket_alive(SYSTEM_SOCKET):
                    failures.append("global: a system pcscd already runs")
                else:
                    stack = _start_pcscd("global", timeout, port)
            else:
                stack = _start_pcscd("private", timeout, port)
        except StackError as exc:
            failures.append(f"{kind}: {exc}")
        if stack is not None:
            break
    if stack is None:
        raise StackError("no PC/SC stack available:\n" + "\n".join(failures))
    try:
        if activate:
            stack.activate()
        yield stack
    finally:
        _stop_pcscd(stack)


# -- a card in the reader ----------------------------------------------------------------


def wait_for_card(reader: str, *, present: bool = True, timeout: float = 10.0) -> None:
    """Block until pcscd reports a card present (or absent) in ``reader`` (in-process,
    so the stack must be activated)."""
    from smartcard import scard

    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise StackError(f"cannot reach pcscd: {scard.SCardGetErrorMessage(hresult)}")
    try:
        deadline = time.monotonic() + timeout
        state: Any = scard.SCARD_STATE_UNAWARE
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackError(f"timeout waiting for card {'in' if present else 'out of'} "
                                 f"{reader!r}")
            hresult, states = scard.SCardGetStatusChange(
                ctx, int(min(remaining, 1.0) * 1000), [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                raise StackError(
                    f"reader {reader!r}: {scard.SCardGetErrorMessage(hresult)}")
            _, event_state, _ = states[0]
            is_present = bool(event_state & scard.SCARD_STATE_PRESENT)
            mute = bool(event_state & scard.SCARD_STATE_MUTE)
            if is_present == present and not (present and mute):
                return
            state = event_state & ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(ctx)


@contextlib.contextmanager
def serve_card(stack: PcscStack, card: VirtualCard, *, slot: int = 0,
               timeout: float = 10.0, wait: bool = True,
               **transport_options: Any) -> Iterator[VpcdTransport]:
    """Insert ``card`` into the stack's reader (transport.vpcd in a thread); remove it on exit.

    With ``wait`` the stack must be activated: returns once pcscd reports the card.
    """
    transport = VpcdTransport(card, host="127.0.0.1", port=stack.slot_port(slot),
                              **transport_options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            transport.serve_forever()
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"vpcd-{stack.slot_port(slot)}", daemon=True)
    thread.start()
    try:
        if not transport.connected.wait(timeout):
            raise StackError(f"could not connect to vpcd on port {stack.slot_port(slot)}:\n"
                             f"{stack.log_tail()}")
        if wait:
            wait_for_card(stack.readers[slot], timeout=timeout)
        yield transport
    finally:
        transport.stop()
        thread.join(timeout)
        transport.close()
        if wait and not errors:
            wait_for_card(stack.readers[slot], present=False, timeout=timeout)
    if errors:
        raise StackError(f"the vpcd transport failed: {errors[0]!r}") from errors[0]
