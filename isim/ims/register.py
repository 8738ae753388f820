"""IMS registration of a UE over TLS with its card (TS 24.229 clause 5.1.1, RFC 3310).

    result = register(card, config, trace=print)      # RegisterResult, or RegisterFailure

1. TCP to the P-CSCF (``config.address`` when given, as curl's --resolve), TLS 1.2 or 1.3
   with SNI = the dialled P-CSCF FQDN. The handshake itself verifies nothing.
2. Before any SIP byte: :func:`isim.ims.tlscheck.check_pcscf` on the presented chain (chain to the
   given roots, RFC 5922 identity without wildcards, inside the trust domain). Not trusted:
   :class:`RegisterFailure` with exit code 1 and the report; the socket is closed unused.
3. REGISTER with ``Authorization: Digest username=IMPI, realm=home domain, nonce="",
   response=""``; on 401 with AKAv1-MD5 the nonce gives RAND and AUTN, the card answers,
   and the second REGISTER carries the RFC 2617 response with password = RES. A
   synchronization failure is answered once with ``auts=`` (password empty, RFC 3310 3.4);
   a MAC failure stops at once (nothing more is sent). 200 OK: the result.

Secrets: RES, CK and IK stay in local variables of :func:`register`; the trace shows every
message through :func:`isim.ims.sip.mask_secrets` (the Digest ``response`` is masked too).
"""

from __future__ import annotations

import base64
import re
import secrets
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from isim.aka.procedure import MacFailure, Success, SyncFailure
from isim.digits import is_number
from isim.ims.tlscheck import TrustReport, check_pcscf, peer_chain, realm_matches

from .card import UeCard
from .digest import (
    Challenge,
    ChallengeError,
    DigestAnswer,
    authorization,
    choose_qop,
    digest_response,
    initial_authorization,
    parse_challenge,
    split_aka_nonce,
)
from .sip import SipError, SipReader, SipRequest, SipResponse, mask_secrets

__all__ = ["RegisterConfig", "RegisterFailure", "RegisterResult", "register"]

EXIT_REJECTED = 1  # not trusted, rejected, authentication failed
EXIT_CANNOT = 2  # cannot connect, no card, bad input (incl. a malformed answer)
METHOD = "REGISTER"
MAX_REQUESTS = 4  # initial, answer, answer after auts, one spare
MAX_PROVISIONAL = 16  # 1xx responses tolerated before a final one
_EXPIRES = re.compile(r"(?i);\s*expires\s*=\s*([0-9]+)")

Trace = Callable[[str], None]


