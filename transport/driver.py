"""The driver loop around the sans-IO engine: process -> persist -> send, explicitly.

    driver = Driver(card, persist=emulator.persist, observe=on_event)
    rapdu = driver.exchange(capdu)      # the transport sends rapdu afterwards

`exchange` feeds the C-APDU to the card (`Card.receive`), calls ``persist`` for a
`StateChanged` (an exception there propagates: the response is never sent for a change
that was not persisted), hands the trace events to ``observe``, and returns the
`Response`'s R-APDU for the transport to send. A card whose class has only
``process(capdu) -> rapdu`` (a trivial responder, a test wrapper) is driven as if it
answered ``[Response(rapdu)]``; a card that raises is answered 6F00 (logged, the command
masked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apdu.engine import SECRET_COMMAND_DATA
from apdu.events import CardEvent, Response, StateChanged
from apdu.sw import SW_TECHNICAL_PROBLEM_BYTES
from apdu.trace import mask_capdu

__all__ = ["Driver", "Observer", "Persist"]

Persist = Callable[[StateChanged], None]
log = logging.getLogger(__name__)

Observer = Callable[[Any], None]
"""Receives the trace events of the card (apdu.events) and of the transport."""


class Driver:
    """Process -> persist -> send for one card."""

    __slots__ = ("_receive", "card", "observe", "persist")

    def __init__(self, card: Any, *, persist: Persist | None = None,
                 observe: Observer | None = None) -> None:
        self.card = card
        self.persist = persist
        self.observe = observe
        # the card's own class must define receive(): a wrapper that overrides process() and
        # forwards the rest (__getattr__) is driven through its process()
        receive = card.receive if hasattr(type(card), "receive") else None
        if receive is None:
            process = card.process

            def receive(capdu: bytes) -> list[CardEvent]:
                return [Response(process(capdu))]

        self._receive: Callable[[bytes], list[CardEvent]] = receive

    def exchange(self, capdu: bytes) -> bytes:
        """One C-APDU: the card's events acted on in order; the R-APDU to send."""
        persist = self.persist
        observe = self.observe
        try:
            events = self._receive(capdu)
        except Exception:  # apdu.engine.Card never raises; another card might
            log.exception("card failed on C-APDU %s; answering 6F00",
                          mask_capdu(capdu, SECRET_COMMAND_DATA))
            return SW_TECHNICAL_PROBLEM_BYTES
        if len(events) == 1:  # nothing to persist or trace
            return events[0].rapdu  # type: ignore[union-attr]
        for event in events:
            kind = type(event)
            if kind is Response:
                return event.rapdu  # type: ignore[union-attr]
            if kind is StateChanged:
                if persist is not None:
                    persist(event)  # type: ignore[arg-type]
            elif observe is not None:
                observe(event)
        raise RuntimeError("the card gave no Response")  # a broken card, not an input
