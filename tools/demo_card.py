"""A minimal application and card, for the engine's tests, fuzzer and benchmark (not ISIM).

`DemoApplication` has a simple write guard (a transparent EF may not start with 00; a record
EF may not be left with every record empty, i.e. all FF) and an AUTHENTICATE that echoes
a digest-free transformation of the challenge and counts calls (its persistent state).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from apdu.application import FileContents
from apdu.engine import Card
from apdu.sw import SW_AUTH_CONTEXT_NOT_SUPPORTED, SW_OK

__all__ = ["DEMO_PINS", "DemoApplication", "demo_card", "demo_check"]

DEMO_PINS: dict[str, dict[str, Any]] = {
    "01": {"value": "1234", "unblock": "12345678"},
    "81": {"value": "5678", "unblock": "87654321"},
    "0A": {"value": "11111111", "max_tries": 10},
}


class DemoApplication:
    """Implements apdu.application.Application."""

    def __init__(self, aid: bytes, label: str = "DEMO") -> None:
        self.aid = aid
        self.label = label
        self.state_changed = False
        self.counter = 0
        self.guard_calls: list[tuple[str, int | None, bytes, bool]] = []

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        if record is None:
            ok = not new_content.startswith(b"\x00")
        else:
            records = file_contents(ef_name)
            assert isinstance(records, list) and records[record - 1] == new_content
            ok = any(r.strip(b"\xff") for r in records)
        self.guard_calls.append((ef_name, record, bytes(new_content), ok))
        return ok

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        if p2 != 0x81:
            return b"", SW_AUTH_CONTEXT_NOT_SUPPORTED
        self.counter += 1
        self.state_changed = True
        return b"\xdb" + bytes((len(data),)) + bytes(b ^ 0x5A for b in data), SW_OK

    def state(self) -> dict[str, Any]:
        return {"counter": self.counter}

    def load_state(self, state: dict[str, Any]) -> None:
        self.counter = int(state["counter"])


def demo_card(
    *,
    t0: bool = False,
    rng: Callable[[int], bytes] | None = None,
    contents: dict[str, Any] | None = None,
    pins: dict[str, dict[str, Any]] | None = None,
) -> Card:
    """A card with the layout's file tree, DEMO_PINS and a DemoApplication on every ADF."""
    from apdu.build import card_dict

    d = card_dict(pins=pins or DEMO_PINS, contents=contents or {})
    apps = [DemoApplication(bytes.fromhex(a["aid"]), a.get("label", "")) for a in d["adfs"]]
    card = Card.from_dict(d, applications=apps, rng=rng, t0=t0)
    _INITIAL[card] = {ef: ef.content() for adf in card.adfs for ef in _efs(card, adf)}
    return card


_INITIAL: weakref.WeakKeyDictionary[Card, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _efs(card: Card, adf: Any) -> list[Any]:
    return [ef for ef in adf.children if not ef.is_df]


def demo_check(card: Card) -> list[str]:
    """The demo guard's rule, checked on the card's state (for tools/fuzz_engine.py): a
    changed transparent EF of an ADF never starts with 00; a changed record EF keeps at least
    one non-empty record."""
    initial = _INITIAL.get(card, {})
    problems = []
    for ef, first in initial.items():
        now = ef.content()
        if now == first:
            continue
        if ef.transparent and now.startswith(b"\x00"):
            problems.append(f"{ef.name}: starts with 00")
        if not ef.transparent and not any(r.strip(b"\xff") for r in now):
            problems.append(f"{ef.name}: no record left")
    return problems
