"""Identities derived from the IMSI (TS 23.003 clause 13): isim.identity.from_imsi."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isim.identity.from_imsi import home_domain, impi_from_imsi, split_imsi, temporary_impu
from isim.identity.trust import check_identities


@pytest.mark.parametrize(
    ("imsi", "mnc_length", "domain"),
    [
        # TS 23.003 clause 13.2 example
        ("234150999999999", 2, "ims.mnc015.mcc234.3gppnetwork.org"),
        ("001010123456789", 2, "ims.mnc001.mcc001.3gppnetwork.org"),
        ("310150123456789", 3, "ims.mnc150.mcc310.3gppnetwork.org"),
        ("738006000000101", 3, "ims.mnc006.mcc738.3gppnetwork.org"),
        ("738006000000101", 2, "ims.mnc000.mcc738.3gppnetwork.org"),
        ("001010", 3, "ims.mnc010.mcc001.3gppnetwork.org"),
    ],
)
def test_home_domain(imsi: str, mnc_length: int, domain: str) -> None:
    assert home_domain(imsi, mnc_length) == domain


def test_impi_and_temporary_impu() -> None:
    assert impi_from_imsi("234150999999999", 2) == (
        "234150999999999@ims.mnc015.mcc234.3gppnetwork.org"
    )
    assert temporary_impu("234150999999999", 2) == (
        "sip:234150999999999@ims.mnc015.mcc234.3gppnetwork.org"
    )


def test_split_imsi() -> None:
    assert split_imsi("234150999999999", 2) == ("234", "15")
    assert split_imsi("310150123456789", 3) == ("310", "150")


@pytest.mark.parametrize("imsi", ["", "12345", "1234567890123456", "23415099999999A", " 234150"])
def test_bad_imsi(imsi: str) -> None:
    with pytest.raises(ValueError, match="IMSI"):
        home_domain(imsi, 2)


@pytest.mark.parametrize("mnc_length", [1, 4, 0, True, "2"])
def test_bad_mnc_length(mnc_length: object) -> None:
    with pytest.raises(ValueError, match="MNC length"):
        home_domain("234150999999999", mnc_length)  # type: ignore[arg-type]


@given(imsi=st.from_regex(r"[0-9]{6,15}", fullmatch=True), mnc_length=st.sampled_from([2, 3]))
def test_derived_identities_satisfy_the_rule(imsi: str, mnc_length: int) -> None:
    domain = home_domain(imsi, mnc_length)
    impi = impi_from_imsi(imsi, mnc_length)
    impu = temporary_impu(imsi, mnc_length)
    assert impi == f"{imsi}@{domain}" and impu == f"sip:{impi}"
    assert check_identities(impi, [impu], domain, ["3gppnetwork.org"]) == []
    assert check_identities(impi, [impu], domain, [domain]) == []
