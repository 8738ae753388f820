"""Trivial card responders implementing `transport.vpcd.VirtualCard`, for benchmarks and tests."""

from __future__ import annotations

from apdu.atr import DEFAULT_ATR
from apdu.sw import SW_OK_BYTES

__all__ = ["UICC_ATR", "TrivialCard"]

UICC_ATR = DEFAULT_ATR  # the one ATR (apdu.atr)


class TrivialCard:
    """Answers 9000 to every C-APDU; counts what it sees."""

    def __init__(self, atr: bytes = UICC_ATR) -> None:
        self._atr = bytes(atr)
        self.powered = False
        self.power_ons = 0
        self.resets = 0
        self.commands = 0
        self.last_capdu: bytes | None = None

    @property
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> bytes:
        self.powered = True
        self.power_ons += 1
        return self._atr

    def power_off(self) -> None:
        self.powered = False

    def reset(self) -> bytes:
        self.powered = True
        self.resets += 1
        return self._atr

    def process(self, capdu: bytes) -> bytes:
        self.commands += 1
        self.last_capdu = capdu
        return SW_OK_BYTES
