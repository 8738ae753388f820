"""`isim inspect` reads and checks the USIM: decoded files, EF.IMSI against EF.AD, EF.UST
against the files present, and the trust rule on a card without ISIM."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from isim.card.image import CardImage, build_image, save_image
from isim.cli import EXIT_OK, EXIT_VIOLATION, main
from isim.codecs import codec_for
from isim.codecs.usim import UsimAdministrativeData
from isim.profile.model import load_profile, profile_from_mapping

ROOT = Path(__file__).resolve().parent.parent
ALICE = ROOT / "examples" / "alice.yaml"
DOMAINS = ("--trust-domain", "3gppnetwork.org", "--trust-domain", "ims.example.com")


def inspect(image: CardImage, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "card.json"
    save_image(path, image)
    result = CliRunner().invoke(main, ["inspect", "--image", str(path), "--json", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.output)


def usim_node(image: CardImage, name: str) -> dict[str, Any]:
    adf = next(a for a in image.card["adfs"] if a["name"] == "ADF.USIM")
    return next(f for f in adf["files"] if f.get("name") == name)


def test_usim_files_are_read_and_decoded(tmp_path: Path) -> None:
    code, out = inspect(build_image(load_profile(ALICE)), tmp_path, *DOMAINS, "--strict")
    assert (code, out["findings"]) == (EXIT_OK, [])
    usim = out["usim"]
    assert usim["aid"].startswith("A0000000871002") and usim["in_ef_dir"]
    files = {f["name"]: f["decoded"] for f in usim["files"]}
    assert files["EF.IMSI"] == {"imsi": "001010123456789"}
    assert files["EF.AD"]["mnc_length"] == 2
    assert 27 in files["EF.UST"]["services"]
    assert "EF.Routing_Indicator" in files and "EF.Kc" in files  # DF.5GS, DF.GSM-ACCESS
    assert set(usim["absent"]) == {"EF.MSISDN", "EF.SPN", "EF.EST"}


def _broken(change: Any) -> CardImage:
    image = build_image(load_profile(ALICE))
    image = CardImage(image.iccid, copy.deepcopy(image.card), image.isim, image.usim)
    change(image)
    return image


def test_mnc_length_and_ust_against_the_files(tmp_path: Path) -> None:
    def bad_ad(image: CardImage) -> None:
        ad = codec_for("USIM/EF.AD").encode(UsimAdministrativeData(mnc_length=2))
        usim_node(image, "EF.AD")["content"] = (ad[:3] + b"\x04").hex()

    code, out = inspect(_broken(bad_ad), tmp_path, *DOMAINS)
    assert code == EXIT_VIOLATION
    assert [(f["file"], f["check"]) for f in out["findings"]] == [("USIM/EF.AD", "spec")]

    def spn_off(image: CardImage) -> None:
        ust = usim_node(image, "EF.UST")
        ust["content"] = codec_for("EF.UST").encode({20, 33, 42, 43}).hex()  # 27, 85... off

    code, out = inspect(_broken(spn_off), tmp_path, *DOMAINS)
    missing = {f["file"] for f in out["findings"] if f["level"] == "warning"}
    assert {"USIM/EF.EPSLOCI", "USIM/EF.Kc", "USIM/EF.Routing_Indicator"} <= missing


def test_usim_only_card_and_the_rule_on_derived_identities(tmp_path: Path) -> None:
    data = yaml.safe_load(ALICE.read_text())
    for key in ("impu", "pcscf", "ist", "label"):
        data.pop(key)
    image = build_image(profile_from_mapping({**data, "applications": ["usim"]}))
    code, out = inspect(image, tmp_path, "--trust-domain", "3gppnetwork.org", "--strict")
    assert (code, out["findings"]) == (EXIT_OK, [])
    code, out = inspect(image, tmp_path, "--trust-domain", "example.com")
    assert code == EXIT_VIOLATION
    rule = [f for f in out["findings"] if f["check"] == "rule"]
    assert rule and all("derived from the IMSI" in f["message"] for f in rule)
