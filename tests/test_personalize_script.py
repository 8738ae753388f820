"""APDU personalization scripts: content, scriptor safety, and a run on the card engine."""

from __future__ import annotations

import re

import pytest

from apdu.pins import encode_pin
from isim.card.contents import card_contents
from isim.card.image import build_image, make_card
from isim.personalize.card import card_output, card_script
from isim.personalize.script import (
    READ,
    UPDATE,
    Command,
    Kind,
    _block,
    _ef_block,
    _ef_commands,
    _render,
    check_log,
    render_scriptor,
)
from isim.profile.model import Profile, profile_from_mapping
from specs.layout import layout

BASE = {
    "trust_domains": ["3gppnetwork.org", "ims.example.net"],
    "k": "465b5ce8b199b49faa5f0a2ee238a6bc",
    "opc": "cd63cb71954a9f4e48a5994e37a02baf",
    "pcscf": ["pcscf.ims.example.net"],
    "ist": [1, 2],
    "adm1": "88888888",
    "pin1": "2468",
}


def _profile(**over: object) -> Profile:
    data = dict(BASE, iccid="8988211000000000011", imsi="001010000000001",
                impu=["sip:alice@ims.example.net", "tel:+15550000001"])
    data.update(over)
    return profile_from_mapping({k: v for k, v in data.items() if v is not None})


def _apdu_lines(script: str) -> list[bytes]:
    return [bytes.fromhex(line) for line in script.splitlines()
            if line.strip() and not line.startswith("#")]


