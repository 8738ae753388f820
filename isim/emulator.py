"""A card image running in the engine, with a state file that survives crashes.

The engine (apdu.Card) is sans-IO; this module is the thin layer that gives it a disk:
after every command that changed persistent state (file contents, PIN counters, SQN array),
`after_command` rewrites the state file atomically, and only then may the transport send
the response. A SIGKILL at any moment leaves the state before or after the last command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apdu.engine import Card
from isim import trust
from isim.app import IsimApplication
from isim.codecs import codec_for
from isim.codecs.errors import CodecError
from isim.contents import ISIM_ADF
from isim.errors import CardContentError, InputError
from isim.fileio import remove_stale_temps
from isim.image import CardImage, ImageError, load_image, make_card, save_image, snapshot
from isim.usim.card import image_usim_problems

IDENTITY_FILES = ("EF.IMPI", "EF.IMPU", "EF.DOMAIN")


def _adf_files(image: CardImage, adf: str) -> dict[str, dict]:
    for node in image.card.get("adfs", []):
        if node.get("name") == adf:
            return {f["name"]: f for f in node.get("files", []) if "name" in f}
    return {}


def image_identity_problems(image: CardImage) -> list[str]:
    """Trust-rule and format problems of the image's IMPI, IMPUs and home domain (on a card
    without ISIM: of the identities derived from the USIM's IMSI)."""
    if image.isim.get("aid") is None:
        return image_usim_problems(image) or ([] if image.usim else ["no ISIM and no USIM"])
    files = _adf_files(image, ISIM_ADF)
    problems: list[str] = []
    values: dict[str, list[str | None]] = {}
    for name in IDENTITY_FILES:
        node = files.get(name)
        if node is None:
            problems.append(f"{name}: missing")
            values[name] = [None]
            continue
        content = node.get("content")
        chunks = content if isinstance(content, list) else [content]
        decoded: list[str | None] = []
        for n, chunk in enumerate(chunks, 1):
            try:
                decoded.append(codec_for(name).decode_detailed(bytes.fromhex(chunk)).value)
            except (CodecError, TypeError, ValueError) as exc:
                where = f"{name} record {n}" if isinstance(content, list) else name
                problems.append(f"{where}: {exc}")
                decoded.append(None)
        values[name] = decoded
    violations = trust.check_identities(
        values["EF.IMPI"][0],
        values["EF.IMPU"],
        values["EF.DOMAIN"][0],
        image.isim.get("trust_domains", []),
    )
    return problems + [str(v) for v in violations] + image_usim_problems(image)


class StateError(InputError):
    """A state file that cannot be used: corrupt, or another card's."""


@dataclass
class Emulator:
    """One virtual card: engine + ISIM + (optionally) its state file."""

    image: CardImage
    state_path: Path | None = None
    t0: bool = False
    card: Card = field(init=False)
    app: IsimApplication = field(init=False)

    def __post_init__(self) -> None:
        self.card, self.app = make_card(self.image, t0=self.t0)

    @classmethod
    def open(
        cls,
        image: CardImage,
        *,
        state_path: Path | None = None,
        t0: bool = False,
        allow_rule_violations: bool = False,
    ) -> Emulator:
        """Load the card: from the state file when it exists (it must be this card's),
        else from `image`, creating the state file. An image whose identities break the
        trust rule is refused unless `allow_rule_violations` (for testing validators)."""
        if state_path is not None and Path(state_path).exists():
            try:
                state = load_image(Path(state_path))
            except ImageError as exc:
                raise StateError(f"state file refused: {exc}") from None
            if not image.same_card(state):
                raise StateError(
                    f"state file {state_path} belongs to another card (ICCID {state.iccid}, "
                    f"not {image.iccid}); refusing to use or replace it"
                )
            image = state
        if not allow_rule_violations:
            problems = image_identity_problems(image)
            if problems:
                raise CardContentError(
                    "card image breaks the trust-domain rule or the ISIM formats: "
                    + "; ".join(problems)
                )
        emu = cls(image, Path(state_path) if state_path else None, t0)
        if emu.state_path is not None:
            remove_stale_temps(emu.state_path)
            if not emu.state_path.exists():
                save_image(emu.state_path, image)
        return emu

    def after_command(self, capdu: bytes, rapdu: bytes) -> None:
        """Persist before the response leaves (the transport calls this first)."""
        if self.card.take_state_changed() and self.state_path is not None:
            self.image = snapshot(self.card, self.app, self.image)
            save_image(self.state_path, self.image)

    def transmit(self, capdu: bytes) -> bytes:
        """In-process transport: one command, persisted, answered."""
        rapdu = self.card.process(capdu)
        self.after_command(capdu, rapdu)
        return rapdu

