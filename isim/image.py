"""The card image: one whole card as JSON (file tree, PINs, keys, application state).

`isim build -o` writes it, `isim emulate` loads it, and the emulator's `--state` file is the
same format, rewritten atomically after every state change. A SHA-256 over the canonical
JSON makes a corrupt file detectable; `format` makes a foreign file detectable.

Layout (`format: "isim-card-image/1"`):

    {"format": ..., "iccid": "...",
     "card": <apdu.engine.Card.to_dict(): atr, pins, mf, adfs>,
     "isim": {"aid": hex | null, "trust_domains": [...], "k": hex, "opc": hex,
              "state": {"sqn": ..., "gba": ...}},
     "usim": {"aid": hex},               # only on a card with a USIM (isim.usim.card)
     "sha256": hex}

`sha256` is over the canonical JSON of the other members (sorted keys, no spaces: `_digest`).
`to_json` writes "format" first and one member a line, each value in that canonical form
(compact, keys sorted), so that one encoding gives both the file and the digest; readers
accept any JSON layout (images written with `indent=1` before load the same).

Secrets (K, OPc, PINs, ADM) are inside: files are created mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from apdu.engine import Card
from apdu.layout import EFSpec, layout
from isim.app import IsimApplication, new_sqn_array
from isim.codecs import codec_for
from isim.codecs.binary import GbaBootstrapping
from isim.contents import ISIM_ADF, CardContents, Content, card_contents
from isim.errors import InputError
from isim.fileio import atomic_write, read_bounded
from isim.gba import GbaState
from isim.image_shape import image_shape_problem
from isim.profile import Profile, load_profile
from isim.usim.card import attach_services, new_usim, usim_member

FORMAT = "isim-card-image/1"
Seal = tuple[str, Callable[[str], str]]  # (isim member, canonical JSON -> its value)
MAX_IMAGE_BYTES = 64 << 20  # an image is tens of kilobytes; /dev/zero is not one


class ImageError(InputError):
    """A card image or state file that cannot be used (unreadable, corrupt, foreign)."""


@dataclass
class CardImage:
    iccid: str
    card: dict[str, Any]
    isim: dict[str, Any]  # the shared keys and AKA state; `aid` null without ISIM
    usim: dict[str, Any] | None = None

    def __repr__(self) -> str:  # the dicts hold keys and PINs
        return f"CardImage(iccid={self.iccid})"

    # -------------------------------------------------------------- JSON

    def _body(self) -> dict[str, Any]:
        body = {"format": FORMAT, "iccid": self.iccid, "card": self.card, "isim": self.isim}
        if self.usim is not None:
            body["usim"] = self.usim
        return body

    def to_json(self, *, seal: Seal | None = None) -> bytes:
        """The file. `seal` (isim.statefile): (member, function of the canonical JSON) -> the
        member's value, added to `isim` over what the other members are."""
        return self._encode((), seal)

    def canonical(self) -> str:
        """The canonical JSON of the image: what `sha256` (and a state file's seal) covers."""
        return _canonical(self._body())

    def _encode(self, efs: Sequence[str], seal: Seal | None = None) -> bytes:
        """The file. `efs`: the canonical JSON of the EFs whose slots `card` holds instead
        (`build_image_json`)."""
        # An object's canonical text is its members' canonical texts in key order: each value
        # is encoded once, for the digest and the file (by json's C encoder: `indent` would
        # take the pure-Python one). "format" first: `is_card_image` reads only the head.
        texts = {key: _canonical(value) for key, value in self._body().items()}
        if efs:
            texts["card"] = _fill_slots(texts["card"], efs)
        if seal is not None:  # over the canonical JSON without it (= `canonical()`)
            member, value = seal
            isim = {**self.isim, member: value(_json_object(sorted(texts.items()), ","))}
            texts["isim"] = _canonical(isim)
        texts["sha256"] = _canonical(_sha256(_json_object(sorted(texts.items()), ",")))
        return (_json_object(texts.items(), ",\n") + "\n").encode("ascii")

    @classmethod
    def from_json(cls, raw: bytes, *, source: str = "image") -> CardImage:
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImageError(f"{source}: not a card image (not JSON: {exc})") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ImageError(f"{source}: not an isim card image (format is not {FORMAT!r})")
        claimed = obj.pop("sha256", None)
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _digest(obj)):
            raise ImageError(f"{source}: corrupt card image (SHA-256 does not match)")
        problem = image_shape_problem(obj)  # a re-sealed file may hold anything
        if problem is not None:
            raise ImageError(f"{source}: {problem}")
        try:
            return cls(
                iccid=str(obj["iccid"]), card=obj["card"], isim=obj["isim"], usim=obj.get("usim")
            )
        except KeyError as exc:
            raise ImageError(f"{source}: card image lacks {exc.args[0]!r}") from None

    def same_card(self, other: CardImage) -> bool:
        """Same ICCID, AID and keys: a state file that belongs to this image."""
        return (
            self.iccid == other.iccid
            and self.isim.get("aid") == other.isim.get("aid")
            and hmac.compare_digest(str(self.isim.get("k")), str(other.isim.get("k")))
            and hmac.compare_digest(str(self.isim.get("opc")), str(other.isim.get("opc")))
        )


