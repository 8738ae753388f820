"""The profile keys of the USIM (TS 31.102) and the card's application list.

Field checks (one per key, on its value alone) go into `isim.profile.checks`' table;
`derive` fills the defaults that depend on other keys (EF.ACC from the IMSI, the UST from
what is given, the HPLMN from the IMSI); `verdict` finds the problems across keys.

Keys (defaults in brackets):

* applications       list of `usim`, `isim` [[usim, isim]; [isim] when no imsi is given]
* msisdn             the subscriber's number, `+` then up to 20 digits [none]
* spn                service provider name for EF.SPN [none]
* acc                access control classes 0..15 except 10 [[last digit of the IMSI]]
* ust                USIM service numbers 1..136 [DEFAULT_UST, plus 19 with spn, 21 with
                     msisdn]
* est                enabled services of EF.EST, 1..8 [[]]
* hplmn_act          EF.HPLMNwAcT entries [[home PLMN of the IMSI, all technologies]]
* plmn_act           EF.PLMNwAcT entries [[]]
* oplmn_act          EF.OPLMNwACT entries [[]]
  (an entry: "MCCMNC", or {plmn: "MCCMNC", act: [e-utran, ng-ran, ...]})
* fplmn              forbidden PLMNs, "MCCMNC" strings [[]]
* ecc                emergency numbers: "112" or {number, alpha, categories} [[]]
* routing_indicator  1 to 4 digits for EF.Routing_Indicator ["0"]
* suci_calc_info     {schemes: [{scheme, key_index}], keys: [{id, public_key}]}
                     [the null scheme only]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from isim.codecs import CodecError, codec_for
from isim.codecs.usim import ACC_RESERVED, ECC_CATEGORIES, EmergencyNumber, PlmnAct
from isim.codecs.usim_state import SuciCalcInfo
from isim.codecs.usim_values import ACT_BITS, encode_alpha, encode_plmn, plmn_of_imsi
from isim.profile.checker import Checker
from isim.profile.documents import type_name

__all__ = ["APPLICATIONS", "DEFAULT_UST", "FIELDS", "derive", "verdict"]

USIM, ISIM = "usim", "isim"
APPLICATIONS = (USIM, ISIM)
UST_MAX_SERVICE = 136  # EF.UST of 17 bytes (specs/filesystem.yaml)
EST_MAX_SERVICE = 8
# TS 31.102 4.2.8: 20 PLMNwAcT, 27 GSM access, 33 (shall be 1), 38 GSM security context,
# 42 OPLMNwACT, 43 HPLMNwAcT, 85 EPS MM information, 122 5GS MM information, 123 5G
# security parameters, 124 SUCI support, 126 UAC access identities
DEFAULT_UST = (20, 27, 33, 38, 42, 43, 85, 122, 123, 124, 126)
ALL_ACT = ("utran", "e-utran", "ng-ran", "gsm")
_MSISDN = re.compile(r"\+?[0-9]{1,20}")
_ROUTING = re.compile(r"[0-9]{1,4}")
# key -> (UST services of which one must be on, when the key is given)
_NEEDS_SERVICE = {
    "spn": (19,), "msisdn": (21,), "plmn_act": (20,), "oplmn_act": (42,), "hplmn_act": (43,),
    "est": (2, 6, 34, 35), "routing_indicator": (124,), "suci_calc_info": (124,),
}


def _applications(c: Checker, key: str) -> tuple[str, ...] | None:
    raw = c.data[key]
    if not isinstance(raw, (list, tuple)) or not raw:
        c.add(key, "must be a non-empty list of usim and/or isim")
        return None
    if any(a not in APPLICATIONS for a in raw) or len(set(raw)) != len(raw):
        c.add(key, f"{list(raw)!r}: each of usim, isim at most once")
        return None
    return tuple(a for a in APPLICATIONS if a in raw)


def _acc(c: Checker, key: str) -> tuple[int, ...] | None:
    classes = c.number_set(key, 0, 15, "an access class")
    if classes and ACC_RESERVED in classes:
        c.add(key, "access class 10 is never stored on the card (TS 22.011)")
        return None
    return classes


def _msisdn(c: Checker, key: str) -> str | None:
    return c.text(key, _MSISDN, "'+' and/or 1 to 20 decimal digits")


def _spn(c: Checker, key: str) -> str | None:
    spn = c.string(key, None)
    if spn is None:
        return None
    try:
        size = len(encode_alpha(spn))
    except ValueError as exc:
        c.add(key, str(exc), "EF.SPN")
        return None
    if not spn or size > 16:
        c.add(key, f"must be 1 to 16 bytes when coded, {spn!r} takes {size}", "EF.SPN")
        return None
    return spn


def _entries(
    c: Checker, key: str, what: str, short: str, fields: set[str]
) -> list[tuple[int, Mapping[str, Any]]] | None:
    """The entries of a list key: a string stands for `{short: string}`; an entry that is
    not a mapping of `fields` is reported (and left out)."""
    raw = c.data[key]
    if not isinstance(raw, (list, tuple)):
        c.add(key, f"must be a list of {what}, not {type_name(raw)}")
        return None
    out = []
    for n, entry in enumerate(raw, start=1):
        if isinstance(entry, str):
            entry = {short: entry}
        if not isinstance(entry, Mapping) or set(entry) - fields:
            c.add(key, f"entry {n}: must be a string or a mapping of {', '.join(sorted(fields))}")
            continue
        out.append((n, entry))
    return out


def _plmn_act(c: Checker, key: str) -> tuple[PlmnAct, ...] | None:
    entries = _entries(c, key, "PLMN entries", "plmn", {"plmn", "act"})
    if entries is None:
        return None
    out = []
    for n, entry in entries:
        act = entry.get("act", ALL_ACT)
        try:
            encode_plmn(entry.get("plmn"))  # type: ignore[arg-type]
            if not isinstance(act, (list, tuple)) or any(a not in ACT_BITS for a in act):
                raise ValueError(f"act must be a list of {', '.join(ACT_BITS)}")
        except ValueError as exc:
            c.add(key, f"entry {n}: {exc}")
            continue
        out.append(PlmnAct(entry["plmn"], tuple(act)))
    return tuple(out)


def _fplmn(c: Checker, key: str) -> tuple[str, ...] | None:
    items = c.string_list(key)
    if items is None:
        return None
    for n, plmn in enumerate(items, start=1):
        try:
            encode_plmn(plmn)  # type: ignore[arg-type]
        except ValueError as exc:
            c.add(key, f"entry {n}: {exc}")
    return tuple(p for p in items if p is not None)


def _ecc(c: Checker, key: str) -> tuple[EmergencyNumber, ...] | None:
    entries = _entries(c, key, "emergency numbers", "number", {"number", "alpha", "categories"})
    if entries is None:
        return None
    out = []
    for n, entry in entries:
        number = entry.get("number")
        if not isinstance(number, str) or not re.fullmatch(r"[0-9]{1,6}", number):
            c.add(key, f"entry {n}: number must be 1 to 6 decimal digits", "EF.ECC", n)
            continue
        cats = entry.get("categories", [])
        if not isinstance(cats, list) or any(x not in ECC_CATEGORIES for x in cats):
            c.add(key, f"entry {n}: categories are among {', '.join(ECC_CATEGORIES)}",
                  "EF.ECC", n)
            continue
        alpha = entry.get("alpha", "")
        if not isinstance(alpha, str):
            c.add(key, f"entry {n}: alpha must be a string", "EF.ECC", n)
            continue
        out.append(EmergencyNumber(number, alpha, tuple(cats)))
    return tuple(out)


def _routing_indicator(c: Checker, key: str) -> str | None:
    return c.text(key, _ROUTING, "1 to 4 decimal digits")


def _suci_calc_info(c: Checker, key: str) -> SuciCalcInfo | None:
    codec = codec_for("EF.SUCI_Calc_Info")
    try:
        value = codec.from_json(c.data[key])
        codec.encode(value)
    except CodecError as exc:
        c.add(key, exc.problem, "EF.SUCI_Calc_Info")
        return None
    return value


FIELDS: dict[str, tuple[Any, Any]] = {
    "applications": (_applications, None),  # absent: both, or the ISIM alone without imsi
    "msisdn": (_msisdn, None),
    "spn": (_spn, None),
    "acc": (_acc, None),  # absent: from the IMSI
    "ust": (lambda c, k: c.number_set(k, 1, UST_MAX_SERVICE, "a USIM service number"), None),
    "est": (lambda c, k: c.number_set(k, 1, EST_MAX_SERVICE, "an EST service number"), ()),
    "hplmn_act": (_plmn_act, None),  # absent: the IMSI's PLMN
    "plmn_act": (_plmn_act, ()),
    "oplmn_act": (_plmn_act, ()),
    "fplmn": (_fplmn, ()),
    "ecc": (_ecc, ()),
    "routing_indicator": (_routing_indicator, "0"),
    "suci_calc_info": (_suci_calc_info, SuciCalcInfo()),
}


def derive(v: dict[str, Any], present: Any) -> None:
    """Defaults that depend on other keys, set in `v`."""
    imsi, mnc_length = v["imsi"], v["mnc_length"]
    if v["applications"] is None and "applications" not in present:
        v["applications"] = APPLICATIONS if "imsi" in present else (ISIM,)
    apps = v["applications"] or APPLICATIONS
    has_imsi = USIM in apps and imsi is not None and mnc_length in (2, 3)
    if v["acc"] is None:
        # TS 22.011 4.2: one of classes 0..9 per subscriber; by convention its last digit
        v["acc"] = _ACC_OF_DIGIT[imsi[-1]] if has_imsi else ()
    if v["hplmn_act"] is None:
        v["hplmn_act"] = _home_plmn_act(plmn_of_imsi(imsi, mnc_length)) if has_imsi else ()
    if v["ust"] is None:
        v["ust"] = _default_ust(v["spn"] is not None, v["msisdn"] is not None)


# Derived values are shared objects: a batch's cards then share their encoded files
# (isim.usim.contents) without hashing the values again.
_ACC_OF_DIGIT = {str(d): (d,) for d in range(10)}


@lru_cache(maxsize=64)
def _home_plmn_act(plmn: str) -> tuple[PlmnAct, ...]:
    return (PlmnAct(plmn, ALL_ACT),)


@lru_cache(maxsize=4)
def _default_ust(spn: bool, msisdn: bool) -> tuple[int, ...]:
    return tuple(sorted({*DEFAULT_UST, *((19,) * spn), *((21,) * msisdn)}))


def verdict(c: Checker, v: Mapping[str, Any], present: Any) -> None:
    """The USIM's checks across keys."""
    apps = v["applications"]
    if apps is None:
        return
    sizes = v["sizes"]
    dir_records = sizes["MF/EF.DIR"].get("records") if sizes and "MF/EF.DIR" in sizes else None
    if dir_records is not None and dir_records < len(apps):
        c.add("sizes", f"MF/EF.DIR: {dir_records} record(s) for {len(apps)} applications",
              "EF.DIR")
    if USIM not in apps:
        if not _USIM_ONLY_KEYS.isdisjoint(present):
            for key in sorted(_USIM_ONLY_KEYS.intersection(present)):
                c.add(key, "the card has no USIM (applications)")
        return
    if "imsi" not in present:
        c.add("imsi", "required for the USIM (EF.IMSI)")
    if ISIM not in apps:
        for key in ("impi", "impu", "domain", "pcscf", "ist", "label"):
            if key in present:
                c.add(key, "the card has no ISIM (applications): the IMS identities are "
                      "derived from the IMSI")
    ust = v["ust"] or ()
    for key, services in _NEEDS_SERVICE.items():
        value = v[key]
        if key in present and value and value != FIELDS[key][1] and not any(
            s in ust for s in services
        ):
            names = " or ".join(map(str, services))
            c.add(key, f"{key} is given but UST service {names} is not on")


_USIM_ONLY_KEYS = frozenset(k for k in FIELDS if k != "applications")
