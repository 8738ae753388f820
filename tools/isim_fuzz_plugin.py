"""The ISIM plugged into tools/fuzz_engine.py (its --card / --check hooks).

    python tools/fuzz_engine.py --card tools.isim_fuzz_plugin:isim_card \\
                                --check tools.isim_fuzz_plugin:isim_check [-n 1000000]

`isim_card()` is the alice card (examples/alice.yaml) with the ISIM application attached,
its ADM1 set to "11111111" and PIN1 "1234": the keys the fuzzer's corpus presents, so
random writes reach the trust-rule guard of EF.IMPI / EF.IMPU / EF.DOMAIN.
`isim_check(card)` decodes those three EFs and reports any rule or format violation (only
when the card's persistent state changed since the last check).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apdu.engine import Card  # noqa: E402
from isim.card.image import CardImage, build_image, make_card  # noqa: E402
from isim.identity.files import (  # noqa: E402
    IDENTITY_FILES,
    PCSCF_FILE,
    identity_file_problems,
    pcscf_problems,
)
from isim.profile.model import load_profile  # noqa: E402

__all__ = ["identity_problems", "isim_card", "isim_check"]

FUZZ_ADM1 = b"11111111"  # tools/demo_card.py's ADM1, presented by fuzz_engine's corpus


@functools.cache
def _image() -> CardImage:
    profile = load_profile(ROOT / "examples" / "alice.yaml")
    return build_image(dataclasses.replace(profile, adm1=FUZZ_ADM1))


def isim_card() -> Card:
    """A fresh alice card with the ISIM attached (fuzz_engine --card)."""
    image = _image()
    card, _app = make_card(CardImage(image.iccid, copy.deepcopy(image.card), image.isim))
    return card


def identity_problems(card: Card) -> list[str]:
    """Problems of the card's IMPI, IMPUs, home domain and P-CSCF addresses: the one
    validation the write guard, `isim check` and `isim inspect` run (`isim.identity.files`)."""
    image = _image()
    adf = card.adf(bytes.fromhex(image.isim["aid"]))
    contents: dict[str, bytes | list[bytes] | None] = {}
    for name in IDENTITY_FILES:
        ef = Card.find_in(adf, name)
        content = None if ef is None else ef.content()
        contents[name] = (None if content is None else [bytes(r) for r in content]
                          if isinstance(content, list) else bytes(content))
    problems = identity_file_problems(contents, image.isim["trust_domains"])
    pcscf = Card.find_in(adf, PCSCF_FILE)
    if pcscf is not None:
        problems += pcscf_problems([bytes(r) for r in pcscf.content()])
    return [str(v) for v in problems]


_checked: tuple[int, int] = (0, -1)  # (id of the card, state_serial) last checked


def isim_check(card: Card) -> list[str]:
    """fuzz_engine --check: the rule holds after every APDU (re-checked on state change)."""
    global _checked
    key = (id(card), card.state_serial)
    if key == _checked:
        return []
    _checked = key
    return identity_problems(card)
