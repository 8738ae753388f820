"""The ISIM on the UICC engine, in process: image built from examples/alice.yaml, driven
through `isim.card.emulator.Emulator.transmit` (the same path as `isim emulate`, minus the
socket).  The trust rule at the card, EF.DIR / EF.ICCID / ATR, AUTHENTICATE (IMS AKA and
GBA) with the TS 35.208 set-1 digest values."""

from __future__ import annotations

import copy
import dataclasses
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from isim.aka.gba import naf_keys
from isim.aka.milenage import Milenage
from isim.aka.procedure import generate_vector
from isim.aka.sqn import next_sqn
from isim.card.emulator import Emulator, image_identity_problems
from isim.card.image import CardImage, build_image, snapshot
from isim.codecs import codec_for
from isim.profile.model import Profile, load_profile

ROOT = Path(__file__).resolve().parent.parent
ALICE = ROOT / "examples" / "alice.yaml"

# TS 35.208 test set 1 (spec digest 3.6)
SET1_RAND = "23553cbe9637a89d218ae64dae47bf35"
SET1_AUTN = "55f328b43577b9b94a9ffac354dfafb3"
SET1_APDU = "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300"
SET1_RESPONSE = ("db08a54211d5e3ba50bf10b40ba9a3c58b2a05bbf0d987b21bf8cb10f769bcd751044604127672"
                 "711c6d3441")
ALICE_SQN_AFTER_SET1 = 0xFF9BB4D0B607

VERIFY_ADM1 = "0020000A08" + b"12345678".hex()
VERIFY_PIN1 = "0020000108" + b"1234".hex() + "FFFFFFFF"
EF_FID = {"EF.IMPI": "6F02", "EF.DOMAIN": "6F03", "EF.IMPU": "6F04", "EF.GBABP": "6FD5"}


@functools.cache
def _alice_profile() -> Profile:
    return load_profile(ALICE)


@functools.cache
def _alice_image() -> CardImage:
    return build_image(_alice_profile())


def alice(**changes: object) -> Emulator:
    """A fresh in-process alice card (no state file); profile fields may be overridden."""
    if changes:
        image = build_image(dataclasses.replace(_alice_profile(), **changes))
    else:
        image = copy.deepcopy(_alice_image())
    return Emulator.open(image)


def tx(emu: Emulator, hexstr: str) -> tuple[bytes, int]:
    r = emu.transmit(bytes.fromhex(hexstr.replace(" ", "")))
    assert len(r) >= 2
    return r[:-2], int.from_bytes(r[-2:], "big")


def ok(emu: Emulator, hexstr: str) -> bytes:
    data, sw = tx(emu, hexstr)
    assert sw == 0x9000, f"{hexstr} -> {sw:04X}"
    return data


def select_isim(emu: Emulator, cla: int = 0) -> None:
    aid = _alice_image().isim["aid"]
    ok(emu, f"{cla:02X}A4040C{len(aid) // 2:02X}{aid}")


def select_ef(emu: Emulator, name: str, cla: int = 0) -> None:
    ok(emu, f"{cla:02X}A4000C02{EF_FID[name]}")


def ef_content(emu: Emulator, name: str) -> bytes | list[bytes]:
    content = emu.card.ef(f"ADF.ISIM/{name}").content()
    return list(content) if isinstance(content, list) else bytes(content)


def read_binary(emu: Emulator, size: int = 128) -> bytes:
    return ok(emu, f"00B00000{size & 0xFF:02X}")


def update_binary(emu: Emulator, data: bytes, offset: int = 0) -> int:
    return tx(emu, f"00D6{offset >> 8:02X}{offset & 0xFF:02X}{len(data):02X}{data.hex()}")[1]


def update_record(emu: Emulator, record: int, data: bytes) -> int:
    return tx(emu, f"00DC{record:02X}04{len(data):02X}{data.hex()}")[1]


def encode(name: str, value: str | None) -> bytes:
    return codec_for(name).encode(value, 128)


def decode(name: str, raw: bytes) -> str | None:
    """The value, tolerating non-FF bytes after the TLV (as the card's guard does)."""
    return codec_for(name).decode_detailed(raw).value


def assert_rule_holds(emu: Emulator) -> None:
    image = snapshot(emu.card, emu.app, emu.image)
    assert image_identity_problems(image) == []


# ---------------------------------------------------------------------- UICC layer


def test_atr_has_a_valid_tck() -> None:
    atr = alice().card.atr
    assert atr[0] == 0x3B
    x = 0
    for b in atr[1:]:
        x ^= b
    assert x == 0, "TCK: XOR of T0..TCK must be 0"


