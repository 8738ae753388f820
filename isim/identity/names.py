"""What an identity may hold: domain names, NAIs, SIP/SIPS/tel URIs (the syntax; the trust
rule over them is `isim.identity.trust`).

One policy, applied wherever a name is read or written (profile checks, the card's write
guard, `isim inspect`, `isim trust-check`): **a card holds exactly what a UE compares.**

* No character of Unicode category C (control, format, surrogate, private use, unassigned)
  or Z (space and line/paragraph separators) anywhere: NUL, C0/C1 controls, bidi overrides,
  zero-width characters, U+2028/2029, no-break spaces ...
* No UTS 46 mapping. A label is either ASCII LDH (RFC 1123 section 2.1; ASCII case is DNS
  case, compared case-insensitively) or an IDNA2008 U-label exactly as RFC 5891 section 5
  has it. Only U+002E separates labels. Characters that mapping alone makes valid
  (fullwidth letters and dots, soft hyphens, upper-case non-ASCII, compatibility forms)
  are refused rather than stored and compared after a mapping the UE may not apply.
* Names are compared in their normal form: A-labels, lower case, no trailing root dot;
  at most 253 octets, labels of 1..63 octets, and a top label that is not all-numeric
  (RFC 3696 section 2), so that an IPv4 address is never a domain name.
* One '@' rule: a user part and a host or realm are separated by exactly one '@' (an NAI
  per RFC 7542 clause 2.2; a SIP URI's userinfo, RFC 3261 clause 19.1.1, has no raw '@').
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import NamedTuple

import idna

__all__ = [
    "DomainError",
    "SipUri",
    "is_public_suffix",
    "nai_parts",
    "nai_realm",
    "normalize_domain",
    "normalized",
    "normalized_text",
    "parse_sip_uri",
    "text_problem",
    "uri_domain",
    "uri_key",
]

MAX_LABEL = 63  # RFC 1035 section 2.3.4
MAX_NAME = 253  # RFC 1035 section 2.3.4 (255 octets on the wire = 253 characters in text)


class DomainError(ValueError):
    """A string that is not a usable domain name, NAI or URI; the message says why."""


# --------------------------------------------------------------------------------------------
# Characters

_ASCII_BAD = re.compile(r"[\x00-\x20\x7f]")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def text_problem(value: str) -> str | None:
    """Why `value` cannot be (part of) an identity: a character of category C* or Z*."""
    if value.isascii():
        m = _ASCII_BAD.search(value)
        if m is None:
            return None
        where, ch = m.start(), m.group()
    else:
        for where, ch in enumerate(value):  # noqa: B007
            if unicodedata.category(ch) in _BAD_CATEGORIES:
                break
        else:
            return None
    name = unicodedata.name(ch, "") or {"\x00": "NUL"}.get(ch, "control character")
    category = unicodedata.category(ch)
    return (f"contains U+{ord(ch):04X} {name} ({category}) at position {where}: no "
            f"whitespace, control, format or separator characters")


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


def _a_label(label: str) -> str | DomainError:
    """The A-label of an IDNA2008 U-label taken as it is (RFC 5891 section 5, no mapping)."""
    try:
        return idna.alabel(label).decode("ascii")
    except idna.IDNAError as exc:
        return DomainError(f"label {label!r} is not an IDNA2008 U-label ({exc}); write the "
                           f"name as a UE compares it (no fullwidth, soft hyphen or upper-case "
                           f"non-ASCII forms)")
    except (UnicodeError, ValueError) as exc:
        return DomainError(f"label {label!r} is not an IDNA2008 U-label ({exc})")


@lru_cache(maxsize=16384)
def _normalize(name: str) -> str | DomainError:
    """Cached: the same home domains recur in every profile of a batch."""
    if name.isascii():
        return _normalize_ascii(name)
    problem = text_problem(name)
    if problem:
        return DomainError(problem)
    labels = name.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # the root
    out: list[str] = []
    for label in labels:
        if label.isascii():
            out.append(label)
            continue
        a_label = _a_label(label)
        if isinstance(a_label, DomainError):
            return a_label
        out.append(a_label)
    return _normalize_ascii(".".join(out))


def normalize_domain(name: str) -> str:
    """The normal form of a domain name: A-labels, lower case, no trailing dot.

    Raises `DomainError` with the reason when `name` is not a host name as a UE compares it.
    """
    if not isinstance(name, str):
        raise DomainError(f"domain name must be a string, not {type(name).__name__}")
    result = _normalize(name)
    if isinstance(result, DomainError):
        raise DomainError(str(result))
    return result


def normalized(name: str) -> str | DomainError:
    """`normalize_domain` without raising (the hot path of the trust rule)."""
    if not isinstance(name, str):
        return DomainError(f"domain name must be a string, not {type(name).__name__}")
    return _normalize(name)


# `normalized` for a value known to be a str: the cached function itself, one call less
normalized_text = _normalize


@cache
def _public_suffixes():  # type: ignore[no-untyped-def]
    from publicsuffixlist import PublicSuffixList  # the list ships with the package

    # The list's IDN rules stay U-labels (encoding them all costs 25 ms a process): names
    # are asked as U-labels instead.
    return PublicSuffixList(accept_encoded_idn=False)


def is_public_suffix(normal: str) -> bool:
    """True when a normal-form name is a public suffix (publicsuffix.org list, ICANN and
    private sections, its `*` default rule included: an unlisted top-level label is one)."""
    name = idna.decode(normal) if "xn--" in normal else normal
    return bool(_public_suffixes().is_public(name))


# --------------------------------------------------------------------------------------------
# NAI (RFC 7542 section 2.2)

AT_RULE = "a user part and a realm or host are separated by exactly one '@' (RFC 7542 clause 2.2)"
# RFC 7542 section 2.2: utf8-username = dot-string of utf8-atext (ASCII atext or non-ASCII)
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_NAI_USERNAME = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
# A cell starting with one of these is evaluated by a spreadsheet (the IMPI goes to hss.csv).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


# The usual IMPI at once: an ASCII dot-string username not starting with a formula lead,
# exactly one '@', a realm (judged by `normalize_domain`). A strict subset of `nai_parts`.
_ASCII_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_PLAIN_NAI = re.compile(
    rf"([A-Za-z0-9!#$%&'*/?^_`{{|}}~]{_ASCII_ATEXT}*(?:\.{_ASCII_ATEXT}+)*)@([^@]+)")


def _at_count_problem(count: int) -> DomainError:
    return DomainError(f"has {count} '@': {AT_RULE}")


def nai_parts(nai: str) -> tuple[str, str]:
    """(username, realm) of an NAI with exactly one '@', both non-empty; the username an
    RFC 7542 dot-string that a spreadsheet would not evaluate. Raises `DomainError`."""
    if not isinstance(nai, str):
        raise DomainError(f"NAI must be a string, not {type(nai).__name__}")
    plain = _PLAIN_NAI.fullmatch(nai)
    if plain is not None:
        return plain.group(1), plain.group(2)
    return _nai_parts_full(nai)


def _nai_parts_full(nai: str) -> tuple[str, str]:
    """`nai_parts` without the fast path: every rule, each with its own message."""
    count = nai.count("@")
    if count == 0:
        raise DomainError("NAI has no '@realm' part")
    if count > 1:
        raise _at_count_problem(count)
    user, _, realm = nai.partition("@")
    if not user:
        raise DomainError("NAI has an empty username (TS 23.003 clause 13.3)")
    if not realm:
        raise DomainError("NAI has an empty realm")
    if not _NAI_USERNAME.fullmatch(user):
        raise DomainError("NAI username is not an RFC 7542 dot-string (letters, digits, "
                          "!#$%&'*+-/=?^_`{|}~ and non-ASCII, dots between)")
    if user.startswith(FORMULA_LEADS):
        raise DomainError(f"NAI username starts with {user[0]!r}: a spreadsheet opening the "
                          f"HSS file would evaluate it")
    return user, realm


def nai_realm(nai: str) -> str:
    """The realm of an NAI, as written (not normalized). Raises `DomainError`."""
    return nai_parts(nai)[1]


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
    rf"(?P<rest>(?:;{_PARAMCHAR}+(?:={_PARAMCHAR}+)?)*"
    rf"(?:\?{_HNVCHAR}+={_HNVCHAR}*(?:&{_HNVCHAR}+={_HNVCHAR}*)*)?)"
)
# The common shape `user@host` (unreserved user, LDH host, nothing else): a strict subset of
# _SIP_URI with the same parts, matched first because it is several times cheaper.
_PLAIN_SIP_URI = re.compile(r"([A-Za-z0-9\-_.!~*'()+]+)@([A-Za-z0-9.\-]+)")

# RFC 3966 section 3
_GLOBAL_DIGITS = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*")
_LOCAL_DIGITS = re.compile(r"[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*")
_VISUAL_SEPARATORS = str.maketrans("", "", "-.()")
_TEL_PNAME = re.compile(r"[A-Za-z0-9-]+")
_TEL_PVALUE = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|%[0-9A-Fa-f]{{2}})+")

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")


class SipUri(NamedTuple):  # a NamedTuple: built for every SIP IMPU of a batch, cheaply
    """A SIP or SIPS URI (RFC 3261 section 19.1.1) split into the parts isim looks at."""

    scheme: str  # "sip" or "sips", lower case
    user: str | None  # the userinfo as written, None without '@'
    host: str  # as written (an IPv6 reference keeps its brackets)
    port: int | None
    rest: str  # uri-parameters and headers, as written

    @property
    def is_ip_literal(self) -> bool:
        return self.host.startswith("[") or bool(_IPV4.fullmatch(self.host))


def _sip_parts(scheme: str, rest: str) -> SipUri:
    plain = _PLAIN_SIP_URI.fullmatch(rest)
    if plain is not None:
        return SipUri(scheme, plain.group(1), plain.group(2), None, "")
    if rest.count("@") > 1:
        raise _at_count_problem(rest.count("@"))
    m = _SIP_URI.fullmatch(rest)
    if m is None:
        raise DomainError("malformed SIP URI (RFC 3261 section 19.1.1)")
    port = m.group("port")
    if port is not None and (len(port) > 5 or int(port) > 65535):
        raise DomainError("port is out of range (0-65535)")  # int(): 4,300 digits at most
    if not m.group("host"):
        raise DomainError("SIP URI has no host")
    userinfo = m.group("userinfo")
    return SipUri(scheme, userinfo, m.group("host"), int(port) if port else None,
                  m.group("rest"))


def _scheme(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str):
        raise DomainError(f"URI must be a string, not {type(uri).__name__}")
    head = uri[:4].lower()  # the usual schemes without the scheme regex
    if head in ("sip:", "tel:"):
        return head[:3], uri[4:]
    m = _SCHEME.match(uri)
    if m is None:
        raise DomainError("not a URI (no scheme)")
    return m.group(1).lower(), uri[m.end():]


def parse_sip_uri(uri: str) -> SipUri:
    """A `sip:` / `sips:` URI split into its parts. Raises `DomainError` for other schemes
    and malformed URIs (more than one '@' included)."""
    scheme, rest = _scheme(uri)
    if scheme not in ("sip", "sips"):
        raise DomainError(f"URI scheme {scheme!r} is not sip or sips")
    return _sip_parts(scheme, rest)


def _host_domain(sip: SipUri) -> str:
    """The domain name of a SIP URI host; IP literals are refused (RFC 3261 section 19.1.1)."""
    if sip.host.startswith("["):
        raise DomainError(f"host {sip.host!r} is an IPv6 address, not a domain name")
    if sip.is_ip_literal:
        raise DomainError(f"host {sip.host!r} is an IPv4 address, not a domain name")
    return sip.host


def _tel_parts(rest: str) -> tuple[str, str | None, bool]:
    """(number, phone-context or None, number is global) of a tel URI after `tel:`."""
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
        return number, context, True
    if _LOCAL_DIGITS.fullmatch(number):
        return number, context, False
    raise DomainError(f"tel URI number {number!r} is malformed (RFC 3966 section 3)")


def _tel_domain(rest: str) -> str | None:
    _, context, is_global = _tel_parts(rest)
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
    scheme, rest = _scheme(uri)
    if scheme in ("sip", "sips"):
        plain = _PLAIN_SIP_URI.fullmatch(rest)  # the usual shape, without building a SipUri
        if plain is not None and not _IPV4.fullmatch(plain.group(2)):
            return plain.group(2)
        return _host_domain(_sip_parts(scheme, rest))
    if scheme == "tel":
        return _tel_domain(rest)
    raise DomainError(f"URI scheme {scheme!r} is not allowed (IMPU must be sip:, sips: or tel:)")


def uri_key(uri: str) -> str | None:
    """What two IMPUs are compared by (RFC 3261 19.1.4, RFC 3966 section 4): scheme and host
    case-insensitive (host in its normal form), the user part case-sensitive; a tel number
    without visual separators, case-insensitive. None for a URI that does not parse."""
    try:
        scheme, rest = _scheme(uri)
        if scheme in ("sip", "sips"):
            sip = _sip_parts(scheme, rest)
            host = sip.host.lower() if sip.is_ip_literal else normalize_domain(sip.host)
            port = "" if sip.port is None else f":{sip.port}"
            return f"{scheme}:{sip.user or ''}@{host}{port}{sip.rest.lower()}"
        if scheme == "tel":
            number, _, params = rest.partition(";")
            _tel_parts(rest)
            return f"tel:{number.translate(_VISUAL_SEPARATORS).lower()};{params.lower()}"
    except DomainError:
        return None
    return None
