"""A private network namespace (loopback only) for third-party servers that cannot be bound
to loopback, such as hostapd 2.10's RADIUS server (no bind option: it listens on every
address). The server is started inside a new namespace by `unshare --net` (util-linux),
after `ip link set lo up` (iproute2); its peers join that namespace with `nsenter`.

    owner = subprocess.Popen(owner_argv([hostapd, conf]), ...)
    ns = Namespace.of(owner.pid)          # once the server runs in its own namespace
    subprocess.run(ns.join_argv([eapol_test, ...]), pass_fds=ns.pass_fds)
    ns.close()

Nothing is named (no `ip netns add`), so there is nothing to clean up: the namespace lives
while a process in it (or an open descriptor of it) does. Every process is started through
`setpriv --pdeathsig KILL`, so it dies with the thread that started it, even when that
process is SIGKILLed (start them from a thread that lives as long as they should: pytest's
main thread, a tool's main thread). UNIX sockets (pcscd, `isim auc-gw`) are files and stay
reachable from inside; TCP/UDP ports of the host (vpcd's) are not.

Making a namespace needs root (CAP_SYS_ADMIN); without it, `NamespaceError` says so.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lifetime import dies_with_parent

__all__ = ["NETNS_TOOLS", "Namespace", "NamespaceError", "owner_argv", "socket_inodes",
           "udp_sockets"]

NETNS_TOOLS = {"unshare": "util-linux", "nsenter": "util-linux", "setpriv": "util-linux",
               "ip": "iproute2"}


class NamespaceError(RuntimeError):
    """The private network namespace could not be made or joined."""


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise NamespaceError(f"{name} not found: install Debian's {NETNS_TOOLS[name]} "
                             "(tools/setup-system)")
    return path


def owner_argv(argv: list[str]) -> list[str]:
    """`argv` run in a new network namespace whose loopback is up (it stays the same pid)."""
    script = f'{_tool("ip")} link set lo up && exec "$@"'
    return dies_with_parent([_tool("unshare"), "--net", "--", "/bin/sh", "-ec", script,
                              "netns", *argv])


def namespace_id(pid: int | str) -> str:
    """`net:[inode]` of a process's network namespace ("" when the process is gone)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return ""


def udp_sockets(pid: int | str) -> dict[int, int]:
    """{socket inode: local port} of the UDP sockets in `pid`'s network namespace."""
    found: dict[int, int] = {}
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:  # sl local_address rem_address st ... uid timeout inode
            fields = line.split()
            found[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def socket_inodes(pid: int | str) -> set[int]:
    """The inodes of the sockets `pid` holds open."""
    inodes: set[int] = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir() if fds.exists() else ():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


@dataclass
class Namespace:
    """An open descriptor of a process's private network namespace (it keeps it alive)."""

    fd: int

    @classmethod
    def of(cls, pid: int) -> Namespace:
        """The namespace of `pid`; NamespaceError when it is still ours (unshare failed)."""
        if namespace_id(pid) in ("", namespace_id("self")):
            raise NamespaceError(f"process {pid} is not in a private network namespace")
        try:
            return cls(os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC))
        except OSError as exc:
            raise NamespaceError(f"cannot open the network namespace of {pid}: {exc}") from exc

    @staticmethod
    def entered(pid: int) -> bool:
        """`pid` runs in a network namespace other than ours."""
        return namespace_id(pid) not in ("", namespace_id("self"))

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self.fd,)

    def join_argv(self, argv: list[str]) -> list[str]:
        """`argv` run inside the namespace (pass `pass_fds` to subprocess)."""
        return dies_with_parent([_tool("nsenter"), f"--net=/proc/self/fd/{self.fd}", "--",
                                  *argv])

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
