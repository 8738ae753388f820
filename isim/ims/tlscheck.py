"""Should a UE trust this P-CSCF? TLS certificate checks for the IMS trust-domain rule.

TS 33.203 Annex F (2004 CR, adopted by this project): the UE authenticates the P-CSCF by its
TLS server certificate, and only trusts it when

* ``chain``        the certificate chain verifies to one of the trusted roots;
* ``identity``     the SIP domain identities of the leaf (RFC 5922 clause 7.1) include the
                   FQDN that was dialled (case-insensitive exact match, no wildcards);
* ``trust-domain`` that identity lies inside the card's IMS Trust Domain Name(s), decided by
                   the same rule the card itself is validated with (:mod:`isim.identity.trust`);
* ``realm``        the Digest realm of the 401 challenge equals the home network domain name
                   (EF.DOMAIN), case-insensitive, a trailing dot ignored.

The library takes plain values (certificates, strings) and returns a :class:`TrustReport` of
one :class:`Check` per line; terminals and exit codes live in :mod:`isim.cli.trust_check`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from isim.errors import InputError
from isim.fileio import read_bounded
from isim.identity.names import DomainError, normalized, parse_sip_uri
from isim.identity.trust import in_trust_domain

CHECK_CHAIN = "chain"
CHECK_IDENTITY = "identity"
CHECK_TRUST_DOMAIN = "trust-domain"
CHECK_REALM = "realm"

# Where the identities of a certificate came from (RFC 5922 7.1 order of preference).
SOURCE_SIP_URI = "SIP URI SAN"
SOURCE_DNS = "dNSName SAN"
SOURCE_CN = "subject CN"
SOURCE_NONE = "none"


@dataclass(frozen=True)
class Check:
    """One line of the verdict.

    A skipped check (``skipped=True``) was not evaluated for lack of input: it is neither a pass
    nor a fail. Its ``passed`` is False so that a caller who only looks at ``passed`` errs on
    the safe side; :attr:`TrustReport.trusted` ignores skipped checks.
    """

    name: str
    passed: bool
    detail: str
    skipped: bool = False

    @property
    def status(self) -> str:
        if self.skipped:
            return "skip"
        return "pass" if self.passed else "fail"

    def line(self) -> str:
        return f"{self.status.upper():4} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Identities:
    """The SIP domain identities of a certificate per RFC 5922 clause 7.1."""

    source: str
    names: list[str]
    rejected: list[str] = field(default_factory=list)  # "value (reason)" entries not accepted
    ignored_cns: list[str] = field(default_factory=list)  # CNs set aside: a SAN is present


@dataclass
class TrustReport:
    pcscf_fqdn: str
    checks: list[Check]
    identities: Identities | None = None

    @property
    def trusted(self) -> bool:
        """True when every check that was evaluated passed (skipped checks do not count)."""
        evaluated = [c for c in self.checks if not c.skipped]
        return bool(evaluated) and all(c.passed for c in evaluated)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def to_dict(self) -> dict:
        return {
            "trusted": self.trusted,
            "verdict": "trusted" if self.trusted else "not trusted",
            "pcscf": self.pcscf_fqdn,
            "identities": None
            if self.identities is None
            else {
                "source": self.identities.source,
                "names": self.identities.names,
                "rejected": self.identities.rejected,
            },
            "checks": [
                {"name": c.name, "status": c.status, "passed": c.passed, "detail": c.detail}
                for c in self.checks
            ],
        }


# --------------------------------------------------------------------------- the checks


def check_pcscf(
    chain: list[x509.Certificate],
    roots: list[x509.Certificate],
    pcscf_fqdn: str,
    realm: str | None,
    home_domain: str,
    trust_domains: Sequence[str],
    now: dt.datetime | None = None,
) -> TrustReport:
    """Decide whether a UE should trust the P-CSCF that presented ``chain`` (leaf first).

    ``realm`` None means no 401 challenge is at hand: the realm check is reported as skipped
    and does not block trust (the verdict then rests on the certificate alone).
    """
    if not chain:
        raise ValueError("empty certificate chain: no leaf certificate")
    when = now if now is not None else dt.datetime.now(dt.UTC)
    if when.tzinfo is None:  # a naive time is taken as UTC
        when = when.replace(tzinfo=dt.UTC)
    leaf = chain[0]
    ids = sip_identities(leaf)
    identity_check, matched = _check_identity(ids, pcscf_fqdn)
    return TrustReport(
        pcscf_fqdn=pcscf_fqdn,
        identities=ids,
        checks=[
            _check_chain(chain, roots, when),
            identity_check,
            _check_trust_domain(ids, matched, trust_domains),
            _check_realm(realm, home_domain),
        ],
    )


def _check_chain(
    chain: list[x509.Certificate], roots: list[x509.Certificate], when: dt.datetime
) -> Check:
    if not roots:
        return Check(CHECK_CHAIN, False, "no trusted root certificates given")
    try:
        verified = chain_verifier(roots, when).verify(chain[0], chain[1:]).chain
    except VerificationError as exc:
        return Check(CHECK_CHAIN, False, _explain_failure(chain, roots, when, exc))
    path = " -> ".join(c.subject.rfc4514_string() for c in verified)
    return Check(CHECK_CHAIN, True, f"verified to a trusted root: {path}")


def chain_verifier(roots: list[x509.Certificate], when: dt.datetime) -> ClientVerifier:
    """A path validator over ``roots`` for a P-CSCF server certificate.

    Why a *client* verifier for a *server* certificate: cryptography's ServerVerifier matches
    the leaf against a DNSName/IPAddress itself, using dNSName SANs only and accepting
    wildcards, and insists on a subjectAltName. RFC 5922 7.1 wants the opposite on each point:
    SIP URI SANs take precedence over dNSNames, wildcards are not identities, and a certificate
    without any SAN is identified by its CN. The ClientVerifier does path building and RFC 5280
    / web PKI checks (signatures, validity, basic constraints, key usage, name constraints)
    without any name matching, and with extension policies we adapt the leaf policy to a
    server: the subjectAltName becomes optional and an EKU, when present, must allow
    serverAuth (instead of clientAuth). The identity rules are then applied by
    :func:`sip_identities` on the verified leaf.
    """
    ee_policy = (
        ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _require_server_auth)
    )
    return (
        PolicyBuilder()
        .store(Store(roots))
        .time(when)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )


def _require_server_auth(
    policy: Policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    # No EKU extension means any purpose (RFC 5280 4.2.1.12).
    if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        raise ValueError("extendedKeyUsage of the leaf does not allow serverAuth")


def _explain_failure(
    chain: list[x509.Certificate],
    roots: list[x509.Certificate],
    when: dt.datetime,
    exc: VerificationError,
) -> str:
    """The verifier's messages are terse; name the usual causes precisely."""
    for position, cert in enumerate(chain):
        who = "leaf" if position == 0 else f"chain[{position}]"
        subject = cert.subject.rfc4514_string()
        if when < cert.not_valid_before_utc:
            return f"{who} {subject} not yet valid (notBefore {_iso(cert.not_valid_before_utc)})"
        if when > cert.not_valid_after_utc:
            return f"{who} {subject} expired (notAfter {_iso(cert.not_valid_after_utc)})"
    message = str(exc).removeprefix("validation failed: ")
    message = message.split(" (encountered processing", 1)[0]
    if "candidates exhausted" in message:
        issuers = sorted({c.issuer.rfc4514_string() for c in chain})
        return (
            f"no path to any of the {len(roots)} trusted root(s) "
            f"(issuers in chain: {'; '.join(issuers)})"
        )
    return message


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------- RFC 5922 7.1 identities


