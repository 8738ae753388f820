"""Codec lookup: the `codec:` key of specs/filesystem.yaml -> codec class, and `codec_for`."""

from __future__ import annotations

from functools import cache
from typing import Any

from apdu.layout import EFSpec, layout

from . import binary, config_data, identities, sms, uicc, usim, usim_state
from .base import Codec
from .errors import CodecError

__all__ = ["CODEC_CLASSES", "codec_for"]

CODEC_CLASSES: dict[str, type[Codec[Any]]] = {
    cls.name: cls
    for module in (identities, config_data, binary, sms, uicc, usim, usim_state)
    for cls in module.CODECS
}


@cache
def _codec_for_spec(spec: EFSpec) -> Codec[Any]:
    try:
        cls = CODEC_CLASSES[spec.codec]
    except KeyError:
        raise CodecError(spec.name, f"no codec named {spec.codec!r}") from None
    return cls(spec)


def codec_for(ef: str | EFSpec) -> Codec[Any]:
    """The codec of an EF given as `EF.IMPI`, `IMPI`, `6F02` or an `EFSpec`.

    Names resolve through `apdu.layout.layout().find_ef` (ADF.ISIM first, then the MF; pass
    the MF's EFSpec for the MF's EF.ARR). Unknown names raise CodecError.
    """
    if isinstance(ef, EFSpec):
        return _codec_for_spec(ef)
    try:
        _, spec = layout().find_ef(ef)
    except KeyError:
        raise CodecError("", f"unknown EF {ef!r}") from None
    return _codec_for_spec(spec)
