"""Issue 12 item 1: for any bytes written to EF.IMPI / EF.IMPU / EF.DOMAIN, the emulator's
write guard accepts exactly when `isim check` and `isim inspect` accept.

* guard: the alice card in the engine, VERIFY ADM1, UPDATE BINARY / UPDATE RECORD of the
  whole file or record; accepted means 90 00.
* inspect: the alice image with that file or record holding the same bytes, read back and
  judged by `isim inspect` (no error).
* check: the profile `isim check` would need to put exactly those bytes on the card (the
  text the codec decodes, in alice's profile; `tools/fuzz_identities.check_accepts`);
  bytes no text encodes to are refused.

The inputs: hypothesis bytes and text, and a corpus of nasty names (NUL, C0/C1 controls,
bidi overrides, zero-width characters, line separators, fullwidth dots and letters, soft
hyphens, several '@', an empty username, a second TLV, trailing bytes).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_identities
from broken_images import set_body, set_record
from isim.card.contents import ISIM_ADF
from isim.card.emulator import Emulator
from isim.card.image import CardImage, build_image
from isim.codecs.tlv import encode_tag80
from isim.errors import ProfileError
from isim.inspect import inspect_source, open_image
from isim.profile.model import load_profile
from specs.layout import layout

ROOT = Path(__file__).resolve().parents[1]
ALICE = ROOT / "examples" / "alice.yaml"
IDENTITY_EFS = ("EF.IMPI", "EF.IMPU", "EF.DOMAIN")


@functools.cache
def _image() -> CardImage:
    return build_image(load_profile(ALICE))


def _spec(ef: str) -> Any:
    return layout().applications[ISIM_ADF].files[ef]


def _unit_size(ef: str) -> int:
    spec = _spec(ef)
    return spec.record_length if spec.is_record else spec.size


def _full(ef: str, raw: bytes) -> bytes:
    return (raw + b"\xff" * _unit_size(ef))[: _unit_size(ef)]


# -- the three verdicts ----------------------------------------------------------------------


def guard_accepts(ef: str, record: int | None, raw: bytes) -> bool:
    """The real path: an Emulator opened on the image, the APDUs through the engine."""
    emu = Emulator.open(copy.deepcopy(_image()))
    aid = bytes.fromhex(_image().isim["aid"])
    return fuzz_identities.guard_write(emu.transmit, aid, _spec(ef).fid, record, _full(ef, raw))


def inspect_accepts(ef: str, record: int | None, raw: bytes) -> bool:
    image = _image()
    image = CardImage(image.iccid, copy.deepcopy(image.card), copy.deepcopy(image.isim))
    if record is None:
        set_body(image, ef, _full(ef, raw))
    else:
        set_record(image, ef, record, _full(ef, raw))
    return inspect_source(open_image(image)).passed()


def check_accepts(ef: str, record: int | None, raw: bytes) -> bool:
    """The profile `isim check` would need (tools/fuzz_identities.py builds it)."""
    return fuzz_identities.check_accepts(ef, record, _full(ef, raw))


def verdicts(ef: str, record: int | None, raw: bytes) -> tuple[bool, bool, bool]:
    return guard_accepts(ef, record, raw), check_accepts(ef, record, raw), inspect_accepts(
        ef, record, raw)


# -- the corpus ------------------------------------------------------------------------------

NASTY = [
    "\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", " ", "\xa0",
    "\u202e", "\u202d", "\u2066", "\u200b", "\u200c", "\u200d", "\ufeff", "\u2028", "\u2029",
    "\u00ad", "\uff0e", "\u3002", "\uff61", "\u3000", "@", "@@", "\U000e0001", "\ue000",
]


def _corpus() -> list[tuple[str, int | None, bytes]]:
    out: list[tuple[str, int | None, bytes]] = []

    def text(ef: str, record: int | None, value: str) -> None:
        out.append((ef, record, encode_tag80(value.encode("utf-8", "surrogatepass"))))

    for x in NASTY:
        text("EF.IMPI", None, f"alice{x}@ims.example.com")
        text("EF.IMPI", None, f"alice@ims{x}.example.com")
        text("EF.IMPI", None, f"{x}alice@ims.example.com")
        text("EF.IMPU", 2, f"sip:alice{x}@ims.example.com")
        text("EF.IMPU", 4, f"sip:alice@ims.example.com{x}")
        text("EF.DOMAIN", None, f"ims.exam{x}ple.com")
        text("EF.DOMAIN", None, f"ims.example.com{x}")
    for value in [
        "alice@evil.org\x00@ims.example.com", "@ims.example.com", "a@b@ims.example.com",
        "alice@ims.example.com", "=cmd@ims.example.com", "+1555@ims.example.com",
        "-x@ims.example.com", "alice@\uff29\uff2d\uff33.example.com", "alice@ims\uff0eexample.com",
        "alice@IMS.EXAMPLE.COM", ".alice@ims.example.com", "al..ice@ims.example.com",
    ]:
        text("EF.IMPI", None, value)
    for value in ["sip:alice@IMS.example.com", "sip:ALICE@ims.example.com",
                  "tel:+1-555-123-4567", "tel:+15551234567", "sip:a@b@ims.example.com",
                  "sip:bob@\uff49\uff4d\uff53.example.com", "sip:bob@ims.example.com"]:
        text("EF.IMPU", 4, value)
    for value in ["ims.example.com", "IMS.Example.com", "\uff49\uff4d\uff53.example.com", "org",
                  "ims.exam\u00adple.com", "bücher.ims.example.com", "BÜCHER.ims.example.com"]:
        text("EF.DOMAIN", None, value)
    good = encode_tag80(b"bob@ims.example.com")
    out += [
        ("EF.IMPI", None, good + encode_tag80(b"x@evil.org")),  # a second TLV
        ("EF.IMPI", None, good + b"\x00"),  # trailing bytes
        ("EF.IMPI", None, b"\x80\x81\x13bob@ims.example.com"),  # non-minimal length
        ("EF.IMPI", None, b"\xff"),  # erased
        ("EF.IMPI", None, encode_tag80(b"")),  # empty TLV
        ("EF.IMPU", 2, encode_tag80(b"")),
        ("EF.IMPU", 2, b"\xff"),
        ("EF.IMPU", 5, encode_tag80(b"sip:bob@ims.example.com") + b"\x80\x00"),
        ("EF.DOMAIN", None, encode_tag80(b"ims.example.com\xc2\xad")),  # the C2 AD case
        ("EF.DOMAIN", None, encode_tag80(b"ims.example.com\xc0\xae")),  # overlong UTF-8
    ]
    return out


CORPUS = _corpus()


@pytest.mark.parametrize(("ef", "record", "raw"), CORPUS,
                         ids=[f"{i}-{ef}" for i, (ef, _, _) in enumerate(CORPUS)])
def test_corpus_guard_check_inspect_agree(ef: str, record: int | None, raw: bytes) -> None:
    guard, check, inspect = verdicts(ef, record, raw)
    assert guard == check == inspect, (raw, guard, check, inspect)


def test_corpus_is_not_trivial() -> None:
    """Both verdicts occur, so agreement is not agreement on 'always refuse'."""
    accepted = [raw for ef, record, raw in CORPUS if guard_accepts(ef, record, raw)]
    assert 0 < len(accepted) < len(CORPUS) // 4


@pytest.mark.parametrize("value", [
    "alice@evil.org\x00@ims.example.com", "alice bob@ims.example.com", "@ims.example.com",
    "alice\u202e@ims.example.com", "al\u200bice@ims.example.com", "a@b@ims.example.com",
    "alice@ims.exam\u00adple.com", "alice@ims\uff0eexample.com", "alice\u2028@ims.example.com",
])
def test_issue_values_refused_by_all(value: str) -> None:
    assert verdicts("EF.IMPI", None, encode_tag80(value.encode())) == (False, False, False)


def test_second_tlv_refused_by_all() -> None:
    raw = encode_tag80(b"bob@ims.example.com") + encode_tag80(b"x@evil.org")
    assert verdicts("EF.IMPI", None, raw) == (False, False, False)


# -- the property ----------------------------------------------------------------------------

_piece = st.one_of(
    st.sampled_from(["alice", "bob", "ims", "example", "com", "@", ".", "sip:", "tel:+1555",
                     "ims.example.com", "3gppnetwork.org", "xn--bcher-kva", "bücher", *NASTY]),
    st.text(max_size=4),
)
_texts = st.lists(_piece, max_size=8).map("".join)
_tlv_of_text = _texts.map(lambda t: encode_tag80(t.encode("utf-8", "surrogatepass")[:120]))
_bytes = st.one_of(
    _tlv_of_text,
    st.tuples(_tlv_of_text, st.binary(max_size=6)).map(lambda p: p[0] + p[1]),
    st.binary(max_size=40),
    st.sampled_from([b"sip:bob@", b"bob@", b"", b"tel:+1"]).flatmap(
        lambda head: st.sampled_from(["ims.example.com", "IMS.example.com", "evil.org"]).map(
            lambda d: encode_tag80(head + d.encode()))),
)
_targets = st.one_of(st.tuples(st.sampled_from(["EF.IMPI", "EF.DOMAIN"]), st.none()),
                     st.tuples(st.just("EF.IMPU"), st.integers(1, 8)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_targets, _bytes)
def test_guard_accepts_exactly_when_check_and_inspect_accept(
    target: tuple[str, int | None], raw: bytes
) -> None:
    ef, record = target
    raw = raw[: _unit_size(ef)]
    guard, check, inspect = verdicts(ef, record, raw)
    assert guard == check == inspect, (ef, record, raw, guard, check, inspect)


# -- the real-card writer -------------------------------------------------------------------


class _RecordingCard:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return b"\x90\x00"


@pytest.mark.parametrize(("field", "value"), [
    ("impi", "alice@evil.org\x00@ims.example.com"),
    ("impu", ("sip:alice@ims.example.com", "sip:alice@IMS.example.com")),
    ("domain", "ims.exam\u00adple.com"),
])
def test_real_card_writer_runs_the_guard_check_before_the_first_apdu(
    field: str, value: Any
) -> None:
    """A profile that bypassed validation (built by hand) still never reaches a card."""
    import dataclasses

    from isim.personalize.writer import CardFailure, personalize_card

    profile = dataclasses.replace(load_profile(ALICE), **{field: value})
    card = _RecordingCard()
    with pytest.raises(CardFailure, match="nothing written"):
        personalize_card(card, profile)  # type: ignore[arg-type]
    assert card.sent == []


# -- EF.P-CSCF: the same strict decoding and name policy for FQDN addresses ------------------

PCSCF_NAMES = ["pcscf.ims.example.com", "PCSCF.ims.example.com", "pcscf\u00ad.ims.example.com",
               "pcscf\uff0eims.example.com", "pcscf.ims.example.com\x00", "pcscf ims.example.com",
               "p\u200bcscf.ims.example.com", "b\u00fccher.example.com", "a..b", "-a.example"]


def _pcscf_check_accepts(record: int, data: bytes) -> bool:
    from isim.codecs import CodecError, codec_for
    from isim.profile.model import profile_from_mapping

    try:
        value = codec_for("EF.P-CSCF").decode(data)
    except CodecError:
        return False
    mapping = dict(fuzz_identities._alice()[0])
    pcscf = list(mapping["pcscf"]) + [None] * 4
    pcscf[record - 1] = None if value is None else value.address
    mapping["pcscf"] = [p for p in pcscf if p is not None]
    try:
        profile_from_mapping(mapping)
    except ProfileError:
        return False
    return True


@pytest.mark.parametrize("raw", [
    *(encode_tag80(b"\x00" + n.encode()) for n in PCSCF_NAMES),
    encode_tag80(b"\x01" + bytes([192, 0, 2, 1])),
    encode_tag80(b"\x00pcscf.ims.example.com") + b"\x00",  # left-over byte
    b"\xff",
])
def test_pcscf_guard_check_inspect_agree(raw: bytes) -> None:
    ef, record = "EF.P-CSCF", 3
    data = _full(ef, raw)
    emu = Emulator.open(copy.deepcopy(_image()))
    aid = bytes.fromhex(_image().isim["aid"])
    guard = fuzz_identities.guard_write(emu.transmit, aid, _spec(ef).fid, record, data)
    verdicts = (guard, _pcscf_check_accepts(record, data), inspect_accepts(ef, record, raw))
    assert len(set(verdicts)) == 1, (raw, verdicts)
