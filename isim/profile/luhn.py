"""The Luhn check digit of an ICCID (ITU-T E.118 clause 4.2, the algorithm of ISO/IEC 7812-1
annex B): from the right, the check digit and every second digit as they are, the others
doubled (less 9 when that gives two digits); the sum is a multiple of 10."""

from __future__ import annotations

__all__ = ["luhn_digit", "luhn_ok"]

_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")  # 2d, less 9 when it has 2 digits


def _total(digits: str) -> int:
    """The Luhn sum of ASCII decimal digits, the last one taken as the check digit (each
    byte is 48 + its digit: the sum runs over bytes, with no Python loop)."""
    rev = digits.encode()[::-1]
    return sum(rev[0::2]) + sum(rev[1::2].translate(_DOUBLE)) - 48 * len(rev)


def luhn_ok(digits: str) -> bool:
    """Whether ASCII decimal `digits` end in their Luhn check digit."""
    return _total(digits) % 10 == 0


def luhn_digit(body: str) -> str:
    """The check digit that completes ASCII decimal `body`."""
    return str(-_total(body + "0") % 10)
