"""Property: random APDU sequences on the alice ISIM (in process, the engine's dispatcher
called unwrapped so an internal exception surfaces) never raise, always end in a valid SW,
and never leave EF.IMPI / EF.IMPU / EF.DOMAIN breaking the trust rule.

The sequences are biased toward what can hurt: VERIFY ADM1 with the right key, SELECTs of
the ISIM and its identity EFs, UPDATE BINARY / UPDATE RECORD carrying TLVs of identities
inside and outside the trust domains, with and without FF padding, at random offsets."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from isim.card.emulator import Emulator, image_identity_problems
from isim.card.image import CardImage, build_image, snapshot
from isim.profile.model import load_profile

ROOT = Path(__file__).resolve().parent.parent
VALID_SW1 = frozenset({0x61, 0x62, 0x63, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
                       0x90, 0x91, 0x98})
DATA_SW1 = frozenset({0x61, 0x62, 0x63, 0x90, 0x91, 0x98})
VERIFY_ADM1 = bytes.fromhex("0020000A08") + b"12345678"
FIDS = ["6F02", "6F03", "6F04", "6F02", "6F03", "6F04", "6FD5", "6F07", "6F09", "2F00", "2FE2",
        "3F00", "7FFF"]
DOMAINS = ["ims.example.com", "3gppnetwork.org", "ims.mnc001.mcc001.3gppnetwork.org",
           "IMS.Example.COM", "evil.example.net", "example.com", "3gppnetwork.org.evil.com",
           "xn--bcher-kva.example", "ims.example.com.", "a..b", "", "localhost", "192.0.2.1"]

GOOD = ["bob@ims.example.com", "ims.example.com", "sip:bob@ims.example.com",
        "tel:+15550000", "001010123456789@ims.mnc001.mcc001.3gppnetwork.org",
        "sip:+15551234567@3gppnetwork.org"]


@functools.cache
def _image() -> CardImage:
    return build_image(load_profile(ROOT / "examples" / "alice.yaml"))


def _aid() -> bytes:
    return bytes.fromhex(_image().isim["aid"])


users = st.one_of(st.sampled_from(["alice", "bob", "001010123456789", "+1555", ""]),
                  st.text(max_size=12))
domains = st.one_of(st.sampled_from(DOMAINS), st.text(max_size=20))
identities = st.one_of(
    st.builds(lambda u, d: f"{u}@{d}", users, domains),                      # IMPI
    st.builds(lambda s, u, d: f"{s}:{u}@{d}", st.sampled_from(["sip", "sips", "tel", "http"]),
              users, domains),                                               # IMPU
    st.builds(lambda n, d: f"tel:+{n};phone-context={d}", st.integers(0, 10**12), domains),
    st.sampled_from(["tel:+15551234567", "tel:1234", "sip:alice@ims.example.com"]),
    domains,                                                                 # DOMAIN
)


@st.composite
def tlvs(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 12))
    if kind > 9:  # well-formed and inside the trust domains for one of the three EFs
        value = draw(st.sampled_from(GOOD)).encode()
        tlv = bytes([0x80, len(value)]) + value
        return tlv + b"\xff" * (128 - len(tlv)) if draw(st.booleans()) else tlv
    if kind == 0:
        return draw(st.binary(max_size=128))
    if kind == 1:
        return b"\xff" * draw(st.integers(0, 128))
    value = draw(identities).encode("utf-8", "surrogatepass")[:126]
    tag = 0x80 if kind > 2 else draw(st.integers(0, 255))
    length = len(value) if kind > 3 else draw(st.integers(0, 255))
    tlv = bytes([tag, length]) + value
    if draw(st.booleans()):  # padded the way a full-file write pads it
        tlv += b"\xff" * (128 - len(tlv))
    return tlv


@st.composite
def commands(draw: st.DrawFn) -> bytes | str:
    kind = draw(st.integers(0, 14))
    cla = draw(st.sampled_from([0x00, 0x00, 0x00, 0x01, 0x80, 0xA0]))
    if kind == 0:
        return VERIFY_ADM1
    if kind == 1:
        aid = _aid()
        return bytes([0x00, 0xA4, 0x04, draw(st.sampled_from([0x04, 0x0C])), len(aid)]) + aid
    if kind in (2, 3):
        fid = bytes.fromhex(draw(st.sampled_from(FIDS)))
        return bytes([cla & 0x03, 0xA4, 0x00, 0x0C, 2]) + fid
    if kind in (4, 5, 6):
        data = draw(tlvs())
        if not data:
            data = b"\x80"
        if draw(st.booleans()):
            p1 = draw(st.sampled_from([0x82, 0x85, 0x84]))  # by SFI: IMPI, DOMAIN, IMPU
            p2 = draw(st.integers(0, 130))
        else:
            offset = draw(st.sampled_from([0, 0, 0, 1, 2, 100, 127, 128]))
            p1, p2 = offset >> 8, offset & 0xFF
        return bytes([0x00, 0xD6, p1, p2, len(data) & 0xFF]) + data[:255]
    if kind in (7, 8, 9):
        data = draw(tlvs())
        if draw(st.integers(0, 3)):
            data = (data + b"\xff" * 128)[:128]
        if not data:
            data = b"\xff"
        record = draw(st.integers(0, 9))
        p2 = draw(st.sampled_from([0x04, 0x04, 0x02, 0x03, 0x24, 0x22]))
        return bytes([0x00, 0xDC, record, p2, len(data)]) + data
    if kind == 10:
        return bytes([cla, 0xB0 if draw(st.booleans()) else 0xB2, draw(st.integers(0, 3)),
                      draw(st.sampled_from([0, 4, 0x24])), 0])
    if kind == 11:
        return draw(st.sampled_from(["reset", "power_cycle"]))
    if kind == 12:
        return draw(st.sampled_from([bytes.fromhex("0070000001"), bytes.fromhex("00708001"),
                                     bytes.fromhex("0020000A08") + b"00000000"]))
    return draw(st.binary(min_size=0, max_size=40))


def _check_response(capdu: bytes, rapdu: bytes) -> None:
    assert 2 <= len(rapdu) <= 258, (capdu.hex(), rapdu.hex())
    assert rapdu[-2] in VALID_SW1, (capdu.hex(), rapdu.hex())
    if len(rapdu) > 2:
        assert rapdu[-2] in DATA_SW1, (capdu.hex(), rapdu.hex())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prelude=st.sampled_from(["", "6F02", "6F03", "6F04", "6F04"]),
       sequence=st.lists(commands(), max_size=40))
def test_random_sequences_keep_the_rule(prelude: str, sequence: list[bytes | str]) -> None:
    emu = Emulator.open(copy.deepcopy(_image()))
    card = emu.card
    if prelude:  # ADM1 verified, an identity EF selected: most writes reach the guard
        sequence = [VERIFY_ADM1, bytes([0, 0xA4, 4, 0x0C, 16]) + _aid(),
                    bytes.fromhex("00A4000C02" + prelude), *sequence]
    for step in sequence:
        if step == "reset":
            card.reset()
            continue
        if step == "power_cycle":
            card.power_off()
            card.power_on()
            continue
        assert isinstance(step, bytes)
        rapdu = card._process(step)  # unwrapped: an exception fails the test
        if card.take_state_changed():
            emu.persist()
        _check_response(step, rapdu)
        if step[1:2] in (b"\xd6", b"\xdc"):
            event(f"update {rapdu[-2:].hex()}")
            problems = image_identity_problems(snapshot(card, emu.app, emu.image))
            assert problems == [], (step.hex(), problems)
    assert image_identity_problems(snapshot(card, emu.app, emu.image)) == []


@settings(max_examples=60, deadline=None)
@given(data=tlvs(), record=st.integers(1, 3))
def test_accepted_writes_are_exactly_what_was_sent(data: bytes, record: int) -> None:
    """After ADM1: a write is either refused with nothing changed, or stored as sent."""
    emu = Emulator.open(copy.deepcopy(_image()))
    card = emu.card
    assert card._process(VERIFY_ADM1) == b"\x90\x00"
    assert card._process(bytes([0, 0xA4, 4, 0x0C, 16]) + _aid()) == b"\x90\x00"
    assert card._process(bytes.fromhex("00A4000C026F04")) == b"\x90\x00"
    rec = (data + b"\xff" * 128)[:128]
    before = list(card.ef("ADF.ISIM/EF.IMPU").content())
    sw = card._process(bytes([0, 0xDC, record, 4, 128]) + rec)
    after = list(card.ef("ADF.ISIM/EF.IMPU").content())
    if sw == b"\x90\x00":
        assert after[record - 1] == rec
        assert after[:record - 1] + after[record:] == before[:record - 1] + before[record:]
    else:
        assert sw == b"\x6a\x80"
        assert after == before
    assert image_identity_problems(snapshot(card, emu.app, emu.image)) == []
