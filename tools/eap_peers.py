"""Debian's hostapd as a RADIUS/EAP server fed by `isim auc-gw`, and Debian's eapol_test as
the supplicant using the card in the PC/SC reader (`pcsc=""`), for end-to-end tests and
tools/bench_eap.py.

    with HostapdRadius(workdir, gateway_socket=gw_sock) as radius:
        result = run_eapol_test(workdir, "AKA", port=radius.port, env=stack.env)
        assert result.success and result.mppe_ok

hostapd: `driver=none` (no radio: only the RADIUS server), `eap_server=1`,
`eap_sim_db=unix:<gateway socket>`, a RADIUS client entry for 127.0.0.1 only, UDP port
1812. hostapd 2.10 has no option to bind its RADIUS server (`radius_server_*`: clients file,
auth/acct ports, IPv6) to an address: it listens on every address. So hostapd runs in a
private network namespace with only loopback (tools/netns.py, needs root), and eapol_test
joins it: the RADIUS port exists nowhere else. The EAP user file maps the
identity prefixes wpa_supplicant builds from the IMSI (`1` EAP-SIM, `0` EAP-AKA, `6`
EAP-AKA', RFC 4186/4187/5448 and digest 3.2) to their method; pseudonyms and fast
re-authentication are off (`eap_sim_id=0`), so every run is a full authentication through
the gateway.

`require_tools` raises (naming the Debian package) when a tool is missing, so that tests
fail, never skip, without them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifetime import stop_process
from netns import NETNS_TOOLS, Namespace, NamespaceError, owner_argv, udp_sockets

__all__ = [
    "METHOD_PREFIX",
    "RADIUS_PORT",
    "RADIUS_SECRET",
    "EapResult",
    "HostapdRadius",
    "eap_identity",
    "eapol_test_conf",
    "msks",
    "require_tools",
    "run_eapol_test",
]

RADIUS_SECRET = "isim-test-radius"  # loopback only, test configuration
RADIUS_PORT = 1812  # RFC 2865; free in the private namespace
METHOD_PREFIX = {"SIM": "1", "AKA": "0", "AKA'": "6"}  # digest 3.2 (eap_sm_imsi_identity)
TOOLS = ("hostapd", "eapol_test")


def require_tools(*names: str) -> dict[str, str]:
    """Absolute paths of the tools; RuntimeError naming the Debian package when missing."""
    packages = {"hostapd": "hostapd", "eapol_test": "eapoltest",
                "osmo-auc-gen": "libosmocore-utils", **NETNS_TOOLS}
    found: dict[str, str] = {}
    for name in names or TOOLS:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if path is None:
            raise RuntimeError(f"{name} not found: install Debian's {packages.get(name, name)} "
                               "(tools/setup-system)")
        found[name] = path
    return found


def eap_identity(method: str, imsi: str, mnc_length: int) -> str:
    """The permanent identity wpa_supplicant builds from the card (digest 3.2)."""
    mcc, mnc = imsi[:3], imsi[3:3 + mnc_length].rjust(3, "0")
    return f"{METHOD_PREFIX[method]}{imsi}@wlan.mnc{mnc}.mcc{mcc}.3gppnetwork.org"


# hostap's debug lines for the MSK (both sides share the code): "EAP-SIM: keying material
# (MSK) - hexdump(len=64): ..." (EAP-SIM, EAP-AKA) and "EAP-AKA': MSK - hexdump(...)"; not EMSK
_MSK = re.compile(r"(?<![A-Z])MSK\)? - hexdump\(len=\d+\):((?: [0-9a-f]{2})+)")


def msks(log: str) -> list[str]:
    """Every MSK in a hostapd (-dd -K) or eapol_test log, in order, as hex."""
    return [m.group(1).replace(" ", "") for m in _MSK.finditer(log)]


def hostapd_conf(workdir: Path, gateway_socket: Path, port: int) -> Path:
    """The RADIUS server's files in `workdir`; returns the hostapd.conf path."""
    clients = workdir / "radius_clients"
    clients.write_text(f"127.0.0.1/32 {RADIUS_SECRET}\n")
    users = workdir / "eap_user"
    # the identity's first character selects the method (plus wildcard realms); "*" suffix
    users.write_text("".join(f'"{prefix}"*\t{method}\n'
                             for method, prefix in METHOD_PREFIX.items()))
    conf = workdir / "hostapd.conf"
    conf.write_text("\n".join([
        "driver=none",
        "logger_stdout=-1",
        "logger_stdout_level=1",
        "eap_server=1",
        f"eap_user_file={users}",
        f"eap_sim_db=unix:{gateway_socket}",
        "eap_sim_db_timeout=5",
        "eap_sim_id=0",  # no pseudonyms, no fast re-authentication: full runs
        f"radius_server_clients={clients}",
        f"radius_server_auth_port={port}",
        "",
    ]))
    return conf


