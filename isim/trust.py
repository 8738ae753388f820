"""The IMS trust-domain naming rule.

TS 33.203 clause 8.1 as changed by the 2004 change request (Ericsson, SA3, Acapulco, July
2004, "Forwards compatibility to TLS based access security"; whether 3GPP adopted it is not
confirmed, this project adopts it as its own rule):

    Domain and realm names used in IMPI, IMPU(s) and Home Network Domain Name shall contain
    IMS Trust Domain Name.

This module reads "contain" as: the realm of the IMPI, the host of every SIP/SIPS IMPU (and
the domain-name `phone-context` of a tel IMPU) and the Home Network Domain Name each equal a
configured trust domain name, or are a subdomain of one (whole labels, so `badims.com` is not
inside `ims.com`). Several trust domains may be configured.

Names are compared in their normal form: A-labels (RFC 5890/5891, via the `idna` package,
UTS 46 mapping), lower case, without the trailing root dot. A name must be a host name:
RFC 1123 section 2.1 LDH labels of 1..63 octets, at most 253 octets in all, and a top label
that is not all-numeric (RFC 3696 section 2), so that an IPv4 address is never a domain name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import idna

__all__ = [
    "DomainError",
    "Violation",
    "check_domain",
    "check_identities",
    "check_impi",
    "check_impu",
    "in_trust_domain",
    "nai_realm",
    "normalize_domain",
    "uri_domain",
]

FILE_IMPI = "EF.IMPI"
FILE_IMPU = "EF.IMPU"
FILE_DOMAIN = "EF.DOMAIN"

MAX_LABEL = 63  # RFC 1035 section 2.3.4
MAX_NAME = 253  # RFC 1035 section 2.3.4 (255 octets on the wire = 253 characters in text)


class DomainError(ValueError):
    """A string that is not a usable domain name, NAI or URI; the message says why."""


# --------------------------------------------------------------------------------------------
# Domain names

# RFC 1123 section 2.1: letters, digits, hyphen; a label neither starts nor ends with a hyphen.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LDH_LABEL_CHARS = re.compile(r"[a-z0-9-]+")
_ALL_NUMERIC = re.compile(r"[0-9]+")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def _diagnose_ascii(name: str) -> str:
    """Why a lower-case ASCII name (trailing dot removed) is not an LDH host name."""
    if not name:
        return "empty name"
    if len(name) > MAX_NAME:
        return f"name is {len(name)} octets long, more than {MAX_NAME}"
    for label in name.split("."):
        if not label:
            return "empty label"
        if len(label) > MAX_LABEL:
            return f"label {label[:16]!r}... is {len(label)} octets long, more than {MAX_LABEL}"
        if not _LDH_LABEL_CHARS.fullmatch(label):
            return f"label {label!r} has characters other than letters, digits and hyphen"
        if label[0] == "-" or label[-1] == "-":
            return f"label {label!r} starts or ends with a hyphen"
    return "not a host name"


def _check_a_labels(name: str) -> str | None:
    """RFC 5891 section 5.4: an `xn--` label must decode to a valid U-label."""
    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                ulabel = idna.decode(label)
                if idna.encode(ulabel).decode("ascii") != label:
                    return f"label {label!r} is not a valid A-label"
            except (idna.IDNAError, UnicodeError, ValueError):
                return f"label {label!r} is not a valid A-label"
    return None


def _normalize_ascii(name: str) -> str | DomainError:
    lowered = name.lower()
    if lowered.endswith("."):
        lowered = lowered[:-1]
    if len(lowered) > MAX_NAME or not _LDH_NAME.fullmatch(lowered):
        return DomainError(_diagnose_ascii(lowered))
    top = lowered.rpartition(".")[2]
    if _ALL_NUMERIC.fullmatch(top):
        if _IPV4.fullmatch(lowered):
            return DomainError("an IPv4 address is not a domain name")
        return DomainError(f"top-level label {top!r} is all-numeric")
    if "xn--" in lowered:
        reason = _check_a_labels(lowered)
        if reason:
            return DomainError(reason)
    return lowered


@lru_cache(maxsize=16384)
def _normalize(name: str) -> str | DomainError:
    """Cached: the same home domains recur in every profile of a batch."""
    if name.isascii():
        return _normalize_ascii(name)
    # Non-ASCII: map (UTS 46, non-transitional) and convert each U-label to its A-label.
    try:
        encoded = idna.encode(name, uts46=True, std3_rules=True, transitional=False)
    except idna.IDNAError as exc:
        return DomainError(f"not a valid internationalized domain name ({exc})")
    except UnicodeError as exc:
        return DomainError(f"not a valid internationalized domain name ({exc.reason})")
    return _normalize_ascii(encoded.decode("ascii"))


def normalize_domain(name: str) -> str:
    """The normal form of a domain name: A-labels, lower case, no trailing dot.

    Raises `DomainError` with the reason when `name` is not a host name.
    """
    if not isinstance(name, str):
        raise DomainError(f"domain name must be a string, not {type(name).__name__}")
    result = _normalize(name)
    if isinstance(result, DomainError):
        raise DomainError(str(result))
    return result


@dataclass(frozen=True)
class _TrustDomains:
    names: tuple[str, ...]  # normal forms, in configuration order
    suffixes: tuple[str, ...]  # "." + name
    text: str  # for messages

    def contains(self, normal_name: str) -> bool:
        if normal_name in self.names:
            return True
        return normal_name.endswith(self.suffixes)


@lru_cache(maxsize=256)
def _compile(trust_domains: tuple[str, ...]) -> _TrustDomains:
    names: list[str] = []
    for td in trust_domains:
        try:
            normal = normalize_domain(td)
        except DomainError as exc:
            raise DomainError(f"trust domain {td!r}: {exc}") from None
        if normal not in names:
            names.append(normal)
    return _TrustDomains(
        names=tuple(names),
        suffixes=tuple("." + n for n in names),
        text=", ".join(names) if names else "(none configured)",
    )


def _trust(trust_domains: Sequence[str]) -> _TrustDomains:
    if isinstance(trust_domains, str):  # a str is a Sequence[str]: take it as one name
        return _compile((trust_domains,))
    return _compile(tuple(trust_domains))


def in_trust_domain(name: str, trust_domains: Sequence[str]) -> bool:
    """True when `name` equals a trust domain name or is a subdomain of one.

    A `name` that is not a valid domain name is in no trust domain (False). An invalid trust
    domain name raises `DomainError`.
    """
    trust = _trust(trust_domains)
    if not isinstance(name, str):
        return False
    normal = _normalize(name)
    if isinstance(normal, DomainError):
        return False
    return trust.contains(normal)


# --------------------------------------------------------------------------------------------
# NAI (RFC 4282 section 2.1 / RFC 7542 section 2.2)


def nai_realm(nai: str) -> str:
    """The realm of an NAI: the text after its LAST `@`, as written (not normalized).

    Raises `DomainError` when there is no `@` or nothing after it.
    """
    if not isinstance(nai, str):
        raise DomainError(f"NAI must be a string, not {type(nai).__name__}")
    _, at, realm = nai.rpartition("@")
    if not at:
        raise DomainError("NAI has no '@realm' part")
    if not realm:
        raise DomainError("NAI has an empty realm")
    return realm


# --------------------------------------------------------------------------------------------
# URIs

# RFC 3261 section 25.1
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_ESC = r"%[0-9A-Fa-f]{2}"
_USER = rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESC})+"  # user-unreserved = & = + $ , ; ? /
_PASSWORD = rf"(?:[{_UNRESERVED}&=+$,]|{_ESC})*"
_PARAMCHAR = rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESC})"  # param-unreserved = [ ] / : & + $
_HNVCHAR = rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})"  # hnv-unreserved = [ ] / ? : + $
_SIP_URI = re.compile(
    rf"(?:(?P<userinfo>{_USER}(?::{_PASSWORD})?)@)?"
    r"(?P<host>\[[^\]]*\]|[^:;?@\[\]/\s]*)"
    r"(?::(?P<port>[0-9]+))?"
    rf"(?P<params>(?:;{_PARAMCHAR}+(?:={_PARAMCHAR}+)?)*)"
    rf"(?P<headers>\?{_HNVCHAR}+={_HNVCHAR}*(?:&{_HNVCHAR}+={_HNVCHAR}*)*)?"
)
# The common shape `user@host` (unreserved user, LDH host, nothing else): a strict subset of
# _SIP_URI with the same host, matched first because it is several times cheaper.
_PLAIN_SIP_URI = re.compile(r"[A-Za-z0-9\-_.!~*'()+]+@([A-Za-z0-9.\-]+)")

# RFC 3966 section 3
_GLOBAL_DIGITS = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*")
_LOCAL_DIGITS = re.compile(r"[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*")
_TEL_PNAME = re.compile(r"[A-Za-z0-9-]+")
_TEL_PVALUE = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|%[0-9A-Fa-f]{{2}})+")

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")


def _host_domain(host: str) -> str:
    """The domain name of a SIP URI host; IP literals are refused (RFC 3261 section 19.1.1)."""
    if not host:
        raise DomainError("SIP URI has no host")
    if host.startswith("["):
        raise DomainError(f"host {host!r} is an IPv6 address, not a domain name")
    if _IPV4.fullmatch(host):
        raise DomainError(f"host {host!r} is an IPv4 address, not a domain name")
    return host


def _sip_domain(rest: str) -> str:
    plain = _PLAIN_SIP_URI.fullmatch(rest)
    if plain is not None:
        return _host_domain(plain.group(1))
    m = _SIP_URI.fullmatch(rest)
    if m is None:
        if rest.count("@") > 1:
            raise DomainError("SIP URI has more than one '@'")
        raise DomainError("malformed SIP URI (RFC 3261 section 19.1.1)")
    port = m.group("port")
    if port is not None and (len(port) > 5 or int(port) > 65535):  # int(): 4,300 digits max
        raise DomainError("port is out of range (0-65535)")
    return _host_domain(m.group("host"))


def _tel_domain(rest: str) -> str | None:
    number, *params = rest.split(";")
    context: str | None = None
    seen: set[str] = set()
    for param in params:
        pname, eq, pvalue = param.partition("=")
        if not _TEL_PNAME.fullmatch(pname) or (eq and not _TEL_PVALUE.fullmatch(pvalue)):
            raise DomainError(f"malformed tel URI parameter {param!r} (RFC 3966 section 3)")
        key = pname.lower()
        if key in seen:
            raise DomainError(f"tel URI repeats parameter {pname!r}")
        seen.add(key)
        if key == "phone-context":
            if not pvalue:
                raise DomainError("tel URI has an empty phone-context")
            context = pvalue
    if _GLOBAL_DIGITS.fullmatch(number):
        is_global = True
    elif _LOCAL_DIGITS.fullmatch(number):
        is_global = False
    else:
        raise DomainError(f"tel URI number {number!r} is malformed (RFC 3966 section 3)")
    if context is None:
        if is_global:
            return None
        raise DomainError("local tel URI without phone-context (RFC 3966 section 5.1.5)")
    if context.startswith("+"):
        if not _GLOBAL_DIGITS.fullmatch(context):
            raise DomainError(f"phone-context {context!r} is malformed")
        return None
    return context


def uri_domain(uri: str) -> str | None:
    """The domain name a SIP/SIPS/tel URI puts under the trust rule, as written in the URI.

    * `sip:` / `sips:` (RFC 3261 section 19.1.1): the host. IP-literal hosts raise.
    * `tel:` (RFC 3966 section 3): None for a global number (`tel:+...`) or a global-number
      phone-context; the phone-context when it is a domain name. A local number without
      phone-context raises.

    Raises `DomainError` for other schemes and malformed URIs.
    """
    if not isinstance(uri, str):
        raise DomainError(f"URI must be a string, not {type(uri).__name__}")
    head = uri[:4].lower()  # the usual schemes without the scheme regex
    if head == "sip:":
        return _sip_domain(uri[4:])
    if head == "tel:":
        return _tel_domain(uri[4:])
    m = _SCHEME.match(uri)
    if m is None:
        raise DomainError("not a URI (no scheme)")
    scheme = m.group(1).lower()
    rest = uri[m.end() :]
    if scheme in ("sip", "sips"):
        return _sip_domain(rest)
    if scheme == "tel":
        return _tel_domain(rest)
    raise DomainError(
        f"URI scheme {m.group(1)!r} is not allowed (IMPU must be sip:, sips: or tel:)"
    )


# --------------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class Violation:
    """One value that breaks the trust-domain rule."""

    file: str
    record: int | None
    value: str
    reason: str

    def __str__(self) -> str:
        where = self.file if self.record is None else f"{self.file} record {self.record}"
        if self.value:
            return f"{where}: {self.value!r}: {self.reason}"
        return f"{where}: {self.reason}"


def _check_name(
    name: str, what: str, trust: _TrustDomains, file: str, record: int | None, value: str
) -> list[Violation]:
    normal = _normalize(name)
    if isinstance(normal, DomainError):
        reason = f"{what} {name!r} is not a valid domain name: {normal}"
        return [Violation(file, record, value, reason)]
    if trust.contains(normal):
        return []
    reason = f"{what} {name!r} is not inside trust domain(s) {trust.text}"
    return [Violation(file, record, value, reason)]


def _impi(nai: str, trust: _TrustDomains) -> list[Violation]:
    try:
        realm = nai_realm(nai)
    except DomainError as exc:
        return [Violation(FILE_IMPI, None, str(nai), str(exc))]
    return _check_name(realm, "realm", trust, FILE_IMPI, None, nai)


def _impu(uri: str, record: int | None, trust: _TrustDomains) -> list[Violation]:
    try:
        domain = uri_domain(uri)
    except DomainError as exc:
        return [Violation(FILE_IMPU, record, str(uri), str(exc))]
    if domain is None:
        return []
    what = "phone-context" if uri[:4].lower() == "tel:" else "host"
    return _check_name(domain, what, trust, FILE_IMPU, record, uri)


def _domain(domain: str, trust: _TrustDomains) -> list[Violation]:
    if not isinstance(domain, str):
        return [Violation(FILE_DOMAIN, None, str(domain), "domain name must be a string")]
    return _check_name(domain, "domain", trust, FILE_DOMAIN, None, domain)


def check_impi(nai: str, trust_domains: Sequence[str]) -> list[Violation]:
    """The IMPI's realm (after the last `@`) must be inside a trust domain."""
    return _impi(nai, _trust(trust_domains))


