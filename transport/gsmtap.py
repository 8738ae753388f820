"""Send APDU exchanges as GSMTAP (type SIM) over UDP, for Wireshark / tshark / pySim-trace.

The datagrams come from `apdu.trace.gsmtap_apdu` (secrets already masked).
Sending never blocks and never fails the card: a datagram that cannot be sent (nothing
listens, buffer full) is dropped. The destination is loopback unless ``allow_remote``.
"""

from __future__ import annotations

import contextlib
import socket

from apdu.trace import GSMTAP_PORT
from transport.loopback import is_loopback

__all__ = ["DEFAULT_GSMTAP", "GsmtapSender"]

DEFAULT_GSMTAP = ("127.0.0.1", GSMTAP_PORT)


class GsmtapSender:
    """A connected UDP socket towards ``host:port``."""

    def __init__(self, host: str = DEFAULT_GSMTAP[0], port: int = DEFAULT_GSMTAP[1], *,
                 allow_remote: bool = False) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"refusing to send GSMTAP to non-loopback address {host!r} "
                             "(--allow-remote sends the trace over the network)")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address = (host, port)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        # not connect()ed: on a connected UDP socket the ICMP "port unreachable" of one
        # datagram (no capture running) makes the next send fail and drop its datagram
        self.sent = 0
        self.dropped = 0

    def send(self, datagram: bytes) -> None:
        try:
            self._sock.sendto(datagram, self.address)
            self.sent += 1
        except OSError:  # ECONNREFUSED (nobody listens), EAGAIN: a trace is best effort
            self.dropped += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
