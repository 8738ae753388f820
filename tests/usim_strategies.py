"""Hypothesis strategies for the USIM codecs (merged into test_codecs_props.STRATEGIES)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from isim.codecs.usim import (
    ECC_CATEGORIES,
    EmergencyNumber,
    Msisdn,
    PlmnAct,
    ServiceProviderName,
    UsimAdministrativeData,
)
from isim.codecs.usim_state import SuciCalcInfo
from isim.codecs.usim_values import ACT_BITS

_GSM_TEXT = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abxyzäöñüà"


def _digits(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=lo, max_size=hi)


def _subset(names: tuple[str, ...] | list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.sets(st.sampled_from(list(names))).map(lambda s: tuple(n for n in names if n in s))


def _alpha(max_gsm: int) -> st.SearchStrategy[str]:
    return st.text(_GSM_TEXT, max_size=max_gsm) | st.text("€ĀЖ中", min_size=1,
                                                           max_size=(max_gsm - 1) // 2)


def _fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields).filter(
        lambda d: not all(v == b"\xff" * len(v) if isinstance(v, bytes) else v == 0xFF
                          for v in d.values())
    )


def _b(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


_plmn = _digits(5, 6)
_byte = st.integers(0, 255)
_tag = _byte.filter(lambda t: t & 0x1F != 0x1F and t != 0xFF)

USIM_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "imsi": _digits(6, 15),
    "usim_ad": st.builds(UsimAdministrativeData, _byte, _b(2), st.sampled_from([2, 3])),
    "service_table": (st.frozensets(st.integers(1, 8)) | st.frozensets(st.integers(1, 136)))
    .filter(lambda s: not set(range(1, 9)) <= s),  # a whole byte of FF reads as empty
    "uac_aic": st.frozensets(st.integers(1, 32)),
    "acc": st.frozensets(st.integers(0, 15).filter(lambda n: n != 10)),
    "plmn_act": st.lists(st.builds(PlmnAct, _plmn, _subset(tuple(ACT_BITS))), max_size=8).map(
        tuple
    ),
    "plmn_list": st.lists(_plmn, min_size=1, max_size=4).map(tuple),  # () is all FF
    "spn": st.builds(ServiceProviderName, _alpha(16), st.integers(0, 254)),
    "msisdn": st.builds(Msisdn, st.sampled_from(["", "+"]).flatmap(
        lambda p: _digits(1, 20).map(lambda d: p + d)), _alpha(10)),
    "ecc": st.builds(EmergencyNumber, _digits(1, 6), _alpha(10), _subset(ECC_CATEGORIES)),
    "routing_indicator": _digits(1, 4),
    "keys": _fields(ksi=_byte, ck=_b(16), ik=_b(16)),
    "loci": _fields(tmsi=_b(4), lai=_b(5), rfu=_b(1), update_status=_byte),
    "psloci": _fields(p_tmsi=_b(4), p_tmsi_signature=_b(3), rai=_b(6), update_status=_byte),
    "epsloci": _fields(guti=_b(12), last_visited_tai=_b(5), update_status=_byte),
    "loci_5gs": _fields(guti=_b(13), last_visited_tai=_b(6), update_status=_byte),
    "start_hfn": _fields(start_cs=_b(3), start_ps=_b(3)),
    "threshold": _fields(max_start=_b(3)),
    "hpplmn": _fields(search_period=_byte),
    "kc": _fields(kc=_b(8), cksn=_byte),
    "tlv_list": st.lists(st.tuples(_tag, st.binary(max_size=20)), min_size=1, max_size=2).map(
        tuple
    ),
    "suci_calc_info": st.builds(
        SuciCalcInfo,
        st.lists(st.tuples(_byte, _byte), max_size=4).map(tuple),
        st.lists(st.tuples(_byte, st.binary(min_size=1, max_size=33)), max_size=2).map(tuple),
    ),
}
