"""A validated profile -> the content of the USIM's files (ADF.USIM, DF.5GS, DF.GSM-ACCESS).

`producer(df, spec)` is `isim.card.contents`' hook for the files below ADF.USIM: how a file's
content comes from the profile, or None for the layout's default (the same on every card).
Values that are usually the same for a whole batch are encoded once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from isim.codecs import codec_for
from isim.codecs.usim import Msisdn, ServiceProviderName, UsimAdministrativeData
from specs.layout import EFSpec

if TYPE_CHECKING:
    from isim.card.contents import EFContent
    from isim.profile.model import Profile

__all__ = ["USIM_ADF", "producer"]

USIM_ADF = "ADF.USIM"

# EF name -> the profile value it holds (as the codec takes it)
_VALUES: dict[str, Callable[[Profile], Any]] = {
    "EF.ACC": lambda p: frozenset(p.acc),
    "EF.EST": lambda p: frozenset(p.est),
    "EF.AD": lambda p: UsimAdministrativeData(p.ad, b"\x00\x00", p.mnc_length),
    "EF.SPN": lambda p: None if p.spn is None else ServiceProviderName(p.spn),
    "EF.HPLMNwAcT": lambda p: p.hplmn_act,
    "EF.PLMNwAcT": lambda p: p.plmn_act,
    "EF.OPLMNwACT": lambda p: p.oplmn_act,
    "EF.FPLMN": lambda p: p.fplmn,
    "EF.Routing_Indicator": lambda p: p.routing_indicator,
    "EF.SUCI_Calc_Info": lambda p: p.suci_calc_info,
}
_RECORDS: dict[str, Callable[[Profile], tuple[Any, ...]]] = {
    "EF.MSISDN": lambda p: () if p.msisdn is None else (Msisdn(p.msisdn),),
    "EF.ECC": lambda p: p.ecc,
}


def producer(df: str, spec: EFSpec) -> Callable[[Profile], EFContent] | None:
    from isim.card.contents import EFContent, _records  # the caller's module: no import cycle

    codec = codec_for(spec)
    encode = codec.encode
    if spec.name == "EF.IMSI":
        return lambda p: EFContent(df, spec, encode(p.imsi, spec.size))
    if spec.name in _VALUES:
        one = lru_cache(maxsize=16)(lambda v: EFContent(df, spec, encode(v, spec.size)))
        return _same_as_last(_VALUES[spec.name], one)
    if spec.name in _RECORDS:
        rlen = spec.record_length
        many = lru_cache(maxsize=16)(
            lambda vs: EFContent(df, spec, _records(spec, [encode(v, rlen) for v in vs]))
        )
        return _same_as_last(_RECORDS[spec.name], many)
    return None


def _same_as_last(
    value_of: Callable[[Profile], Any], content: Callable[[Any], EFContent]
) -> Callable[[Profile], EFContent]:
    """`content(value_of(p))`, answered without hashing when the value is the very object of
    the last card (a batch template's values are one object for every row)."""
    last: list[Any] = [object(), None]

    def produce(p: Profile) -> EFContent:
        value = value_of(p)
        if value is not last[0]:
            last[0], last[1] = value, content(value)
        return last[1]  # type: ignore[no-any-return]

    return produce
