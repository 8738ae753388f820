"""Where a card comes from: a card image run by the in-process engine (the same APDUs as a
reader), or a PC/SC reader (`transport.pcsc`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from isim.card.emulator import Emulator
from isim.card.image import CardImage, load_image
from isim.errors import IsimError
from transport import pcsc

from .link import CardUnreadable, Transmit

__all__ = ["CardSource", "emulator_source", "image_source", "open_image", "reader_source"]


@dataclass
class CardSource:
    """A powered card: its ATR and its transmit."""

    description: str
    atr: bytes
    transmit: Transmit
    trust_domains: tuple[str, ...] | None = None  # an image knows its own


def open_image(image: CardImage, description: str = "image") -> CardSource:
    """The image in the engine. Rule-breaking images load: inspecting them is the point."""
    try:
        emu = Emulator.open(image, allow_rule_violations=True)
    except (IsimError, ValueError, KeyError, TypeError) as exc:
        raise CardUnreadable(f"{description}: cannot load the card image: {exc}") from None
    return emulator_source(emu, description)


def emulator_source(emu: Emulator, description: str) -> CardSource:
    """A card running in the engine, powered now."""
    domains = emu.image.isim.get("trust_domains")
    trust = tuple(str(d) for d in domains) if isinstance(domains, list) else None
    return CardSource(description, emu.card.power_on(), emu.transmit, trust)


def image_source(path: Path) -> CardSource:
    try:
        image = load_image(Path(path))
    except IsimError as exc:
        raise CardUnreadable(str(exc)) from None
    return open_image(image, f"image {path}")


@contextlib.contextmanager
def reader_source(reader: int | str, timeout: float = pcsc.TOOL_TIMEOUT
                  ) -> Iterator[CardSource]:
    """The card in a PC/SC reader (index, exact name or unique substring); `timeout`:
    seconds per exchange (`transport.pcsc`)."""
    try:
        conn = pcsc.connect(reader, timeout=timeout)
    except pcsc.ReaderError as exc:
        raise CardUnreadable(str(exc)) from None
    try:
        yield CardSource(f"reader {conn.reader}", conn.atr, conn.transmit)
    finally:
        conn.disconnect()
