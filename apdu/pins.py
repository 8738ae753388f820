"""PINs, unblock keys, retry counters and the verification state
(TS 102 221 clauses 9.5, 11.1.9-11.1.13).

Dict form (inside `Card.to_dict()["pins"]`, keyed by the key reference in hex, TS 102 221
table 9.3: "01" PIN1, "81" PIN2, "0A" ADM1, ...):

    {"01": {"value": "1234",            # 4..8 ASCII digits (or "value_hex": 16 hex digits,
                                        #  the raw 8-byte block, e.g. for an ADM key)
            "tries": 3, "max_tries": 3, # remaining / initial retries (clause 9.5.3)
            "enabled": true,            # forced true for ADM key refs (0A-0E, 8A-8E)
            "unblock": "12345678",      # optional: the UNBLOCK PIN (PUK), 8 digits
            "unblock_tries": 10, "max_unblock_tries": 10}}

Secrets: the values never appear in a repr, an exception message or a response.

Decisions where TS 102 221 leaves room:
* VERIFY / UNBLOCK with no data (counter query): VERIFY answers 9000 when the PIN is disabled
  or already verified, else 63CX (X = remaining tries, 63C0 when blocked). UNBLOCK always
  answers 63CX with the unblock counter.
* VERIFY or CHANGE on a disabled PIN: 6984 (referenced data invalidated).
* DISABLE of an already disabled PIN, ENABLE of an enabled one, DISABLE/ENABLE of an ADM
  key: 6985 (conditions of use not satisfied). UNBLOCK of a key without unblock key: 6A88.
* A new PIN (CHANGE / UNBLOCK) that is not 4..8 ASCII digits padded with FF: 6A80, and no
  retry is consumed. A successful ENABLE, DISABLE, CHANGE or UNBLOCK also verifies the PIN.
* A wrong presentation clears that PIN's verified state.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from apdu.sw import (
    SW_AUTH_METHOD_BLOCKED,
    SW_CONDITIONS_OF_USE_NOT_SATISFIED,
    SW_INCORRECT_DATA,
    SW_INCORRECT_P1_P2,
    SW_OK,
    SW_REFERENCED_DATA_INVALIDATED,
    SW_REFERENCED_DATA_NOT_FOUND,
    SW_VERIFICATION_FAILED,
    SW_WRONG_LENGTH,
)

if TYPE_CHECKING:
    from apdu.engine import Card

__all__ = ["Pin", "PinStore", "encode_pin", "is_pin_block"]

PIN_BLOCK = 8  # clause 9.5.1: PINs are 8 bytes, ASCII digits padded with FF
_ADM_REFS = frozenset(range(0x0A, 0x0F)) | frozenset(range(0x8A, 0x8F))
_EMPTY = b""


def is_pin_block(block: bytes) -> bool:
    """4..8 ASCII digits followed by FF padding (clause 9.5.1)."""
    if len(block) != PIN_BLOCK:
        return False
    digits = block.rstrip(b"\xff")
    return 4 <= len(digits) <= PIN_BLOCK and digits.isdigit() and digits.isascii()


def encode_pin(digits: str) -> bytes:
    """The 8-byte block of a PIN given as 4..8 digits."""
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError("a PIN must be 4..8 decimal digits")
    block = digits.encode("ascii").ljust(PIN_BLOCK, b"\xff")
    if not is_pin_block(block):
        raise ValueError("a PIN must be 4..8 decimal digits")
    return block


class Pin:
    """One key reference: value, retry counter, enabled flag, optional unblock key."""

    __slots__ = (
        "enabled",
        "max_tries",
        "max_unblock_tries",
        "ref",
        "tries",
        "unblock",
        "unblock_tries",
        "value",
        "verified",
    )

    def __init__(self, ref: int, d: dict[str, Any]) -> None:
        self.ref = ref
        if "value_hex" in d:
            value = bytes.fromhex(d["value_hex"])
            if len(value) != PIN_BLOCK:
                raise ValueError(f"key {ref:02X}: value_hex must be 8 bytes")
        else:
            value = encode_pin(str(d["value"]))
        self.value = value
        self.max_tries = int(d.get("max_tries", 3))  # clause 9.5.3: PIN counter 3
        self.tries = int(d.get("tries", self.max_tries))
        self.enabled = True if ref in _ADM_REFS else bool(d.get("enabled", True))
        unblock = d.get("unblock")
        self.unblock = encode_pin(str(unblock)) if unblock is not None else None
        self.max_unblock_tries = int(d.get("max_unblock_tries", 10))  # clause 9.5.3: 10
        self.unblock_tries = int(d.get("unblock_tries", self.max_unblock_tries))
        if not (0 <= self.tries <= self.max_tries <= 15):
            raise ValueError(f"key {ref:02X}: need 0 <= tries <= max_tries <= 15")
        if not (0 <= self.unblock_tries <= self.max_unblock_tries <= 15):
            raise ValueError(f"key {ref:02X}: need 0 <= unblock_tries <= max_unblock_tries <= 15")
        self.verified = False  # volatile: cleared by reset / power cycle

    @property
    def can_disable(self) -> bool:
        return self.ref not in _ADM_REFS

    def to_dict(self) -> dict[str, Any]:
        digits = self.value.rstrip(b"\xff")
        out: dict[str, Any] = (
            {"value": digits.decode("ascii")}
            if is_pin_block(self.value)
            else {"value_hex": self.value.hex().upper()}
        )
        out.update(tries=self.tries, max_tries=self.max_tries, enabled=self.enabled)
        if self.unblock is not None:
            out["unblock"] = self.unblock.rstrip(b"\xff").decode("ascii")
            out.update(unblock_tries=self.unblock_tries, max_unblock_tries=self.max_unblock_tries)
        return out

    def __repr__(self) -> str:  # never the values
        return (
            f"Pin({self.ref:02X}, tries={self.tries}/{self.max_tries}, enabled={self.enabled}, "
            f"verified={self.verified})"
        )


class PinStore:
    """All key references of the card; `satisfied` = refs whose condition is met."""

    __slots__ = ("pins", "satisfied")

    def __init__(self, d: dict[str, Any]) -> None:
        self.pins: dict[int, Pin] = {}
        for key, value in d.items():
            ref = int(key, 16)
            if not 0 <= ref <= 0xFF:
                raise ValueError(f"invalid key reference {key!r}")
            self.pins[ref] = Pin(ref, value)
        self.satisfied: frozenset[int] = frozenset()
        self.refresh()

    def refresh(self) -> None:
        # clause 9.5.1: a disabled PIN's condition counts as satisfied
        self.satisfied = frozenset(r for r, p in self.pins.items() if p.verified or not p.enabled)

    def reset(self) -> None:
        for p in self.pins.values():
            p.verified = False
        self.refresh()

    def status(self) -> list[tuple[int, bool]]:
        """(key ref, enabled) in dict order, for the FCP's PIN status template."""
        return [(r, p.enabled) for r, p in self.pins.items()]

    def to_dict(self) -> dict[str, Any]:
        return {f"{r:02X}": p.to_dict() for r, p in self.pins.items()}

    def __repr__(self) -> str:
        return f"PinStore({list(self.pins.values())!r})"


