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

Names are compared in their normal form (A-labels, lower case, no trailing root dot) and
must first pass the name policy of `isim.identity.names`: no control, format or separator
characters, no UTS 46 mapping (a card holds exactly what a UE compares), one '@'. Trust
domains that are public suffixes are refused (`trust_domain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from isim.identity.names import (
    DomainError,
    is_public_suffix,
    nai_parts,
    nai_realm,
    normalize_domain,
    normalized,
    normalized_text,
    text_problem,
    uri_domain,
    uri_key,
)

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
    "trust_domain",
    "uri_domain",
]

FILE_IMPI = "EF.IMPI"
FILE_IMPU = "EF.IMPU"
FILE_DOMAIN = "EF.DOMAIN"


def trust_domain(name: str) -> str:
    """The normal form of a trust domain name; a public suffix (`org`, `co.uk`, `github.io`:
    names under it belong to unrelated registrants) is refused. Raises `DomainError`."""
    normal = normalize_domain(name)
    if is_public_suffix(normal):
        raise DomainError(f"{normal!r} is a public suffix (publicsuffix.org list): names "
                          f"under it belong to unrelated parties")
    return normal


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
            normal = trust_domain(td)
        except DomainError as exc:
            raise DomainError(f"trust domain {td!r}: {exc}") from None
        if normal not in names:
            names.append(normal)
    return _TrustDomains(
        names=tuple(names),
        suffixes=tuple("." + n for n in names),
        text=", ".join(names) if names else "(none configured)",
    )


def _trust(trust_domains: Sequence[str] | None) -> _TrustDomains | None:
    if trust_domains is None:
        return None
    if isinstance(trust_domains, str):  # a str is a Sequence[str]: take it as one name
        return _compile((trust_domains,))
    return _compile(trust_domains if type(trust_domains) is tuple else tuple(trust_domains))


def in_trust_domain(name: str, trust_domains: Sequence[str]) -> bool:
    """True when `name` equals a trust domain name or is a subdomain of one.

    A `name` that is not a valid domain name is in no trust domain (False). An invalid trust
    domain name (a public suffix included) raises `DomainError`.
    """
    trust = _trust(trust_domains)
    assert trust is not None
    normal = normalized(name)
    if isinstance(normal, DomainError):
        return False
    return trust.contains(normal)


# --------------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class Violation:
    """One value that breaks the trust-domain rule or the name policy (`isim.identity.names`).

    `missing` marks "the ISIM must hold it" (TS 33.203 clause 8.1): a caller that already
    reported why a value is absent (unreadable, malformed) leaves these out."""

    file: str
    record: int | None
    value: str
    reason: str
    missing: bool = False

    def __str__(self) -> str:
        where = self.file if self.record is None else f"{self.file} record {self.record}"
        if self.value:
            return f"{where}: {self.value!r}: {self.reason}"
        return f"{where}: {self.reason}"


def _check_name(
    name: str, what: str, trust: _TrustDomains | None, file: str, record: int | None, value: str
) -> list[Violation]:
    normal = normalized_text(name)  # `name` is a str (a parser's result, or checked by _text)
    if isinstance(normal, DomainError):
        reason = f"{what} {name!r} is not a valid domain name: {normal}"
        return [Violation(file, record, value, _explain(value, reason))]
    if trust is None or normal in trust.names or normal.endswith(trust.suffixes):
        return []  # `_TrustDomains.contains` written out: this runs for every name of a batch
    reason = f"{what} {name!r} is not inside trust domain(s) {trust.text}"
    return [Violation(file, record, value, reason)]


def _text(value: object, file: str, record: int | None) -> list[Violation]:
    """The empty value and, in non-ASCII text, the characters of `names.text_problem` (ASCII
    whitespace and controls fail every parser below; `_explain` then names them). Callers
    skip the call for a non-empty ASCII str (`_plain`), which has none of these problems."""
    if not isinstance(value, str):
        return [Violation(file, record, str(value), "must be a string")]
    if not value:
        return [Violation(file, record, "", "empty value: an unused file or record is all FF")]
    problem = None if value.isascii() else text_problem(value)
    return [Violation(file, record, value, problem)] if problem else []


def _plain(value: object) -> bool:
    """A non-empty ASCII str: what nearly every identity is, and what `_text` passes."""
    return type(value) is str and value != "" and value.isascii()


def _explain(value: str, reason: str) -> str:
    """A parser's reason, or the character that made it fail when there is one."""
    return text_problem(value) or reason


def _impi(nai: str, trust: _TrustDomains | None) -> list[Violation]:
    if not _plain(nai):
        bad = _text(nai, FILE_IMPI, None)
        if bad:
            return bad
    try:
        realm = nai_parts(nai)[1]
    except DomainError as exc:
        return [Violation(FILE_IMPI, None, nai, _explain(nai, str(exc)))]
    return _check_name(realm, "realm", trust, FILE_IMPI, None, nai)


def _impu(uri: str, record: int | None, trust: _TrustDomains | None) -> list[Violation]:
    if not _plain(uri):
        bad = _text(uri, FILE_IMPU, record)
        if bad:
            return bad
    try:
        domain = uri_domain(uri)
    except DomainError as exc:
        return [Violation(FILE_IMPU, record, uri, _explain(uri, str(exc)))]
    if domain is None:
        return []
    what = "phone-context" if uri[:4].lower() == "tel:" else "host"
    return _check_name(domain, what, trust, FILE_IMPU, record, uri)


def _domain(domain: str, trust: _TrustDomains | None) -> list[Violation]:
    if not _plain(domain):
        bad = _text(domain, FILE_DOMAIN, None)
        if bad:
            return bad
    return _check_name(domain, "domain", trust, FILE_DOMAIN, None, domain)


def check_impi(nai: str, trust_domains: Sequence[str] | None) -> list[Violation]:
    """The IMPI: an NAI with exactly one '@' whose realm is inside a trust domain."""
    return _impi(nai, _trust(trust_domains))


def check_impu(
    uri: str, record: int | None, trust_domains: Sequence[str] | None
) -> list[Violation]:
    """A SIP/SIPS IMPU's host (or a tel IMPU's domain phone-context) must be inside."""
    return _impu(uri, record, _trust(trust_domains))


def check_domain(domain: str, trust_domains: Sequence[str] | None) -> list[Violation]:
    """The Home Network Domain Name must be inside a trust domain."""
    return _domain(domain, _trust(trust_domains))


def _duplicates(impus: Sequence[str | None]) -> list[Violation]:
    seen: dict[str, int] = {}
    out: list[Violation] = []
    for record, uri in enumerate(impus, start=1):
        key = uri_key(uri) if uri else None
        if key is None:
            continue
        if key in seen:
            out.append(Violation(FILE_IMPU, record, uri or "", f"duplicate of record {seen[key]}"))
        else:
            seen[key] = record
    return out


def check_identities(
    impi: str | None,
    impus: Sequence[str | None],
    domain: str | None,
    trust_domains: Sequence[str] | None,
) -> list[Violation]:
    """Every problem of one ISIM's identities: the name policy (`isim.identity.names`), the trust
    rule, duplicate IMPUs, and TS 33.203 clause 8.1 (the ISIM holds an IMPI, at least one
    IMPU and the home network domain name).

    The ONE validation of EF.IMPI / EF.IMPU / EF.DOMAIN: the card's write guard, `isim
    check`, the personalizer, `isim inspect` and the real-card writer all come here, with
    the values decoded by the codecs (`isim.identity.files` for file bytes).

    None stands for an absent file or an unused (all FF) record; "" for an empty TLV, which
    is a problem. IMPU records are numbered from 1 in the order given. `trust_domains` None
    checks the names without the trust rule.
    """
    trust = _trust(trust_domains)
    out: list[Violation] = []
    if impi is None:
        out.append(Violation(FILE_IMPI, None, "", "the ISIM must hold an IMPI "
                             "(TS 33.203 clause 8.1)", missing=True))
    else:
        out += _impi(impi, trust)
    present = 0
    heads: set[str] = set()  # their first four characters, lower case
    for record, uri in enumerate(impus, start=1):
        if uri is not None:
            present += 1
            out += _impu(uri, record, trust)
            if uri and type(uri) is str:
                heads.add(uri[:4].lower())
    if not present:
        out.append(Violation(FILE_IMPU, None, "", "at least one IMPU is required "
                             "(TS 33.203 clause 8.1)", missing=True))
    elif present > 1 and len(heads) != len(impus):  # else no two of one scheme (the usual
        out += _duplicates(impus)  # sip + tel) and no gap: no key needed
    if domain is None:
        out.append(Violation(FILE_DOMAIN, None, "", "the ISIM must hold the home network "
                             "domain name (TS 33.203 clause 8.1)", missing=True))
    else:
        out += _domain(domain, trust)
    return out
