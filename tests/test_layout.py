"""specs.layout is data-driven: a second application is YAML only (no Python change)."""

from __future__ import annotations

import copy

from apdu.build import card_dict
from apdu.engine import Card
from demo_card import DEMO_PINS, DemoApplication
from specs import filesystem
from specs.layout import layout, layout_from

SECOND_AID = "A0000000871009FFFFFFFF8907090000"  # an AID no layout application has


def _with_second_application() -> dict:
    raw = copy.deepcopy(filesystem())
    isim = raw["applications"]["ADF.ISIM"]
    second = dict(isim, aid=SECOND_AID, label="SECOND", access_rules="second")
    second["files"] = {"EF.ARR": isim["files"]["EF.ARR"], "EF.AD": isim["files"]["EF.AD"]}
    raw["applications"]["ADF.SECOND"] = second
    raw["access_rules"]["second"] = raw["access_rules"]["isim"]
    return raw


def test_a_second_adf_from_data_only() -> None:
    spec = layout_from(_with_second_application())
    assert list(spec.applications) == [*layout().applications, "ADF.SECOND"]
    second = spec.applications["ADF.SECOND"]
    assert second.access_rules == layout().applications["ADF.ISIM"].access_rules
    assert second.aid == bytes.fromhex(SECOND_AID)

    d = card_dict(pins=DEMO_PINS, spec=spec)
    apps = [DemoApplication(bytes.fromhex(a["aid"])) for a in d["adfs"]]
    card = Card.from_dict(d, applications=apps)
    card.power_on()
    aid = bytes.fromhex(SECOND_AID)
    r = card.process(bytes([0x00, 0xA4, 0x04, 0x04, len(aid)]) + aid + b"\x00")
    assert r[-2:] == b"\x90\x00" and aid in r  # its FCP names it (tag 84)
    r = card.process(bytes.fromhex("00A4000C026FAD"))  # EF.AD below it
    assert r == b"\x90\x00"
    r = card.process(bytes.fromhex("00A4000C026F02"))  # EF.IMPI is the ISIM's only
    assert r == b"\x6a\x82"