# --- commands ----------------------------------------------------------------------------------


def _present(card: Card, pin: Pin, block: bytes) -> int:
    """Compare a presented PIN; update counter and verified state; SW_OK or 63CX."""
    if hmac.compare_digest(block, pin.value):
        if pin.tries != pin.max_tries:
            pin.tries = pin.max_tries
            card.mark_changed()
        pin.verified = True
        card.pins.refresh()
        return SW_OK
    pin.tries -= 1
    pin.verified = False
    card.pins.refresh()
    card.mark_changed()
    return SW_VERIFICATION_FAILED | pin.tries


def _lookup(card: Card, p1: int, p2: int) -> Pin | int:
    if p1 != 0:
        return SW_INCORRECT_P1_P2
    pin = card.pins.pins.get(p2)
    return SW_REFERENCED_DATA_NOT_FOUND if pin is None else pin


def verify(card: Card, ch: Any, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    # clause 11.1.9 VERIFY PIN
    pin = _lookup(card, p1, p2)
    if isinstance(pin, int):
        return _EMPTY, pin
    if not data:  # counter query
        if pin.verified or not pin.enabled:
            return _EMPTY, SW_OK
        return _EMPTY, SW_VERIFICATION_FAILED | pin.tries
    if len(data) != PIN_BLOCK:
        return _EMPTY, SW_WRONG_LENGTH
    if not pin.enabled:
        return _EMPTY, SW_REFERENCED_DATA_INVALIDATED
    if pin.tries == 0:
        return _EMPTY, SW_AUTH_METHOD_BLOCKED
    return _EMPTY, _present(card, pin, data)


def change(card: Card, ch: Any, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    # clause 11.1.10 CHANGE PIN: old PIN || new PIN
    pin = _lookup(card, p1, p2)
    if isinstance(pin, int):
        return _EMPTY, pin
    if len(data) != 2 * PIN_BLOCK:
        return _EMPTY, SW_WRONG_LENGTH
    if not pin.enabled:
        return _EMPTY, SW_REFERENCED_DATA_INVALIDATED
    if pin.tries == 0:
        return _EMPTY, SW_AUTH_METHOD_BLOCKED
    new = data[PIN_BLOCK:]
    if not is_pin_block(new):
        return _EMPTY, SW_INCORRECT_DATA
    sw = _present(card, pin, data[:PIN_BLOCK])
    if sw == SW_OK:
        pin.value = bytes(new)
        card.mark_changed()
    return _EMPTY, sw


def _toggle(card: Card, p1: int, p2: int, data: bytes, enable: bool) -> tuple[bytes, int]:
    # clauses 11.1.11 DISABLE PIN / 11.1.12 ENABLE PIN
    pin = _lookup(card, p1, p2)
    if isinstance(pin, int):
        return _EMPTY, pin
    if len(data) != PIN_BLOCK:
        return _EMPTY, SW_WRONG_LENGTH
    if not pin.can_disable or pin.enabled == enable:
        return _EMPTY, SW_CONDITIONS_OF_USE_NOT_SATISFIED
    if pin.tries == 0:
        return _EMPTY, SW_AUTH_METHOD_BLOCKED
    sw = _present(card, pin, data)
    if sw == SW_OK:
        pin.enabled = enable
        card.pins.refresh()
        card.pin_status_changed()
    return _EMPTY, sw


def disable(card: Card, ch: Any, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    return _toggle(card, p1, p2, data, False)


def enable(card: Card, ch: Any, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    return _toggle(card, p1, p2, data, True)


def unblock(card: Card, ch: Any, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    # clause 11.1.13 UNBLOCK PIN: unblock key || new PIN; empty data = counter query
    pin = _lookup(card, p1, p2)
    if isinstance(pin, int):
        return _EMPTY, pin
    if pin.unblock is None:
        return _EMPTY, SW_REFERENCED_DATA_NOT_FOUND
    if not data:
        return _EMPTY, SW_VERIFICATION_FAILED | pin.unblock_tries
    if len(data) != 2 * PIN_BLOCK:
        return _EMPTY, SW_WRONG_LENGTH
    if pin.unblock_tries == 0:
        return _EMPTY, SW_AUTH_METHOD_BLOCKED
    new = data[PIN_BLOCK:]
    if not is_pin_block(new):
        return _EMPTY, SW_INCORRECT_DATA
    card.mark_changed()
    if not hmac.compare_digest(data[:PIN_BLOCK], pin.unblock):
        pin.unblock_tries -= 1
        return _EMPTY, SW_VERIFICATION_FAILED | pin.unblock_tries
    pin.value = bytes(new)
    pin.tries = pin.max_tries
    pin.unblock_tries = pin.max_unblock_tries
    was_enabled = pin.enabled
    pin.enabled = True
    pin.verified = True
    card.pins.refresh()
    if not was_enabled:
        card.pin_status_changed()
    return _EMPTY, SW_OK
