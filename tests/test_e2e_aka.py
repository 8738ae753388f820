"""IMS AKA end to end (issue "IMS AKA"): pyscard -> pcscd -> vpcd -> `isim emulate`
(subprocess) with a state file, and the network side played by `isim aka` (subprocess)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator_proc import ROOT, EmulatorProcess, isim_argv, isim_env
from isim.aka.sqn import SqnArray
from isim.card.image import build_image, load_image, save_image
from isim.profile.model import load_profile
from pcsc_stack import PcscStack
from transport import pcsc

pytestmark = pytest.mark.stack

ALICE = ROOT / "examples" / "alice.yaml"
SET1_RAND = "23553cbe9637a89d218ae64dae47bf35"
SET1_APDU = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300")
SET1_RESPONSE = bytes.fromhex(
    "db08a54211d5e3ba50bf10b40ba9a3c58b2a05bbf0d987b21bf8cb10f769bcd751044604127672711c6d3441")
SET1_SQN = 0xFF9BB4D0B607
IND_BITS = 5


@dataclass
class Card:
    """The emulator process, its state file and a pyscard connection, restartable."""

    stack: PcscStack
    image: Path
    state: Path
    proc: EmulatorProcess | None = None
    conn: pcsc.PcscCard | None = None

    def start(self) -> None:
        self.proc = EmulatorProcess(self.image, vpcd_port=self.stack.vpcd_port,
                                    state=self.state).start()
        self.proc.wait_inserted(self.stack.reader_name)
        self.conn = pcsc.connect(self.stack.reader_name)
        aid = bytes.fromhex(load_image(self.image).isim["aid"])
        assert self.transmit(bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid) == b"\x90\x00"

    def transmit(self, capdu: bytes) -> bytes:
        assert self.conn is not None
        return self.conn.transmit(capdu)

    def stop(self, *, kill: bool = False) -> None:
        if self.conn is not None:
            if kill:  # the crash first: the card vanishes under the open connection
                assert self.proc is not None
                self.proc.kill()
            self.conn.disconnect()
            self.conn = None
        if self.proc is not None:
            if not kill:
                assert self.proc.terminate() == 0, self.proc.output()
            self.proc.close()
            self.proc = None
            EmulatorProcess.wait_removed(self.stack.reader_name)

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()


@pytest.fixture(scope="module")
def image_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("aka") / "alice.json"
    save_image(path, build_image(load_profile(ALICE)))
    return path


@pytest.fixture
def card(pcsc_stack: PcscStack, image_path: Path, tmp_path: Path) -> Iterator[Card]:
    c = Card(pcsc_stack, image_path, tmp_path / "alice.state")
    try:
        c.start()
        yield c
    finally:
        if c.conn is not None:
            c.conn.disconnect()
        if c.proc is not None:
            c.proc.close()
            EmulatorProcess.wait_removed(pcsc_stack.reader_name)


def isim_aka(*args: str) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run(isim_argv("aka", *args), env=isim_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def vector(state: Path, *extra: str) -> dict[str, str]:
    code, out, err = isim_aka(str(state), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def auth_apdu(v: dict[str, str]) -> bytes:
    return bytes.fromhex("0088008122" + "10" + v["rand"] + "10" + v["autn"] + "00")


def expected_success(v: dict[str, str]) -> bytes:
    return bytes.fromhex(f"db08{v['xres']}10{v['ck']}10{v['ik']}") + b"\x90\x00"


def sqn_ms(state: Path) -> int:
    return SqnArray.from_dict(load_image(state).isim["state"]["sqn"]).sqn_ms


def test_set1_digest_resync_and_mac_failure(card: Card) -> None:
    assert card.transmit(SET1_APDU) == SET1_RESPONSE + b"\x90\x00"
    replay = card.transmit(SET1_APDU)
    assert replay[:2] == b"\xdc\x0e" and replay[-2:] == b"\x90\x00" and len(replay) == 18
    auts = replay[2:16].hex()
    for source in (card.state, ALICE):  # the running card's state file, or the profile
        code, out, err = isim_aka(str(source), "--resync", auts, "--rand", SET1_RAND, "--json")
        assert code == 0, err
        assert json.loads(out) == {"sqn_ms": f"{SET1_SQN:012x}", "mac_s": "ok"}
    # an AUTS for another RAND fails MAC-S (exit 1)
    code, _, err = isim_aka(str(card.state), "--resync", auts, "--rand", "00" * 16)
    assert code == 1, err
    flipped = bytearray(SET1_APDU)
    flipped[-2] ^= 0x80  # one bit of MAC-A
    before = card.state.read_bytes()
    assert card.transmit(bytes(flipped)) == b"\x98\x62"
    assert card.state.read_bytes() == before  # nothing persisted


def test_sqn_survives_restart_and_sigkill(card: Card) -> None:
    assert card.transmit(SET1_APDU) == SET1_RESPONSE + b"\x90\x00"
    assert sqn_ms(card.state) == SET1_SQN  # persisted before the response left
    card.restart()
    assert card.transmit(SET1_APDU)[:2] == b"\xdc\x0e"
    v = vector(card.state)
    assert int(v["sqn"], 16) > SET1_SQN
    assert card.transmit(auth_apdu(v)) == expected_success(v)
    card.restart(kill=True)  # SIGKILL right after the response
    assert sqn_ms(card.state) == int(v["sqn"], 16)
    replay = card.transmit(auth_apdu(v))
    assert replay[:2] == b"\xdc\x0e", replay.hex()
    # the AUTS of the restarted card reports the SQN accepted just before the kill
    code, out, err = isim_aka(str(card.state), "--resync", replay[2:16].hex(),
                              "--rand", v["rand"], "--json")
    assert code == 0, err
    assert json.loads(out)["sqn_ms"] == v["sqn"]


def test_ten_consecutive_vectors_from_isim_aka(card: Card) -> None:
    seen: list[int] = []
    for _ in range(10):
        v = vector(card.state)  # the next fresh vector from the card's current SQN_MS
        assert card.transmit(auth_apdu(v)) == expected_success(v)
        seen.append(int(v["sqn"], 16))
    assert seen == sorted(seen) and len(set(seen)) == 10
    assert sqn_ms(card.state) == seen[-1]


def test_ind_interleaved_vectors_are_accepted(card: Card) -> None:
    """TS 33.102 Annex C.2: freshness is per IND slot, so SQNs of one new SEQ delivered out
    of order (IND 3, 1, 2) are all accepted; an older SEQ in a slot not yet used at that
    SEQ is accepted as well; a reused (SEQ, IND) is not."""
    seq = (sqn_ms(card.state) >> IND_BITS) + 1

    def sqn_hex(s: int, ind: int) -> str:
        return f"{(s << IND_BITS) | ind:012x}"

    accepted: list[dict[str, str]] = []
    for s, ind in ((seq, 3), (seq, 1), (seq, 2), (seq + 1, 5), (seq, 6)):
        v = vector(card.state, "--sqn", sqn_hex(s, ind))
        assert card.transmit(auth_apdu(v)) == expected_success(v), (s, ind)
        accepted.append(v)
    assert sqn_ms(card.state) == int(sqn_hex(seq + 1, 5), 16)
    # replay of IND 1: its slot holds SEQ already
    assert card.transmit(auth_apdu(accepted[1]))[:2] == b"\xdc\x0e"
    # a new vector with a stale SEQ in IND 3
    stale = vector(card.state, "--sqn", sqn_hex(seq - 1, 3))
    assert card.transmit(auth_apdu(stale))[:2] == b"\xdc\x0e"
