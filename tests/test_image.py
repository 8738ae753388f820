"""Profile -> card contents -> card image -> engine, and the image/state file format."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from isim.card.contents import ISIM_ADF, card_contents
from isim.card.emulator import Emulator, StateError
from isim.card.image import (
    CardImage,
    ImageError,
    build_image,
    build_image_json,
    load_image,
    save_image,
)
from isim.card.image_build import _card_text, _ef_json, _image
from isim.card.image_format import canonical
from isim.cli import main
from isim.codecs import codec_for
from isim.codecs.errors import CodecError, SizeError
from isim.errors import CardContentError
from isim.profile.model import load_profile
from specs.layout import layout

ROOT = Path(__file__).resolve().parent.parent
ALICE = ROOT / "examples" / "alice.yaml"


@pytest.fixture(scope="module")
def alice():
    return load_profile(ALICE)


def test_contents_hold_the_profile(alice) -> None:
    c = card_contents(alice)
    assert codec_for("EF.IMPI").decode(c.get(ISIM_ADF, "EF.IMPI").body) == alice.impi
    assert codec_for("EF.DOMAIN").decode(c.get(ISIM_ADF, "EF.DOMAIN").body) == alice.domain
    impus = [codec_for("EF.IMPU").decode(r) for r in c.get(ISIM_ADF, "EF.IMPU").records]
    assert impus == [*alice.impu, *[None] * (8 - len(alice.impu))]
    assert codec_for("EF.IST").decode(c.get(ISIM_ADF, "EF.IST").body) == frozenset(alice.ist)
    assert codec_for("EF.ICCID").decode(c.get("MF", "EF.ICCID").body) == alice.iccid
    apps = [codec_for("EF.DIR").decode(r) for r in c.get("MF", "EF.DIR").records[:2]]
    assert [a.aid for a in apps] == [
        layout().applications["ADF.USIM"].aid, layout().applications[ISIM_ADF].aid
    ]


def test_every_file_has_its_spec_size(alice) -> None:
    for f in card_contents(alice):
        if f.spec.is_record:
            assert len(f.records) == f.spec.records
            assert {len(r) for r in f.records} == {f.spec.record_length}
        else:
            assert len(f.body) == f.spec.size


def test_optional_files_follow_the_ist(alice) -> None:
    present = {f.spec.name for f in card_contents(alice)}
    assert {"EF.P-CSCF", "EF.GBABP", "EF.GBANL"} <= present  # services 1 and 2
    assert "EF.SMS" not in present and "EF.WebRTCURI" not in present
    bare = dataclasses.replace(alice, ist=(), pcscf=())
    names = {f.spec.name for f in card_contents(bare)}
    assert "EF.P-CSCF" not in names and "EF.GBABP" not in names
    assert {"EF.IMPI", "EF.IMPU", "EF.DOMAIN", "EF.IST", "EF.AD", "EF.ARR"} <= names


def test_size_overrides_and_too_many_impus(alice) -> None:
    sizes = {"EF.IMPU": {"records": 3}, "MF/EF.DIR": {"records": 1}}
    c = card_contents(dataclasses.replace(alice, sizes=sizes, applications=("isim",)))
    assert len(c.get(ISIM_ADF, "EF.IMPU").records) == 3
    assert len(c.get("MF", "EF.DIR").records) == 1
    with pytest.raises(CodecError, match=re.escape("EF.IMPU: 3 records given, the file has 1")):
        card_contents(dataclasses.replace(alice, sizes={"EF.IMPU": {"records": 1}}))
    too_big = re.escape("EF.IMPI: encoded value is 51 bytes, file is 40")
    with pytest.raises(SizeError, match=too_big):
        card_contents(dataclasses.replace(alice, sizes={"EF.IMPI": {"size": 40}}))


def test_image_round_trip_and_mode(alice, tmp_path: Path) -> None:
    img = build_image(alice)
    path = tmp_path / "a.img"
    save_image(path, img)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = load_image(path)
    assert back.card == img.card and back.isim == img.isim and back.iccid == alice.iccid
    assert alice.k.hex() not in repr(back)


def test_corrupt_and_foreign_images_are_refused(alice, tmp_path: Path) -> None:
    path = tmp_path / "a.img"
    save_image(path, build_image(alice))
    doc = json.loads(path.read_text())
    doc["card"]["adfs"][0]["files"][0]["content"] = "00"
    path.write_text(json.dumps(doc))
    with pytest.raises(ImageError, match="corrupt"):
        load_image(path)
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ImageError, match="not an isim card image"):
        load_image(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ImageError, match="not JSON"):
        load_image(path)


def test_state_file_of_another_card_is_refused(alice, tmp_path: Path) -> None:
    state = tmp_path / "s.state"
    Emulator.open(build_image(alice), state_path=state).close()
    other = dataclasses.replace(alice, iccid="8988211000000430028")
    with pytest.raises(StateError, match="another card"):
        Emulator.open(build_image(other), state_path=state)
    state.write_text("garbage")
    with pytest.raises(StateError, match="refused"):
        Emulator.open(build_image(alice), state_path=state)
    assert state.read_text() == "garbage"  # never silently replaced


def test_rule_breaking_image_needs_the_loud_option(alice) -> None:
    img = build_image(alice)
    bad = CardImage(img.iccid, json.loads(json.dumps(img.card)), dict(img.isim))
    isim = next(a for a in bad.card["adfs"] if a["name"] == ISIM_ADF)
    impu = next(f for f in isim["files"] if f["name"] == "EF.IMPU")
    impu["content"][2] = codec_for("EF.IMPU").encode("sip:eve@evil.example.net").hex()
    with pytest.raises(CardContentError, match=re.escape("EF.IMPU record 3")):
        Emulator.open(bad)
    assert Emulator.open(bad, allow_rule_violations=True).card is not None


def test_state_survives_a_restart(alice, tmp_path: Path) -> None:
    state = tmp_path / "s.state"
    emu = Emulator.open(build_image(alice), state_path=state)
    assert emu.transmit(bytes.fromhex("0020000A08") + b"99999999") == b"\x63\xc2"  # ADM1
    emu.close()  # the lock: one emulator per state file
    again = Emulator.open(build_image(alice), state_path=state)
    assert again.transmit(bytes.fromhex("0020000A")) == b"\x63\xc2"  # counter query


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cli_build(tmp_path: Path) -> None:
    out = tmp_path / "a.img"
    r = run("build", str(ALICE), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "6F02 EF.IMPI" in r.stdout and "2FE2 EF.ICCID" in r.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(run("build", str(ALICE), "--json").stdout)
    assert {f["name"] for f in doc["files"]} >= {"EF.IMPI", "EF.IMPU", "EF.DIR"}
    assert "465b5ce8b199b49faa5f0a2ee238a6bc" not in r.stdout + r.stderr


def test_cli_build_bad_inputs(tmp_path: Path) -> None:
    bad = ROOT / "examples" / "bad" / "impu_outside.yaml"
    r = run("build", str(bad), "-o", str(tmp_path / "x"))
    assert r.exit_code == 1 and "EF.IMPU record" in r.stderr
    assert not (tmp_path / "x").exists()
    r = run("build", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "Traceback" not in r.output


# ------------------------------------------------------------------ file layout and fast path


def _old_digest(body: dict) -> str:
    """The definition of the `sha256` member (unchanged since the first images)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def test_image_file_layout(alice) -> None:
    img = build_image(alice)
    raw = img.to_json()
    assert raw.startswith(b'{"format":"isim-card-image/1",\n')  # format first: is_card_image
    doc = json.loads(raw)
    assert list(doc) == ["format", "iccid", "card", "isim", "usim", "sha256"]
    sha = doc.pop("sha256")
    assert sha == _old_digest(doc) == _old_digest(img._body())
    # each member on its line, its value in the canonical (sorted, compact) form
    for line, key in zip(raw.decode().splitlines(), ["format", "iccid", "card", "isim", "usim"],
                         strict=False):
        value = json.dumps(doc[key], sort_keys=True, separators=(",", ":"))
        assert line.lstrip("{") == f'"{key}":{value},'