def sip_identities(cert: x509.Certificate) -> Identities:
    """The SIP domain identities of ``cert`` per RFC 5922 clause 7.1 (lower-case).

    1. With a subjectAltName, the subject CN is ignored.
    2. URI SANs with scheme ``sip`` and no user part give their host part; when there is at
       least one, dNSName SANs are ignored.
    3. Otherwise the dNSName SANs are the identities.
    4. Only without any subjectAltName, the CN is used.
    Wildcard names (any ``*``) are never accepted as identities (RFC 5922 7.2).
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if san is None:
        names, rejected = _accept_names(cns)
        return Identities(SOURCE_CN if names else SOURCE_NONE, names, rejected)

    rejected: list[str] = []
    sip_hosts: list[str] = []
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        host, why = _sip_uri_host(uri)
        if host is None:
            if why:
                rejected.append(f"{uri} ({why})")
        else:
            sip_hosts.append(host)
    accepted, bad = _accept_names(sip_hosts)
    rejected += bad
    if accepted:
        return Identities(SOURCE_SIP_URI, accepted, rejected, ignored_cns=cns)
    accepted, bad = _accept_names(san.get_values_for_type(x509.DNSName))
    rejected += bad
    return Identities(
        SOURCE_DNS if accepted else SOURCE_NONE, accepted, rejected, ignored_cns=cns
    )


def _accept_names(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """The names a UE compares as they are written (`isim.identity.names`: no whitespace, control or
    format characters, no UTS 46 mapping); the others with the reason."""
    accepted: list[str] = []
    rejected: list[str] = []
    for value in values:
        if "*" in value:
            rejected.append(f"{value!r} (wildcard)")
            continue
        normal = normalized(value)
        if isinstance(normal, DomainError):
            rejected.append(f"{value!r} ({normal})")
            continue
        name = value.lower()
        if name not in accepted:
            accepted.append(name)
    return accepted, rejected


def _sip_uri_host(uri: str) -> tuple[str | None, str]:
    """Host part of a ``sip:`` URI SAN (`isim.identity.names.parse_sip_uri`); (None, reason) when it
    is no SIP domain identity. A reason of "" means the URI is simply not a SIP URI (e.g.
    https:) and is not reported."""
    scheme = uri.partition(":")[0].lower()
    if scheme not in ("sip", "sips"):
        return None, ""
    if scheme == "sips":
        return None, "sips: URI is not a SIP domain identity"
    try:
        sip = parse_sip_uri(uri)
    except DomainError as exc:
        return None, str(exc)
    if sip.user is not None:
        return None, "has a user part"
    if sip.is_ip_literal:
        return None, "host is an IP address, not a domain name"
    return sip.host, ""


# ------------------------------------------------------------------------ other checks


def _normalized(name: str) -> str | None:
    normal = normalized(name)
    return None if isinstance(normal, DomainError) else normal


def _check_identity(ids: Identities, pcscf_fqdn: str) -> tuple[Check, str | None]:
    dialled = _normalized(pcscf_fqdn)
    notes = ""
    if ids.rejected:
        notes += f"; not accepted: {', '.join(ids.rejected)}"
    for cn in ids.ignored_cns:  # worth saying only where the CN would have matched
        if dialled is not None and _normalized(cn) == dialled:
            notes += f"; CN {cn} ignored because a subjectAltName is present"
    if dialled is None:
        detail = f"dialled name {pcscf_fqdn!r} is not a domain name"
        return Check(CHECK_IDENTITY, False, detail), None
    if not ids.names:
        return Check(CHECK_IDENTITY, False, f"certificate has no SIP domain identity{notes}"), None
    for name in ids.names:
        if _normalized(name) == dialled:
            detail = f"{pcscf_fqdn} matches {ids.source} identity {name}{notes}"
            return Check(CHECK_IDENTITY, True, detail), name
    listed = ", ".join(ids.names)
    detail = f"{pcscf_fqdn} not among {ids.source} identities [{listed}]{notes}"
    return Check(CHECK_IDENTITY, False, detail), None


def _check_trust_domain(
    ids: Identities, matched: str | None, trust_domains: Sequence[str]
) -> Check:
    """The identity that matched the dialled name must lie in a trust domain.

    When no identity matched, the certificate's identities are judged instead (all of them
    must lie inside), so that the report still says where the certificate belongs; the verdict
    is "not trusted" anyway because of the identity check.
    """
    domains = ", ".join(trust_domains) or "(none)"
    if not trust_domains:
        return Check(CHECK_TRUST_DOMAIN, False, "card has no IMS trust domain configured")
    names = [matched] if matched is not None else ids.names
    if not names:
        return Check(CHECK_TRUST_DOMAIN, False, "no certificate identity to place in a domain")
    try:
        outside = [n for n in names if not in_trust_domain(n, trust_domains)]
    except DomainError as exc:  # the card's trust domain itself is not a domain name
        return Check(CHECK_TRUST_DOMAIN, False, f"cannot apply the rule: {exc}")
    if matched is not None:
        where = "outside" if outside else "inside"
        return Check(
            CHECK_TRUST_DOMAIN, not outside, f"{matched} lies {where} trust domain(s) {domains}"
        )
    if outside:
        detail = f"certificate identities outside trust domain(s) {domains}: {', '.join(outside)}"
        return Check(CHECK_TRUST_DOMAIN, False, detail)
    detail = f"all certificate identities inside trust domain(s) {domains}: {', '.join(names)}"
    return Check(CHECK_TRUST_DOMAIN, True, detail)


def realm_matches(realm: str, home_domain: str) -> bool:
    """Realm == home network domain name: case-insensitive, trailing dot ignored (IDN aware);
    a realm that is no domain name as a UE compares it (`isim.identity.names`) matches nothing."""
    a = _normalized(realm)
    return a is not None and a == _normalized(home_domain)


def _check_realm(realm: str | None, home_domain: str) -> Check:
    if realm is None:
        return Check(CHECK_REALM, False, "no Digest realm given; not checked", skipped=True)
    if realm_matches(realm, home_domain):
        return Check(CHECK_REALM, True, f"realm {realm!r} equals home domain {home_domain}")
    return Check(CHECK_REALM, False, f"realm {realm!r} differs from home domain {home_domain}")


# ------------------------------------------------------------------------- certificates


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in file order; ValueError when there is none."""
    return x509.load_pem_x509_certificates(data)


