"""`isim inspect`: read an ISIM card (a PC/SC reader, or a card image in the in-process
engine) with SELECT / READ / VERIFY only, and judge it against specs/filesystem.yaml, the
codecs and the trust-domain rule.

    from isim.inspect import inspect_source, image_source
    ins = inspect_source(image_source(path), trust_domains=None)   # image's own domains
    ins.findings, ins.passed(strict=False)

Modules: `link` (read-only APDU guard), `auth` (PIN1/ADM policy), `fcp`, `reader` (what the
card holds), `checks` + `identity` (findings), `report` (JSON; the terminal tables are
`isim.cli.render`), `sources`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .checks import DecodedEF, Inspection, inspect
from .findings import ERROR, WARNING, Finding
from .link import CardUnreadable
from .reader import CardRead, EFRead, read_card
from .sources import CardSource, image_source, open_image, reader_source

__all__ = [
    "ERROR",
    "WARNING",
    "CardRead",
    "CardSource",
    "CardUnreadable",
    "DecodedEF",
    "EFRead",
    "Finding",
    "Inspection",
    "image_source",
    "inspect",
    "inspect_source",
    "open_image",
    "read_card",
    "reader_source",
]


def inspect_source(source: CardSource, trust_domains: Sequence[str] | None = None, *,
                   pin1: bytes | None = None, adm: bytes | None = None) -> Inspection:
    """Read and judge. `trust_domains` None: the source's own (an image's), else the rule
    is reported as not checked. Raises `CardUnreadable`."""
    card = read_card(source.transmit, source.atr, pin1=pin1, adm=adm)
    domains = trust_domains if trust_domains is not None else source.trust_domains
    return inspect(card, domains)
