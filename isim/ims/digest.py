"""HTTP Digest for IMS AKA: AKAv1-MD5 (RFC 3310) over the RFC 2617 computation.

* :func:`parse_challenge` reads a ``WWW-Authenticate`` value into a :class:`Challenge`
  (RFC 2617 clause 3.2.1 grammar: ``Digest`` then comma-separated ``name=token`` or
  ``name="quoted string"``).
* :func:`split_aka_nonce` turns the nonce into RAND, AUTN and server data: the nonce is
  base64(RAND(16) || AUTN(16) || server data) (RFC 3310 clause 3.2).
* :func:`digest_response` is the RFC 2617 clause 3.2.2.1 ``request-digest``; for AKAv1-MD5 the
  password is RES as raw octets (RFC 3310 clause 3.2), the empty string when the client
  reports a synchronization failure with ``auts`` (RFC 3310 clause 3.4).
* :func:`authorization` builds the ``Authorization`` value; :func:`initial_authorization` the
  one of the first REGISTER (TS 24.229 clause 5.1.1.2.1: empty nonce and response).

Every malformed challenge raises :class:`ChallengeError` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

__all__ = [
    "AKA_V1_MD5",
    "AkaNonce",
    "Challenge",
    "ChallengeError",
    "DigestAnswer",
    "authorization",
    "choose_qop",
    "digest_response",
    "initial_authorization",
    "parse_challenge",
    "split_aka_nonce",
]

AKA_V1_MD5 = "AKAv1-MD5"
QOP_AUTH = "auth"
QOP_AUTH_INT = "auth-int"
RAND_LEN = 16  # TS 33.102 clause 6.3.2
AUTN_LEN = 16
MAX_PARAM = 4096  # one challenge parameter; a longer one is an attack or a bug

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SPACE = " \t"


class ChallengeError(ValueError):
    """A 401 challenge that cannot be answered; the message names the field."""


@dataclass(frozen=True)
class Challenge:
    """One Digest challenge (RFC 2617 clause 3.2.1)."""

    realm: str
    nonce: str
    algorithm: str  # as sent (compare case-insensitively)
    qop: tuple[str, ...] = ()  # offered qop values, lower-case
    opaque: str | None = None
    params: dict[str, str] = field(default_factory=dict, repr=False)  # every parameter

    @property
    def is_aka_v1(self) -> bool:
        return self.algorithm.lower() == AKA_V1_MD5.lower()


@dataclass(frozen=True)
class AkaNonce:
    rand: bytes
    autn: bytes
    server_data: bytes


@dataclass(frozen=True)
class DigestAnswer:
    """What goes into the Authorization header besides the identities."""

    response: str  # 32 lower-case hex digits
    qop: str | None = None
    cnonce: str | None = None
    nc: str | None = None
    auts: str | None = None  # base64 of the 14-byte AUTS (RFC 3310 clause 3.4)


def _params(text: str) -> dict[str, str]:
    """``name=value`` pairs of an auth-param list; names lower-case."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE + ",":
            i += 1
        if i >= n:
            return out
        match = _TOKEN.match(text, i)
        if match is None:
            raise ChallengeError(f"WWW-Authenticate: unexpected {text[i:i + 20]!r}")
        name = match.group().lower()
        i = match.end()
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] != "=":
            raise ChallengeError(f"WWW-Authenticate: parameter {name!r} has no value")
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i < n and text[i] == '"':
            value, i = _quoted(text, i + 1, name)
        else:
            match = _TOKEN.match(text, i)
            if match is None:
                raise ChallengeError(f"WWW-Authenticate: parameter {name!r} has no value")
            value, i = match.group(), match.end()
        if len(value) > MAX_PARAM:
            raise ChallengeError(f"WWW-Authenticate: parameter {name!r} is too long")
        if name in out:
            raise ChallengeError(f"WWW-Authenticate: parameter {name!r} given twice")
        out[name] = value
        while i < n and text[i] in _SPACE:
            i += 1
        if i < n and text[i] != ",":
            raise ChallengeError(f"WWW-Authenticate: expected ',' after {name!r}")


