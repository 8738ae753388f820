"""The USIM in a card image: its member of the image, its application object on the
engine, and the image checks of a card (the trust rule on a card without ISIM).

The image's `isim` member holds what both applications share: the trust domains, K, OPc
and the AKA state (the SQN array); its `aid` is null on a card without ISIM. The `usim`
member (absent on a card without USIM) holds the USIM's AID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apdu.engine import Card
from isim.aka.procedure import ImsAka
from isim.usim.app import EF_AD, EF_IMSI, EF_UST, UsimApplication, imsi_identity_problems
from isim.usim.contents import USIM_ADF
from specs.layout import layout

if TYPE_CHECKING:
    from isim.card.image import CardImage

__all__ = ["USIM_ADF", "attach_services", "image_usim_problems", "new_usim", "usim_member"]


def usim_member(has_usim: bool) -> dict[str, Any] | None:
    """The image's `usim` member of a new card."""
    if not has_usim:
        return None
    return {"aid": (layout().applications[USIM_ADF].aid or b"").hex().upper()}


def new_usim(image: CardImage, aka: ImsAka) -> UsimApplication:
    """The USIM of an image, sharing `aka` (Milenage and SQN array) with the ISIM."""
    assert image.usim is not None
    return UsimApplication(
        aid=bytes.fromhex(image.usim["aid"]),
        label=layout().applications[USIM_ADF].label,
        aka=aka,
        trust_domains=image.isim["trust_domains"],
        has_isim=image.isim.get("aid") is not None,
    )


def attach_services(card: Card, usim: UsimApplication) -> None:
    """Let the USIM read its EF.UST as the card holds it now."""
    ust = Card.find_in(card.adf(usim.aid), EF_UST)
    if ust is not None:
        usim.services = lambda: ust.body


def _body(image: CardImage, name: str) -> bytes | None:
    for adf in image.card.get("adfs", []):
        if adf.get("name") == USIM_ADF:
            for node in adf.get("files", []):
                if node.get("name") == name and isinstance(node.get("content"), str):
                    return bytes.fromhex(node["content"])
    return None


def image_usim_problems(image: CardImage) -> list[str]:
    """EF.IMSI / EF.AD of the image's USIM and, without ISIM, the trust rule on the IMS
    identities derived from them."""
    if image.usim is None:
        return []
    imsi, ad = _body(image, EF_IMSI), _body(image, EF_AD)
    if imsi is None or ad is None:
        return [f"ADF.USIM: {EF_IMSI} or {EF_AD} missing"]
    has_isim = image.isim.get("aid") is not None
    return imsi_identity_problems(imsi, ad, None if has_isim else image.isim["trust_domains"])
