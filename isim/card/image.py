"""The card image: one whole card as JSON. The import point of its parts:

* `isim.card.image_format`: the file format and its digest (`CardImage`, load / save);
* `isim.card.image_build`: a card image from a profile, and an image as a running card;
* here: `load_card_source`, an image or a profile given by the user, built if need be.
"""

from __future__ import annotations

from pathlib import Path

from isim.card.image_build import (
    build_image,
    build_image_json,
    card_dict,
    make_application,
    make_card,
    snapshot,
)
from isim.card.image_format import (
    FORMAT,
    MAX_IMAGE_BYTES,
    CardImage,
    ImageError,
    is_card_image,
    load_image,
    save_image,
)
from isim.profile.model import load_profile

__all__ = [
    "FORMAT",
    "MAX_IMAGE_BYTES",
    "CardImage",
    "ImageError",
    "build_image",
    "build_image_json",
    "card_dict",
    "is_card_image",
    "load_card_source",
    "load_image",
    "make_application",
    "make_card",
    "save_image",
    "snapshot",
]


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
