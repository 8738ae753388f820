"""The checks of a profile mapping (formats, identities, the trust-domain rule, what the
card can hold, in `isim.profile.sizes`): every problem is collected, each naming the key and,
where it is about what the card would hold, the EF and record. `isim.profile.model` builds the
Profile from the result.

The checks come in two kinds: a *field check* per key looks at that key's value alone, and
the checks *across keys* (identities derived from the IMSI, the trust rule, OP and OPc,
what the files can hold) run on the parsed values. A batch template's field checks thus run
once for the whole batch (`ProfileRules(base=template)`), by construction rather than by a
cache, and each row runs only the field checks of its own keys and the checks across keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import filterfalse
from types import MappingProxyType, ModuleType
from typing import Any

from isim.aka.sqn import DEFAULT_DELTA, DEFAULT_IND_BITS, MAX_IND_BITS, SQN_MAX
from isim.errors import Problem, ProfileError
from isim.identity import from_imsi as identities
from isim.identity import trust
from isim.profile.checker import Checker, did_you_mean, shown
from isim.profile.luhn import luhn_ok
from isim.profile.sizes import NO_SIZES, check_sizes, pcscf_address_type, size_problems
from isim.usim import profile_keys as usim_keys

__all__ = ["AD_MODES", "DEFAULTS", "FIELD_CHECKS", "KEYS", "ProfileRules"]

IST_MAX_SERVICE = 22  # TS 31.103 clause 4.2.7 (V18): services 1..22
AD_MODES: Mapping[str, int] = MappingProxyType(
    {  # TS 31.102 clause 4.2.18 / TS 31.103 clause 4.2.6: UE operation mode
        "normal": 0x00,
        "type_approval": 0x80,
        "normal_specific": 0x01,
        "type_approval_specific": 0x81,
        "maintenance": 0x02,
        "cell_test": 0x04,
    }
)

_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")
_HEX12 = re.compile(r"[0-9A-Fa-f]{12}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_ICCID = re.compile(r"[0-9]{19,20}")
_IMSI = re.compile(r"[0-9]{6,15}")
_PIN = re.compile(r"[0-9]{4,8}")
_PUK = re.compile(r"[0-9]{8}")
_ADM_ASCII = re.compile(r"[0-9]{8}")


_TRUST_FIELDS = {trust.FILE_IMPI: "impi", trust.FILE_IMPU: "impu", trust.FILE_DOMAIN: "domain"}
_IDENTITY_KEYS = tuple(_TRUST_FIELDS.values())  # derived from the IMSI when absent


def _identity_problems(
    c: Checker,
    trust_domains: tuple[str, ...] | None,
    impi: str | None,
    impus: Sequence[str | None],
    domain: str | None,
    derived: tuple[str, ...],
    require_impu: bool,
) -> None:
    """The one validation of identities (`trust.check_identities`; without valid trust
    domains, the names without the rule)."""
    violations = trust.check_identities(impi, impus, domain, trust_domains)
    for v in violations:
        if v.missing and (v.file != trust.FILE_IMPU or not require_impu):
            continue  # an IMPI or domain is always given or derived; else reported already
        key = _TRUST_FIELDS[v.file]
        message = f"{shown(v.value)}: {v.reason}" if v.value else v.reason
        if key in derived:
            message += " (derived from the IMSI)"
        c.add(key, message, v.file, v.record)


# --------------------------------------------------------------------------------------------
# Field checks: one per key, each on the key's value alone (the key is present). A field
# check records its problems in `c` and returns the parsed value (None when it is bad).


def _trust_domains(c: Checker, key: str) -> tuple[str, ...] | None:
    """The normal forms of `trust_domains`."""
    tds = c.string_list(key)
    if tds is None:
        return None
    if not tds:
        c.add(key, "must name at least one trust domain")
    normal: list[str] = []
    ok = bool(tds)
    for i, td in enumerate(tds, start=1):
        if td is None:
            ok = False
            continue
        try:
            n = trust.trust_domain(td)
        except trust.DomainError as exc:
            c.add(key, f"entry {i} {shown(td)}: {exc}")
            ok = False
            continue
        if n not in normal:
            normal.append(n)
    return tuple(normal) if ok else None


def _iccid(c: Checker, key: str) -> str | None:
    iccid = c.text(key, _ICCID, "19 or 20 decimal digits")
    if iccid is not None and not luhn_ok(iccid):
        c.add(key, "Luhn check digit is wrong (ITU-T E.118)")
        return None
    return iccid


def _mnc_length(c: Checker, key: str) -> int:
    value = c.data[key]
    if value in (2, 3) and not isinstance(value, bool):
        return int(value)
    c.add(key, "must be 2 or 3")
    return 0  # no identities are derived


def _impi(c: Checker, key: str) -> str | None:
    impi = c.string(key, None)
    if impi is None:
        return None
    if not impi:
        c.add(key, "must not be empty", trust.FILE_IMPI)
        return None
    return impi  # its syntax and the rule: `trust.check_identities`


def _domain(c: Checker, key: str) -> str | None:
    domain = c.string(key, None)
    if domain == "":
        c.add(key, "must not be empty", trust.FILE_DOMAIN)
        return None
    return domain


def _pcscf(c: Checker, key: str) -> tuple[str | None, ...]:
    """The P-CSCF addresses (TS 31.103 clause 4.2.8); a bad entry is None."""
    pcscf = c.string_list(key) or []
    for record, addr in enumerate(pcscf, start=1):
        if addr is None or pcscf_address_type(addr):
            continue
        try:
            trust.normalize_domain(addr)
        except trust.DomainError as exc:
            c.add(key, f"{shown(addr)}: not an IP address or domain name: {exc}", "EF.P-CSCF",
                  record)
    return tuple(pcscf)


def _ist(c: Checker, key: str) -> tuple[int, ...] | None:
    """EF.IST services (TS 31.103 clause 4.2.7); None when `ist` is not a list."""
    return c.number_set(key, 1, IST_MAX_SERVICE, "an ISIM service number")


def _sqn(c: Checker, key: str) -> int | None:
    text = c.text(key, _HEX12, "12 hex digits")
    return int(text, 16) if text is not None else None


def _sqn_limit(c: Checker, key: str) -> int | None:
    return None if c.data[key] is None else c.integer(key, 1, SQN_MAX, None)


def _label(c: Checker, key: str) -> str | None:
    label = c.string(key, "ISIM")
    if label == "":
        c.add(key, "must not be empty")
    return label


def _sizes(c: Checker, key: str) -> Mapping[str, Mapping[str, int]]:
    sizes = check_sizes(c)
    if not sizes:
        return NO_SIZES
    return MappingProxyType({n: MappingProxyType(v) for n, v in sizes.items()})


def _adm(c: Checker, key: str) -> bytes | None:
    value = c.data[key]
    if isinstance(value, str):
        if _ADM_ASCII.fullmatch(value):
            return value.encode("ascii")
        if _HEX16.fullmatch(value):
            return bytes.fromhex(value)
    what = "8 decimal digits or 16 hex digits"
    if isinstance(value, int) and not isinstance(value, bool):
        c.add(key, f"must be {what}, written as a quoted string (a number loses zeros)")
    else:
        c.add(key, f"must be {what}")
    return None


def _ad(c: Checker, key: str) -> int | None:
    value = c.data[key]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFF:
        return value
    if isinstance(value, str):
        if value in AD_MODES:
            return AD_MODES[value]
        if _HEX2.fullmatch(value):
            return int(value, 16)
    names = ", ".join(AD_MODES)
    c.add(key, f"must be 0..255, two hex digits or one of {names}")
    return None


FieldCheck = Callable[[Checker, str], Any]  # (checker, key) -> parsed value


def _text(pattern: re.Pattern[str], what: str) -> FieldCheck:
    return lambda c, key: c.text(key, pattern, what)


def _hex(pattern: re.Pattern[str], n: int) -> FieldCheck:
    return lambda c, key: c.hex_bytes(key, pattern, n)


def _integer(lo: int, hi: int) -> FieldCheck:
    return lambda c, key: c.integer(key, lo, hi, None)


def _boolean(c: Checker, key: str) -> bool | None:
    return c.boolean(key, None)  # type: ignore[arg-type]


def _string(c: Checker, key: str) -> str | None:
    return c.string(key, None)


# key -> (field check, value when the key is absent); in the order of KEYS
_FIELDS: dict[str, tuple[FieldCheck, Any]] = {
    "trust_domains": (_trust_domains, None),
    "iccid": (_iccid, None),
    "imsi": (_text(_IMSI, "6 to 15 decimal digits"), None),
    "mnc_length": (_mnc_length, 2),
    "impi": (_impi, None),  # absent: derived from the IMSI
    "impu": (Checker.string_list, None),  # absent: derived from the IMSI
    "domain": (_domain, None),  # absent: derived from the IMSI
    "pcscf": (_pcscf, ()),
    "ist": (_ist, None),  # absent: [1] when pcscf is given
    "k": (_hex(_HEX32, 32), None),
    "opc": (_hex(_HEX32, 32), None),
    "op": (_hex(_HEX32, 32), None),
    "sqn": (_sqn, 0),
    "sqn_ind_bits": (_integer(0, MAX_IND_BITS), DEFAULT_IND_BITS),
    "sqn_delta": (_integer(1, SQN_MAX), DEFAULT_DELTA),
    "sqn_limit": (_sqn_limit, None),
    "pin1": (_text(_PIN, "4 to 8 decimal digits"), "1234"),
    "pin1_enabled": (_boolean, False),
    "puk1": (_text(_PUK, "8 decimal digits"), "12345678"),
    "pin2": (_text(_PIN, "4 to 8 decimal digits"), "5678"),
    "pin2_enabled": (_boolean, False),
    "puk2": (_text(_PUK, "8 decimal digits"), "87654321"),
    "adm1": (_adm, b"12345678"),
    "ad": (_ad, 0),
    "sizes": (_sizes, NO_SIZES),
    "label": (_label, "ISIM"),
    "description": (_string, ""),
    **usim_keys.FIELDS,  # applications and the USIM's keys
}
KEYS: tuple[str, ...] = tuple(_FIELDS)
FIELD_CHECKS: Mapping[str, FieldCheck] = MappingProxyType(
    {key: check for key, (check, _) in _FIELDS.items()}
)
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {key: default for key, (_, default) in _FIELDS.items()}
)


# --------------------------------------------------------------------------------------------
# The whole profile: field checks, then the checks across keys


@dataclass(frozen=True)
class ProfileRules:
    """The checks of every profile that shares the values of `base` (a batch template; empty
    for a lone profile). The base's field checks run once, here (a problem in the base
    raises `ProfileError`); `check` runs the field checks of the other keys and then the
    checks across keys, so a profile is checked alike whether a value comes from the base
    or from the profile itself."""

    base: Mapping[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(init=False, repr=False)  # defaults + parsed base values
    base_keys: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        c = Checker(self.base)
        parsed = _field_values(c, self.base)
        if c.problems:
            raise ProfileError(c.problems)
        object.__setattr__(self, "fields", {**DEFAULTS, **parsed})
        object.__setattr__(self, "base_keys", frozenset(self.base))

    def check(
        self, data: Mapping[str, Any], *, derive_opc: bool = True, known_valid: bool = False
    ) -> tuple[dict[str, Any], list[Problem]]:
        """(the Profile field values, every problem) of the base with `data` on top.

        `derive_opc=False` leaves `opc` None when `op` is given (the validating pass of a
        batch needs only the verdict). `known_valid=True` is for data these very rules have
        already found valid (a batch row seen unchanged by the validating pass): the checks
        that only give a verdict (`_verdict`: they return nothing, so they cannot change a
        value) are skipped; every value is parsed as always."""
        c = Checker(data)
        values = self.fields.copy()
        values.update(_field_values(c, data))
        present = self.base_keys.union(data) if self.base_keys else data.keys()
        derived = _across(c, values, present, derive_opc)
        if not known_valid:  # read-only: the verdict cannot change a value
            _verdict(c, MappingProxyType(values), present, derived)
        return values, c.problems


def _field_values(c: Checker, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in data:
        check = FIELD_CHECKS.get(key)  # type: ignore[call-overload]
        if check is None:
            c.add(str(key), f"unknown key{did_you_mean(str(key), KEYS)}")
        else:
            out[key] = check(c, key)
    return out


def _across(c: Checker, v: dict[str, Any], present: Any, derive_opc: bool) -> tuple[str, ...]:
    """The values that depend on other keys, set in `v`: identities derived from the IMSI
    (TS 23.003 clause 13; returns which), the IST default, OPc from OP, SQN."""
    derived = tuple(filterfalse(present.__contains__, _IDENTITY_KEYS))
    if derived:
        imsi, mnc_length = v["imsi"], v["mnc_length"]
        if imsi is not None and mnc_length:
            impi, impu, domain = identities.derived_identities(imsi, mnc_length)
            if "impi" in derived:
                v["impi"] = impi
            if "impu" in derived:
                v["impu"] = (impu,)
            if "domain" in derived:
                v["domain"] = domain
    if v["impu"] is not None:
        v["impu"] = tuple(v["impu"])
    if v["ist"] is None:  # absent, or not a list
        v["ist"] = (1,) if v["pcscf"] else ()
    op, k = v["op"], v["k"]
    if op is not None and k is not None and "opc" not in present and derive_opc:
        v["opc"] = _milenage().derive_opc(k, op)
    if v["sqn"] is None:
        v["sqn"] = 0
    usim_keys.derive(v, present)
    return derived


def _verdict(c: Checker, v: Mapping[str, Any], present: Any, derived: tuple[str, ...]) -> None:
    """The checks across keys that only find problems (they change no value)."""
    if "trust_domains" not in present:
        c.add("trust_domains", "required: the IMS trust domain name(s), e.g. [ims.example.com]")
    if "iccid" not in present:
        c.add("iccid", "required: 19 or 20 digits ending in a Luhn check digit")
    if derived and "imsi" not in present:
        c.add("imsi", f"required to derive {', '.join(derived)} (or give them explicitly)")
    impi, impus, domain = v["impi"], v["impu"], v["domain"]
    # "at least one IMPU" only when the list itself is known to be empty, not when it is
    # missing (imsi problem) or when its entries were bad (already reported)
    require_impu = impus is not None and None not in impus
    _identity_problems(c, v["trust_domains"], impi, impus or (), domain, derived, require_impu)
    ist = v["ist"]  # a default when it is not a list: (1,) with pcscf
    if v["pcscf"] and "ist" in present and not (1 in ist or 5 in ist):
        c.add("ist", "pcscf is given but neither service 1 nor 5 is in the IST")
    if "k" not in present:
        c.add("k", "required: the subscriber key, 32 hex digits")
    if "opc" in present and "op" in present:
        c.add("opc", "give exactly one of opc and op, not both")
    elif "opc" not in present and "op" not in present:
        c.add("opc", "required: opc (or op), 32 hex digits")
    size_problems(c, impi, domain, impus, v["pcscf"], v["label"], v["sizes"])
    usim_keys.verdict(c, v, present)


@cache
def _milenage() -> ModuleType:
    """isim.aka.milenage, imported on first use: only profiles with OP need it (and its
    `cryptography` import is slow), and a cached call is cheaper than an import statement."""
    from isim.aka import milenage
    return milenage
