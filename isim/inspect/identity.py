"""IMPI / IMPU / DOMAIN: consistency with each other and the trust-domain rule
(`isim.identity.trust`).

* The rule (errors): `isim.identity.trust.check_identities` on what the card holds. Values that did
  not decode are left out (their format error is reported already), and "at least one IMPU"
  is only judged when every IMPU record was read and decoded.
* IMPI realm different from the home network domain: a warning (real test profiles do it).
* EF.P-CSCF FQDN addresses: the name policy of `isim.identity.names` (`isim.identity.files`).
* An IMPU host different from the home domain is not reported: operators register public
  identities under other domains, and the rule already bounds every host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from isim.codecs.identities import PcscfAddress
from isim.identity import trust
from isim.identity.files import PCSCF_FILE, pcscf_name_problem

from .findings import ERROR, WARNING, Finding

if TYPE_CHECKING:
    from .checks import DecodedEF
    from .reader import CardRead

__all__ = ["identity_findings"]


def _single(decoded: dict[str, DecodedEF], name: str) -> Any:
    ef = decoded.get(name)
    if ef is None or not ef.values:
        return None
    return ef.values[0]


def _realm_finding(impi: Any, domain: Any) -> list[Finding]:
    if not isinstance(impi, str) or not isinstance(domain, str):
        return []
    try:
        realm = trust.normalize_domain(trust.nai_realm(impi))
        home = trust.normalize_domain(domain)
    except trust.DomainError:
        return []  # not a name: the rule check says why
    if realm == home:
        return []
    return [Finding(WARNING, "identities", trust.FILE_IMPI, None,
                    f"IMPI realm {realm!r} differs from the home network domain {home!r} "
                    f"({trust.FILE_DOMAIN})")]


def _judged(decoded: dict[str, DecodedEF], name: str) -> bool:
    """Whether "the ISIM must hold it" can be judged: the file was read and decoded whole."""
    ef = decoded.get(name)
    return ef is not None and ef.complete


def _rule_findings(decoded: dict[str, DecodedEF], impi: Any, domain: Any,
                   trust_domains: Sequence[str] | None) -> list[Finding]:
    if trust_domains is None:
        return [Finding(ERROR, "rule", None, None,
                        "trust-domain rule not checked: give --trust-domain (a card does not "
                        "store its trust domains)")]
    impu = decoded.get(trust.FILE_IMPU)
    impus = [v if isinstance(v, str) else None for v in (impu.values if impu else [])]
    out = []
    for v in trust.check_identities(impi if isinstance(impi, str) else None, impus,
                                    domain if isinstance(domain, str) else None,
                                    list(trust_domains)):
        if v.missing and not _judged(decoded, v.file):
            continue  # absent, unread or malformed: reported already; or partly read
        message = f"{v.value!r}: {v.reason}" if v.value else v.reason
        out.append(Finding(ERROR, "rule", v.file, v.record, message))
    return out


def _pcscf_findings(decoded: dict[str, DecodedEF]) -> list[Finding]:
    ef = decoded.get(PCSCF_FILE)
    out = []
    for record, value in enumerate(ef.values if ef else [], start=1):
        problem = pcscf_name_problem(value) if isinstance(value, PcscfAddress) else None
        if problem:
            out.append(Finding(ERROR, "format", PCSCF_FILE, record, problem))
    return out


def identity_findings(card: CardRead, decoded: dict[str, DecodedEF],
                      trust_domains: Sequence[str] | None) -> list[Finding]:
    impi = _single(decoded, trust.FILE_IMPI)
    domain = _single(decoded, trust.FILE_DOMAIN)
    return (_realm_finding(impi, domain) + _rule_findings(decoded, impi, domain, trust_domains)
            + _pcscf_findings(decoded))
