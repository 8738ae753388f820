"""Everything produced for one card from its validated profile: image, script, HSS row."""

from __future__ import annotations

from dataclasses import dataclass

from apdu.pins import encode_pin
from isim.card.contents import CardContents, card_contents
from isim.card.image import build_image_json
from isim.card.statefile import new_state_key
from isim.profile.model import Profile
from specs.layout import layout

from .hss import HssRecord
from .script import Script, personalization_commands, render_scriptor

__all__ = ["CardOutput", "card_output", "card_script"]

@dataclass(frozen=True)
class CardOutput:
    iccid: str
    image: bytes
    script: str
    hss: HssRecord


def card_script(profile: Profile, contents: CardContents | None = None) -> Script:
    """The APDUs (writes, then read-back) that personalize a card to `profile`."""
    refs = layout().key_references
    pin1 = (refs["PIN1"], encode_pin(profile.pin1)) if profile.pin1_enabled else None
    return personalization_commands(
        contents or card_contents(profile), adm1=(refs["ADM1"], profile.adm1), pin1=pin1
    )


def card_output(profile: Profile, contents: CardContents | None = None, *,
                row_label: str = "") -> CardOutput:
    contents = contents or card_contents(profile)
    script = card_script(profile, contents)
    header = [
        "isim personalization script (scriptor format, pcsc-tools)",
        f"card ICCID {profile.iccid}" + (f", batch {row_label}" if row_label else ""),
        "holds ADM1 and PIN1 in the VERIFY commands: keep it secret",
    ]
    return CardOutput(
        iccid=profile.iccid,
        image=build_image_json(profile, contents, state_key=new_state_key()),
        script=render_scriptor(header, script),
        hss=HssRecord(profile.iccid, profile.imsi or "", profile.impi, profile.impu,
                      profile.k, profile.opc, profile.sqn),
    )
