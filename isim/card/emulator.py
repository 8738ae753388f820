"""A card image running in the engine, with a state file that survives crashes.

The engine (apdu.Card) is sans-IO; this module is the thin layer that gives it a disk:
for the `StateChanged` event of a command that changed persistent state (file contents, PIN
counters, SQN array), `persist` rewrites the state file atomically, and only then may the
transport send the response. A SIGKILL at any moment leaves the state before or after the
last command.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from apdu.engine import Card
from apdu.events import StateChanged
from isim.card.contents import ISIM_ADF
from isim.card.image import CardImage, make_card, snapshot
from isim.card.isim_app import IsimApplication
from isim.card.statefile import StateError, StateFile
from isim.errors import CardContentError
from isim.fileio import remove_stale_temps
from isim.identity import trust
from isim.identity.files import IDENTITY_FILES, identity_file_problems
from isim.usim.card import image_usim_problems

__all__ = ["Emulator", "StateError", "image_identity_problems"]

def _adf_files(image: CardImage, adf: str) -> dict[str, dict]:
    for node in image.card.get("adfs", []):
        if node.get("name") == adf:
            return {f["name"]: f for f in node.get("files", []) if "name" in f}
    return {}


def image_identity_problems(image: CardImage) -> list[str]:
    """Problems of the image's IMPI, IMPUs and home domain (`isim.identity.files`; on a
    card without ISIM: of the identities derived from the USIM's IMSI)."""
    if image.isim.get("aid") is None:
        return image_usim_problems(image) or ([] if image.usim else ["no ISIM and no USIM"])
    files = _adf_files(image, ISIM_ADF)
    contents: dict[str, bytes | list[bytes] | None] = {}
    try:
        for name in IDENTITY_FILES:
            content = files.get(name, {}).get("content")
            contents[name] = (None if content is None else [bytes.fromhex(c) for c in content]
                              if isinstance(content, list) else bytes.fromhex(content))
    except (TypeError, ValueError) as exc:
        return [f"{name}: content is not hex: {exc}"]
    trust_domains = image.isim.get("trust_domains", [])
    try:
        problems = [str(v) for v in identity_file_problems(contents, trust_domains)]
    except trust.DomainError as exc:
        problems = [str(exc)]
    return problems + image_usim_problems(image)


@dataclass
class Emulator:
    """One virtual card: engine + ISIM + (optionally) its state file.

    `t0`: the T=0 response style (61XX + GET RESPONSE, 6CXX) with an ATR announcing T=0, as
    `isim emulate` does by default; False: APDU level with an ATR announcing T=1 (what an
    in-process `transmit` caller usually wants)."""

    image: CardImage
    state_path: Path | None = None
    t0: bool = False
    card: Card = field(init=False)
    app: IsimApplication = field(init=False)
    state_file: StateFile | None = field(default=None, init=False)  # locked while open

    def __post_init__(self) -> None:
        # The ATR follows the response style (apdu.atr.atr_for): an ATR stored in an image or
        # in a state file written by an older version is not this card's and is dropped.
        if "atr" in self.image.card:
            card = {k: v for k, v in self.image.card.items() if k != "atr"}
            self.image = replace(self.image, card=card)
        self.card, self.app = make_card(self.image, t0=self.t0)

    @classmethod
    def open(
        cls,
        image: CardImage,
        *,
        state_path: Path | None = None,
        t0: bool = False,
        allow_rule_violations: bool = False,
        follow_symlink: bool = False,
        accept_unsealed: bool = False,
    ) -> Emulator:
        """Load the card: from the state file when it exists (it must be this card's),
        else from `image`, creating the state file. An image whose identities break the
        trust rule is refused unless `allow_rule_violations` (for testing validators).
        The state file is locked until `close` (isim.card.statefile); `follow_symlink`: accept a
        state path that is a symbolic link; `accept_unsealed`: a state without a MAC (written
        by an older isim), sealed from then on."""
        state_file = (StateFile.open(Path(state_path), image, follow_symlink=follow_symlink,
                                     accept_unsealed=accept_unsealed)
                      if state_path is not None else None)
        try:
            state = state_file.load(image) if state_file is not None else None
            image = state or image
            if not allow_rule_violations:
                problems = image_identity_problems(image)
                if problems:
                    raise CardContentError(
                        "card image breaks the trust-domain rule or the ISIM formats: "
                        + "; ".join(problems)
                    )
            emu = cls(image, state_file.path if state_file else None, t0)
            emu.state_file = state_file
            # no per-APDU trace events unless someone traces (isim emulate --trace/--gsmtap
            # turns them on); transmit() has no observer, building them cost a third of it
            emu.card.trace_exchanges = False
            if state_file is not None:
                remove_stale_temps(state_file.path)
                if state is None:
                    state_file.save(image)
        except BaseException:
            if state_file is not None:
                state_file.close()
            raise
        return emu

    def close(self) -> None:
        """Release the state file (its lock); the process ending does the same."""
        if self.state_file is not None:
            self.state_file.close()

    def persist(self, _event: StateChanged | None = None) -> None:
        """The card's state changed: write the state file (the driver loop calls this before
        the response leaves)."""
        if self.state_file is not None:
            self.image = snapshot(self.card, self.app, self.image)
            self.state_file.save(self.image)

    def transmit(self, capdu: bytes) -> bytes:
        """In-process transport: one command, persisted, answered (process -> persist ->
        send, the order of transport.driver). Nobody traces an in-process exchange, so this
        takes the engine's bare exchange (`Card.process`) and its `StateChanged` as the
        card's flag: building the event objects would cost a sixth of the call (callgrind:
        ~1,600 of ~15,000 instructions for a READ BINARY)."""
        card = self.card
        rapdu = card.process(capdu)
        if card.state_changed:
            card.state_changed = False
            self.persist()
        return rapdu
