"""A card image from a validated profile (card assembly), and an image as a running card.

The file tree comes from `isim.card.contents` (which files, what bytes) through `apdu.build` (the
engine's nodes); the image format is `isim.card.image_format`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from apdu import build
from apdu.engine import Card
from isim.aka.gba import GbaState
from isim.aka.sqn import DEFAULT_DELTA, DEFAULT_IND_BITS
from isim.card.contents import ISIM_ADF, CardContents, Content, card_contents
from isim.card.image_format import CardImage, ImageError, canonical, json_object
from isim.card.isim_app import IsimApplication, new_sqn_array
from isim.codecs import codec_for
from isim.codecs.binary import GbaBootstrapping
from isim.profile.model import Profile
from isim.usim.card import attach_services, new_usim, usim_member
from specs.layout import EFSpec, layout

__all__ = [
    "build_image",
    "build_image_json",
    "card_dict",
    "image_sections",
    "make_application",
    "make_card",
    "snapshot",
]

EFNode = Callable[[EFSpec, Content, str], Any]  # (spec, data, ARR file) -> an EF's entry


def _ef_dict(s: EFSpec, data: Content, arr_fid: str) -> dict[str, Any]:
    return build.ef_node(s, arr_fid, build.hex_content(data))


def card_dict(
    contents: CardContents, pins: dict[str, Any], *, ef_node: EFNode = _ef_dict
) -> dict[str, Any]:
    """The engine's dict form (apdu.engine.Card.from_dict) of a card's contents; `ef_node`
    gives each EF's entry."""
    lay = layout()
    out: dict[str, Any] = {"pins": pins, "adfs": []}  # no "atr": the engine's default ATR
    for df, files in contents.dfs:
        owner = lay.df(df.parent) if df.parent else df  # a DF below an ADF: the ADF's EF.ARR
        arr_fid = build.arr_fid(df, owner)
        entries = [ef_node(f.spec, f.data, arr_fid) for f in files]
        if df is lay.mf:
            out["mf"] = build.df_node(df, entries, None, arr_fid)
        elif df.parent:
            out["adfs"][-1]["files"].append(build.df_node(df, entries, None, arr_fid))
        else:
            out["adfs"].append(build.df_node(df, entries, df.aid or b"", arr_fid))
    return out


def _pins(p: Profile) -> dict[str, Any]:
    refs = layout().key_references
    return {
        f"{refs['PIN1']:02X}": {"value": p.pin1, "enabled": p.pin1_enabled, "unblock": p.puk1},
        f"{refs['PIN2']:02X}": {"value": p.pin2, "enabled": p.pin2_enabled, "unblock": p.puk2},
        f"{refs['ADM1']:02X}": {"value_hex": p.adm1.hex().upper(), "enabled": True},
    }


def build_image(profile: Profile, contents: CardContents | None = None, *,
                ef_node: EFNode | None = None) -> CardImage:
    """The card image of a validated profile. `ef_node`: each EF's entry in another form
    (isim.saip.fast: the content as bytes); the default is the image's own."""
    return _image(profile, contents or card_contents(profile), ef_node or _ef_dict)


def build_image_json(profile: Profile, contents: CardContents | None = None, *,
                     state_key: str | None = None) -> bytes:
    """`build_image(profile, contents).to_json()`, faster: each EF's canonical JSON is cached
    (most EFs are the same on every card of a batch; EF contents only: no key or PIN is
    cached), and the card's JSON is composed of those texts (`_card_text`). `state_key`: the
    key of its state file's MAC (isim.card.statefile)."""
    image = _image(profile, contents or card_contents(profile), _ef_json)
    if state_key is not None:
        image.isim["state_key"] = state_key
    return image.to_json(card_text=_card_text(image.card))


@lru_cache(maxsize=1024)  # most EFs are the same on every card of a batch
def _ef_json(spec: EFSpec, data: Content, arr_fid: str) -> str:
    """`canonical(_ef_dict(spec, data, arr_fid))`: the EF's frame around its content."""
    before, after = _ef_frame(spec, arr_fid)
    if isinstance(data, bytes):  # hex digits are the same in JSON
        return f'{before}"{data.hex().upper()}"{after}'
    return before + '["' + '","'.join([r.hex().upper() for r in data]) + '"]' + after


@lru_cache(maxsize=1024)
def _ef_frame(spec: EFSpec, arr_fid: str) -> tuple[str, str]:
    """The canonical JSON of an EF's entry before and after its content."""
    text = canonical(build.ef_node(spec, arr_fid, None))
    before, after = text.rsplit('"content":null', 1)  # keys are sorted: one "content"
    return before + '"content":', after


