"""The USIM's profile keys through `isim check`: defaults derived for the example profiles,
malformed values exit 1 naming the key, and the trust rule on a USIM-only card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from isim.cli import EXIT_OK, EXIT_VIOLATION, main
from isim.codecs.usim import PlmnAct
from isim.profile.model import load_profile
from isim.usim.profile_keys import DEFAULT_UST

ROOT = Path(__file__).resolve().parent.parent
ALICE = yaml.safe_load((ROOT / "examples" / "alice.yaml").read_text())


def check(tmp_path: Path, **changes: object) -> tuple[int, str]:
    data = {**ALICE, **changes}
    for key, value in changes.items():
        if value is None:
            del data[key]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["check", "--json", str(path)])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def test_examples_gain_a_usim_with_derived_defaults() -> None:
    alice = load_profile(ROOT / "examples" / "alice.yaml")
    assert alice.applications == ("usim", "isim")
    assert alice.acc == (9,)  # the IMSI's last digit (TS 22.011 convention)
    assert alice.ust == DEFAULT_UST and 27 in alice.ust
    assert alice.hplmn_act == (PlmnAct("00101", ("utran", "e-utran", "ng-ran", "gsm")),)
    ts48 = load_profile(ROOT / "examples" / "ts48.yaml")
    assert ts48.acc == (6,) and ts48.has_usim


def test_spn_and_msisdn_switch_their_services_on(tmp_path: Path) -> None:
    code, _ = check(tmp_path, spn="Example", msisdn="+15551234567")
    assert code == EXIT_OK


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"imsi": "00101x"}, "imsi"),
        ({"mnc_length": 4}, "mnc_length"),
        ({"msisdn": "+1555-1234"}, "msisdn"),
        ({"msisdn": "1" * 21}, "msisdn"),
        ({"plmn_act": ["0010"]}, "plmn_act"),
        ({"oplmn_act": [{"plmn": "00101", "act": ["lte"]}]}, "oplmn_act"),
        ({"hplmn_act": "00101"}, "hplmn_act"),
        ({"fplmn": ["001012x"]}, "fplmn"),
        ({"acc": [10]}, "acc"),
        ({"acc": [16]}, "acc"),
        ({"ust": [0]}, "ust"),
        ({"est": [9]}, "est"),
        ({"ecc": ["1234567"]}, "ecc"),
        ({"routing_indicator": "12345"}, "routing_indicator"),
        ({"suci_calc_info": {"schemes": "x"}}, "suci_calc_info"),
        ({"spn": "x" * 17}, "spn"),
        ({"applications": ["usim", "usim"]}, "applications"),
        ({"applications": []}, "applications"),
        ({"ust": [27], "spn": "Example"}, "spn"),  # service 19 off
    ],
)
def test_malformed_usim_keys_exit_1_naming_the_key(
    tmp_path: Path, changes: dict[str, object], key: str
) -> None:
    code, out = check(tmp_path, **changes)
    assert code == EXIT_VIOLATION
    problems = json.loads(out)["profiles"][0]["problems"]
    assert key in {p["field"] for p in problems}, problems


def test_usim_only_card_checks_the_identities_derived_from_the_imsi(tmp_path: Path) -> None:
    base = {"impu": None, "pcscf": None, "ist": None, "label": None, "applications": ["usim"]}
    assert check(tmp_path, **base)[0] == EXIT_OK
    code, out = check(tmp_path, **base, trust_domains=["ims.example.com"])
    assert code == EXIT_VIOLATION
    messages = [p["message"] for p in json.loads(out)["profiles"][0]["problems"]]
    assert messages and all("derived from the IMSI" in m for m in messages)
    code, out = check(tmp_path, applications=["usim"])  # ISIM keys on a card without ISIM
    assert code == EXIT_VIOLATION
    fields = {p["field"] for p in json.loads(out)["profiles"][0]["problems"]}
    assert {"impu", "pcscf", "ist", "label"} <= fields


def test_decode_and_encode_usim_files_on_the_command_line() -> None:
    def isim(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output
        return result.exit_code, result.output.strip()

    assert isim("decode", "IMSI", "080910100000000010") == (0, '{"imsi": "001010000000001"}')
    assert isim("decode", "USIM/AD", "00000003") == (
        0, '{"ue_operation_mode": 0, "additional_information": "0000", "mnc_length": 3}')
    assert isim("decode", "AD", "000000")[0] == 0  # a bare EF.AD is still the ISIM's
    assert isim("encode", "ACC", '{"classes": [0, 1, 3, 5, 15]}') == (0, "802b")
    assert isim("encode", "Routing_Indicator", '{"routing_indicator": "12"}') == (0, "21ff0000")
    code, out = isim("decode", "IMSI", "0801")
    assert code == 2 and "EF.IMSI" in out and "announces" in out
    code, out = isim("encode", "ACC", '{"classes": [10]}')
    assert code == 2 and "class 10" in out
