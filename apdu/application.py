"""The plug-in interface between the generic UICC engine and an application (e.g. an ISIM).

The engine (`apdu.engine.Card`) knows nothing of what an application's files mean. For every
ADF it may hold one `Application` (matched by AID); the engine calls it:

* `check_update` -- the write guard, before any UPDATE BINARY / UPDATE RECORD of an EF under
  the application's ADF (after the access conditions of TS 102 221 clause 9.2.7 are met).
  The engine passes the content the EF would hold after the update: the whole new body for a
  transparent EF (`record is None`), or the one new record (`record` = its number, 1-based,
  after the update; for a cyclic UPDATE "previous" that is record 1). `file_contents(name)`
  returns the content of any EF of the same ADF *as it would be after the update* (the
  candidate is substituted in the EF being updated): `bytes` for a transparent EF,
  `list[bytes]` (one element per record, record 1 first) for a record EF; an unknown name
  raises KeyError. Returning False makes the engine answer 6A80 (incorrect data) and leave
  the file unchanged byte for byte.
* `last_rejection` (optional) -- why the guard refused the last update: the engine puts it
  in the `WriteRefused` trace event (apdu.events). Never a secret.
* `authenticate` -- AUTHENTICATE (INS 88) on a logical channel whose current application is
  this ADF, after the engine checked the access condition (PIN1 verified or disabled,
  else 6982). Returns (response data, status word).
* `state_changed` -- set to True by the application whenever its own persistent state (e.g.
  the SQN array) changed. The engine reads it after each call into the application, folds
  it into `Card.state_changed` and resets it to False. An application without the attribute
  is assumed to change its state on every AUTHENTICATE.
* `state()` / `load_state()` -- the application's own persistent state (JSON-able); the
  engine never calls them: the layer that builds the card image (isim.card.image) does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["Application", "FileContents"]

FileContents = Callable[[str], "bytes | list[bytes]"]
"""`file_contents(ef_name)`: content of an EF of the same ADF, with the candidate applied."""


@runtime_checkable
class Application(Protocol):
    """An application plugged into an ADF of `apdu.engine.Card`."""

    aid: bytes
    label: str
    state_changed: bool

    def check_update(
        self,
        ef_name: str,
        record: int | None,
        new_content: bytes,
        file_contents: FileContents,
    ) -> bool:
        """The write guard: True lets the UPDATE through, False -> 6A80, nothing written."""
        ...

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        """AUTHENTICATE (INS 88): (response data, SW)."""
        ...

    def state(self) -> dict[str, Any]:
        """The application's mutable persistent state (JSON-able)."""
        ...

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `state()` returned."""
        ...