def _df_text(node: dict[str, Any]) -> str:
    """Canonical JSON of a DF node whose "files" are EF texts (`_ef_json`) or DF nodes: the members
    sorting before "files", the files, the members after. The members but the files depend
    only on the DF's name and AID (apdu.build.df_node of a layout DF): made once."""
    key = (node["name"], node.get("aid"))
    frame = _DF_FRAMES.get(key)
    if frame is None:
        before = canonical({k: v for k, v in node.items() if k < "files"})
        after = canonical({k: v for k, v in node.items() if k > "files"})
        head = (before[:-1] + "," if len(before) > 2 else "{") + '"files":['
        frame = _DF_FRAMES[key] = (head, "]" + ("," + after[1:] if len(after) > 2 else "}"))
    files = [f if type(f) is str else _df_text(f) for f in node["files"]]  # DFs below ADFs
    return frame[0] + ",".join(files) + frame[1]


_DF_FRAMES: dict[tuple[str, str | None], tuple[str, str]] = {}


def _card_text(card: dict[str, Any]) -> str:
    """Canonical JSON of `card_dict(..., ef_node=_ef_json)`: = canonical(the card dict)."""
    texts = {
        "adfs": "[" + ",".join(_df_text(adf) for adf in card["adfs"]) + "]",
        "mf": _df_text(card["mf"]),
    }
    return json_object((k, texts[k] if k in texts else canonical(card[k])) for k in sorted(card))


def _image(profile: Profile, contents: CardContents, ef_node: EFNode) -> CardImage:
    pins, isim = image_sections(profile)
    return CardImage(
        iccid=profile.iccid,
        card=card_dict(contents, pins, ef_node=ef_node),
        usim=usim_member(profile.has_usim),
        isim=isim,
    )


def image_sections(profile: Profile) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image's PINs (its card's "pins") and ISIM section (keys, AKA state): all of
    `build_image` but the file tree (isim.saip.fast builds that once per batch)."""
    isim_df = layout().applications[ISIM_ADF]
    sqn = new_sqn_array(profile.sqn, profile.sqn_ind_bits, profile.sqn_delta, profile.sqn_limit)
    return _pins(profile), {
        "aid": (isim_df.aid or b"").hex().upper() if profile.has_isim else None,
        "trust_domains": list(profile.trust_domains),
        "k": profile.k.hex(),
        "opc": profile.opc.hex(),
        "state": {"sqn": sqn.to_dict(), "gba": GbaState().to_dict()},
    }


# ------------------------------------------------------------------ the running card


def make_application(image: CardImage) -> IsimApplication:
    """The ISIM of the image; on a card without ISIM, an ISIM object that only holds the
    shared keys and AKA state (it is plugged into no ADF)."""
    isim = image.isim
    try:
        app = IsimApplication(
            aid=bytes.fromhex(isim["aid"] or ""),
            label=layout().applications[ISIM_ADF].label,
            trust_domains=isim["trust_domains"],
            k=bytes.fromhex(isim["k"]),
            opc=bytes.fromhex(isim["opc"]),
            sqn=new_sqn_array(0, DEFAULT_IND_BITS, DEFAULT_DELTA, None),
        )
        app.load_state(isim["state"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ImageError(f"card image: bad ISIM section ({exc})") from None
    return app


def make_card(image: CardImage, *, t0: bool = False) -> tuple[Card, IsimApplication]:
    """The engine holding this image, with the ISIM and the USIM plugged into their ADFs
    (sharing one Milenage and one SQN array: `isim.usim.card`)."""
    app = make_application(image)
    apps: dict[str, Any] = {app.aid.hex().upper(): app} if app.aid else {}
    try:
        usim = new_usim(image, app.aka) if image.usim is not None else None
        if usim is not None:
            apps[usim.aid.hex().upper()] = usim
        card = Card.from_dict(image.card, applications=apps, rng=os.urandom, t0=t0)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ImageError(f"card image: bad file tree ({exc})") from None
    if usim is not None:
        attach_services(card, usim)
    if not app.aid:
        return card, app
    gbabp = Card.find_in(card.adf(app.aid), "EF.GBABP")
    if gbabp is not None:
        codec = codec_for("EF.GBABP")

        def store_gba_rand(rand: bytes) -> None:
            # TS 33.220 G.3: the UICC keeps RAND in EF.GBABP; the ME writes B-TID and
            # lifetime afterwards, so those start empty for the new bootstrap.
            gbabp.body = codec.encode(GbaBootstrapping(rand=rand), len(gbabp.body))
            card.mark_changed()

        app.store_gba_rand = store_gba_rand
    return card, app


def snapshot(card: Card, app: IsimApplication, image: CardImage) -> CardImage:
    """The image of the card as it is now (for the state file)."""
    isim = dict(image.isim)
    isim["state"] = app.state()
    return CardImage(iccid=image.iccid, card=card.to_dict(), isim=isim, usim=image.usim)
