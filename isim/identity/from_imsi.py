"""IMS identities derived from the IMSI (3GPP TS 23.003 clause 13).

Used when a profile gives no IMPI/IMPU/domain of its own, and by a UE without ISIM:

* home network domain name (13.2): `ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org`, a 2-digit MNC
  padded with a leading zero to 3 digits;
* private user identity (13.3): `<IMSI>@<home network domain name>`;
* temporary public user identity (13.4B): `sip:<IMSI>@<home network domain name>`.

The MNC length (2 or 3) is not in the IMSI; on a USIM it comes from EF.AD byte 4.
"""

from __future__ import annotations

import re

__all__ = ["derived_identities", "home_domain", "impi_from_imsi", "split_imsi", "temporary_impu"]

_IMSI = re.compile(r"[0-9]{6,15}")  # TS 23.003 clause 2.2: MCC(3) + MNC(2-3) + MSIN, <= 15


def split_imsi(imsi: str, mnc_length: int) -> tuple[str, str]:
    """(MCC, MNC) of an IMSI; the MNC as written in the IMSI (2 or 3 digits)."""
    if not isinstance(imsi, str) or not _IMSI.fullmatch(imsi):
        raise ValueError("IMSI must be 6 to 15 decimal digits")
    if mnc_length not in (2, 3) or isinstance(mnc_length, bool):
        raise ValueError(f"MNC length must be 2 or 3, not {mnc_length!r}")
    return imsi[:3], imsi[3 : 3 + mnc_length]


def home_domain(imsi: str, mnc_length: int) -> str:
    """`ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org` (TS 23.003 clause 13.2)."""
    mcc, mnc = split_imsi(imsi, mnc_length)
    return f"ims.mnc{mnc.zfill(3)}.mcc{mcc}.3gppnetwork.org"


def impi_from_imsi(imsi: str, mnc_length: int) -> str:
    """`<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org` (TS 23.003 clause 13.3)."""
    return derived_identities(imsi, mnc_length)[0]


def temporary_impu(imsi: str, mnc_length: int) -> str:
    """`sip:<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org` (TS 23.003 clause 13.4B)."""
    return derived_identities(imsi, mnc_length)[1]


def derived_identities(imsi: str, mnc_length: int) -> tuple[str, str, str]:
    """(IMPI, temporary IMPU, home network domain name) of an IMSI, as the functions above."""
    domain = home_domain(imsi, mnc_length)
    impi = f"{imsi}@{domain}"
    return impi, f"sip:{impi}", domain
