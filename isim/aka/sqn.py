"""Sequence number handling at the card: the SQN array scheme of TS 33.102 Annex C.2.

SQN (48 bits) = SEQ || IND, IND being the low `ind_bits` bits (C.1.1). The card keeps one
SEQ_MS per IND value. A received SQN is accepted when (C.2.2):

* delta check: SEQ - SEQ_MS <= delta, SEQ_MS being the highest SEQ accepted so far;
* optional L check: SEQ_MS - SEQ < limit;
* freshness: SEQ > SEQ_MS(IND).

The profile's SQN is the card's initial SQN_MS: every array entry starts at its SEQ, so the
first acceptable SQN in each IND slot is one SEQ above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_IND_BITS",
    "MAX_IND_BITS",
    "SQN_BITS",
    "SQN_MAX",
    "SqnArray",
    "SqnConfig",
    "check_sqn",
    "next_sqn",
]

SQN_BITS = 48
SQN_MAX = (1 << SQN_BITS) - 1


def check_sqn(sqn: int) -> None:
    """ValueError unless `sqn` is an integer SQN (48 bits)."""
    if isinstance(sqn, bool) or not isinstance(sqn, int) or not 0 <= sqn <= SQN_MAX:
        raise ValueError(f"SQN must be an integer in 0..2**48-1, got {sqn!r}")


# TS 33.102 C.3 (recommended values): the defaults of every card and profile
DEFAULT_IND_BITS = 5
MAX_IND_BITS = 16  # isim's bound on the IND length (the card keeps 2**ind_bits SEQs)
DEFAULT_DELTA = 2**28


@dataclass(frozen=True)
class SqnConfig:
    """Annex C parameters; the defaults are the recommended values of C.3."""

    ind_bits: int = DEFAULT_IND_BITS
    delta: int = DEFAULT_DELTA
    limit: int | None = None  # L of C.2.2; None disables the check

    def __post_init__(self) -> None:
        if not isinstance(self.ind_bits, int) or not 0 <= self.ind_bits <= MAX_IND_BITS:
            raise ValueError(f"ind_bits must be in 0..{MAX_IND_BITS}, got {self.ind_bits!r}")
        if not isinstance(self.delta, int) or self.delta < 1:
            raise ValueError(f"delta must be a positive integer, got {self.delta!r}")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ValueError(f"limit must be a positive integer or None, got {self.limit!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"ind_bits": self.ind_bits, "delta": self.delta, "limit": self.limit}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SqnConfig:
        return cls(ind_bits=d.get("ind_bits", DEFAULT_IND_BITS),
                   delta=d.get("delta", DEFAULT_DELTA), limit=d.get("limit"))


def next_sqn(sqn: int, ind_bits: int = DEFAULT_IND_BITS) -> int:
    """Network side: the next SQN of the same IND slot (SEQ + 1, IND kept; C.1.2)."""
    check_sqn(sqn)
    nxt = sqn + (1 << ind_bits)
    if nxt > SQN_MAX:
        raise ValueError("SQN space exhausted (SEQ would wrap)")
    return nxt


class SqnArray:
    """SEQ_MS(0 .. 2**ind_bits - 1) plus SQN_MS, the highest SQN accepted."""

    __slots__ = ("_config", "_ind_mask", "_seq", "_sqn_ms")

    def __init__(self, config: SqnConfig | None = None, initial_sqn: int = 0) -> None:
        check_sqn(initial_sqn)
        self._config = config or SqnConfig()
        self._ind_mask = (1 << self._config.ind_bits) - 1
        seq = initial_sqn >> self._config.ind_bits
        self._seq = [seq] * (1 << self._config.ind_bits)
        self._sqn_ms = initial_sqn

    @property
    def config(self) -> SqnConfig:
        return self._config

    @property
    def sqn_ms(self) -> int:
        """The highest SQN accepted (initially the profile's SQN); AUTS is built from it."""
        return self._sqn_ms

    @property
    def seq_ms(self) -> tuple[int, ...]:
        """SEQ_MS per IND slot."""
        return tuple(self._seq)

    def check(self, sqn: int) -> bool:
        """True when `sqn` passes the delta, L and freshness checks of C.2.2."""
        if type(sqn) is not int or not 0 <= sqn <= SQN_MAX:
            check_sqn(sqn)
        cfg = self._config
        seq = sqn >> cfg.ind_bits
        highest = self._sqn_ms >> cfg.ind_bits
        if seq - highest > cfg.delta:
            return False
        if cfg.limit is not None and highest - seq >= cfg.limit:
            return False
        return seq > self._seq[sqn & self._ind_mask]

    def try_accept(self, sqn: int) -> bool:
        """check(sqn), then accept(sqn) when it passes, in one pass; True when accepted."""
        if type(sqn) is not int or not 0 <= sqn <= SQN_MAX:
            check_sqn(sqn)
        cfg = self._config
        shift = cfg.ind_bits
        seq = sqn >> shift
        highest = self._sqn_ms >> shift
        if seq - highest > cfg.delta:
            return False
        if cfg.limit is not None and highest - seq >= cfg.limit:
            return False
        slots = self._seq
        ind = sqn & self._ind_mask
        if seq <= slots[ind]:
            return False
        slots[ind] = seq
        if sqn > self._sqn_ms:
            self._sqn_ms = sqn
        return True

    def accept(self, sqn: int) -> None:
        """Record `sqn` as used: SEQ_MS(IND) = SEQ. Refuses an SQN that does not pass check()."""
        if not self.check(sqn):
            raise ValueError("SQN not acceptable")
        self._seq[sqn & self._ind_mask] = sqn >> self._config.ind_bits
        if sqn > self._sqn_ms:
            self._sqn_ms = sqn

    def copy(self) -> SqnArray:
        return SqnArray.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (the persisted card state)."""
        return {
            **self._config.to_dict(),
            "sqn_ms": f"{self._sqn_ms:012x}",
            "seq_ms": list(self._seq),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SqnArray:
        """Inverse of to_dict(); ValueError for an inconsistent state."""
        try:
            config = SqnConfig.from_dict(d)
            sqn_ms = int(d["sqn_ms"], 16)
            seq = [int(x) for x in d["seq_ms"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad SQN state: {exc}") from exc
        arr = cls(config, sqn_ms)
        if len(seq) != len(arr._seq):
            raise ValueError("bad SQN state: seq_ms length does not match ind_bits")
        if any(isinstance(x, bool) or x < 0 for x in seq):
            raise ValueError("bad SQN state: negative SEQ")
        # Invariants: SQN_MS carries the highest SEQ, and its own slot holds that SEQ.
        top = sqn_ms >> config.ind_bits
        if max(seq) != top or seq[sqn_ms & arr._ind_mask] != top:
            raise ValueError("bad SQN state: sqn_ms does not match seq_ms")
        arr._seq = seq
        return arr

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SqnArray):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SqnArray(ind_bits={self._config.ind_bits}, sqn_ms={self._sqn_ms:012x})"