def test_script_is_scriptor_safe_and_complete() -> None:
    p = _profile(pin1_enabled=True)
    text = card_output(p).script
    assert not re.search("exit|reset", text, re.IGNORECASE)
    lines = text.splitlines()
    assert all(line.startswith("# ") or re.fullmatch(r"([0-9A-F]{2} )*[0-9A-F]{2}", line)
               for line in lines), [x for x in lines if not x.startswith("#")][:3]
    apdus = _apdu_lines(text)
    refs = layout().key_references
    assert apdus[0] == bytes.fromhex("00A4000C023F00")  # SELECT MF, no response data
    assert apdus[1] == bytes([0, 0x20, 0, refs["ADM1"], 8]) + b"88888888"
    assert apdus[2] == bytes([0, 0x20, 0, refs["PIN1"], 8]) + encode_pin("2468")
    contents = card_contents(p)
    ins = [a[1] for a in apdus]
    updates = ins.count(0xD6) + ins.count(0xDC)
    reads = ins.count(0xB0) + ins.count(0xB2)
    units = sum(len(f.data) if isinstance(f.data, tuple) else -(-len(f.data) // 255)
                for f in contents)
    never = ("EF.ICCID", "EF.ARR")  # MF files under "update: never"
    skipped = sum(len(f.data) if isinstance(f.data, tuple) else 1
                  for f in contents if f.df == "MF" and f.spec.name in never)
    assert reads == units and updates == units - skipped
    # the read-back has the expected data of every READ right above it
    expects = re.findall(r"^# expect ([0-9A-F]+)$", text, re.MULTILINE)
    assert len(expects) == reads
    impi = contents.get("ADF.ISIM", "EF.IMPI").body.hex().upper()
    assert impi in expects


def test_arr_is_written_last_in_each_df_and_iccid_is_never_written() -> None:
    script = card_script(_profile())
    names = [c.comment for c in script.write_commands]
    isim = names[names.index("select ADF.ISIM"):]
    updated = [n.split()[1] for n in isim if n.startswith("update ")]
    assert updated[-1] == "EF.ARR" and updated.count("EF.ARR") == 4
    assert updated.index("EF.ARR") > updated.index("EF.IMPU")
    mf = names[:names.index("select ADF.USIM")]
    assert not any(n.startswith(("update EF.ICCID", "update EF.ARR")) for n in mf)
    assert any(n.startswith("update EF.DIR") for n in mf)
    assert any("EF.ICCID" in c.comment for c in script.read_commands)


def test_no_pin1_verify_when_pin1_is_disabled() -> None:
    apdus = [c.apdu for c in card_script(_profile(pin1_enabled=False)).write_commands]
    assert sum(1 for a in apdus if a[1] == 0x20) == 1


def test_comment_text_that_would_stop_scriptor_is_refused() -> None:
    for word in ("exit", "Reset", "the EXITING file"):
        with pytest.raises(ValueError, match="unsafe"):
            _block([Command(b"\x00\xa4\x00\x0c", word)])
    with pytest.raises(ValueError):
        render_scriptor(["card was reset"], card_script(_profile()))


def _engine_run(card: object, commands: list[Command]) -> list[bytes]:
    return [card.process(c.apdu) for c in commands]  # type: ignore[attr-defined]


@pytest.mark.parametrize("pin1_enabled", [False, True])
def test_script_personalizes_another_card_in_the_engine(pin1_enabled: bool) -> None:
    """A card built for profile B, personalized with A's script, reads back as A."""
    a = _profile(pin1_enabled=pin1_enabled)
    b = _profile(pin1_enabled=pin1_enabled, imsi="001010000000777", impu=None,
                 pcscf=["pcscf2.ims.example.net", "192.0.2.1"])
    card, _ = make_card(build_image(b))
    card.power_on()
    script = card_script(a)
    before = _engine_run(card, script.read_commands)
    assert any(r[:-2] != c.expect for r, c in zip(before, script.read_commands, strict=True)
               if c.expect is not None)
    for response in _engine_run(card, script.write_commands):
        assert response[-2:] == b"\x90\x00"
    after = _engine_run(card, script.read_commands)
    for response, cmd in zip(after, script.read_commands, strict=True):
        assert response[-2:] == b"\x90\x00", cmd.comment
        if cmd.expect is not None:
            assert response[:-2] == cmd.expect, cmd.comment


def test_wrong_adm_stops_nothing_but_is_visible() -> None:
    card, _ = make_card(build_image(_profile(adm1="11111111")))
    card.power_on()
    responses = _engine_run(card, card_script(_profile()).write_commands[:3])
    assert responses[1][-2:] != b"\x90\x00"  # VERIFY ADM1 with the wrong key


def _scriptor_log(script: str, responses: list[bytes]) -> str:
    """What scriptor prints for `script` when the card answers `responses` (its format:
    echo of the line, '> cmd', '< data : text' with 16 bytes a line)."""
    out = []
    it = iter(responses)
    for line in script.splitlines():
        out.append(line)
        if line.startswith("#") or not line.strip():
            continue
        out.append(f"> {line}")
        resp = " ".join(f"{b:02X}" for b in next(it)) + " "
        chunks = re.sub(r"((?:.. ){16})", r"\1\n", resp)
        out.append(f"< {chunks} : Normal processing.")
    return "\n".join(out) + "\n"


def test_check_log_accepts_a_faithful_card_and_flags_differences() -> None:
    a = _profile()
    script = card_script(a)
    text = render_scriptor(["t"], script)
    commands = script.write_commands + script.read_commands
    good = [c.expect + b"\x90\x00" if c.expect is not None else b"\x90\x00" for c in commands]
    assert check_log(text, _scriptor_log(text, good)) == []
    bad = list(good)
    i = next(n for n, c in enumerate(commands) if c.expect and "EF.IMPI" in c.comment)
    bad[i] = b"\x80\x00" + good[i][2:]
    assert any("read-back differs" in p for p in check_log(text, _scriptor_log(text, bad)))
    bad = list(good)
    bad[1] = b"\x63\xc2"
    assert any("status 63C2" in p for p in check_log(text, _scriptor_log(text, bad)))
    short = _scriptor_log(text, good).split("> ")
    assert check_log(text, "> ".join(short[:10]))


def test_ef_block_text() -> None:
    records = _ef_block("EF.X", 0x6F99, UPDATE, (b"\x01\x02", b"\xff\xff"))
    assert records.text == (
        "# select EF.X (6F99)\n00 A4 00 0C 02 6F 99\n"
        "# update EF.X record 1\n00 DC 01 04 02 01 02\n"
        "# update EF.X record 2\n00 DC 02 04 02 FF FF\n"
    )
    body = _ef_block("EF.X", 0x6F99, READ, b"\x01\x02\x03")
    assert body.text == (
        "# select EF.X (6F99)\n00 A4 00 0C 02 6F 99\n"
        "# read EF.X offset 0\n# expect 010203\n00 B0 00 00 03\n"
    )
    chunked = _ef_block("EF.X", 0x6F99, UPDATE, bytes(600)).text.splitlines()
    assert [line[:15] for line in chunked[3::2]] == ["00 D6 00 00 FF ", "00 D6 00 FF FF ",
                                                     "00 D6 01 FE 5A "]


@pytest.mark.parametrize("kind", [UPDATE, READ])
def test_ef_blocks_are_the_text_of_their_commands(kind: Kind) -> None:
    """The block text made from a frame is what rendering the commands gives."""
    cards = [card_contents(_profile(pin1_enabled=True, sizes={"EF.IMPI": {"size": 600}})),
             card_contents(_profile(impu=["sip:bob@ims.example.net"]))]
    cases = [(f.spec.name, f.spec.fid, f.data) for contents in cards for f in contents]
    cases += [("EF.X", 0x6F99, b""), ("EF.X", 0x6F99, (b"", b"\x01")), ("EF.X", 0x6F99, b"\0")]
    for name, fid, data in cases:
        reference = _ef_commands(name, fid, kind, data)
        for block in (_ef_block.__wrapped__(name, fid, kind, data),  # made
                      _ef_block(name, fid, kind, data), _ef_block(name, fid, kind, data)):
            assert block.text == _render(reference), (name, kind)
            assert block.commands == tuple(reference)
