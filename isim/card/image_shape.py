"""The shape of a card image read from a file, checked before anything uses it.

The SHA-256 of an image only shows that it is intact, not that whoever sealed it wrote a
sensible card: a re-sealed file may hold `card: null`, `isim: []` or `trust_domains: ["*"]`.
`image_shape_problem` names the first member that is not what `isim.card.image` writes; the trust
domains must be domain names (`isim.identity.trust`), as when the image was built from a profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from isim.errors import CardContentError
from isim.identity import trust
from isim.profile.documents import type_name

__all__ = ["image_shape_problem"]

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_ICCID = re.compile(r"[0-9]{1,20}")


class _Bad(Exception):
    pass


def _need(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise _Bad(f"{where} must be {what}, not {type_name(value)}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    _need(isinstance(value, Mapping), where, "a mapping", value)
    return value  # type: ignore[no-any-return]


def _hex(value: Any, where: str, length: int | None = None) -> None:
    ok = isinstance(value, str) and _HEX.fullmatch(value) is not None
    _need(ok and (length is None or len(value) == 2 * length), where,
          f"{length} bytes in hex" if length else "hex digits", value)


def _df(node: Any, where: str) -> None:
    df = _mapping(node, where)
    files = df.get("files", [])
    _need(isinstance(files, list), f"{where}.files", "a list", files)
    for n, f in enumerate(files):
        ef = _mapping(f, f"{where}.files[{n}]")
        name = ef.get("name")
        _need(isinstance(name, str), f"{where}.files[{n}].name", "a string", name)
        if ef.get("structure") == "df":  # a DF inside an ADF (ADF.USIM's DF.5GS)
            _df(ef, f"{where}.{name}")
            continue
        content = ef.get("content")
        where_c = f"{where}.{name}.content"
        if isinstance(content, list):
            for r in content:
                _hex(r, where_c)
        else:
            _hex(content, where_c)


def _card(card: Any) -> None:
    card = _mapping(card, "card")
    _mapping(card.get("pins"), "card.pins")
    _df(card.get("mf"), "card.mf")
    adfs = card.get("adfs")
    _need(isinstance(adfs, list), "card.adfs", "a list", adfs)
    for n, adf in enumerate(adfs):
        _df(adf, f"card.adfs[{n}]")


def _isim(isim: Any) -> list[str]:
    isim = _mapping(isim, "isim")
    if isim.get("aid") is not None:  # null on a card without ISIM (the USIM's keys live here)
        _hex(isim.get("aid"), "isim.aid")
    _hex(isim.get("k"), "isim.k", 16)
    _hex(isim.get("opc"), "isim.opc", 16)
    if "state_key" in isim:
        _hex(isim["state_key"], "isim.state_key", 32)
    _mapping(isim.get("state"), "isim.state")
    domains = isim.get("trust_domains")
    _need(isinstance(domains, list) and bool(domains), "isim.trust_domains",
          "a non-empty list", domains)
    return domains  # type: ignore[no-any-return]


def image_shape_problem(obj: Mapping[str, Any]) -> str | None:
    """The first member of a card image (parsed JSON, without `sha256`) that is not what
    `isim.card.image` writes, named; None when all are. Raises `CardContentError` when a trust
    domain is not a domain name."""
    try:
        iccid = obj.get("iccid")
        _need(isinstance(iccid, str) and _ICCID.fullmatch(iccid) is not None, "iccid",
              "a string of up to 20 digits", iccid)
        _card(obj.get("card"))
        domains = _isim(obj.get("isim"))
        if obj.get("usim") is not None:
            _hex(_mapping(obj["usim"], "usim").get("aid"), "usim.aid")
    except _Bad as exc:
        return f"card image: {exc}"
    for n, domain in enumerate(domains, 1):
        try:
            trust.normalize_domain(domain)
        except trust.DomainError as exc:
            raise CardContentError(f"card image: isim.trust_domains entry {n}: "
                                   f"{exc}") from None
    return None
