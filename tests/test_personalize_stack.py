"""`isim personalize` end to end through real PC/SC: pcscd + vpcd + `isim emulate`.

* a 10,000-row batch: images, scripts, HSS file; a random sample of the images is loaded
  into `isim emulate` and every EF is read back through pyscard;
* one generated script is run by `scriptor` against the emulator, then the files are read
  back through pyscard;
* `--reader`: a card in the emulator is written and read back by the personalizer; a card
  whose read-back differs stops the run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator_proc import EmulatorProcess
from isim.card.image import build_image, load_image, make_card, save_image
from isim.codecs import codec_for
from isim.personalize.card import card_script
from isim.personalize.run import RunOptions
from isim.personalize.script import check_log
from isim.personalize.writer import CardFailure, write_cards
from isim.profile.model import Profile, profile_from_mapping
from pcsc_stack import PcscStack, serve_card
from sample_batch import write_sample_batch, write_sample_template
from transport import pcsc

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[1]
BIG = 10_000
SAMPLE = 5


@contextlib.contextmanager
def emulate(stack: PcscStack, image: Path) -> Iterator[EmulatorProcess]:
    """`isim emulate IMAGE` in the stack's reader (tools/emulator_proc.py), until the block
    ends; the card has left the reader afterwards."""
    with EmulatorProcess(image, vpcd_port=stack.vpcd_port) as emu:
        emu.wait_inserted(stack.reader_name)
        yield emu
        emu.terminate()
        emu.wait_removed(stack.reader_name)


def _ok(conn: pcsc.PcscCard, apdu: bytes) -> bytes:
    response = conn.transmit(apdu)
    assert response[-2:] == b"\x90\x00", (apdu.hex(), response.hex())
    return response[:-2]


def _read_ef(conn: pcsc.PcscCard, ef: dict[str, Any]) -> str | list[str]:
    _ok(conn, bytes.fromhex("00A4000C02" + ef["fid"]))
    if ef["structure"] == "transparent":
        data, size = b"", ef["size"]
        while len(data) < size:
            n = min(255, size - len(data))
            data += _ok(conn, bytes([0, 0xB0, len(data) >> 8, len(data) & 0xFF, n]))
        return data.hex().upper()
    return [_ok(conn, bytes([0, 0xB2, n, 4, ef["record_length"]])).hex().upper()
            for n in range(1, len(ef["content"]) + 1)]


def read_back_against_image(conn: pcsc.PcscCard, image: dict[str, Any], pin1: str) -> None:
    """Every EF of the image, read through PC/SC (independently of script.py)."""
    card = image["card"]
    _ok(conn, bytes.fromhex("00A4000C023F00"))
    for ef in card["mf"]["files"]:
        assert _read_ef(conn, ef) == ef["content"], ef["name"]
    for adf in card["adfs"]:
        aid = bytes.fromhex(adf["aid"])
        _ok(conn, bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid)
        if card["pins"]["01"]["enabled"]:
            _ok(conn, bytes.fromhex("0020000108") + pin1.encode().ljust(8, b"\xff"))
        _read_df(conn, adf)


def _read_df(conn: pcsc.PcscCard, df: dict[str, Any]) -> None:
    """The EFs of a DF (the current one), then its DFs (DF.5GS below ADF.USIM)."""
    for ef in df["files"]:
        if ef.get("structure") != "df":
            assert _read_ef(conn, ef) == ef["content"], ef["name"]
    for sub in (f for f in df["files"] if f.get("structure") == "df"):
        _ok(conn, bytes.fromhex("00A4000C02" + sub["fid"]))
        _read_df(conn, sub)
        _ok(conn, bytes.fromhex("00A4030C"))  # back to the parent


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("big")
    batch = write_sample_batch(d / "batch.csv", BIG)
    template = write_sample_template(d / "template.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "isim", "personalize", str(batch), "--template", str(template),
         "--out", str(d / "out"), "--jobs", "2", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["cards"] == BIG and summary["rejected_rows"] == 0
    return d


def test_big_batch_produces_images_scripts_and_hss(big_run: Path) -> None:
    out = big_run / "out"
    with (big_run / "batch.csv").open(newline="") as fh:
        batch = list(csv.DictReader(fh))
    with (out / "hss.csv").open(newline="") as fh:
        hss = list(csv.DictReader(fh))
    assert len(hss) == len(batch) == BIG
    assert [h["iccid"] for h in hss] == [b["iccid"] for b in batch]
    assert all(h["impu"] == b["impu"] and h["k"] == b["k"] for h, b in zip(hss, batch,
                                                                         strict=True))
    assert len(list((out / "images").iterdir())) == BIG
    assert len(list((out / "scripts").iterdir())) == BIG


def test_random_sample_of_images_reads_back_through_pyscard(
        pcsc_stack: PcscStack, big_run: Path) -> None:
    out = big_run / "out"
    with (out / "hss.csv").open(newline="") as fh:
        hss = {row["iccid"]: row for row in csv.DictReader(fh)}
    for iccid in random.Random(1).sample(sorted(hss), SAMPLE):
        path = out / "images" / f"{iccid}.json"
        image = json.loads(path.read_text())
        with emulate(pcsc_stack, path), pcsc.connect(pcsc_stack.reader_name) as conn:
            read_back_against_image(conn, image, "1234")
            # and the operator's values, decoded from what the card answers
            _ok(conn, bytes.fromhex("00A4000C023F00"))
            _ok(conn, bytes.fromhex("00A4000C022FE2"))
            assert codec_for("EF.ICCID").decode(_ok(conn, bytes.fromhex("00B000000A"))) == iccid
            isim = next(a for a in image["card"]["adfs"] if a["name"] == "ADF.ISIM")
            aid = bytes.fromhex(isim["aid"])
            _ok(conn, bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid)
            _ok(conn, bytes.fromhex("00A4000C026F02"))
            impi = codec_for("EF.IMPI").decode(_ok(conn, bytes.fromhex("00B0000080")))
            assert impi == hss[iccid]["impi"]
            _ok(conn, bytes.fromhex("00A4000C026F04"))
            impus = [codec_for("EF.IMPU").decode(_ok(conn, bytes([0, 0xB2, n, 4, 0x80])))
                     for n in (1, 2)]
            assert "|".join(impus) == hss[iccid]["impu"]


def _profiles(tmp_path: Path) -> tuple[Profile, Profile, Path, Path]:
    """(target A, blank B with A's ICCID, batch.csv of A, template)."""
    template = write_sample_template(tmp_path / "template.yaml")
    batch = write_sample_batch(tmp_path / "batch.csv", 1, iccid_first="898821100000004242",
                               imsi_first="001010000004242")
    import yaml

    with batch.open(newline="") as fh:
        row = next(csv.DictReader(fh))
    shared = yaml.safe_load(template.read_text())
    target = profile_from_mapping(dict(shared, iccid=row["iccid"], imsi=row["imsi"],
                                       impu=row["impu"].split("|"), k=row["k"]))
    blank = profile_from_mapping(dict(shared, iccid=row["iccid"], imsi="001010000000999",
                                      k="00" * 16, pcscf=["192.0.2.7"]))
    return target, blank, batch, template


def test_scriptor_runs_a_generated_script_against_the_emulator(
        pcsc_stack: PcscStack, tmp_path: Path) -> None:
    target, blank, batch, template = _profiles(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "isim", "personalize", str(batch), "--template", str(template),
         "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "out" / "scripts" / f"{target.iccid}.apdu"
    expected_image = json.loads((tmp_path / "out" / "images" / f"{target.iccid}.json")
                                .read_text())
    save_image(tmp_path / "blank.json", build_image(blank))
    with emulate(pcsc_stack, tmp_path / "blank.json"):
        with pcsc.connect(pcsc_stack.reader_name) as conn, pytest.raises(AssertionError):
            read_back_against_image(conn, expected_image, target.pin1)  # blank card differs
        log = pcsc_stack.run(["scriptor", "-r", pcsc_stack.reader_name, str(script)],
                             timeout=60)
        assert log.returncode == 0, log.stderr
        assert check_log(script.read_text(), log.stdout) == []
        reads = sum(1 for c in card_script(target).read_commands if c.expect is not None)
        assert log.stdout.count("> 00 B") == reads > 30  # the read-back ran in scriptor
        with pcsc.connect(pcsc_stack.reader_name) as conn:
            read_back_against_image(conn, expected_image, target.pin1)


def test_reader_mode_writes_and_reads_back_a_card(pcsc_stack: PcscStack,
                                                  tmp_path: Path) -> None:
    target, blank, batch, template = _profiles(tmp_path)
    save_image(tmp_path / "blank.json", build_image(blank))
    expected = build_image(target)
    with emulate(pcsc_stack, tmp_path / "blank.json"):
        proc = pcsc_stack.run(
            [sys.executable, "-m", "isim", "personalize", str(batch), "--template",
             str(template), "--reader", pcsc_stack.reader_name, "--json"], timeout=120)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["written"] == [target.iccid]
        assert "written and read back" in proc.stderr
        with pcsc.connect(pcsc_stack.reader_name) as conn:
            read_back_against_image(conn, json.loads(expected.to_json()), target.pin1)


class _CorruptingCard:
    """The engine, but READ BINARY of EF.IMPI answers one byte changed."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.selected = b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.card, name)

    def process(self, capdu: bytes) -> bytes:
        if capdu[1] == 0xA4 and capdu[2] == 0:
            self.selected = capdu[5:7]
        response = self.card.process(capdu)
        if capdu[1] == 0xB0 and self.selected == b"\x6f\x02" and len(response) > 4:
            response = response[:2] + bytes([response[2] ^ 1]) + response[3:]
        return response


def test_reader_mode_stops_on_a_read_back_difference(pcsc_stack: PcscStack,
                                                     tmp_path: Path) -> None:
    _, blank, batch, template = _profiles(tmp_path)
    card, _ = make_card(load_image(_save(tmp_path / "blank.json", blank)))
    with serve_card(pcsc_stack, _CorruptingCard(card)), pytest.raises(
            CardFailure, match=r"read-back differs: EF\.IMPI offset 0"):
        write_cards(RunOptions(batch=batch, template=template), pcsc_stack.reader_name,
                    wait_timeout=10)


def test_reader_mode_refuses_an_unknown_card(pcsc_stack: PcscStack, tmp_path: Path) -> None:
    _, blank, batch, template = _profiles(tmp_path)
    other = profile_from_mapping({
        "trust_domains": list(blank.trust_domains), "iccid": "8988211000000000011",
        "imsi": "001010000000001", "k": "00" * 16, "opc": "11" * 16})
    card, _ = make_card(build_image(other))
    before = card.to_dict()
    with serve_card(pcsc_stack, card), pytest.raises(CardFailure, match="not in the batch"):
        write_cards(RunOptions(batch=batch, template=template), pcsc_stack.reader_name,
                    wait_timeout=10)
    assert card.to_dict() == before  # nothing was written


def _save(path: Path, profile: Profile) -> Path:
    save_image(path, build_image(profile))
    return path


def test_card_script_matches_image_of_the_same_profile(tmp_path: Path) -> None:
    target, _, _, _ = _profiles(tmp_path)
    image = json.loads(build_image(target).to_json())
    isim = next(adf for adf in image["card"]["adfs"] if adf["name"] == "ADF.ISIM")
    expected = {ef["name"]: ef["content"] for ef in isim["files"]}
    reads = [c for c in card_script(target).read_commands if c.expect is not None]
    impi = next(c for c in reads if "EF.IMPI" in c.comment)
    assert impi.expect.hex().upper() == expected["EF.IMPI"][:len(impi.expect) * 2]


class _EditingCard:
    """The engine; when the personalizer reads EF.ICCID (after validating the batch,
    before writing), the batch is edited: `edit` rewrites its text."""

    def __init__(self, card: Any, batch: Path, edit: Any) -> None:
        self.card, self.batch, self.edit = card, batch, edit
        self.selected = b""
        self.updates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.card, name)

    def process(self, capdu: bytes) -> bytes:
        if capdu[1] == 0xA4 and capdu[2] == 0:
            self.selected = capdu[5:7]
        if capdu[1] in (0xD6, 0xDC):
            self.updates += 1
        if capdu[1] == 0xB0 and self.selected == b"\x2f\xe2":
            self.batch.write_text(self.edit(self.batch.read_text()))
        return self.card.process(capdu)


@pytest.mark.parametrize("edit", [
    lambda text: text.replace("sip:", "sip:eve", 1),  # still valid: another IMPU
    lambda text: text.replace("sip:", "sip:eve@evil.example.org;x=", 1),  # breaks the rule
])
def test_reader_mode_stops_when_the_batch_changes_after_validation(
        pcsc_stack: PcscStack, tmp_path: Path, edit: Any) -> None:
    """Issue 12 item 6: the edited batch never reaches the card; a clear error, exit 2."""
    _, blank, batch, template = _profiles(tmp_path)
    card, _ = make_card(load_image(_save(tmp_path / "blank.json", blank)))
    before = card.to_dict()
    editing = _EditingCard(card, batch, edit)
    with serve_card(pcsc_stack, editing):
        proc = pcsc_stack.run(
            [sys.executable, "-m", "isim", "personalize", str(batch), "--template",
             str(template), "--reader", pcsc_stack.reader_name], timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "changed after it was validated" in proc.stderr and "Traceback" not in proc.stderr
    assert editing.updates == 0 and card.to_dict() == before
