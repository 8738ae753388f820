"""The batch encoder gives exactly asn1tools' bytes (isim.saip.fast, isim.saip.encoder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from isim.card.contents import EFContent, card_contents
from isim.profile.model import Profile, profile_from_mapping
from isim.saip import fast
from isim.saip.asn import decode_pe
from isim.saip.encoder import PackageEncoder
from isim.saip.fast import profile_package, reference_package
from isim.saip.package import read_package

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "examples/ts48.yaml").read_text())
_IMS = ("impi", "impu", "domain", "pcscf", "ist", "label")
USIM_ONLY = {k: v for k, v in BASE.items() if k not in _IMS} | {"applications": ["usim"]}


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _card(kind: str, n: int, **extra: Any) -> Profile:
    """Card n of a batch of `kind`: its own ICCID, IMSI, IMPI, K, PINs, PUKs and ADM."""
    own = {"iccid": _luhn(f"894411{n:012d}"), "imsi": f"00101{n:010d}",
           "k": f"{n:032x}", "pin1": f"{1000 + n % 9000}", "puk1": f"{10**7 + n:08d}",
           "pin2": f"{2000 + n % 9000}", "puk2": f"{2 * 10**7 + n:08d}",
           "adm1": f"{3 * 10**7 + n:08d}"}
    if kind == "usim":
        return profile_from_mapping(USIM_ONLY | own | extra)
    own |= {"impi": f"user{n}@test.3gpp.com",
            "impu": [f"sip:user{n}@test.3gpp.com", f"tel:+1555{n:07d}"]}
    if kind == "isim":
        own["applications"] = ["isim"]
    return profile_from_mapping(BASE | {"applications": ["usim", "isim"]} | own | extra)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 10**9), pin1=st.from_regex(r"\A[0-9]{4,8}\Z"),
       enabled=st.booleans(), user=st.from_regex(r"\A[a-z][a-z0-9]{0,40}\Z"),
       k=st.binary(min_size=16, max_size=16), records=st.integers(3, 6),
       apps=st.sampled_from([["isim"], ["usim", "isim"]]))
def test_fast_equals_asn1tools(n: int, pin1: str, enabled: bool, user: str, k: bytes,
                               records: int, apps: list[str]) -> None:
    profile = profile_from_mapping(BASE | {
        "iccid": _luhn(f"894411{n:012d}"), "pin1": pin1, "pin1_enabled": enabled,
        "impi": f"{user}@test.3gpp.com", "k": k.hex(), "applications": apps,
        "sizes": {"EF.IMPU": {"records": records}}})
    contents = card_contents(profile)
    fast_package = profile_package(profile, contents)
    assert fast_package == reference_package(profile, contents)
    assert profile_package(profile, contents) == fast_package  # from its plan too


BATCHES = [
    ("usim+isim", {}), ("isim", {}), ("usim", {}),
    ("usim+isim", {"pin1_enabled": True, "pin2_enabled": True, "adm1": "0102030405A6B7C8"}),
    ("isim", {"sizes": {"EF.IMPU": {"records": 6}}, "sqn": "0000000000a0",
              "pcscf": ["pcscf1.test.3gpp.com", "pcscf2.test.3gpp.com"]}),
    ("usim", {"msisdn": "+15551234", "spn": "Op", "acc": [3], "ecc": ["112", "911"]}),
]


def test_interleaved_batches_equal_asn1tools() -> None:
    """Cards of several trees, one after the other and interleaved: each from its plan
    (more trees than plans kept, so plans are dropped and made again), each with its own
    identities and secrets."""
    fast._PLANS.clear()
    cards = [_card(kind, 7 * n + b, **extra) for n in range(3)
             for b, (kind, extra) in enumerate(BATCHES)]
    cards += [_card("usim+isim", 1000 + n, sizes={"EF.IMPU": {"records": 3 + n}})
              for n in range(fast._MAX_PLANS + 1)]
    packages = [profile_package(p) for p in cards]
    assert packages == [reference_package(p) for p in cards]
    assert len(set(packages)) == len(packages)
    assert len(fast._PLANS) == fast._MAX_PLANS


def test_a_card_differing_outside_its_plans_places_gets_a_plan() -> None:
    """An EF that has no place of its own in the plan (as a genericFileManagement file) and
    differs: the plan does not take the card, which gets a plan of its own."""
    fast._PLANS.clear()
    first, second = _card("usim+isim", 1), _card("usim+isim", 2)
    profile_package(first)
    plan = fast._PLANS[0]
    for slots in plan.slots:
        for k in [k for k, slot in slots.items() if slot.targets[0].place.member == "ef-impi"]:
            del slots[k]  # EF.IMPI as if it had no place
    contents = card_contents(second)
    pins, isim = fast.image_sections(second)
    assert plan.package(contents, pins, isim, fast._ENCODER) is None
    assert profile_package(second, contents) == reference_package(second, contents)
    assert len(fast._PLANS) == 2
    # the same content in another object is no difference
    same = card_contents(first)
    copied = tuple((df, tuple(EFContent(f.df, f.spec, f.data) for f in files))
                   for df, files in same.dfs)
    assert plan.package(type(same)(copied), *fast.image_sections(first),
                        fast._ENCODER) == reference_package(first, same)


SECRETS = [  # on the card that makes the plan, and on the last one
    {"pin1": "93718264", "pin2": "84629173", "puk1": "71829364", "puk2": "62839475",
     "adm1": "58273619", "k": "5ec7e7ab5ec7e7ab5ec7e7ab5ec7e7ab"},
    {"pin1": "39178246", "pin2": "48261937", "puk1": "17293846", "puk2": "26384957",
     "adm1": "85726391", "k": "a7e7c75ea7e7c75ea7e7c75ea7e7c75e"},
]


def _held(obj: Any, out: list[bytes], seen: set[int]) -> None:
    """Every bytes and str reachable from the plans' and the encoder's own objects."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, bytes | bytearray):
        out.append(bytes(obj))
    elif isinstance(obj, str):
        out.append(obj.encode())
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _held(k, out, seen)
            _held(v, out, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            _held(v, out, seen)
    elif isinstance(obj, EFContent):
        _held(obj.data, out, seen)
    elif type(obj).__module__.startswith("isim.saip"):
        _held(vars(obj), out, seen)


@pytest.mark.parametrize("kind", ["usim+isim", "isim", "usim"])
def test_no_secret_is_kept_between_cards(kind: str) -> None:
    fast._PLANS.clear()
    forms: list[bytes] = []
    for n in range(4):
        secrets = {0: SECRETS[0], 3: SECRETS[1]}.get(n, {})
        profile = _card(kind, n, **secrets)
        assert profile_package(profile) == reference_package(profile)
        if secrets:
            forms += [v.encode() for v in secrets.values()]
            forms += [profile.k, profile.opc, profile.k.hex().encode(),
                      profile.opc.hex().encode(), profile.adm1]
    held: list[bytes] = []
    _held(fast._PLANS, held, set())
    assert fast._PLANS and len(held) > 50  # the walk saw the plans' encodings
    _held(fast._ENCODER, held, set())
    blob = b"\x00".join(held)
    for form in forms:
        assert form not in blob


def test_encoder_keeps_no_secret_and_changes_them_per_card() -> None:
    enc = PackageEncoder()
    out = []
    for pin in ("1111", "2222"):
        profile = profile_from_mapping(BASE | {"pin1": pin})
        pes = read_package(reference_package(profile)).pes
        out.append(enc.package([decode_pe(pe.raw) for pe in pes]))
        assert out[-1] == reference_package(profile)
    assert out[0] != out[1]
    kept = b"".join(p for pieces in enc._cuts.values() for p in pieces)
    kept += b"".join(enc._kept.values()) + b"".join(b for _, b in enc._fcps.values())
    assert enc._cuts and enc._kept  # the pieces were kept
    assert b"1111\xff" not in kept and b"2222\xff" not in kept
    assert bytes.fromhex(BASE["k"]) not in kept
    assert "1111" not in repr(list(enc._kept)) and "2222" not in repr(list(enc._kept))
