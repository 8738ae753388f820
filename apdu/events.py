"""The events of the sans-IO card engine, in the h11 sense: bytes go in
(`apdu.engine.Card.receive(capdu)`), typed events come out, and the driver acts on them in
the order given: persist on `StateChanged`, log or trace the trace events, send `Response`
last. Nothing here does I/O.

The events are values: treat them as immutable. They are not frozen dataclasses because a
frozen one costs three times as much to build, and the driver loop builds two per APDU.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ApduExchanged", "CardEvent", "Response", "StateChanged", "TraceEvent",
           "WriteRefused"]


@dataclass(slots=True)
class StateChanged:
    """Persistent state changed (EF contents, PIN counters, the SQN array...): persist it
    before the `Response` leaves. ``serial`` counts the changes since the card was built."""

    serial: int


@dataclass(slots=True, repr=False)
class ApduExchanged:
    """Trace event: one C-APDU and its R-APDU, with what their data is
    (`apdu.engine.SECRET_COMMAND_DATA` / `SECRET_RESPONSE_DATA`; apdu.trace masks by it).
    Its repr shows no data (PINs, keys)."""

    capdu: bytes
    rapdu: bytes
    secrecy: int

    def __repr__(self) -> str:
        return (f"ApduExchanged(ins={self.capdu[1:2].hex().upper()}, "
                f"lc+le={max(len(self.capdu) - 4, 0)}, rapdu={len(self.rapdu)} bytes, "
                f"sw={self.rapdu[-2:].hex().upper()}, secrecy={self.secrecy})")


@dataclass(slots=True)
class WriteRefused:
    """Trace event: an application's write guard refused an UPDATE (the card answered 6A80
    and left the file unchanged). ``reason`` is the application's explanation, if it gave
    one; it names the problem, never a secret."""

    ef_name: str
    reason: str


@dataclass(slots=True)
class Response:
    """The R-APDU to send, always the last event of an exchange."""

    rapdu: bytes


TraceEvent = ApduExchanged | WriteRefused
CardEvent = StateChanged | ApduExchanged | WriteRefused | Response
