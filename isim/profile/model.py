"""One card's content (a "profile"), loaded from YAML or JSON and validated.

Every problem is collected and reported together (`ProfileError.problems`), each naming the
profile key and, when it is about what the card would hold, the EF and record.

Keys (the names are a public contract; unknown keys are an error, to catch typos).
Defaults in brackets.

* trust_domains  IMS trust domain name(s), non-empty list [required]
* iccid          19 or 20 digits, the last a Luhn check digit (ITU-T E.118) [required]
* imsi           6..15 digits (TS 23.003 clause 2.2) [required unless impi, impu and domain
                 are all given]
* mnc_length     2 or 3, the MNC digits in the IMSI [2]
* impi           NAI for EF.IMPI [<IMSI>@<home domain>]
* impu           SIP/SIPS/tel URIs for EF.IMPU, record 1 first [[sip:<IMSI>@<home domain>]]
* domain         home network domain name for EF.DOMAIN [ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org]
* pcscf          FQDNs / IPv4 / IPv6 addresses for EF.P-CSCF [[]]
* ist            ISIM service numbers 1..22 for EF.IST [[1] if pcscf is given, else []]
* k              subscriber key, 32 hex digits [required]
* opc | op       32 hex digits, exactly one of them [required]; OPc is derived from OP
* sqn            initial SQN_MS, 12 hex digits [000000000000]
* sqn_ind_bits   IND length, 0..16 (TS 33.102 C.3) [5]
* sqn_delta      delta of the SQN check [2**28]
* sqn_limit      L of the optional age check, or null [null]
* pin1, pin2     4..8 digits ["1234", "5678"]
* pin1_enabled, pin2_enabled  [false, false]
* puk1, puk2     8 digits ["12345678", "87654321"]
* adm1           8 ASCII digits, or 16 hex digits giving the 8 key bytes ["12345678"; a
                 test-card default, set it for real cards]
* ad             EF.AD UE operation mode: 0..255, two hex digits or a name of AD_MODES [0]
* sizes          per-EF overrides, e.g. {"EF.IMPU": {"records": 4, "record_length": 64},
                 "EF.IMPI": {"size": 64}}; MF files as "MF/EF.DIR" [{}]
* label          application label in EF.DIR ["ISIM"]
* description    free text, not written to the card [""]
* applications, msisdn, spn, acc, ust, est, hplmn_act, plmn_act, oplmn_act, fplmn, ecc,
  routing_indicator, suci_calc_info: the card's applications and the USIM's files, see
  `isim.usim.profile_keys` (a USIM beside the ISIM by default)

Digit strings (ICCID, IMSI, PINs, keys, SQN) must be strings: an unquoted YAML number loses
its leading zeros (and `0010...` is even read as octal), so numbers are refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isim.codecs import codec_for
from isim.codecs.usim import EmergencyNumber, PlmnAct
from isim.codecs.usim_state import SuciCalcInfo
from isim.errors import InputError, Problem, ProfileError
from isim.profile.checks import AD_MODES, KEYS, ProfileRules
from isim.profile.documents import MAX_DOCUMENT_BYTES, parse_mapping, read_mapping, type_name
from isim.profile.sizes import pcscf_address_type

__all__ = [
    "AD_MODES",
    "KEYS",
    "MAX_PROFILE_BYTES",
    "InputError",
    "Problem",
    "Profile",
    "ProfileError",
    "ProfileRules",
    "load_profile",
    "parse_profile",
    "pcscf_address_type",
    "profile_from_mapping",
]

MAX_PROFILE_BYTES = MAX_DOCUMENT_BYTES


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A validated profile. Text fields hold what the card stores (as written in the input);
    `trust_domains` holds the normal forms (A-label, lower case).

    Built by `profile_from_mapping` only (no field has a default here): the defaults of the
    keys a profile leaves out are in one place, `isim.profile.checks` (`DEFAULTS` and the
    values `_across` derives), and `_new_profile` fills the instance from the checked values
    without the frozen dataclass's per-field `object.__setattr__` (personalization speed)."""

    trust_domains: tuple[str, ...]
    iccid: str
    imsi: str | None
    mnc_length: int
    impi: str
    impu: tuple[str, ...]
    domain: str
    pcscf: tuple[str, ...]
    ist: tuple[int, ...]
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    op: bytes | None = field(repr=False)  # as given; opc is derived from it
    sqn: int
    sqn_ind_bits: int
    sqn_delta: int
    sqn_limit: int | None
    pin1: str = field(repr=False)
    pin1_enabled: bool
    puk1: str = field(repr=False)
    pin2: str = field(repr=False)
    pin2_enabled: bool
    puk2: str = field(repr=False)
    adm1: bytes = field(repr=False)
    ad: int
    sizes: Mapping[str, Mapping[str, int]] = field(hash=False)
    label: str
    description: str
    applications: tuple[str, ...]
    msisdn: str | None
    spn: str | None
    acc: tuple[int, ...]
    ust: tuple[int, ...]
    est: tuple[int, ...]
    hplmn_act: tuple[PlmnAct, ...]
    plmn_act: tuple[PlmnAct, ...]
    oplmn_act: tuple[PlmnAct, ...]
    fplmn: tuple[str, ...]
    ecc: tuple[EmergencyNumber, ...]
    routing_indicator: str
    suci_calc_info: SuciCalcInfo
    source: str = field(compare=False)

    @property
    def has_usim(self) -> bool:
        return "usim" in self.applications

    @property
    def has_isim(self) -> bool:
        return "isim" in self.applications

    @property
    def sqn_bytes(self) -> bytes:
        return self.sqn.to_bytes(6, "big")

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        """The profile as a mapping that `profile_from_mapping` accepts back.

        Secrets (k, op/opc, PINs, PUKs, adm1) are left out unless `secrets=True`.
        """
        out: dict[str, Any] = {
            "trust_domains": list(self.trust_domains),
            "iccid": self.iccid,
        }
        if self.imsi is not None:
            out["imsi"] = self.imsi
            out["mnc_length"] = self.mnc_length
        out |= {
            "impi": self.impi,
            "impu": list(self.impu),
            "domain": self.domain,
            "pcscf": list(self.pcscf),
            "ist": list(self.ist),
            "sqn": f"{self.sqn:012x}",
            "sqn_ind_bits": self.sqn_ind_bits,
            "sqn_delta": self.sqn_delta,
            "sqn_limit": self.sqn_limit,
            "pin1_enabled": self.pin1_enabled,
            "pin2_enabled": self.pin2_enabled,
            "ad": self.ad,
            "sizes": {name: dict(v) for name, v in self.sizes.items()},
            "label": self.label,
            "description": self.description,
        }
        out |= self._usim_dict()
        if secrets:
            out["k"] = self.k.hex()
            if self.op is not None:
                out["op"] = self.op.hex()
            else:
                out["opc"] = self.opc.hex()
            out |= {
                "pin1": self.pin1,
                "puk1": self.puk1,
                "pin2": self.pin2,
                "puk2": self.puk2,
                "adm1": self.adm1.hex(),
            }
        return out


    def _usim_dict(self) -> dict[str, Any]:
        def entries(items: tuple[PlmnAct, ...]) -> list[dict[str, Any]]:
            return [{"plmn": e.plmn, "act": list(e.act)} for e in items]

        out: dict[str, Any] = {"applications": list(self.applications)}
        if not self.has_usim:
            return out
        for key in ("msisdn", "spn"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out | {
            "acc": list(self.acc),
            "ust": list(self.ust),
            "est": list(self.est),
            "hplmn_act": entries(self.hplmn_act),
            "plmn_act": entries(self.plmn_act),
            "oplmn_act": entries(self.oplmn_act),
            "fplmn": list(self.fplmn),
            "ecc": [
                {"number": e.number, "alpha": e.alpha, "categories": list(e.categories)}
                for e in self.ecc
            ],
            "routing_indicator": self.routing_indicator,
            "suci_calc_info": codec_for("EF.SUCI_Calc_Info").to_json(self.suci_calc_info),
        }


_RULES = ProfileRules()


def profile_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = "",
    rules: ProfileRules = _RULES,
    known_valid: bool = False,
) -> Profile:
    """Validate one profile given as a mapping; raise `ProfileError` listing every problem.
    `rules`: the checks of profiles sharing a base (a batch template: `data` is the row);
    `known_valid`: see `ProfileRules.check`."""
    if type(data) is not dict and not isinstance(data, Mapping):  # dict: no ABC check
        raise ProfileError(
            [Problem("(profile)", f"must be a mapping of keys to values, not {type_name(data)}")],
            source=source,
        )
    values, problems = rules.check(data, known_valid=known_valid)
    if problems:
        raise ProfileError(problems, source=source)
    return _new_profile(values, source)


def _new_profile(values: dict[str, Any], source: str) -> Profile:
    """`Profile(**values, source=source)` without its 29 `object.__setattr__` calls (frozen
    dataclass): `values` has every field, and Profile has no `__post_init__`."""
    profile = object.__new__(Profile)
    values["source"] = source
    profile.__dict__.update(values)
    return profile


def parse_profile(raw: bytes, *, source: str = "") -> Profile:
    """A profile from the bytes of a YAML or JSON document (recognised by content)."""
    return profile_from_mapping(parse_mapping(raw, source=source), source=source)


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file (YAML or JSON, recognised by content).

    Raises `InputError` when the file cannot be read or parsed, `ProfileError` when it breaks
    a rule.
    """
    return profile_from_mapping(read_mapping(path), source=str(path))
