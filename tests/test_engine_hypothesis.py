"""Property tests: random APDU sequences never raise, always end in a valid status word, and
the application's write guard is always honoured."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu.application import FileContents
from apdu.build import card_dict
from apdu.engine import KNOWN_INS, Card
from apdu.files import EF
from apdu.sw import VALID_SW1
from demo_card import DEMO_PINS
from specs.layout import layout

AID = layout().applications["ADF.ISIM"].aid
assert AID is not None

INS = [*KNOWN_INS, 0x12, 0xC2, 0xB1]  # and some this card does not implement
CLA = [
    0x00,
    0x00,
    0x00,
    0x01,
    0x02,
    0x03,
    0x40,
    0x4F,
    0x80,
    0x81,
    0xC0,
    0xA0,
    0x0C,
    0x10,
    0x60,
    0xFF,
]
P1 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x09, 0x80, 0x82, 0x83, 0x84, 0x86, 0x9E, 0xFF]
P2 = [
    0x00,
    0x01,
    0x02,
    0x03,
    0x04,
    0x05,
    0x06,
    0x0A,
    0x0C,
    0x0E,
    0x24,
    0x44,
    0x4C,
    0x81,
    0xF4,
    0xFF,
]
DATA = [
    b"",
    b"\x3f\x00",
    b"\x2f\x00",
    b"\x2f\xe2",
    b"\x2f\x05",
    b"\x2f\x06",
    b"\x6f\x02",
    b"\x6f\x03",
    b"\x6f\x04",
    b"\x6f\x06",
    b"\x6f\xad",
    b"\x7f\xff",
    b"\x7f\xff\x6f\x04",
    AID,
    AID[:7],
    b"1234\xff\xff\xff\xff",
    b"11111111",
    b"1234\xff\xff\xff\xff12345678",
    b"123456781234\xff\xff\xff\xff",
    b"\xff" * 128,
    b"\x80\x03abc" + b"\xff" * 123,
]


class GuardApp:
    """Approves an update unless the sum of the candidate's bytes is a multiple of 3, and never
    one that would leave a record EF without any non-empty record. Logs every decision."""

    label = "T"

    def __init__(self, aid: bytes) -> None:
        self.aid = aid
        self.state_changed = False
        self.decisions: list[tuple[str, int | None, bytes, bool]] = []

    def check_update(
        self, ef_name: str, record: int | None, new_content: bytes, file_contents: FileContents
    ) -> bool:
        ok = sum(new_content) % 3 != 0
        if record is not None:
            records = file_contents(ef_name)
            assert isinstance(records, list) and records[record - 1] == new_content
            ok = ok and any(r.strip(b"\xff") for r in records)
        else:
            assert file_contents(ef_name) == new_content
        self.decisions.append((ef_name, record, bytes(new_content), ok))
        return ok

    def authenticate(self, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
        self.state_changed = bool(data)
        return data[:16], 0x9000 if data else 0x9864

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    header = bytes(
        [
            draw(st.sampled_from(CLA) | st.integers(0, 255)),
            draw(st.sampled_from(INS) | st.integers(0, 255)),
            draw(st.sampled_from(P1) | st.integers(0, 255)),
            draw(st.sampled_from(P2) | st.integers(0, 255)),
        ]
    )
    data = draw(st.sampled_from(DATA) | st.binary(max_size=260))
    le = draw(st.none() | st.integers(0, 255))
    body = b""
    if data:
        lc = len(data) & 0xFF
        lc = draw(st.sampled_from([lc, lc, lc, (lc + 1) & 0xFF, (lc - 1) & 0xFF, 0]))
        body = bytes([lc]) + data
    if le is not None:
        body += bytes([le])
    return header + body


@st.composite
def updates(draw: st.DrawFn) -> bytes:
    """UPDATE BINARY by SFI / UPDATE RECORD of the ADF's EFs: what the guard must stop."""
    if draw(st.booleans()):
        p1 = draw(st.sampled_from([0x82, 0x83, 0x85, 0x87, 0x00]))
        data = draw(st.binary(min_size=1, max_size=20))
        return bytes([0x00, 0xD6, p1, draw(st.integers(0, 8)), len(data)]) + data
    p2 = draw(st.sampled_from([0x24, 0x04, 0x02, 0x03]))
    record = draw(
        st.sampled_from([b"\xff" * 128, b"\x80\x03abc" + b"\xff" * 123])
        | st.binary(min_size=128, max_size=128)
    )
    return bytes([0x00, 0xDC, draw(st.integers(0, 9)), p2, 0x80]) + record


APDU = st.one_of(structured(), structured(), updates(), st.binary(max_size=40))
STEP = st.one_of(APDU, APDU, APDU, st.sampled_from(["reset", "power_off", "power_on"]))


def make_card(t0: bool) -> tuple[Card, GuardApp]:
    app = GuardApp(AID)
    card = Card.from_dict(
        card_dict(pins=DEMO_PINS), applications=[app], rng=lambda n: bytes(n), t0=t0
    )
    return card, app


def _efs(df: Any) -> list[EF]:
    out: list[EF] = []
    for c in df.children:
        out.extend(_efs(c) if c.is_df else [c])
    return out


def check_guard(before: dict[EF, Any], after: dict[EF, Any], decisions: list[Any]) -> None:
    for ef, old in before.items():
        new = after[ef]
        if new == old:
            continue
        approved = [d for d in decisions if d[0] == ef.name and d[3]]
        assert approved, f"{ef.name} changed without the guard's approval"
        _, record, content, _ = approved[-1]
        if record is None:
            assert new == content
        else:
            assert new[record - 1] == content
            if not ef.cyclic:
                assert [r for i, r in enumerate(new) if i != record - 1] == [
                    r for i, r in enumerate(old) if i != record - 1
                ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t0=st.booleans(), steps=st.lists(STEP, max_size=40))
def test_random_sequences_never_raise_and_honour_the_guard(t0: bool, steps: list[Any]) -> None:
    card, app = make_card(t0)
    # unlock everything half of the time so that updates reach the guard
    if len(steps) % 2:
        for h in (
            "002000010831323334FFFFFFFF",
            "0020000A083131313131313131",
            "00A4040C10" + AID.hex(),
        ):
            card.process(bytes.fromhex(h))
    efs = _efs(card.adfs[0])
    for step in steps:
        if step == "reset":
            assert card.reset() == card.atr
            continue
        if step == "power_off":
            card.power_off()
            continue
        if step == "power_on":
            assert card.power_on() == card.atr
            continue
        before = {ef: ef.content() for ef in efs}
        mark = len(app.decisions)
        rapdu = card._process(step)  # the unwrapped dispatcher: an exception fails the test
        assert 2 <= len(rapdu) <= 258
        assert rapdu[-2] in VALID_SW1, rapdu.hex()
        if len(rapdu) > 2:
            assert rapdu[-2] in (0x90, 0x91, 0x62, 0x63, 0x61, 0x98), rapdu.hex()
        check_guard(before, {ef: ef.content() for ef in efs}, app.decisions[mark:])
    # the persistent state always round-trips
    assert Card.from_dict(card.to_dict()).to_dict() == card.to_dict()


@settings(max_examples=200, deadline=None)
@given(capdu=st.binary(max_size=300))
def test_any_bytes_get_a_valid_status_word(capdu: bytes) -> None:
    card, _ = make_card(False)
    rapdu = card._process(capdu)
    assert rapdu[-2] in VALID_SW1