class RegisterFailure(Exception):
    """Registration did not succeed. ``exit_code`` 1 (refused) or 2 (could not try)."""

    def __init__(self, exit_code: int, message: str, *, finding: str = "",
                 trust: TrustReport | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.finding = finding  # e.g. "trust-domain", "chain", "sync-failure", "mac-failure"
        self.trust = trust
        self.status = status


@dataclass(frozen=True)
class RegisterConfig:
    pcscf: str  # the dialled FQDN (certificate identity, SNI, Request routing)
    port: int
    roots: list[x509.Certificate]
    trust_domains: Sequence[str]
    address: str | None = None  # connect here instead of resolving pcscf (--resolve)
    impu: str | None = None
    expires: int = 600000  # TS 24.229 5.1.1.2.1: 600 000 seconds
    timeout: float = 10.0


@dataclass
class RegisterResult:
    pcscf: str
    impi: str
    impu: str
    home_domain: str
    application: str
    trust: TrustReport
    status: int = 0
    reason: str = ""
    expires: int | None = None
    service_route: list[str] = field(default_factory=list)
    p_associated_uri: list[str] = field(default_factory=list)
    realm: str | None = None
    realm_is_home_domain: bool | None = None
    resynchronized: bool = False
    requests: int = 0
    tls: str = ""  # protocol version and cipher suite of the connection

    def to_dict(self) -> dict:
        return {
            "registered": True,
            "pcscf": self.pcscf,
            "application": self.application,
            "impi": self.impi,
            "impu": self.impu,
            "home_domain": self.home_domain,
            "status": self.status,
            "reason": self.reason,
            "expires": self.expires,
            "service_route": self.service_route,
            "p_associated_uri": self.p_associated_uri,
            "realm": self.realm,
            "realm_is_home_domain": self.realm_is_home_domain,
            "resynchronized": self.resynchronized,
            "requests": self.requests,
            "tls": self.tls,
            "trust": self.trust.to_dict(),
        }


def connect_tls(host: str, port: int, address: str | None, timeout: float) -> ssl.SSLSocket:
    """TCP + TLS 1.2/1.3 handshake that collects the peer's chain without judging it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # isim.ims.tlscheck judges the chain itself, below
    target = address or host
    try:
        raw = socket.create_connection((target, port), timeout=timeout)
    except OSError as exc:
        raise RegisterFailure(EXIT_CANNOT, f"cannot connect to {target}:{port}: "
                              f"{exc.strerror or exc}", finding="connect") from None
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raw.close()
        raise RegisterFailure(EXIT_CANNOT, f"TLS handshake with {target}:{port} failed: {exc}",
                              finding="tls") from None


def _choose_impu(card: UeCard, wanted: str | None) -> str:
    if wanted is not None:
        if not wanted.lower().startswith(("sip:", "sips:")):
            raise RegisterFailure(EXIT_CANNOT, f"--impu {wanted!r} is not a SIP URI")
        return wanted
    for impu in card.identities.impus:
        if impu.lower().startswith(("sip:", "sips:")):
            return impu
    raise RegisterFailure(EXIT_CANNOT, "the card holds no SIP URI IMPU to register")


class _Dialog:
    """The REGISTER transaction chain: one Call-ID, From tag, increasing CSeq."""

    def __init__(self, tls: ssl.SSLSocket, impu: str, domain: str, expires: int,
                 timeout: float, trace: Trace | None) -> None:
        self.tls = tls
        self.reader = SipReader(tls, timeout)
        self.trace = trace
        self.impu = impu
        self.uri = f"sip:{domain}"
        self.expires = expires
        host, port = tls.getsockname()[:2]
        self.local = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.call_id = f"{secrets.token_hex(12)}@isim"
        self.tag = secrets.token_hex(6)
        self.cseq = 0

    def request(self, auth: str) -> SipRequest:
        self.cseq += 1
        return SipRequest(METHOD, self.uri, [
            ("Via", f"SIP/2.0/TLS {self.local};branch=z9hG4bK{secrets.token_hex(10)};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<{self.impu}>;tag={self.tag}"),
            ("To", f"<{self.impu}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} {METHOD}"),
            ("Contact", f"<sip:{self.local};transport=tls>"),
            ("Expires", str(self.expires)),
            ("Supported", "path"),
            ("Authorization", auth),
            ("User-Agent", "isim-register"),
        ])

    def exchange(self, auth: str) -> SipResponse:
        message = self.request(auth).encode()
        if self.trace:
            self.trace(">>> " + mask_secrets(message.decode()).rstrip("\r\n"))
        try:
            self.tls.settimeout(self.reader.timeout)  # the reader leaves what its deadline left
            self.tls.sendall(message)
        except OSError as exc:
            raise RegisterFailure(EXIT_CANNOT, f"sending REGISTER failed: {exc}") from None
        for _ in range(MAX_PROVISIONAL + 1):
            try:
                response = self.reader.read()
            except SipError as exc:
                raise RegisterFailure(EXIT_CANNOT, str(exc), finding="sip") from None
            if self.trace:
                text = response.raw.decode("utf-8", "replace")
                self.trace("<<< " + mask_secrets(text).rstrip("\r\n"))
            if response.status >= 200:
                return response
        raise RegisterFailure(EXIT_CANNOT, f"more than {MAX_PROVISIONAL} provisional (1xx) "
                              "responses and no final one", finding="sip")


def _aka_challenge(response: SipResponse) -> Challenge:
    values = response.all("www-authenticate")
    if not values:
        raise ChallengeError("401 without WWW-Authenticate")
    errors: list[str] = []
    for value in values:
        try:
            challenge = parse_challenge(value)
        except ChallengeError as exc:
            errors.append(str(exc))
            continue
        if challenge.is_aka_v1:
            return challenge
        errors.append(f"WWW-Authenticate: algorithm {challenge.algorithm!r} is not "
                      "AKAv1-MD5 (the only one supported)")
    raise ChallengeError("; ".join(errors))


def _answer(card: UeCard, dialog: _Dialog, challenge: Challenge,
            resynced: bool) -> tuple[str, bool]:
    """The Authorization answering ``challenge``; (value, whether it reports a sync failure)."""
    nonce = split_aka_nonce(challenge.nonce)
    qop = choose_qop(challenge)
    cnonce = secrets.token_hex(8) if qop else None
    nc = "00000001" if qop else None
    username = card.identities.impi
    result = card.authenticate(nonce.rand, nonce.autn)
    if isinstance(result, MacFailure):
        raise RegisterFailure(EXIT_REJECTED, "the card found the network not authentic (MAC "
                              "failure in AUTN): registration stopped", finding="mac-failure")
    auts = None
    if isinstance(result, SyncFailure):
        if resynced:
            raise RegisterFailure(EXIT_REJECTED, "synchronization failure again after auts: "
                                  "registration stopped", finding="sync-failure")
        password = b""  # RFC 3310 3.4: the response of an auts request uses an empty password
        auts = base64.b64encode(result.auts).decode("ascii")
    else:
        assert isinstance(result, Success)
        password = result.res
    response = digest_response(username=username, realm=challenge.realm, password=password,
                               method=METHOD, uri=dialog.uri, nonce=challenge.nonce, qop=qop,
                               cnonce=cnonce, nc=nc)
    del password, result
    answer = DigestAnswer(response, qop, cnonce, nc, auts)
    return authorization(challenge, username, dialog.uri, answer), auts is not None


def _expiry(response: SipResponse, requested: int, local: str) -> int | None:
    """Our binding's expires (RFC 3261 10.2.4: the 200 lists every binding of the AOR), else
    the Expires header, else what was requested."""
    contacts = response.list_values("contact")
    ours = [c for c in contacts if f"sip:{local};" in c or f"sip:{local}>" in c]
    for contact in ours or contacts:
        match = _EXPIRES.search(contact)
        if match:
            return int(match.group(1))
    header = response.first("expires")
    if header is not None and is_number(header.strip(), max_digits=10):  # 2**32 - 1
        return int(header.strip())
    return requested if response.status == 200 else None


def register(card: UeCard, config: RegisterConfig, trace: Trace | None = None) -> RegisterResult:
    """Register the card's IMPU at ``config.pcscf``; RegisterFailure when it does not work."""
    ids = card.identities
    impu = _choose_impu(card, config.impu)
    tls = connect_tls(config.pcscf, config.port, config.address, config.timeout)
    with tls:
        try:
            report = check_pcscf(chain=peer_chain(tls), roots=config.roots,
                                 pcscf_fqdn=config.pcscf, realm=None,
                                 home_domain=ids.home_domain,
                                 trust_domains=config.trust_domains)
        except (OSError, ValueError) as exc:  # no certificate, undecodable DER
            raise RegisterFailure(EXIT_CANNOT, f"P-CSCF certificate unreadable: {exc}",
                                  finding="chain") from None
        if not report.trusted:
            failed = [c for c in report.checks if not c.skipped and not c.passed]
            raise RegisterFailure(
                EXIT_REJECTED, f"P-CSCF {config.pcscf} not trusted: "
                + "; ".join(f"{c.name}: {c.detail}" for c in failed),
                finding=failed[0].name, trust=report)
        result = RegisterResult(config.pcscf, ids.impi, impu, ids.home_domain, ids.application,
                                report)
        cipher = tls.cipher()
        result.tls = f"{tls.version()} {cipher[0] if cipher else ''}".strip()
        dialog = _Dialog(tls, impu, ids.home_domain, config.expires, config.timeout, trace)
        auth = initial_authorization(ids.impi, ids.home_domain, dialog.uri)
        resynced = answered = False  # answered: the last request carried RES
        for _ in range(MAX_REQUESTS):
            response = dialog.exchange(auth)
            result.requests = dialog.cseq
            if response.status == 200:
                result.status, result.reason = response.status, response.reason
                result.expires = _expiry(response, config.expires, dialog.local)
                result.service_route = response.list_values("service-route")
                result.p_associated_uri = response.list_values("p-associated-uri")
                result.resynchronized = resynced
                return result
            if response.status != 401:
                raise RegisterFailure(EXIT_REJECTED, f"REGISTER rejected: {response.status} "
                                      f"{response.reason}", finding="rejected",
                                      status=response.status)
            if answered:
                raise RegisterFailure(EXIT_REJECTED, "authentication failed: the answer to "
                                      "the challenge was refused with 401", finding="auth",
                                      status=401)
            try:
                challenge = _aka_challenge(response)
                result.realm = challenge.realm
                result.realm_is_home_domain = realm_matches(challenge.realm, ids.home_domain)
                auth, sent_auts = _answer(card, dialog, challenge, resynced)
            except ChallengeError as exc:
                raise RegisterFailure(EXIT_CANNOT, f"malformed 401: {exc}",
                                      finding="challenge") from None
            resynced, answered = resynced or sent_auts, not sent_auts
        raise RegisterFailure(EXIT_REJECTED, f"no 200 OK after {MAX_REQUESTS} REGISTERs",
                              finding="auth")