MAX_PEM_BYTES = 16 << 20  # a chain or a root store; /dev/zero is neither


class CertificateFileError(ValueError):
    """A PEM file that cannot be read or holds no certificate (the message names it)."""


def read_pem_file(path: Path, what: str) -> list[x509.Certificate]:
    """Every certificate of the PEM file ``path`` (``what`` names it in errors)."""
    try:
        data = read_bounded(path, MAX_PEM_BYTES, what=what)
    except InputError as exc:
        raise CertificateFileError(str(exc)) from None
    try:
        certs = load_pem_chain(data)
    except ValueError:
        certs = []
    if not certs:
        raise CertificateFileError(f"{path}: no PEM certificate found in {what}")
    return certs


def fetch_chain(
    host: str, port: int, server_name: str | None, timeout: float = 10.0
) -> list[x509.Certificate]:
    """The certificate chain the peer at ``host:port`` sends in a TLS handshake (leaf first).

    The handshake does not verify anything (that is :func:`check_pcscf`'s job); it only
    collects what the server presented. ``server_name`` is sent as SNI (the dialled FQDN).

    Getting the whole unverified chain from :mod:`ssl`: Python 3.13 has the public
    ``SSLSocket.get_unverified_chain()`` (DER bytes); 3.10 to 3.12 have the same method on the
    private ``SSLSocket._sslobj`` (``_ssl.Certificate`` objects). Without either, only the
    leaf (``getpeercert(binary_form=True)``) is returned and a chain through an intermediate
    will then fail to verify rather than be trusted wrongly.
    OSError (including ssl.SSLError and timeouts) propagates to the caller.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sni = server_name if server_name and not _is_ip(server_name) else None
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        return peer_chain(tls)


def peer_chain(tls: ssl.SSLSocket) -> list[x509.Certificate]:
    """The chain the peer of a finished handshake presented, leaf first (unverified)."""
    return [x509.load_der_x509_certificate(der) for der in _peer_chain_der(tls)]


def _peer_chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    getter = getattr(tls, "get_unverified_chain", None)  # Python >= 3.13
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    items = getter() if getter is not None else None
    if items:
        return [item if isinstance(item, bytes) else _to_der(item) for item in items]
    leaf = tls.getpeercert(binary_form=True)
    if not leaf:
        raise ssl.SSLError("peer sent no certificate")
    return [leaf]


def _to_der(cert: object) -> bytes:
    # _ssl.Certificate (3.10-3.12): public_bytes() without argument gives PEM text.
    pem = cert.public_bytes()  # type: ignore[attr-defined]
    return ssl.PEM_cert_to_DER_cert(pem)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True
