"""The checks of a profile mapping (formats, identities, the trust-domain rule, what the
card can hold, in `isim.profile_sizes`): every problem is collected, each naming the key and,
where it is about what the card would hold, the EF and record. `isim.profile` builds the
Profile from the result."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from isim import identities, trust
from isim.checker import Checker, did_you_mean
from isim.documents import type_name
from isim.errors import Problem
from isim.profile_sizes import NO_SIZES, check_sizes, pcscf_address_type, size_problems

KEYS: tuple[str, ...] = (
    "trust_domains",
    "iccid",
    "imsi",
    "mnc_length",
    "impi",
    "impu",
    "domain",
    "pcscf",
    "ist",
    "k",
    "opc",
    "op",
    "sqn",
    "sqn_ind_bits",
    "sqn_delta",
    "sqn_limit",
    "pin1",
    "pin1_enabled",
    "puk1",
    "pin2",
    "pin2_enabled",
    "puk2",
    "adm1",
    "ad",
    "sizes",
    "label",
    "description",
)
_KEYSET = frozenset(KEYS)

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

_DIGITS_RE = re.compile(r"[0-9]+")
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")
_HEX12 = re.compile(r"[0-9A-Fa-f]{12}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_ICCID = re.compile(r"[0-9]{19,20}")
_IMSI = re.compile(r"[0-9]{6,15}")
_PIN = re.compile(r"[0-9]{4,8}")
_PUK = re.compile(r"[0-9]{8}")
_ADM_ASCII = re.compile(r"[0-9]{8}")
_BAD_TEXT = re.compile(r"[\x00-\x20\x7f]")  # whitespace or control characters


# --------------------------------------------------------------------------------------------
# Validation


_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")  # 2d, less 9 when it has 2 digits


def _luhn_ok(digits: str) -> bool:
    """Luhn check over the whole string, check digit last (ITU-T E.118 / ISO/IEC 7812-1).
    `digits` is ASCII decimal digits; each byte is 48 + its digit."""
    rev = digits[::-1]
    total = sum(rev[0::2].encode()) + sum(rev[1::2].translate(_LUHN_DOUBLE).encode())
    return (total - 48 * len(digits)) % 10 == 0


_TRUST_FIELDS = {trust.FILE_IMPI: "impi", trust.FILE_IMPU: "impu", trust.FILE_DOMAIN: "domain"}


def _identity_problems(
    c: Checker,
    trust_domains: tuple[str, ...] | None,
    impi: str | None,
    impus: list[str | None],
    domain: str | None,
    derived: set[str],
    require_impu: bool,
) -> None:
    """The trust rule (or, without valid trust domains, just the syntax) on the identities."""
    if trust_domains is not None:
        violations = trust.check_identities(impi, impus, domain, trust_domains)
    else:  # syntax only: an empty trust set would flag everything
        violations = []
        if impi:
            try:
                trust.normalize_domain(trust.nai_realm(impi))
            except trust.DomainError as exc:
                violations.append(trust.Violation(trust.FILE_IMPI, None, impi, str(exc)))
        for record, uri in enumerate(impus, start=1):
            if uri:
                try:
                    d = trust.uri_domain(uri)
                    if d is not None:
                        trust.normalize_domain(d)
                except trust.DomainError as exc:
                    violations.append(trust.Violation(trust.FILE_IMPU, record, uri, str(exc)))
        if domain:
            try:
                trust.normalize_domain(domain)
            except trust.DomainError as exc:
                violations.append(trust.Violation(trust.FILE_DOMAIN, None, domain, str(exc)))
    for v in violations:
        if v.file == trust.FILE_IMPU and v.record is None and not require_impu:
            continue
        key = _TRUST_FIELDS[v.file]
        message = f"{v.value!r}: {v.reason}" if v.value else v.reason
        if key in derived:
            message += " (derived from the IMSI)"
        c.add(key, message, v.file, v.record)


def _trust_domains(c: Checker) -> tuple[str, ...] | None:
    """The normal forms of `trust_domains` (None when it has problems, which go to `c`)."""
    tds = c.string_list("trust_domains")
    if tds is None:
        return None
    if not tds:
        c.add("trust_domains", "must name at least one trust domain")
    normal: list[str] = []
    ok = bool(tds)
    for i, td in enumerate(tds, start=1):
        if td is None:
            ok = False
            continue
        try:
            n = trust.normalize_domain(td)
        except trust.DomainError as exc:
            c.add("trust_domains", f"entry {i} {td!r}: {exc}")
            ok = False
            continue
        if n not in normal:
            normal.append(n)
    return tuple(normal) if ok else None


def _cached(check: Callable[..., Any], key: str, value: Any, *args: Any) -> Any:
    """(result, problems) of `check(c, *args)` on a one-key mapping {key: value}, memoized per
    value when it is hashable (template values recur in every row of a batch). The result
    is shared: callers must not mutate it."""
    # Cached only for str/int/bool/None values (or lists of them): equal values of those
    # types are alike in every message; 1 == True and 0.0 == -0.0 are not, hence the types.
    kind = type(value)
    cache_key: tuple[Any, ...] | None = None
    if kind is list or kind is tuple:
        types = tuple(map(type, value))
        if _CACHEABLE.issuperset(types):
            cache_key = (check, key, args, kind, tuple(value), types)
    elif kind in _CACHEABLE:
        cache_key = (check, key, args, kind, value)
    found = _CHECKS.get(cache_key) if cache_key is not None else None
    if found is None:
        c = Checker({key: value})
        found = check(c, *args), tuple(c.problems)
        if cache_key is not None:
            if len(_CHECKS) >= 1024:
                _CHECKS.clear()
            _CHECKS[cache_key] = found
    return found


_CHECKS: dict[tuple[Any, ...], tuple[Any, tuple[Problem, ...]]] = {}
_CACHEABLE = frozenset({str, int, bool, type(None)})


def _pcscf(c: Checker) -> tuple[str | None, ...]:
    """The P-CSCF addresses (TS 31.103 clause 4.2.8); a bad entry is None."""
    pcscf = c.string_list("pcscf") or []
    for record, addr in enumerate(pcscf, start=1):
        if addr is None or pcscf_address_type(addr):
            continue
        try:
            trust.normalize_domain(addr)
        except trust.DomainError as exc:
            c.add(
                "pcscf", f"{addr!r}: not an IP address or domain name: {exc}", "EF.P-CSCF", record
            )
    return tuple(pcscf)


def _ist(c: Checker, pcscf: bool) -> tuple[int, ...]:
    """EF.IST services (TS 31.103 clause 4.2.7) of a given `ist`."""
    raw = c.data["ist"]
    if not isinstance(raw, list | tuple):
        c.add("ist", f"must be a list of service numbers, not {type_name(raw)}")
        return (1,) if pcscf else ()
    services: set[int] = set()
    for item in raw:
        if type(item) is int and 1 <= item <= IST_MAX_SERVICE:
            services.add(item)
            continue
        c.add("ist", f"{item!r} is not an ISIM service number (1..{IST_MAX_SERVICE})")
    if pcscf and not services & {1, 5}:
        c.add("ist", "pcscf is given but neither service 1 nor 5 is in the IST")
    return tuple(sorted(services))


def validate(c: Checker, *, derive_opc: bool = True, trusted: bool = False) -> dict[str, Any]:
    """Every check of a profile; the Profile field values (None where a problem was found).

    `derive_opc=False` leaves `opc` None when `op` is given (pass 1 of a batch needs only the
    verdict). `trusted=True` is for a mapping already found valid (the same bytes, template
    and code): the checks that can only add problems (the trust rule, the sizes, duplicate
    IMPUs, the Luhn digit) are skipped; the values are the same, since on a valid mapping
    those checks change nothing. A caller must fall back to a full check on any problem.
    """
    data = c.data
    if not _KEYSET.issuperset(data):
        for key in data:
            if key not in _KEYSET:
                c.add(str(key), f"unknown key{did_you_mean(str(key), KEYS)}")

    # trust domains (the template's: normalized once per distinct value)
    trust_domains: tuple[str, ...] | None = None
    if "trust_domains" not in data:
        c.add("trust_domains", "required: the IMS trust domain name(s), e.g. [ims.example.com]")
    else:
        trust_domains, found = _cached(_trust_domains, "trust_domains", data["trust_domains"])
        c.problems.extend(found)

    # card identity
    iccid = c.text("iccid", _ICCID, "19 or 20 decimal digits")
    if "iccid" not in data:
        c.add("iccid", "required: 19 or 20 digits ending in a Luhn check digit")
    elif iccid is not None and not trusted and not _luhn_ok(iccid):
        c.add("iccid", "Luhn check digit is wrong (ITU-T E.118)")
        iccid = None

    imsi = c.text("imsi", _IMSI, "6 to 15 decimal digits")
    mnc_length = 2
    if "mnc_length" in data:
        value = data["mnc_length"]
        if value in (2, 3) and not isinstance(value, bool):
            mnc_length = value
        else:
            c.add("mnc_length", "must be 2 or 3")
            mnc_length = 0

    # identities: explicit, or derived from the IMSI (TS 23.003 clause 13)
    impi = c.string("impi", None)
    if impi is not None:
        if not impi:
            c.add("impi", "must not be empty", trust.FILE_IMPI)
        elif _BAD_TEXT.search(impi):
            c.add("impi", "contains whitespace or control characters", trust.FILE_IMPI)
            impi = None
        elif impi.startswith("@"):
            c.add("impi", "NAI has an empty username (TS 23.003 clause 13.3)", trust.FILE_IMPI)
            impi = None
    impus = c.string_list("impu")
    domain = c.string("domain", None)
    if domain == "":
        c.add("domain", "must not be empty", trust.FILE_DOMAIN)
        domain = None

    derived: set[str] = set()
    missing = [k for k in ("impi", "impu", "domain") if k not in data]
    if missing and "imsi" not in data:
        c.add("imsi", f"required to derive {', '.join(missing)} (or give them explicitly)")
    elif missing and imsi is not None and mnc_length:
        derived.update(missing)
        if "impi" in missing:
            impi = identities.impi_from_imsi(imsi, mnc_length)
        if "impu" in missing:
            impus = [identities.temporary_impu(imsi, mnc_length)]
        if "domain" in missing:
            domain = identities.home_domain(imsi, mnc_length)

    if impus is not None and not trusted:
        seen: dict[str, int] = {}
        for record, uri in enumerate(impus, start=1):
            if uri is None:
                continue
            if uri in seen:
                c.add("impu", f"{uri!r}: duplicate of record {seen[uri]}", "EF.IMPU", record)
            else:
                seen[uri] = record

    # "at least one IMPU" only when the list itself is known to be empty, not when it is
    # missing (imsi problem) or when its entries were bad (already reported)
    require_impu = impus is not None and None not in impus
    if not trusted:
        _identity_problems(c, trust_domains, impi, impus or [], domain, derived, require_impu)

    # P-CSCF and IST: the template's, checked once per distinct value
    pcscf: tuple[str | None, ...] = ()
    if "pcscf" in data:
        pcscf, found = _cached(_pcscf, "pcscf", data["pcscf"])
        c.problems.extend(found)
    ist: tuple[int, ...] = (1,) if pcscf else ()
    if "ist" in data:
        ist, found = _cached(_ist, "ist", data["ist"], bool(pcscf))
        c.problems.extend(found)

    # keys
    k = c.hex_bytes("k", _HEX32, 32)
    if "k" not in data:
        c.add("k", "required: the subscriber key, 32 hex digits")
    opc = c.hex_bytes("opc", _HEX32, 32)
    op = c.hex_bytes("op", _HEX32, 32)
    if "opc" in data and "op" in data:
        c.add("opc", "give exactly one of opc and op, not both")
    elif "opc" not in data and "op" not in data:
        c.add("opc", "required: opc (or op), 32 hex digits")
    elif op is not None and k is not None and derive_opc:
        from isim.milenage import derive_opc as opc_of  # lazy: only profiles with OP

        opc = opc_of(k, op)

    sqn_text = c.text("sqn", _HEX12, "12 hex digits", default="000000000000")
    sqn = int(sqn_text, 16) if sqn_text is not None else 0
    sqn_ind_bits = c.integer("sqn_ind_bits", 0, 16, 5)
    sqn_delta = c.integer("sqn_delta", 1, 2**48 - 1, 2**28)
    sqn_limit = None
    if data.get("sqn_limit") is not None:
        sqn_limit = c.integer("sqn_limit", 1, 2**48 - 1, None)

    pin1 = c.text("pin1", _PIN, "4 to 8 decimal digits", default="1234")
    puk1 = c.text("puk1", _PUK, "8 decimal digits", default="12345678")
    pin2 = c.text("pin2", _PIN, "4 to 8 decimal digits", default="5678")
    puk2 = c.text("puk2", _PUK, "8 decimal digits", default="87654321")
    pin1_enabled = c.boolean("pin1_enabled", False)
    pin2_enabled = c.boolean("pin2_enabled", False)
    adm1 = _adm(c)

    ad = _ad(c)
    sizes = check_sizes(c)
    label = c.string("label", "ISIM")
    if label == "":
        c.add("label", "must not be empty")
    description = c.string("description", "")

    if not trusted:
        size_problems(c, impi, domain, impus, pcscf, label, sizes)
    return {
        "trust_domains": trust_domains,
        "iccid": iccid,
        "imsi": imsi,
        "mnc_length": mnc_length,
        "impi": impi,
        "impu": tuple(impus) if impus is not None else None,
        "domain": domain,
        "pcscf": tuple(pcscf),
        "ist": ist,
        "k": k,
        "opc": opc,
        "op": op,
        "sqn": sqn,
        "sqn_ind_bits": sqn_ind_bits,
        "sqn_delta": sqn_delta,
        "sqn_limit": sqn_limit,
        "pin1": pin1,
        "pin1_enabled": pin1_enabled,
        "puk1": puk1,
        "pin2": pin2,
        "pin2_enabled": pin2_enabled,
        "puk2": puk2,
        "adm1": adm1,
        "ad": ad,
        "sizes": MappingProxyType({n: MappingProxyType(v) for n, v in sizes.items()})
        if sizes
        else NO_SIZES,
        "label": label,
        "description": description,
    }


def _adm(c: Checker) -> bytes | None:
    value = c.data.get("adm1", "12345678")
    if isinstance(value, str):
        if _ADM_ASCII.fullmatch(value):
            return value.encode("ascii")
        if _HEX16.fullmatch(value):
            return bytes.fromhex(value)
    what = "8 decimal digits or 16 hex digits"
    if isinstance(value, int) and not isinstance(value, bool):
        c.add("adm1", f"must be {what}, written as a quoted string (a number loses zeros)")
    else:
        c.add("adm1", f"must be {what}")
    return None


def _ad(c: Checker) -> int | None:
    value = c.data.get("ad", 0)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFF:
        return value
    if isinstance(value, str):
        if value in AD_MODES:
            return AD_MODES[value]
        if _HEX2.fullmatch(value):
            return int(value, 16)
    names = ", ".join(AD_MODES)
    c.add("ad", f"must be 0..255, two hex digits or one of {names}")
    return None