def _quoted(text: str, i: int, name: str) -> tuple[str, int]:
    chars: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    raise ChallengeError(f"WWW-Authenticate: parameter {name!r}: unterminated quoted string")


def parse_challenge(value: str) -> Challenge:
    """A ``WWW-Authenticate`` header value with the Digest scheme."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ChallengeError(f"WWW-Authenticate: scheme {scheme!r} is not Digest")
    params = _params(rest)
    for required in ("realm", "nonce"):
        if required not in params:
            raise ChallengeError(f"WWW-Authenticate: no {required}")
    algorithm = params.get("algorithm", "MD5")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(params["realm"], params["nonce"], algorithm, qop, params.get("opaque"),
                     params)


def split_aka_nonce(nonce: str) -> AkaNonce:
    """RAND, AUTN and server data from an AKAv1 nonce (RFC 3310 clause 3.2)."""
    try:
        raw = base64.b64decode(nonce.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ChallengeError("WWW-Authenticate: nonce is not base64") from None
    if len(raw) < RAND_LEN + AUTN_LEN:
        raise ChallengeError(f"WWW-Authenticate: nonce holds {len(raw)} bytes; RAND and AUTN "
                             f"need {RAND_LEN + AUTN_LEN}")
    return AkaNonce(raw[:RAND_LEN], raw[RAND_LEN:RAND_LEN + AUTN_LEN],
                    raw[RAND_LEN + AUTN_LEN:])


def _md5(*parts: bytes) -> str:
    return hashlib.md5(b":".join(parts), usedforsecurity=False).hexdigest()


def digest_response(*, username: str, realm: str, password: bytes, method: str, uri: str,
                    nonce: str, qop: str | None = None, cnonce: str | None = None,
                    nc: str | None = None, body: bytes = b"") -> str:
    """RFC 2617 clause 3.2.2.1 request-digest (MD5), password as raw octets."""
    ha1 = _md5(username.encode(), realm.encode(), password)
    if qop == QOP_AUTH_INT:
        ha2 = _md5(method.encode(), uri.encode(), hashlib.md5(body).hexdigest().encode())
    else:
        ha2 = _md5(method.encode(), uri.encode())
    if qop is None:
        return _md5(ha1.encode(), nonce.encode(), ha2.encode())
    if cnonce is None or nc is None:
        raise ValueError("qop needs cnonce and nc")
    return _md5(ha1.encode(), nonce.encode(), nc.encode(), cnonce.encode(), qop.encode(),
                ha2.encode())


def choose_qop(challenge: Challenge) -> str | None:
    """``auth`` when offered, else ``auth-int``; None when the challenge has no qop."""
    if not challenge.qop:
        return None
    for wanted in (QOP_AUTH, QOP_AUTH_INT):
        if wanted in challenge.qop:
            return wanted
    raise ChallengeError(f"WWW-Authenticate: qop {','.join(challenge.qop)!r} not supported")


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def initial_authorization(username: str, realm: str, uri: str) -> str:
    """The Authorization of an unprotected REGISTER (TS 24.229 5.1.1.2.1)."""
    return (f"Digest username={_q(username)}, realm={_q(realm)}, uri={_q(uri)}, "
            'nonce="", response=""')


def authorization(challenge: Challenge, username: str, uri: str, answer: DigestAnswer) -> str:
    """The Authorization value answering ``challenge`` (RFC 2617 3.2.2, RFC 3310 3.2/3.4)."""
    parts = [
        f"username={_q(username)}",
        f"realm={_q(challenge.realm)}",
        f"nonce={_q(challenge.nonce)}",
        f"uri={_q(uri)}",
        f"response={_q(answer.response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if answer.qop is not None:
        parts += [f"cnonce={_q(answer.cnonce or '')}", f"qop={answer.qop}", f"nc={answer.nc}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_q(challenge.opaque)}")
    if answer.auts is not None:
        parts.append(f"auts={_q(answer.auts)}")
    return "Digest " + ", ".join(parts)