# check_circular=False: the same text, faster (an image is a tree: JSON has no cycles)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)


def _canonical(value: Any) -> str:
    """The canonical JSON text of a value: sorted keys, no spaces, ASCII (others escaped)."""
    return _CANONICAL.encode(value)


def _json_object(members: Iterable[tuple[str, str]], separator: str) -> str:
    """A JSON object of (key, the value's JSON text) members."""
    return "{" + separator.join(f"{_canonical(key)}:{text}" for key, text in members) + "}"


def _sha256(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _digest(body: dict[str, Any]) -> str:
    """The `sha256` member of an image: over the canonical JSON of all other members."""
    return _sha256(_canonical(body))


# ------------------------------------------------------------------ building

EFNode = Callable[[EFSpec, Content, str], Any]  # (spec, data, ARR file) -> an EF's entry


def _ef_dict(s: EFSpec, data: Content, arr_fid: str) -> dict[str, Any]:
    return _ef_entry(s, arr_fid, _hex_content(data))


def _hex_content(data: Content) -> str | list[str]:
    return data.hex().upper() if isinstance(data, bytes) else [r.hex().upper() for r in data]


def _ef_entry(s: EFSpec, arr_fid: str, content: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": s.name,
        "fid": s.fid_hex,
        "sfi": s.sfi,
        "lcsi": "05",
        "structure": s.structure,
        "arr": {"file": arr_fid, "record": s.arr},
    }
    if s.is_record:
        d["record_length"] = s.record_length
    else:
        d["size"] = s.size
    d["content"] = content
    return d


def ef_entry(s: EFSpec, arr_fid: str, content: Any) -> dict[str, Any]:
    """An EF's entry in the engine's dict form, with `content` as given (hex in an image)."""
    return _ef_entry(s, arr_fid, content)


def card_dict(
    contents: CardContents, pins: dict[str, Any], *, ef_node: EFNode = _ef_dict
) -> dict[str, Any]:
    """The engine's dict form (apdu.engine.Card.from_dict) of a card's contents; `ef_node`
    gives each EF's entry."""
    lay = layout()
    out: dict[str, Any] = {"atr": None, "pins": pins, "adfs": []}
    for df, files in contents.dfs:
        owner = lay.df(df.parent) if df.parent else df  # a DF below an ADF: the ADF's EF.ARR
        arr_fid = owner.files[df.arr_file].fid_hex
        node: dict[str, Any] = {
            "name": df.name,
            "fid": f"{df.fid:04X}" if df.fid is not None else None,
            "lcsi": "05",
            "arr": {"file": arr_fid, "record": df.arr},
            "files": [ef_node(f.spec, f.data, arr_fid) for f in files],
        }
        if df is lay.mf:
            out["mf"] = node
        elif df.parent:
            node["structure"] = "df"
            out["adfs"][-1]["files"].append(node)
        else:
            node["aid"] = (df.aid or b"").hex().upper()
            node["label"] = df.label
            out["adfs"].append(node)
    if out["atr"] is None:
        del out["atr"]  # the engine's default UICC ATR
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
    """`build_image(profile, contents).to_json()`, faster: each EF's JSON is cached, or made
    of its content between two strings that are the same for all cards of a batch (EF
    contents only: no key or PIN is cached), and goes into a slot of the rest of the image,
    which is encoded per card."""
    efs: list[str] = []

    def slot(spec: EFSpec, data: Content, arr_fid: str) -> str:
        efs.append(_ef_json(spec, data, arr_fid))
        return f"{_SLOT}{len(efs) - 1}"

    image = _image(profile, contents or card_contents(profile), slot)
    if state_key is not None:  # the key of its state file's MAC (isim.statefile)
        image.isim["state_key"] = state_key
    return image._encode(efs)


_SLOT = "\0ef "  # NUL: in no value of an image (and `_fill_slots` checks)
_SLOT_JSON = re.compile(re.escape(_canonical(_SLOT)[:-1]) + r'(\d+)"')


@lru_cache(maxsize=1024)  # most EFs are the same on every card of a batch
def _ef_json(spec: EFSpec, data: Content, arr_fid: str) -> str:
    """`_canonical(_ef_dict(spec, data, arr_fid))`: the EF's frame around its content."""
    before, after = _ef_frame(spec, arr_fid)
    if isinstance(data, bytes):  # hex digits are the same in JSON
        return f'{before}"{data.hex().upper()}"{after}'
    return before + '["' + '","'.join([r.hex().upper() for r in data]) + '"]' + after


@lru_cache(maxsize=1024)
def _ef_frame(spec: EFSpec, arr_fid: str) -> tuple[str, str]:
    """The canonical JSON of an EF's entry before and after its content."""
    before, after = _canonical(_ef_entry(spec, arr_fid, _SLOT)).split(_canonical(_SLOT))
    return before, after


def _fill_slots(text: str, efs: Sequence[str]) -> str:
    """`text` with the JSON string of slot n replaced by `efs[n]`."""
    parts = _SLOT_JSON.split(text)  # text, n, text, n, ..., text
    if len(parts) != 2 * len(efs) + 1:  # each slot is there once: any more is not a slot
        raise ValueError("card image: a value looks like an EF slot")
    parts[1::2] = [efs[int(n)] for n in parts[1::2]]
    return "".join(parts)


def _image(profile: Profile, contents: CardContents, ef_node: EFNode) -> CardImage:
    isim_df = layout().applications[ISIM_ADF]
    sqn = new_sqn_array(profile.sqn, profile.sqn_ind_bits, profile.sqn_delta, profile.sqn_limit)
    return CardImage(
        iccid=profile.iccid,
        card=card_dict(contents, _pins(profile), ef_node=ef_node),
        usim=usim_member(profile.has_usim),
        isim={
            "aid": (isim_df.aid or b"").hex().upper() if profile.has_isim else None,
            "trust_domains": list(profile.trust_domains),
            "k": profile.k.hex(),
            "opc": profile.opc.hex(),
            "state": {"sqn": sqn.to_dict(), "gba": GbaState().to_dict()},
        },
    )


# ------------------------------------------------------------------ files


def save_image(path: Path, image: CardImage) -> None:
    """Write atomically, mode 0600."""
    atomic_write(Path(path), image.to_json())


def load_image(path: Path) -> CardImage:
    try:
        raw = read_bounded(Path(path), MAX_IMAGE_BYTES, what="card image")
    except InputError as exc:
        raise ImageError(str(exc)) from None
    return CardImage.from_json(raw, source=str(path))


def is_card_image(path: str | Path) -> bool:
    """A card image or state file (JSON announcing FORMAT), as opposed to a profile."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and FORMAT.encode() in head


def load_card_source(path: str | Path) -> CardImage:
    """A card image (or state file), or a profile built into one (the format is detected).
    Raises InputError when unreadable, ProfileError / CodecError when a profile is invalid."""
    if not Path(path).exists():
        raise ImageError("no such file", source=str(path))
    if not Path(path).is_file():  # a FIFO would block the peek below, /dev/zero never end
        raise ImageError("not a regular file", source=str(path))
    if is_card_image(path):
        return load_image(Path(path))
    return build_image(load_profile(path))


# ------------------------------------------------------------------ card


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
            sqn=new_sqn_array(0, 5, 2**28, None),
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
