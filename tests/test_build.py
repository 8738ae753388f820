"""apdu.build: the one card-tree builder behind production images and the test/demo cards."""

from __future__ import annotations

import dataclasses

import pytest

from apdu import build
from isim.card.image import build_image
from isim.profile.model import load_profile
from specs.layout import layout


def _efs(node: dict) -> dict[str, dict]:
    return {ef["name"]: ef for ef in node["files"]}


def test_production_and_test_cards_share_nodes() -> None:
    image = build_image(load_profile("examples/alice.yaml"))
    test_card = build.card_dict()
    for prod, test in ((image.card["mf"], test_card["mf"]),
                       (image.card["adfs"][0], test_card["adfs"][0])):
        assert {k: v for k, v in prod.items() if k != "files"} == {
            k: v for k, v in test.items() if k != "files"
        }
        prod_efs, test_efs = _efs(prod), _efs(test)
        assert set(prod_efs) <= set(test_efs)
        for name in ("EF.ARR", "EF.PL", "EF.AD"):
            if name in prod_efs:  # files whose content no profile key changes here
                assert prod_efs[name] == test_efs[name], name


def test_record_default_is_honoured() -> None:
    """The drift of old: isim.card.contents ignored a record EF's `default`."""
    impu = layout().applications["ADF.ISIM"].files["EF.IMPU"]
    ef = dataclasses.replace(impu, default=bytes.fromhex("8000"))
    records = build.default_content(ef)
    assert isinstance(records, tuple) and len(records) == ef.records
    assert all(r == b"\x80\x00" + b"\xff" * (ef.record_length - 2) for r in records)


def test_effective_spec() -> None:
    impi = layout().applications["ADF.ISIM"].files["EF.IMPI"]
    assert build.effective_spec(impi, ()) is impi
    assert build.effective_spec(impi, (("size", 99),)).size == 99
    with pytest.raises(ValueError, match="unknown size keys"):
        build.effective_spec(impi, (("colour", 1),))