def test_ef_dir_lists_the_isim() -> None:
    emu = alice()
    select_ef_mf = ok(emu, "00A40004022F0000")
    assert select_ef_mf[0] == 0x62
    usim = codec_for("EF.DIR").decode(ok(emu, "00B2010400"))  # the USIM first (TS 31.102)
    assert usim is not None and usim.aid[:7] == bytes.fromhex("A0000000871002")
    template = codec_for("EF.DIR").decode(ok(emu, "00B2020400"))
    assert template is not None
    assert template.aid == bytes.fromhex(_alice_image().isim["aid"])
    assert template.aid[:7] == bytes.fromhex("A0000000871004")  # 3GPP RID + ISIM app code
    assert template.label == "ISIM"


def test_ef_iccid_holds_the_iccid() -> None:
    emu = alice()
    select = ok(emu, "00A4000C022FE2")
    assert select == b""
    raw = ok(emu, "00B000000A")
    assert raw == bytes.fromhex("988812010000400310F0")
    assert codec_for("EF.ICCID").decode(raw) == _alice_profile().iccid


def test_cla_a0_is_refused() -> None:
    assert tx(alice(), "A0A40000023F00")[1] == 0x6E00


# ---------------------------------------------------------------------- the trust rule

GOOD = {"EF.IMPI": "bob@ims.example.com", "EF.DOMAIN": "ims.example.com",
        "EF.IMPU": "sip:bob@ims.example.com"}
BAD = {"EF.IMPI": "bob@evil.example.net", "EF.DOMAIN": "evil.example.net",
       "EF.IMPU": "sip:bob@evil.example.net"}


def _write(emu: Emulator, name: str, data: bytes, record: int = 1) -> int:
    select_ef(emu, name)
    if name == "EF.IMPU":
        return update_record(emu, record, data)
    return update_binary(emu, data)


@pytest.mark.parametrize("name", ["EF.IMPI", "EF.IMPU", "EF.DOMAIN"])
def test_update_without_adm1_is_refused(name: str) -> None:
    emu = alice()
    select_isim(emu)
    before = ef_content(emu, name)
    assert _write(emu, name, encode(name, GOOD[name])) == 0x6982
    assert ef_content(emu, name) == before


@pytest.mark.parametrize("name", ["EF.IMPI", "EF.IMPU", "EF.DOMAIN"])
@pytest.mark.parametrize("value", ["bad", "malformed", "empty"])
def test_rule_breaking_update_answers_6a80_and_changes_nothing(name: str, value: str) -> None:
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    before = ef_content(emu, name)
    if value == "bad":
        data = encode(name, BAD[name])
    elif value == "malformed":
        data = bytes.fromhex("80") + b"\x7f" + b"ab" * 63  # length says 127, 126 bytes follow
    else:  # the ISIM must hold an IMPI, a home domain and at least one IMPU
        data = b"\xff" * 128
    if name == "EF.IMPU" and value == "empty":
        select_ef(emu, name)
        assert update_record(emu, 2, data) == 0x9000
        assert update_record(emu, 3, data) == 0x9000
        before = ef_content(emu, name)
        assert update_record(emu, 1, data) == 0x6A80
    else:
        assert _write(emu, name, data) == 0x6A80
    assert ef_content(emu, name) == before
    assert_rule_holds(emu)


@pytest.mark.parametrize("name", ["EF.IMPI", "EF.IMPU", "EF.DOMAIN"])
def test_valid_update_is_written(name: str) -> None:
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    data = encode(name, GOOD[name])
    serial = emu.card.state_serial
    assert _write(emu, name, data) == 0x9000
    read = ok(emu, "00B2010400") if name == "EF.IMPU" else read_binary(emu)
    assert read == data
    assert decode(name, read) == GOOD[name]
    assert emu.card.state_serial > serial
    assert_rule_holds(emu)


@pytest.mark.parametrize("name", ["EF.IMPI", "EF.DOMAIN"])
def test_tlv_only_update_that_leaves_old_bytes_is_refused(name: str) -> None:
    """A TLV written over a longer value leaves its old bytes after the TLV: a reader that
    does not stop at the first TLV sees something else, and `isim inspect` reports it, so
    the guard refuses it (issue 12 item 1). The TLV padded with FF over the rest is fine."""
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    value = "a@ims.example.com" if name == "EF.IMPI" else "ims.example.com"
    tlv = bytes([0x80, len(value)]) + value.encode()
    old = ef_content(emu, name)
    assert isinstance(old, bytes)
    assert len(tlv) < len(old.rstrip(b"\xff")), "the old value must be longer"
    assert _write(emu, name, tlv) == 0x6A80
    assert read_binary(emu) == old
    padded = tlv + b"\xff" * (len(old.rstrip(b"\xff")) - len(tlv))
    assert _write(emu, name, padded) == 0x9000
    assert decode(name, read_binary(emu)) == value
    bad = BAD[name].encode()
    bad_tlv = bytes([0x80, len(bad)]) + bad
    assert _write(emu, name, bad_tlv + b"\xff" * (len(old) - len(bad_tlv))) == 0x6A80


