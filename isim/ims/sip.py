"""The little SIP a registering UE needs (RFC 3261): build a REGISTER, read one response from
a stream with bounds and timeouts, mask secrets for a trace.

Reading is strict and bounded: a start line that is not ``SIP/2.0 NNN``, a header section over
:data:`MAX_HEADER` bytes, a body over :data:`MAX_BODY`, a stream that closes mid-message, a
read that takes longer than the timeout: each raises :class:`SipError` with a clear message.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass, field

from isim.digits import is_number

__all__ = [
    "MAX_BODY",
    "MAX_HEADER",
    "SipError",
    "SipReader",
    "SipRequest",
    "SipResponse",
    "mask_secrets",
    "split_list",
]

MAX_HEADER = 16384  # bytes before the empty line
MAX_BODY = 65536
MASK = "***"

# RFC 3261 clause 7.3.3 compact forms
_COMPACT = {"i": "call-id", "m": "contact", "f": "from", "t": "to", "v": "via",
            "l": "content-length", "c": "content-type", "k": "supported"}
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) ?(.*)")
# Digest parameters whose value is a secret or derived from one (RES / CK / IK):
# response= (RFC 2617, a digest of RES), ck= / ik= (a P-CSCF should strip them; masked anyway).
_SECRET_PARAMS = re.compile(r'(?i)\b(response|ck|ik)=("[^"]+"|[^,\s"]+)')


class SipError(Exception):
    """The peer's bytes are not a SIP response we can read, or the stream failed."""


@dataclass
class SipResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]  # (lower-case full name, value) in order
    body: bytes = b""
    raw: bytes = field(default=b"", repr=False)

    def all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self.headers if n == key]

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def list_values(self, name: str) -> list[str]:
        """Every element of a header that may repeat and hold comma-separated values."""
        return [item for value in self.all(name) for item in split_list(value)]


def split_list(value: str) -> list[str]:
    """Split a header value on commas outside <...> and quoted strings."""
    items: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, c in enumerate(value):
        if quoted:
            if c == '"' and value[i - 1] != "\\":
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            items.append(value[start:i].strip())
            start = i + 1
    items.append(value[start:].strip())
    return [i for i in items if i]


@dataclass
class SipRequest:
    method: str
    uri: str
    headers: list[tuple[str, str]]

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.uri} SIP/2.0"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines += ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode("utf-8")


def mask_secrets(text: str) -> str:
    """A message for a trace: non-empty Digest response / ck / ik values replaced by ***
    (the empty response="" of the first REGISTER stays as it is)."""
    return _SECRET_PARAMS.sub(lambda m: f'{m.group(1)}="{MASK}"', text)


class SipReader:
    """Reads SIP responses from a (TLS) socket; every recv bounded by ``timeout``."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self._buf = b""

    def _fill(self, deadline: float, what: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SipError(f"no complete SIP response within {self.timeout:g} s ({what})")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(16384)
        except TimeoutError:
            raise SipError(f"no complete SIP response within {self.timeout:g} s "
                           f"({what})") from None
        except (OSError, ssl.SSLError) as exc:
            raise SipError(f"connection failed while reading ({what}): {exc}") from None
        if not chunk:
            if self._buf:
                raise SipError(f"connection closed mid-message ({what}, "
                               f"{len(self._buf)} bytes received)")
            raise SipError("connection closed by the P-CSCF before any response")
        self._buf += chunk

    def read(self) -> SipResponse:
        """The next response (1xx included)."""
        deadline = time.monotonic() + self.timeout
        while True:
            while self._buf.startswith(b"\r\n"):  # RFC 5626 keep-alive CRLFs
                self._buf = self._buf[2:]
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buf) > MAX_HEADER:
                raise SipError(f"header section longer than {MAX_HEADER} bytes")
            self._fill(deadline, "header section")
        if end > MAX_HEADER:
            raise SipError(f"header section longer than {MAX_HEADER} bytes")
        head, self._buf = self._buf[:end], self._buf[end + 4:]
        response = _parse_head(head)
        length = _content_length(response)
        while len(self._buf) < length:
            self._fill(deadline, f"body of {length} bytes")
        response.body, self._buf = self._buf[:length], self._buf[length:]
        response.raw = head + b"\r\n\r\n" + response.body
        return response


def _parse_head(head: bytes) -> SipResponse:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError("the P-CSCF answered bytes that are not UTF-8 text: not SIP") from None
    lines = text.split("\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        shown = lines[0][:60]
        raise SipError(f"the P-CSCF answered {shown!r}, not a SIP/2.0 status line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation (RFC 3261 7.3.1)
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.rstrip(" \t").lstrip():
            raise SipError(f"malformed header line {line[:60]!r}")
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    return SipResponse(int(match.group(1)), match.group(2), headers)


def _content_length(response: SipResponse) -> int:
    values = response.all("content-length")
    if not values:
        return 0  # over a stream RFC 3261 18.3 requires it; absent is taken as no body
    if len(set(values)) != 1 or not is_number(values[0]):
        raise SipError(f"bad Content-Length {values!r}")
    length = int(values[0])
    if length > MAX_BODY:
        raise SipError(f"body of {length} bytes is over the {MAX_BODY}-byte limit")
    return length