class HostapdRadius:
    """hostapd as a RADIUS server on 127.0.0.1:1812 of its own network namespace, while the
    context lasts (it dies with the thread that started it, and the namespace with it)."""

    def __init__(self, workdir: Path, *, gateway_socket: Path, debug: bool = True) -> None:
        self.workdir = Path(workdir)
        self.port = RADIUS_PORT
        self.conf = hostapd_conf(self.workdir, Path(gateway_socket), self.port)
        self.log_path = self.workdir / "hostapd.log"
        self.debug = debug
        self.proc: subprocess.Popen[bytes] | None = None
        self.netns: Namespace | None = None

    def start(self, timeout: float = 10.0) -> HostapdRadius:
        exe = require_tools("hostapd", *NETNS_TOOLS)["hostapd"]
        log = self.log_path.open("wb")
        argv = owner_argv([exe, *(["-dd", "-K"] if self.debug else []), str(self.conf)])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                self.stop()
                raise NamespaceError(
                    f"hostapd exited with {self.proc.returncode} (a private network namespace "
                    f"needs root: unshare --net):\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"hostapd's RADIUS port not bound after {timeout}s:\n"
                                   f"{self.log()}")
            time.sleep(0.05)
        self.netns = Namespace.of(self.proc.pid)
        return self

    def _listening(self) -> bool:
        """hostapd runs in its own namespace and has the RADIUS port bound there."""
        assert self.proc is not None
        return (Namespace.entered(self.proc.pid)
                and self.port in udp_sockets(self.proc.pid).values())

    def log(self, tail: int | None = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:] if tail else lines)

    def msks(self) -> list[str]:
        """The MSKs hostapd derived so far (its debug log shows keys: -dd -K)."""
        return msks(self.log(None))

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self.netns is not None:
            self.netns.close()
            self.netns = None

    def __enter__(self) -> HostapdRadius:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def eapol_test_conf(path: Path, method: str) -> Path:
    """A network block that takes identity and keys from the card (`pcsc=""`)."""
    path.write_text("\n".join([
        "network={",
        "    key_mgmt=IEEE8021X",
        f"    eap={method}",
        '    pcsc=""',
        "}",
        "",
    ]))
    return path


@dataclass
class EapResult:
    returncode: int
    output: str = field(repr=False)

    @property
    def success(self) -> bool:
        return self.returncode == 0 and self.output.rstrip().endswith("SUCCESS")

    @property
    def eap_failure(self) -> bool:
        """The server sent EAP-Failure (RADIUS Access-Reject), as opposed to a timeout."""
        return "CTRL-EVENT-EAP-FAILURE" in self.output or "Access-Reject" in self.output

    @property
    def mppe_ok(self) -> bool:
        """eapol_test compared its MSK with the MS-MPPE keys of the Access-Accept."""
        m = re.search(r"MPPE keys OK: (\d+)\s+mismatch: (\d+)", self.output)
        return bool(m) and int(m.group(1)) >= 1 and int(m.group(2)) == 0

    @property
    def msk(self) -> str | None:
        """The MSK the supplicant derived (eapol_test prints it), hex."""
        found = msks(self.output)
        return found[-1] if found else None

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_eapol_test(workdir: Path, method: str, *, port: int, env: Mapping[str, str],
                   netns: Namespace | None, timeout: float = 30.0,
                   extra: tuple[str, ...] = ()) -> EapResult:
    """One eapol_test run against the RADIUS server on 127.0.0.1:`port` (PC/SC env `env`),
    inside the network namespace `netns` (the server's, HostapdRadius.netns) unless None."""
    exe = require_tools("eapol_test")["eapol_test"]
    fd, name = tempfile.mkstemp(dir=workdir, suffix=".conf")
    os.close(fd)
    conf = eapol_test_conf(Path(name), method)
    argv = [exe, "-c", str(conf), "-a", "127.0.0.1", "-p", str(port), "-s", RADIUS_SECRET,
            "-t", str(int(timeout)), *extra]
    if netns is not None:
        argv = netns.join_argv(argv)
    try:
        done = subprocess.run(argv, env=dict(env), capture_output=True, text=True,
                              timeout=timeout + 10, check=False,
                              pass_fds=netns.pass_fds if netns else ())
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        return EapResult(-1, out + "\n(eapol_test timed out)")
    finally:
        with contextlib.suppress(FileNotFoundError):
            conf.unlink()
    return EapResult(done.returncode, done.stdout + done.stderr)
