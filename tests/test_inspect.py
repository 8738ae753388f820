"""`isim inspect` in-process: the example card passes; each broken image gives exactly its one
finding; exit codes; JSON shape; secrets never printed; unreadable cards exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from broken_images import BAD_IMPU, BROKEN, Expected, alice_image, write
from isim.card.contents import ISIM_ADF
from isim.card.image import CardImage
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.inspect import CardUnreadable, inspect, inspect_source, open_image, read_card
from specs.layout import layout


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["inspect", *args])


def run_json(*args: str) -> tuple[int, dict]:
    result = run(*args, "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


@pytest.fixture(scope="module")
def alice() -> CardImage:
    return alice_image()


@pytest.fixture
def alice_path(tmp_path: Path, alice: CardImage) -> Path:
    return write(alice, tmp_path / "alice.json")


# ---------------------------------------------------------------------------- the example


def test_example_card_passes(alice_path: Path) -> None:
    code, out = run_json("--image", str(alice_path), "--strict")
    assert out["findings"] == []
    assert code == EXIT_OK
    assert out["summary"] == {"errors": 0, "warnings": 0, "strict": True, "passed": True}
    isim = layout().applications[ISIM_ADF]
    assert out["isim"]["aid"] == isim.aid.hex().upper()
    usim = layout().applications["ADF.USIM"]
    assert [a["aid"] for a in out["applications"]] == [
        usim.aid.hex().upper(),
        isim.aid.hex().upper(),
    ]
    assert out["trust_domains"] == alice_image().isim["trust_domains"]
    files = {f["name"]: f for f in out["files"]}
    assert files["EF.IMPU"]["decoded"][0] == {"uri": "sip:alice@ims.example.com"}
    assert files["EF.IMPU"]["fcp"]["record_length"] == isim.files["EF.IMPU"].record_length
    assert files["EF.IMPI"]["raw"].startswith("80")
    assert files["EF.P-CSCF"]["fcp"]["sfi"] is None
    assert files["EF.IST"]["decoded"] == {"services": [1, 2]}
    assert set(files) | set(out["absent"]) == set(isim.files)


def test_table_output(alice_path: Path) -> None:
    result = run("--image", str(alice_path))
    assert result.exit_code == EXIT_OK, result.output
    assert "sip:alice@ims.example.com" in result.output
    assert "PASS: 0 error(s), 0 warning(s)" in result.output


# ---------------------------------------------------------------------------- broken images


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_image_reports_exactly_its_problem(name: str, tmp_path: Path,
                                                  alice: CardImage) -> None:
    build, expected = BROKEN[name]
    path = write(build(alice), tmp_path / f"{name}.json")
    code, out = run_json("--image", str(path))
    assert len(out["findings"]) == 1, out["findings"]
    found = out["findings"][0]
    assert (found["level"], found["check"], found["file"], found["record"]) == (
        expected.level, expected.check, expected.file, expected.record)
    assert expected.text in found["message"]
    assert code == (EXIT_VIOLATION if expected.level == "error" else EXIT_OK)
    strict_code, _ = run_json("--image", str(path), "--strict")
    assert strict_code == EXIT_VIOLATION


def test_rule_violation_names_the_value(tmp_path: Path, alice: CardImage) -> None:
    build, _ = BROKEN["impu_rule_violation"]
    path = write(build(alice), tmp_path / "bad.json")
    result = run("--image", str(path))
    assert result.exit_code == EXIT_VIOLATION
    assert "EF.IMPU record 3" in result.output and BAD_IMPU in result.output


def test_trust_domain_option_overrides_the_image(alice_path: Path) -> None:
    code, out = run_json("--image", str(alice_path), "--trust-domain", "ims.example.com")
    assert code == EXIT_VIOLATION
    where = {(f["file"], f["record"]) for f in out["findings"]}
    # the derived identities live under 3gppnetwork.org, not ims.example.com
    assert where == {("EF.IMPI", None), ("EF.IMPU", 3), ("EF.DOMAIN", None)}
    assert {f["check"] for f in out["findings"]} == {"rule"}


def test_bad_trust_domain_is_a_usage_error(alice_path: Path) -> None:
    assert run("--image", str(alice_path), "--trust-domain", "not a domain").exit_code == 2


def test_rule_not_checked_without_trust_domains(alice: CardImage) -> None:
    src = open_image(alice)
    ins = inspect(read_card(src.transmit, src.atr), None)
    assert [(f.level, f.check, f.file) for f in ins.findings] == [("error", "rule", None)]
    assert "--trust-domain" in ins.findings[0].message
    assert not ins.passed()


def test_expected_table_is_complete() -> None:
    assert len(BROKEN) >= 7
    assert all(isinstance(e, Expected) for _, e in BROKEN.values())


# ---------------------------------------------------------------------------- cannot read


def test_unreadable_image_exits_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = run("--image", str(junk))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "Traceback" not in result.output
    code, out = run_json("--image", str(tmp_path / "missing.json"))
    assert code == EXIT_BAD_INPUT and "error" in out


def test_not_a_uicc() -> None:
    with pytest.raises(CardUnreadable, match="not a UICC"):
        read_card(lambda capdu: bytes.fromhex("6E00"), b"\x3b\x00")


def test_no_isim(alice: CardImage) -> None:
    src = open_image(alice)

    def no_adf(capdu: bytes) -> bytes:
        if capdu[1:3] == bytes.fromhex("A404"):  # SELECT by DF name
            return bytes.fromhex("6A82")
        return src.transmit(capdu)

    with pytest.raises(CardUnreadable, match="no ISIM"):
        read_card(no_adf, src.atr)


def test_card_that_stops_answering(alice: CardImage) -> None:
    src = open_image(alice)
    sent: list[bytes] = []

    def dies(capdu: bytes) -> bytes:
        sent.append(capdu)
        if len(sent) > 5:
            return b""
        return src.transmit(capdu)

    with pytest.raises(CardUnreadable, match="not a status word"):
        inspect_source(src.__class__("dying", src.atr, dies))


def test_both_sources_is_a_usage_error(alice_path: Path) -> None:
    assert run("--image", str(alice_path), "--reader", "0").exit_code == 2


def test_link_refuses_write_commands() -> None:
    from isim.inspect.link import Link

    sent: list[bytes] = []
    link = Link(lambda capdu: sent.append(capdu) or b"\x90\x00")  # type: ignore[func-returns-value]
    for ins in (0xD6, 0xDC, 0x04, 0x44):
        with pytest.raises(AssertionError):
            link.send(ins, 0, 0, b"\x00")
    assert sent == []


# ---------------------------------------------------------------------------- trust-check


def test_trust_check_reads_a_card_image(alice_path: Path, alice: CardImage) -> None:
    from isim.cli.trust_check import CannotDecide
    from isim.cli.trust_check import read_card as trust_read_card

    view = trust_read_card(str(alice_path))
    assert view.trust_domains == alice.isim["trust_domains"]
    assert view.home_domain.endswith("3gppnetwork.org")
    assert view.pcscf[0] == "pcscf.ims.example.com"
    assert trust_read_card(str(alice_path), ["example.org"]).trust_domains == ["example.org"]
    with pytest.raises(CannotDecide, match="trust domains"):
        trust_read_card("reader:0")