def test_tlv_only_update_of_impu_record_is_accepted() -> None:
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    select_ef(emu, "EF.IMPU")
    value = b"sip:x@ims.example.com"
    record = bytes([0x80, len(value)]) + value
    # UPDATE RECORD writes a whole record: the TLV padded the way pySim pads it
    assert update_record(emu, 2, record + b"\xff" * (128 - len(record))) == 0x9000
    assert decode("EF.IMPU", ok(emu, "00B2020400")) == value.decode()


def test_erasing_impu_records_but_not_the_last() -> None:
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    select_ef(emu, "EF.IMPU")
    ff = b"\xff" * 128
    assert update_record(emu, 1, ff) == 0x9000
    assert update_record(emu, 3, ff) == 0x9000
    last = ef_content(emu, "EF.IMPU")
    assert update_record(emu, 2, ff) == 0x6A80
    assert ef_content(emu, "EF.IMPU") == last
    assert decode("EF.IMPU", ok(emu, "00B2020400")) == "tel:+15551234567"
    # a new IMPU can be written into an erased record, then the old one may go
    assert update_record(emu, 1, encode("EF.IMPU", GOOD["EF.IMPU"])) == 0x9000
    assert update_record(emu, 2, ff) == 0x9000
    assert_rule_holds(emu)


def test_update_by_sfi_is_guarded_too() -> None:
    emu = alice()
    select_isim(emu)
    ok(emu, VERIFY_ADM1)
    before = ef_content(emu, "EF.IMPI")
    bad = encode("EF.IMPI", BAD["EF.IMPI"])[:40]
    assert tx(emu, f"00D68200{len(bad):02X}{bad.hex()}")[1] == 0x6A80  # SFI 2 = EF.IMPI
    assert ef_content(emu, "EF.IMPI") == before


def test_pin1_enabled_protects_reads_and_authenticate() -> None:
    emu = alice(pin1_enabled=True)
    select_isim(emu)
    select_ef(emu, "EF.IMPI")
    assert tx(emu, "00B0000080")[1] == 0x6982
    assert tx(emu, SET1_APDU)[1] == 0x6982
    assert tx(emu, "0020000108" + b"9999".hex() + "FFFFFFFF")[1] == 0x63C2
    ok(emu, VERIFY_PIN1)
    assert decode("EF.IMPI", read_binary(emu)) == _alice_profile().impi
    assert ok(emu, SET1_APDU).hex() == SET1_RESPONSE


# ---------------------------------------------------------------------- AUTHENTICATE


