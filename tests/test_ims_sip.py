"""isim.ims.sip: reading responses from a stream (folding, compact names, bodies, bounds) and
the trace masking."""

from __future__ import annotations

import socket

import pytest

from isim.ims.sip import MAX_HEADER, SipError, SipReader, SipRequest, mask_secrets, split_list


def _read(*chunks: bytes, timeout: float = 2.0) -> list:
    a, b = socket.socketpair()
    with a, b:
        for chunk in chunks:
            a.sendall(chunk)
        a.shutdown(socket.SHUT_WR)
        reader = SipReader(b, timeout)
        out = []
        while True:
            try:
                out.append(reader.read())
            except SipError as exc:
                out.append(str(exc))
                return out


def test_two_responses_compact_names_folding_and_body() -> None:
    first, second, end = _read(
        b"\r\nSIP/2.0 100 Trying\r\nv: SIP/2.0/TLS h\r\nl: 0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nService-Route: <sip:a;lr>,\r\n <sip:b;lr>\r\n",
        b"Service-Route: <sip:c>\r\nContent-Length: 3\r\n\r\nabc")
    assert (first.status, first.first("via")) == (100, "SIP/2.0/TLS h")
    assert (second.status, second.reason, second.body) == (200, "OK", b"abc")
    assert second.list_values("service-route") == ["<sip:a;lr>", "<sip:b;lr>", "<sip:c>"]
    assert end == "connection closed by the P-CSCF before any response"


def test_split_list_keeps_commas_inside_brackets_and_quotes() -> None:
    assert split_list('"a, b" <sip:x,y>;p=1, <tel:+1>') == ['"a, b" <sip:x,y>;p=1', "<tel:+1>"]


@pytest.mark.parametrize(("data", "message"), [
    (b"SIP/2.0 200 OK\r\nbad header\r\n\r\n", "malformed header line"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "bad Content-Length"),
    (b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
    (b"SIP/2.0 99 Odd\r\n\r\n", "not a SIP/2.0 status line"),
    (b"x" * (MAX_HEADER + 10), "longer than"),
])
def test_bad_streams(data: bytes, message: str) -> None:
    assert message in _read(data)[0]


def test_silence_times_out() -> None:
    a, b = socket.socketpair()
    with a, b, pytest.raises(SipError, match=r"within 0\.2 s"):
        SipReader(b, 0.2).read()


def test_mask_secrets() -> None:
    text = ('Authorization: Digest username="u", nonce="", response="", x=1\r\n'
            'Authorization: Digest response="0123abcd", auts="QUJD", ck=00ff, IK="aa"')
    masked = mask_secrets(text)
    assert 'response=""' in masked and 'response="***"' in masked
    assert 'ck="***"' in masked and 'IK="***"' in masked and 'auts="QUJD"' in masked
    assert "0123abcd" not in masked and "00ff" not in masked


def test_request_encoding() -> None:
    raw = SipRequest("REGISTER", "sip:d", [("To", "<sip:a@d>")]).encode()
    assert raw == b"REGISTER sip:d SIP/2.0\r\nTo: <sip:a@d>\r\nContent-Length: 0\r\n\r\n"
