"""PIN1 / ADM1 presentation, only when a READ needs it, never twice, never on the last try.

Policy (the card's retry counters are precious):
* Nothing is presented unless the user gave it (`--pin1`, `--adm`).
* A secret is tried only after a READ answered 6982, and at most once per run.
* Before presenting, the retry counter is queried (VERIFY without data, TS 102 221 clause
  11.1.9): 9000 means already verified or disabled (nothing presented); 63C1 means one try
  left, and the secret is not presented; 63C0 / 6983 means blocked.
* A wrong secret is reported and never retried.

Secret values never appear in a message, a repr or an event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apdu.ins import INS_VERIFY
from apdu.pins import PIN_BLOCK, encode_pin
from apdu.sw import SW_AUTH_METHOD_BLOCKED, SW_OK, SW_VERIFICATION_FAILED
from specs.layout import layout

from .link import Link

__all__ = ["AuthEvent", "Authenticator", "Secret", "adm_block", "pin_block"]

_SW1_MASK = 0xFFF0
_HEX_BLOCK = re.compile(rf"[0-9A-Fa-f]{{{2 * PIN_BLOCK}}}")
_ADM_DIGITS = re.compile(rf"[0-9]{{{PIN_BLOCK}}}")


def pin_block(digits: str) -> bytes:
    """The 8-byte block of a PIN given as 4..8 digits; ValueError (without the value)."""
    try:
        return encode_pin(digits)
    except (ValueError, UnicodeError):
        raise ValueError("must be 4 to 8 decimal digits") from None


def adm_block(text: str) -> bytes:
    """ADM1 as 8 ASCII digits or 16 hex digits (the raw key block), as in profiles."""
    if _ADM_DIGITS.fullmatch(text):
        return text.encode("ascii")
    if _HEX_BLOCK.fullmatch(text):
        return bytes.fromhex(text)
    raise ValueError(f"must be {PIN_BLOCK} decimal digits or {2 * PIN_BLOCK} hex digits")


@dataclass
class Secret:
    name: str  # "PIN1", "ADM1": the key_references names of specs/filesystem.yaml
    option: str  # the CLI option that gives it, for messages
    block: bytes = field(repr=False)
    state: str = "unused"  # unused | verified | not needed | refused | blocked | failed

    @property
    def ref(self) -> int:
        return layout().key_references[self.name]


@dataclass(frozen=True)
class AuthEvent:
    level: str  # "error" | "warning" | "info"
    message: str


class Authenticator:
    """Unlocks READs that answered 6982 with the secrets the user gave, in order."""

    def __init__(self, link: Link, secrets: list[Secret]) -> None:
        self.link = link
        self.secrets = secrets
        self.events: list[AuthEvent] = []

    def _event(self, level: str, message: str) -> None:
        self.events.append(AuthEvent(level, message))

    def unlock(self) -> bool:
        """Try the next untried secret; True when one was newly verified (retry the READ)."""
        return any(secret.state == "unused" and self._verify(secret) for secret in self.secrets)

    def missing_hint(self) -> str:
        given = {s.option for s in self.secrets}
        hints = [o for o in ("--pin1", "--adm") if o not in given]
        tried = [f"{s.name} {s.state}" for s in self.secrets if s.state != "unused"]
        text = "READ needs a verified PIN or ADM (6982)"
        if tried:
            text += f"; {', '.join(tried)}"
        if hints:
            text += f"; give {' or '.join(hints)}"
        return text

    def _verify(self, secret: Secret) -> bool:
        _, sw = self.link.send(INS_VERIFY, 0x00, secret.ref)  # counter query, no data
        if sw == SW_OK:
            secret.state = "not needed"
            self._event("info", f"{secret.name} already verified or disabled: not presented")
            return False
        if sw in (SW_AUTH_METHOD_BLOCKED, SW_VERIFICATION_FAILED):
            secret.state = "blocked"
            self._event("error", f"{secret.name} is blocked: not presented")
            return False
        if sw & _SW1_MASK != SW_VERIFICATION_FAILED:
            secret.state = "failed"
            self._event("error", f"{secret.name}: retry counter query answered {sw:04X}; "
                                 "not presented")
            return False
        tries = sw & 0x0F
        if tries == 1:
            secret.state = "refused"
            self._event("error", f"{secret.name} has only 1 try left: not presented (a wrong "
                                 "value would block it)")
            return False
        _, sw = self.link.send(INS_VERIFY, 0x00, secret.ref, secret.block)
        if sw == SW_OK:
            secret.state = "verified"
            self._event("info", f"{secret.name} verified ({secret.option})")
            return True
        secret.state = "failed"
        if sw & _SW1_MASK == SW_VERIFICATION_FAILED:
            self._event("error", f"{secret.name} given with {secret.option} is wrong "
                                 f"({sw & 0x0F} tries left); not retried")
        else:
            self._event("error", f"{secret.name} verification answered {sw:04X}; not retried")
        return False