def test_authenticate_set1_exact_then_replay_gives_auts() -> None:
    emu = alice()
    select_isim(emu)
    serial = emu.card.state_serial
    data, sw = tx(emu, SET1_APDU)
    assert (data.hex(), sw) == (SET1_RESPONSE, 0x9000)
    assert emu.card.state_serial > serial
    assert emu.app.aka.sqn.sqn_ms == ALICE_SQN_AFTER_SET1
    data, sw = tx(emu, SET1_APDU)
    assert sw == 0x9000 and data[:2] == b"\xdc\x0e" and len(data) == 16
    auts = data[2:].hex()
    # the network side (the real CLI) accepts the AUTS and recovers SQN_MS
    run = subprocess.run(
        [sys.executable, "-m", "isim", "aka", str(ALICE), "--resync", auts, "--rand", SET1_RAND,
         "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert f'"sqn_ms": "{ALICE_SQN_AFTER_SET1:012x}"' in run.stdout


def test_authenticate_mac_failure_changes_nothing() -> None:
    emu = alice()
    select_isim(emu)
    apdu = bytearray(bytes.fromhex(SET1_APDU))
    apdu[-2] ^= 0x01  # last byte of MAC-A
    state, serial = emu.app.state(), emu.card.state_serial
    assert emu.transmit(bytes(apdu)) == b"\x98\x62"
    assert emu.card.state_serial == serial
    assert emu.app.state() == state
    assert ok(emu, SET1_APDU).hex() == SET1_RESPONSE  # still fresh


@pytest.mark.parametrize("p2", [0x80, 0x82, 0x83, 0x85, 0x86, 0x01])
def test_authenticate_unsupported_context(p2: int) -> None:
    emu = alice()
    select_isim(emu)
    assert tx(emu, f"008800{p2:02X}" + SET1_APDU[8:])[1] in (0x9864, 0x6A86)
    if p2 & 0x80:
        assert tx(emu, f"008800{p2:02X}" + SET1_APDU[8:])[1] == 0x9864


@pytest.mark.parametrize("apdu", [
    "0088008110" + "10" + SET1_RAND[:30],                       # truncated RAND/AUTN
    "0088008112" + "10" + SET1_RAND + "00",                     # no AUTN
    "0088008122" + "11" + SET1_RAND + "00" + SET1_AUTN[:-2],    # wrong L1
    "0088008122" + "10" + SET1_RAND + "0F" + SET1_AUTN + "00",  # Lc too short for the data
    "00880081",                                                 # no data at all
])
def test_authenticate_malformed(apdu: str) -> None:
    emu = alice()
    select_isim(emu)
    serial = emu.card.state_serial
    assert tx(emu, apdu)[1] in (0x6700, 0x6A80)
    assert emu.card.state_serial == serial
    assert ok(emu, SET1_APDU).hex() == SET1_RESPONSE


def test_authenticate_p1_not_zero() -> None:
    emu = alice()
    select_isim(emu)
    assert tx(emu, "00880181" + SET1_APDU[8:])[1] == 0x6A86


def test_authenticate_outside_the_isim_is_refused() -> None:
    emu = alice()  # MF selected, no application
    assert tx(emu, SET1_APDU)[1] != 0x9000


def test_authenticate_on_a_logical_channel() -> None:
    emu = alice()
    assert ok(emu, "0070000001") == b"\x01"
    select_isim(emu, cla=0x01)
    data = ok(emu, "01" + SET1_APDU[2:])
    assert data.hex() == SET1_RESPONSE
    # the basic channel has the MF selected, not the ISIM: no AUTHENTICATE there
    assert tx(emu, SET1_APDU)[1] != 0x9000
    # reads on channel 1 see the ISIM files
    select_ef(emu, "EF.IMPI", cla=0x01)
    assert decode("EF.IMPI", ok(emu, "01B0000080")).endswith("3gppnetwork.org")
    ok(emu, "00708001")  # MANAGE CHANNEL close channel 1
    assert tx(emu, "01B0000080")[1] == 0x6881


def test_gba_bootstrap_then_naf_derivation() -> None:
    emu = alice()
    select_isim(emu)
    profile = _alice_profile()
    milenage = Milenage(profile.k, profile.opc)
    rand = bytes(range(16))
    sqn = next_sqn(profile.sqn, profile.sqn_ind_bits)
    v = generate_vector(milenage, rand, sqn)
    serial = emu.card.state_serial
    data = ok(emu, "00880084" + "23" + "DD10" + rand.hex() + "10" + v.autn.hex() + "00")
    assert data == b"\xdb\x08" + v.xres
    assert emu.card.state_serial > serial
    # EF.GBABP holds the RAND (TS 33.220 G.3)
    select_ef(emu, "EF.GBABP")
    gbabp = codec_for("EF.GBABP").decode(ok(emu, "00B0000000"))
    assert gbabp is not None and gbabp.rand == rand
    naf_id = b"naf.ims.example.com" + bytes.fromhex("0100000002")
    impi = b"001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    body = bytes([0xDE, len(naf_id)]) + naf_id + bytes([len(impi)]) + impi
    data = ok(emu, f"00880084{len(body):02X}{body.hex()}00")
    expected = naf_keys(v.ck + v.ik, rand, impi, naf_id).ext
    assert data == b"\xdb\x20" + expected
    # the same bootstrap again is a replay: sync failure, Ks kept
    again = ok(emu, "00880084" + "23" + "DD10" + rand.hex() + "10" + v.autn.hex() + "00")
    assert again[:2] == b"\xdc\x0e"
    assert ok(emu, f"00880084{len(body):02X}{body.hex()}00") == b"\xdb\x20" + expected


def test_naf_derivation_without_bootstrap_is_refused() -> None:
    emu = alice()
    select_isim(emu)
    body = bytes([0xDE, 3]) + b"naf" + bytes([3]) + b"a@b"
    assert tx(emu, f"00880084{len(body):02X}{body.hex()}00")[1] in (0x6985, 0x6A80, 0x9864)


def test_authenticate_only_success_marks_the_state_changed() -> None:
    """Success bumps the state serial (persist before answering); AUTS and 9862 do not."""
    emu = alice()
    select_isim(emu)
    serial = emu.card.state_serial
    assert ok(emu, SET1_APDU).hex() == SET1_RESPONSE
    assert emu.card.state_serial == serial + 1
    state = emu.app.state()
    data = ok(emu, SET1_APDU)  # replay: AUTS
    assert data[:2] == b"\xdc\x0e"
    bad = bytearray(bytes.fromhex(SET1_APDU))
    bad[-2] ^= 0x01
    assert emu.transmit(bytes(bad)) == b"\x98\x62"
    assert emu.card.state_serial == serial + 1
    assert emu.app.state() == state
