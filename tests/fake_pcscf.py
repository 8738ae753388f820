"""A scripted TLS peer for the error paths of `isim register` (malformed 401, not SIP, a
connection closed mid-message, an oversized header, silence). The success and resync paths
are proven against SIPp behind stunnel4 (tests/test_e2e_register.py); this peer only lets
the client's bad-input handling be driven byte by byte.

    with FakePcscf(cert_pem, key_pem, [reply_401, reply_200]) as peer:
        ... isim register --pcscf host:peer.port ...
    peer.requests       # the raw requests received, in order
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

Reply = bytes | Callable[[bytes], bytes] | None  # None: close the connection, say nothing

__all__ = ["FakePcscf", "Reply", "sip_reply"]


def _header(request: bytes, name: str) -> str:
    for line in request.decode("utf-8", "replace").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def sip_reply(status: str, *headers: str, body: bytes = b"") -> Callable[[bytes], bytes]:
    """A response echoing Via, From, To, Call-ID and CSeq of the request."""

    def make(request: bytes) -> bytes:
        lines = [f"SIP/2.0 {status}"] + [
            f"{n}: {_header(request, n)}" for n in ("Via", "From", "To", "Call-ID", "CSeq")]
        lines += [*list(headers), f"Content-Length: {len(body)}", "", ""]
        return "\r\n".join(lines).encode() + body

    return make


class FakePcscf:
    def __init__(self, cert_pem: bytes, key_pem: bytes, replies: list[Reply], *,
                 hold: bool = True) -> None:
        self.hold = hold  # after the last reply, wait for the client to close (else close)
        self._dir = tempfile.TemporaryDirectory()
        cert, key = Path(self._dir.name, "cert.pem"), Path(self._dir.name, "key.pem")
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _read_request(self, conn: ssl.SSLSocket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            raw.settimeout(10)
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    hold = self.hold
                    for reply in self.replies:
                        request = self._read_request(conn)
                        if request is None:
                            break
                        self.requests.append(request)
                        if reply is None:
                            hold = False
                            break
                        conn.sendall(reply(request) if callable(reply) else reply)
                    if hold:
                        with contextlib.suppress(OSError):  # wait for the client to leave
                            conn.recv(1)
            except (OSError, ssl.SSLError):
                pass

    def __enter__(self) -> FakePcscf:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)
        self._dir.cleanup()
