"""The USIM's profile keys (isim.usim.profile_keys) read back from its files: the inverse of
isim.usim.contents, file by file, through the same codecs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isim.codecs import codec_for
from isim.codecs.errors import CodecError
from isim.usim.contents import USIM_ADF

from .reader import PackageContent, ReadFile

__all__ = ["usim_keys"]


def _plmns(entries: Any) -> list[dict[str, Any]]:
    return [{"plmn": e.plmn, "act": list(e.act)} for e in entries or ()]


# (DF, EF) -> (profile key, the key's value from the decoded file)
_FILES: dict[tuple[str, str], tuple[str, Callable[[Any], Any]]] = {
    (USIM_ADF, "EF.IMSI"): ("imsi", lambda v: v),
    (USIM_ADF, "EF.ACC"): ("acc", lambda v: sorted(v or ())),
    (USIM_ADF, "EF.UST"): ("ust", lambda v: sorted(v or ())),
    (USIM_ADF, "EF.EST"): ("est", lambda v: sorted(v or ())),
    (USIM_ADF, "EF.SPN"): ("spn", lambda v: None if v is None else v.name),
    (USIM_ADF, "EF.HPLMNwAcT"): ("hplmn_act", _plmns),
    (USIM_ADF, "EF.PLMNwAcT"): ("plmn_act", _plmns),
    (USIM_ADF, "EF.OPLMNwACT"): ("oplmn_act", _plmns),
    (USIM_ADF, "EF.FPLMN"): ("fplmn", lambda v: list(v or ())),
    (USIM_ADF, "EF.MSISDN"): ("msisdn", lambda v: next((m.number for m in v if m), None)),
    (USIM_ADF, "EF.ECC"): ("ecc", lambda v: [
        {"number": e.number, "alpha": e.alpha, "categories": list(e.categories)}
        for e in v if e is not None]),
    ("DF.5GS", "EF.Routing_Indicator"): ("routing_indicator", lambda v: v),
    ("DF.5GS", "EF.SUCI_Calc_Info"): (
        "suci_calc_info", lambda v: codec_for("EF.SUCI_Calc_Info").to_json(v)),
}


def _decode(f: ReadFile) -> Any:
    codec = codec_for(f.spec)
    if f.spec.is_record:
        return [codec.decode(r) for r in f.records]
    return codec.decode(f.body)


def usim_keys(content: PackageContent, notes: list[str]) -> dict[str, Any]:
    """The USIM keys of the files read (empty when the package has no USIM isim reads)."""
    out: dict[str, Any] = {}
    for (df, ef), (key, value_of) in _FILES.items():
        f = content.file(df, ef)
        if f is None:
            continue
        try:
            value = value_of(_decode(f))
        except (CodecError, AttributeError, TypeError) as exc:
            notes.append(f"{f.pe}: {exc}")
            continue
        if value is not None:
            out[key] = value
    ad = content.file(USIM_ADF, "EF.AD")
    if ad is not None:
        try:
            decoded = codec_for(ad.spec).decode(ad.body)
            out["mnc_length"] = decoded.mnc_length
            out["ad"] = decoded.ue_operation_mode
        except (CodecError, AttributeError) as exc:
            notes.append(f"{ad.pe}: {exc}")
    return out