def test_images_written_with_indent_still_load(alice, tmp_path: Path) -> None:
    img = build_image(alice)
    body = img._body()
    old = json.dumps({**body, "sha256": _old_digest(body)}, indent=1).encode() + b"\n"
    path = tmp_path / "old.json"
    path.write_bytes(old)  # as the writer before the compact layout made it
    back = load_image(path)
    assert back.card == img.card and back.isim == img.isim
    assert json.loads(old)["sha256"] == json.loads(img.to_json())["sha256"]


@pytest.mark.parametrize("change", [
    {},
    {"pin1_enabled": True, "impu": ["sip:x@ims.example.com"]},
    {"ist": (), "pcscf": ()},
    {"sizes": {"EF.IMPU": {"records": 3}, "EF.IMPI": {"size": 600}}},
])
def test_build_image_json_is_build_image_to_json(alice, change: dict) -> None:
    profile = dataclasses.replace(alice, **change)
    for _ in range(2):  # EF JSON made, then from the cache
        assert build_image_json(profile) == build_image(profile).to_json()
    other = dataclasses.replace(profile, iccid="8988211000000430028", impi="bob@ims.example.com")
    assert build_image_json(other) == build_image(other).to_json()


def test_composed_card_text_is_the_canonical_json(alice) -> None:
    """The composed JSON equals json's own for values that look like JSON or like a frame."""
    profile = dataclasses.replace(alice, label='"content":null,"')  # 16 bytes: EF.DIR fits
    image = build_image(profile)
    composed = _card_text(_image(profile, card_contents(profile), _ef_json).card)
    assert composed == canonical(image.card)
