"""The batch encoder gives exactly asn1tools' bytes (isim.saip.fast)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from isim.card.contents import card_contents
from isim.profile.model import profile_from_mapping
from isim.saip.asn import decode_pe
from isim.saip.fast import PackageEncoder, profile_package, reference_package
from isim.saip.package import read_package

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "examples/ts48.yaml").read_text())


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 10**9), pin1=st.from_regex(r"\A[0-9]{4,8}\Z"),
       enabled=st.booleans(), user=st.from_regex(r"\A[a-z][a-z0-9]{0,40}\Z"),
       k=st.binary(min_size=16, max_size=16), records=st.integers(3, 6))
def test_fast_equals_asn1tools(n: int, pin1: str, enabled: bool, user: str, k: bytes,
                               records: int) -> None:
    profile = profile_from_mapping(BASE | {
        "iccid": _luhn(f"894411{n:012d}"), "pin1": pin1, "pin1_enabled": enabled,
        "impi": f"{user}@test.3gpp.com", "k": k.hex(),
        "sizes": {"EF.IMPU": {"records": records}}})
    contents = card_contents(profile)
    fast = profile_package(profile, contents)
    assert fast == reference_package(profile, contents)
    assert profile_package(profile, contents) == fast  # from the kept pieces too


def test_secrets_are_not_kept_and_change_per_card() -> None:
    enc = PackageEncoder()
    out = []
    for pin in ("1111", "2222"):
        profile = profile_from_mapping(BASE | {"pin1": pin})
        pes = read_package(reference_package(profile)).pes
        out.append(enc.package([decode_pe(pe.raw) for pe in pes]))
        assert out[-1] == reference_package(profile)
    assert out[0] != out[1]
    kept = b"".join(p for pieces in enc._cuts.values() for p in pieces)
    kept += b"".join(enc._kept.values()) + b"".join(b for _, b in enc._files.values())
    kept += b"".join(b"".join(last.parts) + last.encoded for last in enc._last.values())
    values = repr([(last.objects, last.value) for last in enc._last.values()])
    assert b"1111\xff" not in kept and b"2222\xff" not in kept
    assert bytes.fromhex(BASE["k"]) not in kept
    assert "1111" not in values and "2222" not in values
    assert repr(bytes.fromhex(BASE["k"])) not in values
    assert any(last.parts for last in enc._last.values())  # the PEs were kept
