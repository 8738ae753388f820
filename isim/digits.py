"""Decimal numbers in text from outside (arguments, SIP headers, hostapd's requests)."""

from __future__ import annotations

__all__ = ["is_number"]


def is_number(text: str, max_digits: int = 9) -> bool:
    """ASCII decimal digits that int() converts (str.isdigit() is true for '²', which int()
    refuses; int() refuses more than 4,300 digits)."""
    return text.isascii() and text.isdecimal() and len(text) <= max_digits
