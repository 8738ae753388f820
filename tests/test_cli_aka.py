"""`isim aka`: vector generation, card-side acceptance, resynchronisation, exit codes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from isim.aka.milenage import Milenage, derive_opc
from isim.aka.procedure import ImsAka, Success, SyncFailure
from isim.aka.sqn import SqnArray
from isim.cli import main

ROOT = Path(__file__).resolve().parent.parent

H = bytes.fromhex
K1 = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP1 = "cdc202d5123e20f62b6d676ac72cb318"
OPC1 = "cd63cb71954a9f4e48a5994e37a02baf"
RAND1 = "23553cbe9637a89d218ae64dae47bf35"


# what every profile needs besides the keys (isim.profile.model)
BASE = "trust_domains: [3gppnetwork.org]\niccid: '8988211000000430010'\nimsi: '001010000000001'\n"


def write_profile(tmp_path: Path, body: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(body if name.endswith(".json") else BASE + body, encoding="utf-8")
    return p


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["aka", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    # extra keys are ignored; sqn one SEQ below the 35.208 set-1 SQN (same IND 7)
    return write_profile(
        tmp_path,
        f"k: {K1}\nopc: {OPC1}\nsqn: ff9bb4d0b5e7\n",
    )


def test_set1_vector_text(profile: Path) -> None:
    code, out, err = run(str(profile), "--rand", RAND1, "--amf", "b9b9")
    assert code == 0, err
    lines = dict(line.split() for line in out.splitlines())
    assert lines["AUTN"] == "55f328b43577b9b94a9ffac354dfafb3"
    assert lines["XRES"] == "a54211d5e3ba50bf"
    assert lines["CK"] == "b40ba9a3c58b2a05bbf0d987b21bf8cb"
    assert lines["IK"] == "f769bcd751044604127672711c6d3441"
    assert lines["AK"] == "aa689c648370"
    assert lines["SQN"] == "ff9bb4d0b607"  # profile sqn + one SEQ
    assert base64.b64decode(lines["NONCE"]) == H(RAND1) + H(lines["AUTN"])
    assert K1 not in out
    assert OPC1 not in out


def test_json_and_round_trip_to_card(profile: Path) -> None:
    code, out, _ = run(str(profile), "--json")
    assert code == 0
    v = json.loads(out)
    assert set(v) == {"rand", "autn", "xres", "ck", "ik", "ak", "sqn", "amf", "nonce"}
    assert v["amf"] == "8000"
    assert v["sqn"] == "ff9bb4d0b607"
    card = ImsAka(Milenage(H(K1), H(OPC1)), SqnArray(initial_sqn=0xFF9BB4D0B5E7))
    result = card.authenticate(H(v["rand"]), H(v["autn"]))
    assert isinstance(result, Success)
    assert (result.res.hex(), result.ck.hex(), result.ik.hex()) == (v["xres"], v["ck"], v["ik"])
    # RAND is random by default
    _, out2, _ = run(str(profile), "--json")
    assert json.loads(out2)["rand"] != v["rand"]


def test_op_profile_and_explicit_sqn(tmp_path: Path) -> None:
    p = write_profile(tmp_path, f"k: {K1}\nop: {OP1}\n")
    code, out, _ = run(str(p), "--rand", RAND1, "--sqn", "ff9bb4d0b607", "--amf", "b9b9", "--json")
    assert code == 0
    assert json.loads(out)["autn"] == "55f328b43577b9b94a9ffac354dfafb3"


def test_default_sqn_zero_and_hex_digits_not_numbers(tmp_path: Path) -> None:
    p = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\n")
    assert json.loads(run(str(p), "--json")[1])["sqn"] == "000000000020"
    p2 = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\nsqn: '000000000040'\n", "p2.yaml")
    assert json.loads(run(str(p2), "--json")[1])["sqn"] == "000000000060"
    # YAML would read 000000000040 as a number: the profile refuses it rather than guess
    p3 = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\nsqn: 000000000040\n", "p3.yaml")
    assert run(str(p3), "--json")[0] == 1


def test_json_profile(tmp_path: Path) -> None:
    body = {"trust_domains": ["3gppnetwork.org"], "iccid": "8988211000000430010",
            "imsi": "001010000000001", "k": K1, "opc": OPC1, "sqn": "ff9bb4d0b5e7"}
    p = write_profile(tmp_path, json.dumps(body), "p.json")
    code, out, _ = run(str(p), "--rand", RAND1, "--amf", "b9b9", "--json")
    assert code == 0
    assert json.loads(out)["autn"] == "55f328b43577b9b94a9ffac354dfafb3"


def test_resync_success_and_mac_failure(profile: Path) -> None:
    # a card already at SQN_MS ff9bb4d0b627 answers the set-1 challenge with this AUTS
    card = ImsAka(Milenage(H(K1), H(OPC1)), SqnArray(initial_sqn=0xFF9BB4D0B627))
    result = card.authenticate(H(RAND1), H("55f328b43577b9b94a9ffac354dfafb3"))
    assert isinstance(result, SyncFailure)
    auts = result.auts.hex()
    assert auts == "ba853f3c121cb55edb820040ab41"
    code, out, _ = run(str(profile), "--resync", auts, "--rand", RAND1)
    assert (code, out.strip()) == (0, "SQN_MS ff9bb4d0b627")
    code, out, _ = run(str(profile), "--resync", auts, "--rand", RAND1, "--json")
    assert json.loads(out)["sqn_ms"] == "ff9bb4d0b627"
    bad = auts[:-1] + ("0" if auts[-1] != "0" else "1")
    code, out, err = run(str(profile), "--resync", bad, "--rand", RAND1)
    assert code == 1
    assert out == ""
    assert "MAC-S" in err
    # right AUTS, wrong RAND -> MAC failure too
    assert run(str(profile), "--resync", auts, "--rand", "00" * 16)[0] == 1


def test_vector_then_resync_subprocess_free(profile: Path) -> None:
    """Full loop: vector -> stale card -> AUTS -> isim aka --resync -> new vector accepted."""
    card = ImsAka(Milenage(H(K1), H(OPC1)), SqnArray(initial_sqn=0x000100000005))
    v = json.loads(run(str(profile), "--json")[1])
    result = card.authenticate(H(v["rand"]), H(v["autn"]))
    assert isinstance(result, SyncFailure)
    code, out, _ = run(str(profile), "--resync", result.auts.hex(), "--rand", v["rand"])
    assert code == 0
    sqn_ms = int(out.split()[1], 16)
    assert sqn_ms == 0x000100000005
    nxt = f"{sqn_ms + 32:012x}"
    v2 = json.loads(run(str(profile), "--sqn", nxt, "--json")[1])
    assert isinstance(card.authenticate(H(v2["rand"]), H(v2["autn"])), Success)


@pytest.mark.parametrize(
    "args",
    [
        ["--rand", "zz"],
        ["--rand", "00" * 15],
        ["--amf", "800"],
        ["--amf", "800000"],
        ["--sqn", "00" * 7],
        ["--resync", "00" * 14],  # no --rand
        ["--resync", "00" * 13, "--rand", RAND1],
        ["--resync", "00" * 14, "--rand", RAND1, "--sqn", "00" * 6],
    ],
)
def test_bad_arguments_exit_2(profile: Path, args: list[str]) -> None:
    code, out, err = run(str(profile), *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "body",
    [
        "- a\n- b\n",  # not a mapping
        ": : :\n  - [",  # not YAML
    ],
)
def test_unreadable_profiles_exit_2(tmp_path: Path, body: str) -> None:
    p = write_profile(tmp_path, body)
    code, out, err = run(str(p))
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "body",
    [
        "",  # no k, no opc
        f"opc: {OPC1}\n",  # no k
        f"k: {K1}\n",  # neither opc nor op
        f"k: {K1[:-2]}\nopc: {OPC1}\n",
        f"k: {K1}\nopc: xyz\n",
        f"k: {K1}\nopc: {OPC1}\nop: {'00' * 16}\n",  # inconsistent
        f"k: {K1}\nopc: {OPC1}\nsqn: 1000000000000\n",  # > 48 bits
        f"k: {K1}\nopc: {OPC1}\nsqn: hello\n",
        f"k: [1, 2]\nopc: {OPC1}\n",
    ],
)
def test_rule_breaking_profiles_exit_1(tmp_path: Path, body: str) -> None:
    """A profile that was read but breaks a rule or format: exit 1 (the contract), as
    `isim check` (issue 12 item 12)."""
    p = write_profile(tmp_path, body)
    code, out, err = run(str(p))
    assert code == 1, (out, err)
    assert "Traceback" not in err
    assert K1 not in err


def test_no_next_sqn_exits_2(tmp_path: Path) -> None:
    p = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\nsqn: ffffffffffff\n")
    code, _, err = run(str(p))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_trust_rule_breaking_profile_exits_1(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "alice.yaml").read_text()
    p = tmp_path / "rule-breaking.yaml"
    p.write_text(text.replace("  - 3gppnetwork.org\n", ""))
    code, _, err = run(str(p))
    assert code == 1 and "trust domain" in err


def test_missing_and_binary_profile(tmp_path: Path) -> None:
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00k")
    for path in (tmp_path / "nope.yaml", p, tmp_path):  # missing, not UTF-8, a directory
        code, out, err = run(str(path))
        assert (code, out) == (2, "")
        assert len(err.strip().splitlines()) == 1


def test_op_and_opc_together_refused(tmp_path: Path) -> None:
    assert derive_opc(H(K1), H(OP1)).hex() == OPC1
    p = write_profile(tmp_path, f"k: {K1}\nop: {OP1}\nopc: {OPC1}\n")
    assert run(str(p), "--json")[0] == 1  # a profile gives exactly one of op / opc


def test_sqn_ind_bits_from_profile(tmp_path: Path) -> None:
    p = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\nsqn: '000000000040'\nsqn_ind_bits: 0\n")
    assert json.loads(run(str(p), "--json")[1])["sqn"] == "000000000041"
    bad = write_profile(tmp_path, f"k: {K1}\nopc: {OPC1}\nsqn_ind_bits: 40\n", "bad.yaml")
    assert run(str(bad))[0] == 1
