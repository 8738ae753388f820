"""One vpcd connection, sans-IO: bytes from vpcd in, framed replies out, typed events to an
observer. The socket loop (transport.vpcd) only moves bytes.

Wire format (vsmartcard's vpcd <-> vicc protocol): every message, both ways, is a 2-byte
big-endian length followed by that many bytes. A 1-byte message from vpcd is a control
code (00 power off, 01 power on, 02 reset, 04 get ATR); only 04 is answered (with the
ATR). Any longer message is a C-APDU, answered with the R-APDU. A TCP connection is a card
in the reader: connecting inserts it, closing removes it.

C-APDUs go through `transport.driver.Driver` (process -> persist -> send). Nothing here
prints; diagnostics go to the ``transport.vpcd`` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from transport.driver import Driver, Observer, Persist

__all__ = [
    "CTRL_ATR",
    "CTRL_POWER_OFF",
    "CTRL_POWER_ON",
    "CTRL_RESET",
    "AtrSent",
    "CardInserted",
    "CardRemoved",
    "FramingError",
    "PoweredOff",
    "PoweredOn",
    "VirtualCard",
    "VpcdSession",
    "WarmReset",
    "frame",
]

log = logging.getLogger("transport.vpcd")

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04
MAX_MESSAGE = 0xFFFF


@runtime_checkable
class VirtualCard(Protocol):
    """What the transport drives (implemented by `apdu.engine.Card`, which also has the
    `receive(capdu) -> events` the driver prefers)."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> bytes:
        """Cold start; returns the ATR."""
        ...

    def power_off(self) -> None: ...

    def reset(self) -> bytes:
        """Warm reset; returns the ATR."""
        ...

    def process(self, capdu: bytes) -> bytes:
        """One C-APDU in, the R-APDU (data + SW1 SW2) out."""
        ...


# --- the transport's trace events (the card's own are in apdu.events) -----------------------


@dataclass(frozen=True, slots=True)
class CardInserted:
    """A vpcd connection began: the card is in the reader."""


@dataclass(frozen=True, slots=True)
class CardRemoved:
    """The connection ended: the card left the reader (and is powered off)."""


@dataclass(frozen=True, slots=True)
class PoweredOn:
    pass


@dataclass(frozen=True, slots=True)
class PoweredOff:
    pass


@dataclass(frozen=True, slots=True)
class WarmReset:
    pass


@dataclass(frozen=True, slots=True)
class AtrSent:
    atr: bytes


class FramingError(ValueError):
    """vpcd sent something that is not a valid message (e.g. an empty frame)."""


def frame(body: bytes) -> bytes:
    """Length-prefix one message."""
    if len(body) > MAX_MESSAGE:
        raise FramingError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
    return len(body).to_bytes(2, "big") + body


_POWERED_ON = PoweredOn()
_POWERED_OFF = PoweredOff()
_WARM_RESET = WarmReset()


class VpcdSession:
    """The card side of one vpcd connection (one insertion).

    Feed it whatever bytes arrive with `receive`; it returns the framed replies to send, in
    order, one element per reply (so that each goes out in a single write).
    """

    def __init__(self, card: VirtualCard, *, persist: Persist | None = None,
                 observe: Observer | None = None) -> None:
        self.card = card
        self.observe = observe
        self.driver = Driver(card, persist=persist, observe=observe)
        self._exchange = self.driver.exchange
        self._buf = b""
        self.commands = 0  # C-APDUs answered on this connection
        self.messages = 0  # whole messages received on this connection
        self.unknown_controls = 0  # unknown control codes (one warning per connection)

    def _event(self, event: object) -> None:
        if self.observe is not None:
            self.observe(event)

    def connection_made(self) -> None:
        """A card is now in the reader (vpcd will power it on itself)."""
        self._buf = b""
        self._event(CardInserted())

    def connection_lost(self) -> None:
        """The card left the reader: power it off."""
        self._buf = b""
        if self.unknown_controls > 1:
            log.info("%d unknown vpcd control codes were ignored on this connection",
                     self.unknown_controls)
        self._event(CardRemoved())
        self.card.power_off()

    @property
    def pending(self) -> int:
        """Bytes received but not yet forming a whole message."""
        return len(self._buf)

    def receive(self, data: bytes) -> list[bytes]:
        """Consume bytes from vpcd; return the framed replies (possibly none)."""
        n = len(data)
        if not self._buf and n > 3 and (data[0] << 8) | data[1] == n - 2:
            # the usual case: exactly one C-APDU
            self.messages += 1
            self.commands += 1
            rapdu = self._exchange(data[2:])
            return [frame(rapdu)]
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        start = 0
        end = len(buf)
        while end - start >= 2:
            size = (buf[start] << 8) | buf[start + 1]
            if end - start < 2 + size:
                break
            body = buf[start + 2 : start + 2 + size]
            start += 2 + size
            self.messages += 1
            reply = self.handle(body)
            if reply is not None:
                out.append(frame(reply))
        self._buf = buf[start:] if start < end else b""
        return out

    def handle(self, message: bytes) -> bytes | None:
        """One whole message (without its length) -> the reply body, or None."""
        if len(message) > 1:
            self.commands += 1
            return self._exchange(message)
        if not message:
            raise FramingError("empty message from vpcd")
        return self._control(message[0])

    def _control(self, code: int) -> bytes | None:
        if code == CTRL_POWER_OFF:
            self._event(_POWERED_OFF)
            self.card.power_off()
        elif code == CTRL_POWER_ON:
            self._event(_POWERED_ON)
            self.card.power_on()
        elif code == CTRL_RESET:
            self._event(_WARM_RESET)
            self.card.reset()
        elif code == CTRL_ATR:
            atr = self.card.atr
            self._event(AtrSent(atr))
            return atr
        else:
            self.unknown_controls += 1
            if self.unknown_controls == 1:  # a flood of them gives one line, not thousands
                log.warning("unknown vpcd control code %02X ignored (further ones on this "
                            "connection are counted, not logged)", code)
        return None
