"""The gateway's UNIX datagram socket: bind it safely, answer until told to stop.

The socket file is created mode 0600 (umask 0177 around bind): only the owner (hostapd runs
as the same user, usually root) may send requests. An existing path is replaced only when it
is a socket nobody serves (a gateway that died); a live socket or any other file is refused.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
import threading
from pathlib import Path

from isim.errors import InputError
from isim.fileio import SECRET_MODE
from isim.network.aucgw import MAX_DATAGRAM, AucGateway

__all__ = ["SOCKET_MODE", "bind_socket", "close_socket", "serve"]

log = logging.getLogger("isim.aucgw")

SOCKET_MODE = SECRET_MODE
POLL_SECONDS = 0.2  # how often the loop looks at the stop flag


def _remove_stale(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise InputError("exists and is not a socket", source=str(path))
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        os.unlink(path)  # nobody serves it: a gateway that died
        return
    except OSError as exc:
        raise InputError(f"cannot check the existing socket ({exc.strerror})",
                         source=str(path)) from None
    finally:
        probe.close()
    raise InputError("another process serves this socket", source=str(path))


def bind_socket(path: str | Path) -> socket.socket:
    """A bound AF_UNIX SOCK_DGRAM socket at `path`, mode 0600."""
    path = Path(path)
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old = os.umask(0o777 & ~SOCKET_MODE)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot bind ({exc.strerror})", source=str(path)) from None
    finally:
        os.umask(old)
    os.chmod(path, SOCKET_MODE)
    sock.settimeout(POLL_SECONDS)
    return sock


def serve(sock: socket.socket, gateway: AucGateway, stop: threading.Event) -> None:
    """Answer datagrams until `stop` is set. Replies go to the sender's bound address."""
    while not stop.is_set():
        try:
            data, _anc, flags, sender = sock.recvmsg(MAX_DATAGRAM + 1)
        except TimeoutError:
            continue
        except InterruptedError:
            continue
        if flags & socket.MSG_TRUNC or len(data) > MAX_DATAGRAM:
            gateway.stats.ignored += 1
            log.warning("ignored a request longer than %d bytes", MAX_DATAGRAM)
            continue
        reply = gateway.handle(data)
        if reply is None:
            continue
        if not sender:
            log.warning("cannot reply: the sender's socket is not bound")
            continue
        try:
            sock.sendto(reply, sender)
        except OSError as exc:  # the client went away: its problem, not ours
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.EAGAIN):
                log.warning("reply not sent (%s)", exc.strerror)


def close_socket(sock: socket.socket, path: str | Path) -> None:
    """Close and remove the socket file (it is ours: we bound it)."""
    sock.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