def check_impu(uri: str, record: int | None, trust_domains: Sequence[str]) -> list[Violation]:
    """A SIP/SIPS IMPU's host (or a tel IMPU's domain phone-context) must be inside."""
    return _impu(uri, record, _trust(trust_domains))


def check_domain(domain: str, trust_domains: Sequence[str]) -> list[Violation]:
    """The Home Network Domain Name must be inside a trust domain."""
    return _domain(domain, _trust(trust_domains))


def check_identities(
    impi: str | None,
    impus: Sequence[str | None],
    domain: str | None,
    trust_domains: Sequence[str],
) -> list[Violation]:
    """Every violation of the rule by one ISIM's identities.

    None (or "") stands for an absent file or an empty record and is skipped. IMPU records
    are numbered from 1 in the order given. TS 33.203 clause 8.1 requires at least one IMPU.
    """
    trust = _trust(trust_domains)
    out: list[Violation] = []
    if impi:
        out += _impi(impi, trust)
    present = 0
    for record, uri in enumerate(impus, start=1):
        if uri:
            present += 1
            out += _impu(uri, record, trust)
    if not present:
        out.append(
            Violation(FILE_IMPU, None, "", "at least one IMPU is required (TS 33.203 clause 8.1)")
        )
    if domain:
        out += _domain(domain, trust)
    return out
