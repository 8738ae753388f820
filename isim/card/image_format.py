"""The card image file format: one whole card as JSON (file tree, PINs, keys, application
state) and its SHA-256. Building an image from a profile is isim.card.image_build;
isim.card.image is the import point of both.

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

`sha256` is over the canonical JSON of the other members (sorted keys, no spaces: `digest`).
`to_json` writes "format" first and one member a line, each value in that canonical form
(compact, keys sorted), so that one encoding gives both the file and the digest; readers
accept any JSON layout (images written with `indent=1` before load the same).

Secrets (K, OPc, PINs, ADM) are inside: files are created mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from isim.card.image_shape import image_shape_problem
from isim.errors import InputError
from isim.fileio import atomic_write, read_bounded

__all__ = [
    "FORMAT",
    "MAX_IMAGE_BYTES",
    "CardImage",
    "ImageError",
    "canonical",
    "digest",
    "is_card_image",
    "load_image",
    "save_image",
]

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

    def _body(self) -> dict[str, Any]:
        body = {"format": FORMAT, "iccid": self.iccid, "card": self.card, "isim": self.isim}
        if self.usim is not None:
            body["usim"] = self.usim
        return body

    def to_json(self, *, seal: Seal | None = None, card_text: str | None = None) -> bytes:
        """The file. `seal` (isim.card.statefile): (member, function of the canonical JSON) -> the
        member's value, added to `isim` over what the other members are. `card_text`: the
        canonical JSON of `card` when the caller has it (isim.card.image_build composes it)."""
        # An object's canonical text is its members' canonical texts in key order: each value
        # is encoded once, for the digest and the file (by json's C encoder: `indent` would
        # take the pure-Python one). "format" first: `is_card_image` reads only the head.
        texts = {
            key: card_text if key == "card" and card_text is not None else canonical(value)
            for key, value in self._body().items()
        }
        if seal is not None:  # over the canonical JSON without it (= `canonical()`)
            member, value = seal
            isim = {**self.isim, member: value(json_object(sorted(texts.items()), ","))}
            texts["isim"] = canonical(isim)
        texts["sha256"] = canonical(_sha256(json_object(sorted(texts.items()), ",")))
        return (json_object(texts.items(), ",\n") + "\n").encode("ascii")

    def canonical(self) -> str:
        """The canonical JSON of the image: what `sha256` (and a state file's seal) covers."""
        return canonical(self._body())

    @classmethod
    def from_json(cls, raw: bytes, *, source: str = "image") -> CardImage:
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImageError(f"{source}: not a card image (not JSON: {exc})") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ImageError(f"{source}: not an isim card image (format is not {FORMAT!r})")
        claimed = obj.pop("sha256", None)
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed, digest(obj)):
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


def canonical(value: Any) -> str:
    """The canonical JSON text of a value: sorted keys, no spaces, ASCII (others escaped)."""
    return _CANONICAL.encode(value)


def json_object(members: Iterable[tuple[str, str]], separator: str = ",") -> str:
    """A JSON object of (key, the value's JSON text) members, in the order given."""
    return "{" + separator.join([_key(key) + text for key, text in members]) + "}"


@lru_cache(maxsize=256)  # the members of an image are a few fixed names
def _key(key: str) -> str:
    return canonical(key) + ":"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def digest(body: dict[str, Any]) -> str:
    """The `sha256` member of an image: over the canonical JSON of all other members."""
    return _sha256(canonical(body))


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
