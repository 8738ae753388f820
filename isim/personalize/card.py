"""Everything produced for one card from its validated profile: image, script, HSS row."""

from __future__ import annotations

from dataclasses import dataclass

from apdu.layout import layout
from isim.contents import card_contents
from isim.image import build_image, image_bytes
from isim.profile import Profile

from .hss import HssRecord
from .script import Command, EfWrite, personalization_commands, render_scriptor

__all__ = ["CardOutput", "card_commands", "card_output", "ef_writes", "pin_block"]

PIN_BLOCK = 8  # VERIFY data: the PIN in ASCII, padded with FF to 8 bytes (TS 102 221 9.5.2)


@dataclass(frozen=True)
class CardOutput:
    iccid: str
    image: bytes
    script: str
    hss: HssRecord


def pin_block(pin: str) -> bytes:
    return pin.encode("ascii").ljust(PIN_BLOCK, b"\xff")


def ef_writes(profile: Profile) -> list[EfWrite]:
    """Every EF of the card with the content the profile gives it, in the card's order."""
    return [
        EfWrite(f.df, f.ef, f.content if isinstance(f.content, bytes) else tuple(f.content))
        for f in card_contents(profile).files
    ]


def card_commands(
    profile: Profile, files: list[EfWrite] | None = None
) -> tuple[list[Command], list[Command]]:
    """(writes, read-back) APDUs that personalize a card to `profile`."""
    refs = layout().key_references
    pin1 = (refs["PIN1"], pin_block(profile.pin1)) if profile.pin1_enabled else None
    return personalization_commands(
        files if files is not None else ef_writes(profile),
        adm1=(refs["ADM1"], profile.adm1),
        pin1=pin1,
    )


def card_output(profile: Profile, *, row_label: str = "") -> CardOutput:
    writes, reads = card_commands(profile)
    header = [
        "isim personalization script (scriptor format, pcsc-tools)",
        f"card ICCID {profile.iccid}" + (f", batch {row_label}" if row_label else ""),
        "holds ADM1 and PIN1 in the VERIFY commands: keep it secret",
    ]
    return CardOutput(
        iccid=profile.iccid,
        image=image_bytes(build_image(profile)),
        script=render_scriptor(header, writes, reads),
        hss=HssRecord(profile.iccid, profile.imsi or "", profile.impi, profile.impu,
                      profile.k, profile.opc),
    )
