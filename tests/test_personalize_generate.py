"""Generators of `isim personalize`: Luhn, number ranges, random secrets, template section."""

from __future__ import annotations

import re

import pytest

from isim.personalize.generate import (
    GenerateError,
    Generators,
    NumberRange,
    luhn_digit,
    random_digits,
)
from isim.profile.model import profile_from_mapping


def luhn_valid(number: str) -> bool:
    return len(number) >= 2 and number.isascii() and number.isdigit() and (
        luhn_digit(number[:-1]) == number[-1])

# ICCIDs with known check digits (ITU-T E.118 examples and pySim's test card).
KNOWN = [
    ("898821100000043001", "0"),  # pySim EF.ICCID example 8988211000000430010
    ("7992739871", "3"),  # the classic Luhn example 79927398713
    ("0", "0"),
    ("000000000000000000", "0"),
]


@pytest.mark.parametrize(("body", "digit"), KNOWN)
def test_luhn_digit_known_values(body: str, digit: str) -> None:
    assert luhn_digit(body) == digit
    assert luhn_valid(body + digit)


def test_luhn_detects_every_single_digit_error() -> None:
    number = "8988211000000000011"
    assert luhn_valid(number)
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                assert not luhn_valid(number[:i] + d + number[i + 1:])


def test_luhn_agrees_with_profile_validation() -> None:
    base = {"trust_domains": ["3gppnetwork.org"], "imsi": "001010000000001",
            "k": "00" * 16, "opc": "11" * 16}
    for body in ("898821100000000001", "8944000000000000123", "898800000000000000"):
        profile_from_mapping(dict(base, iccid=body + luhn_digit(body)))
        wrong = str((int(luhn_digit(body)) + 1) % 10)
        with pytest.raises(Exception, match="Luhn"):
            profile_from_mapping(dict(base, iccid=body + wrong))


def test_luhn_rejects_non_digits() -> None:
    with pytest.raises(GenerateError):
        luhn_digit("12a4")
    assert not luhn_valid("\uff11\uff12\uff13")  # full-width digits are not ASCII digits
    assert not luhn_valid("5")


def test_iccid_range_appends_luhn_and_keeps_width() -> None:
    rng = NumberRange("089882110000000009", luhn=True)
    assert rng[0] == "089882110000000009" + luhn_digit("089882110000000009")
    second = rng[1]
    assert second.startswith("08988211000000001")  # leading zero kept, carry inside the body
    assert len(second) == 19 and luhn_valid(second)


def test_imsi_range_keeps_leading_zeros() -> None:
    rng = NumberRange("001010000000001", fixed=5)
    assert [rng[i] for i in range(3)] == ["001010000000001", "001010000000002", "001010000000003"]


def test_imsi_range_never_carries_into_mcc_mnc() -> None:
    rng = NumberRange("001019999999998", fixed=5)
    assert rng.capacity == 2
    assert rng[1] == "001019999999999"
    with pytest.raises(GenerateError, match="holds 2 numbers"):
        rng[2]  # would become 001020000000000: another MNC


def test_imsi_range_three_digit_mnc() -> None:
    gen = Generators.from_spec({"imsi": {"first": "310150999999999"}}, mnc_length=3)
    assert gen.imsi is not None and gen.imsi.fixed == 6
    row: dict[str, str] = {}
    counters: dict[str, int] = {}
    gen.numbers(row, counters)
    assert row["imsi"] == "310150999999999"
    with pytest.raises(GenerateError):
        gen.numbers({}, counters)


def test_numbers_only_fill_empty_columns() -> None:
    gen = Generators.from_spec({"iccid": "898821100000000001", "imsi": "001010000000001"})
    counters: dict[str, int] = {}
    rows = [{}, {"iccid": "8988211000000000995"}, {}]
    for row in rows:
        gen.numbers(row, counters)
    assert rows[0]["iccid"] == "8988211000000000011"
    assert rows[1]["iccid"] == "8988211000000000995"  # given: kept, range not advanced
    assert rows[2]["iccid"] == "898821100000000002" + luhn_digit("898821100000000002")
    assert [r["imsi"] for r in rows] == ["001010000000001", "001010000000002", "001010000000003"]


def test_random_secrets_are_well_formed_and_differ() -> None:
    gen = Generators.from_spec({"k": "random", "pin1": "random", "puk1": "random",
                                "adm1": "random", "pin1_digits": 6})
    rows = [{} for _ in range(50)]
    for row in rows:
        gen.secrets_for(row)
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{32}", row["k"])
        assert re.fullmatch(r"[0-9]{6}", row["pin1"])
        assert re.fullmatch(r"[0-9]{8}", row["puk1"])
        assert re.fullmatch(r"[0-9]{8}", row["adm1"])
    assert len({r["k"] for r in rows}) == 50
    assert len({r["puk1"] for r in rows}) > 40
    kept = {"k": "ab" * 16}
    gen.secrets_for(kept)
    assert kept["k"] == "ab" * 16


def test_random_digits_uses_all_digits() -> None:
    text = random_digits(2000)
    assert set(text) == set("0123456789")


@pytest.mark.parametrize("spec", [
    {"k": "zeros"}, {"pin1": "1234"}, {"iccid": {"start": "1"}}, {"colour": "red"},
    {"pin1": "random", "pin1_digits": 12}, {"imsi": "12a45"},
])
def test_bad_generate_sections(spec: dict[str, object]) -> None:
    with pytest.raises(GenerateError):
        Generators.from_spec(spec)


def test_luhn_check_and_digit_agree_with_the_spelled_out_algorithm() -> None:
    """ITU-T E.118 / ISO/IEC 7812-1 with a loop, against isim.profile.luhn's byte sums."""
    from isim.profile.luhn import luhn_ok

    def by_hand(body: str) -> str:
        total = 0
        for i, ch in enumerate(reversed(body)):
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        return str((10 - total % 10) % 10)

    for n in range(2000):
        body = str(n * 7919 + 89)[: 1 + n % 19]
        digit = by_hand(body)
        assert luhn_digit(body) == digit
        assert luhn_ok(body + digit)
        assert not luhn_ok(body + str((int(digit) + 1) % 10))
    assert luhn_ok("79927398713")  # the usual worked example
