"""AKAv1-MD5 digest (RFC 3310 over RFC 2617): the worked example of the spec digest (TS 35.208
test set 1), an external vector (16-byte RES, XOR test algorithm), and malformed challenges."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isim.ims.digest import (
    ChallengeError,
    DigestAnswer,
    authorization,
    choose_qop,
    digest_response,
    initial_authorization,
    parse_challenge,
    split_aka_nonce,
)

USER = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
REALM = "ims.mnc001.mcc001.3gppnetwork.org"
URI = "sip:ims.mnc001.mcc001.3gppnetwork.org"
NONCE = "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M="
RES = bytes.fromhex("a54211d5e3ba50bf")  # test set 1


def _set1(password: bytes) -> str:
    return digest_response(username=USER, realm=REALM, password=password, method="REGISTER",
                           uri=URI, nonce=NONCE, qop="auth", cnonce="0a4f113b", nc="00000001")


def test_set1_worked_example() -> None:
    assert _set1(RES) == "402ab8df9f3a4d63a9f47c2f90e02938"
    assert _set1(RES.hex().encode()) == "fdf3cf50a13e95188ad763670204f085"  # the hex-text bug
    assert _set1(b"") == "da492ad7b08bb89514f214f8c2fdb82b"  # auts request: empty password


def test_external_vector_16_byte_res() -> None:
    nonce = "AAECAwQFBgcICQoLDA0ODwAAAAAAAAAAAAAAAAAAAAA="
    parts = split_aka_nonce(nonce)
    assert parts.rand == bytes(range(16)) and parts.autn == bytes(16)
    got = digest_response(
        username="450050020150513@ims.mnc005.mcc450.3gppnetwork.org",
        realm="ims.mnc005.mcc450.3gppnetwork.org", password=bytes(16), method="REGISTER",
        uri="sip:ims.mnc005.mcc450.3gppnetwork.org", nonce=nonce, qop="auth",
        cnonce="v0KBLdbU", nc="00000001")
    assert got == "c0c4c5a9cfc885bb697aa61a2a2c5466"


def test_nonce_split_and_server_data() -> None:
    raw = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35" "55f328b43577b9b94a9ffac354dfafb3")
    parts = split_aka_nonce(base64.b64encode(raw + b"srv").decode())
    assert (parts.rand, parts.autn, parts.server_data) == (raw[:16], raw[16:], b"srv")
    assert split_aka_nonce(NONCE).rand == raw[:16]


def test_parse_challenge_and_header() -> None:
    ch = parse_challenge(f'Digest realm="{REALM}", nonce="{NONCE}", algorithm=AKAv1-MD5, '
                         'qop="auth,auth-int", opaque="x\\"y"')
    assert (ch.realm, ch.nonce, ch.is_aka_v1, ch.qop, ch.opaque) == (
        REALM, NONCE, True, ("auth", "auth-int"), 'x"y')
    assert choose_qop(ch) == "auth"
    header = authorization(ch, USER, URI, DigestAnswer("ab" * 16, "auth", "c", "00000001"))
    assert header.startswith(f'Digest username="{USER}", realm="{REALM}", nonce="{NONCE}"')
    assert 'response="' + "ab" * 16 + '"' in header and "qop=auth, nc=00000001" in header
    assert 'opaque="x\\"y"' in header and "auts" not in header
    with_auts = authorization(ch, USER, URI, DigestAnswer("0" * 32, auts="QUJD"))
    assert with_auts.endswith('auts="QUJD"') and "qop" not in with_auts
    assert initial_authorization(USER, REALM, URI) == (
        f'Digest username="{USER}", realm="{REALM}", uri="{URI}", nonce="", response=""')


def test_no_qop_formula() -> None:
    got = digest_response(username=USER, realm=REALM, password=RES, method="REGISTER", uri=URI,
                          nonce=NONCE)
    # RFC 2617 3.2.2.1 without qop: MD5(HA1:nonce:HA2), HA1/HA2 of the worked example
    import hashlib
    want = hashlib.md5(b"da00069eb0de6587da7e09ef503c29db:" + NONCE.encode()
                       + b":df94ff42c4e05afeddd46c372e8208b4").hexdigest()
    assert got == want


@pytest.mark.parametrize(("value", "named"), [
    ('Basic realm="x"', "scheme"),
    ('Digest nonce="abc", algorithm=AKAv1-MD5', "no realm"),
    ('Digest realm="r", algorithm=AKAv1-MD5', "no nonce"),
    ('Digest realm="r", nonce="abc', "unterminated"),
    ('Digest realm="r", realm="s", nonce="n"', "twice"),
    ('Digest realm="r" nonce="n"', "expected ','"),
    ("Digest realm=, nonce=n", "no value"),
    ('Digest realm="r", nonce="' + "A" * 5000 + '"', "too long"),
])
def test_malformed_challenges(value: str, named: str) -> None:
    with pytest.raises(ChallengeError, match=named):
        parse_challenge(value)


@pytest.mark.parametrize(("nonce", "named"), [
    ("not base64!", "not base64"),
    ("QUJD", "holds 3 bytes"),
    ("", "holds 0 bytes"),
    ("é", "not base64"),
])
def test_malformed_nonces(nonce: str, named: str) -> None:
    with pytest.raises(ChallengeError, match=named):
        split_aka_nonce(nonce)


def test_unsupported_qop() -> None:
    with pytest.raises(ChallengeError, match="qop"):
        choose_qop(parse_challenge('Digest realm="r", nonce="n", qop="auth-conf"'))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_challenge_text_parses_or_names_the_problem(text: str) -> None:
    for value in (text, "Digest " + text):
        try:
            ch = parse_challenge(value)
        except ChallengeError as exc:
            assert str(exc).startswith("WWW-Authenticate")
            continue
        try:
            split_aka_nonce(ch.nonce)
        except ChallengeError as exc:
            assert "nonce" in str(exc)
