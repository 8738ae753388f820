"""`isim auc-gw` (issue 11 §3): the hlr_auc_gw protocol, the SQLite SQN store, subscribers
from HSS files and cards, the socket, and the process (restart, signals, bad input)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from aucgw_proc import AucGwProcess, GatewayClient
from emulator_proc import ROOT
from isim.aka.milenage import Milenage
from isim.aka.sqn import SqnConfig
from isim.card.image import build_image, save_image
from isim.cli import main
from isim.errors import InputError, ProfileError
from isim.network import subscribers as subs
from isim.network.aucgw import AucGateway
from isim.network.server import bind_socket, close_socket
from isim.network.sqn_store import SqnStore, resync_target
from isim.personalize.hss import HssRecord, TransportKey, hss_header, hss_line, milenage_db_line
from isim.profile.model import load_profile

# TS 35.208 test set 1 (with TS 55.205 SRES#1 / Kc) and the AUTS of digest 2.3
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN = 0xFF9BB4D0B607
AMF = bytes.fromhex("b9b9")
AUTN = "55f328b43577b9b94a9ffac354dfafb3"
RES = "a54211d5e3ba50bf"
CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"
IK = "f769bcd751044604127672711c6d3441"
SRES, KC = "46f8416a", "eae4be823af9a08b"
AUTS = "ba853f3c123ccf44e93596e355c6"  # SQN_MS ff9bb4d0b607
IMSI = "001010000000001"
SECRETS = (K.hex(), OPC.hex(), RES, CK, IK, SRES, KC)
ALICE = ROOT / "examples" / "alice.yaml"


def set1(sqn: int = SQN - 32) -> dict[str, subs.Subscriber]:
    """Set 1's subscriber whose next vector (SEQ + 1, IND kept) has set 1's SQN."""
    return {IMSI: subs.Subscriber(IMSI, K, OPC, AMF, sqn)}


@pytest.fixture
def store(tmp_path: Path) -> SqnStore:
    with SqnStore(tmp_path / "sqn.sqlite") as s:
        yield s


def gateway(store: SqnStore, subscribers: dict[str, subs.Subscriber] | None = None,
            rand: bytes = RAND) -> AucGateway:
    return AucGateway(set1() if subscribers is None else subscribers, store,
                      rand=lambda n: rand[:n])


def sqn_of(reply: str, k: bytes = K, opc: bytes = OPC) -> int:
    """The SQN inside an AKA-RESP-AUTH's AUTN, checked as a card would (MAC-A)."""
    _, _, rand, autn, *_ = reply.split(" ")
    checked = Milenage(k, opc).verify_autn(bytes.fromhex(rand), bytes.fromhex(autn))
    assert checked is not None, "MAC-A does not verify"
    return checked[0]


# ------------------------------------------------------------------ protocol


def test_aka_vector_is_test_set_1(store: SqnStore) -> None:
    reply = gateway(store).handle(f"AKA-REQ-AUTH {IMSI}".encode())
    assert reply == f"AKA-RESP-AUTH {IMSI} {RAND.hex()} {AUTN} {IK} {CK} {RES}".encode()
    assert store.current(IMSI) == SQN


def test_sim_triplets_are_c2_c3_of_set_1(store: SqnStore) -> None:
    gw = gateway(store)
    assert gw.handle(f"SIM-REQ-AUTH {IMSI} 1".encode()) == (
        f"SIM-RESP-AUTH {IMSI} {KC}:{SRES}:{RAND.hex()}".encode())
    three = gw.handle(f"SIM-REQ-AUTH {IMSI} 3".encode())
    assert three is not None and len(three.split(b" ")) == 5
    for count in ("0", "9", "x"):  # out of range: 3, as hostapd's gateway does
        reply = gw.handle(f"SIM-REQ-AUTH {IMSI} {count}".encode())
        assert reply is not None and len(reply.split(b" ")) == 5
    assert gw.handle(f"GSM-AUTH-REQ {IMSI} {RAND.hex()}:{RAND.hex()}".encode()) == (
        f"GSM-AUTH-RESP {IMSI} {KC}:{SRES}:{KC}:{SRES}".encode())
    assert store.current(IMSI) is None  # GSM triplets use no SQN


def test_unknown_imsi_is_failure(store: SqnStore) -> None:
    gw = gateway(store)
    assert gw.handle(b"AKA-REQ-AUTH 001019999999999") == b"AKA-RESP-AUTH 001019999999999 FAILURE"
    assert gw.handle(b"SIM-REQ-AUTH 001019999999999 3") == b"SIM-RESP-AUTH 001019999999999 FAILURE"
    assert gw.handle(f"AKA-AUTS 001019999999999 {AUTS} {RAND.hex()}".encode()) is None
    # an identity that is no IMSI (wpa_supplicant with a card it misreads): FAILURE at once
    assert gw.handle(b"AKA-REQ-AUTH 0000000000000000000000000") == (
        b"AKA-RESP-AUTH 0000000000000000000000000 FAILURE")
    assert gw.stats.failures == 3


@pytest.mark.parametrize("datagram", [
    b"", b" ", b"\xff\xfe", b"AKA-REQ-AUTH", b"AKA-REQ-AUTH 12a45678", b"AKA-REQ-AUTH -1",
    b"AKA-REQ-AUTH " + b"1" * 33, f"AKA-REQ-AUTH {IMSI} extra".encode(),
    f"AKA-AUTS {IMSI}".encode(), f"AKA-AUTS {IMSI} {AUTS[:-2]} {RAND.hex()}".encode(),
    f"AKA-AUTS {IMSI} {AUTS} {RAND.hex()}zz".encode(), f"AKA-AUTS {IMSI} {'g' * 28} x".encode(),
    f"GSM-AUTH-REQ {IMSI} 1234".encode(), f"GSM-AUTH-REQ {IMSI} {RAND.hex()}:".encode(),
    b"aka-req-auth 001010000000001", b"HELLO 001010000000001", b"\x00" * 100,
])
def test_malformed_requests_are_ignored(store: SqnStore, datagram: bytes,
                                        caplog: pytest.LogCaptureFixture) -> None:
    gw = gateway(store)
    with caplog.at_level(logging.INFO, "isim.aucgw"):
        assert gw.handle(datagram) is None
    assert gw.stats.ignored == 1
    assert "ignored" in caplog.text
    assert store.current(IMSI) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.lists(
    st.sampled_from(["AKA-REQ-AUTH", "AKA-AUTS", "SIM-REQ-AUTH", "GSM-AUTH-REQ", IMSI, "3",
                     AUTS, RAND.hex(), "", "x", ":"]), max_size=6).map(
        lambda ws: " ".join(ws).encode())))
def test_any_datagram_gets_a_protocol_reply_or_none(tmp_path_factory: pytest.TempPathFactory,
                                                    datagram: bytes) -> None:
    with SqnStore(tmp_path_factory.mktemp("fuzz") / "s.sqlite") as s:
        reply = gateway(s).handle(datagram)
    assert reply is None or reply.split(b" ")[0] in (
        b"AKA-RESP-AUTH", b"SIM-RESP-AUTH", b"GSM-AUTH-RESP")


def test_no_secret_in_the_log(store: SqnStore, caplog: pytest.LogCaptureFixture) -> None:
    gw = gateway(store)
    with caplog.at_level(logging.DEBUG):
        gw.handle(f"AKA-REQ-AUTH {IMSI}".encode())
        gw.handle(f"SIM-REQ-AUTH {IMSI} 3".encode())
        gw.handle(f"AKA-AUTS {IMSI} {AUTS} {RAND.hex()}".encode())
        gw.handle(f"AKA-REQ-AUTH {IMSI} {K.hex()}".encode())  # malformed, carries a secret
    assert IMSI in caplog.text
    text = caplog.text.lower()
    assert not [s for s in SECRETS if s in text]


# ------------------------------------------------------------------ SQN and AUTS


def test_auts_resynchronises_and_bad_auts_is_ignored(store: SqnStore) -> None:
    gw = gateway(store, set1(sqn=0))
    assert sqn_of(gw.handle(f"AKA-REQ-AUTH {IMSI}".encode()).decode()) == 32
    bad = f"{AUTS[:-1]}{'0' if AUTS[-1] != '0' else '1'}"
    assert gw.handle(f"AKA-AUTS {IMSI} {bad} {RAND.hex()}".encode()) is None
    assert store.current(IMSI) == 32 and gw.stats.resyncs == 0
    assert gw.handle(f"AKA-AUTS {IMSI} {AUTS} {RAND.hex()}".encode()) is None
    assert store.current(IMSI) == SQN and gw.stats.resyncs == 1
    # the next vector is one SEQ above the card's SQN_MS, in the same IND slot
    assert sqn_of(gw.handle(f"AKA-REQ-AUTH {IMSI}".encode()).decode()) == SQN + 32


def test_resync_target_follows_33_102_6_3_5() -> None:
    cfg = SqnConfig(ind_bits=5, delta=2**28)
    assert resync_target(SQN, SQN - 64, cfg) == SQN  # HE ahead, within delta: keep
    assert resync_target(SQN - 64, SQN, cfg) == SQN  # HE behind: reset to SQN_MS
    assert resync_target(SQN, SQN, cfg) == SQN
    far = SQN + ((2**28 + 1) << 5)
    assert resync_target(far, SQN, cfg) == SQN  # HE too far ahead (delta): reset
    top = (1 << 48) - 1
    assert resync_target(top, 0, cfg) == 0


def test_every_vector_is_committed_and_a_reopened_store_continues(tmp_path: Path) -> None:
    path = tmp_path / "sqn.sqlite"
    with SqnStore(path) as s:
        taken = [s.take_next(IMSI, 0, 5) for _ in range(3)]
        # another connection sees each value as soon as it was returned (committed)
        other = sqlite3.connect(path)
        assert other.execute("SELECT sqn FROM sqn_he").fetchone() == (taken[-1],)
        other.close()
    assert taken == [32, 64, 96]
    with SqnStore(path) as s:
        assert s.take_next(IMSI, 0, 5) == 128
        assert s.take_next(IMSI, 0, 5) == 160


def test_store_file_is_0600_exclusive_and_no_symlink(tmp_path: Path) -> None:
    path = tmp_path / "sqn.sqlite"
    SqnStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    link = tmp_path / "link.sqlite"
    link.symlink_to(path)
    with pytest.raises(InputError, match="symlink"):
        SqnStore(link)
    with pytest.raises(InputError, match="not a regular file"):
        SqnStore(tmp_path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match="SQN database"):
        SqnStore(garbage)


# ------------------------------------------------------------------ subscribers


def _record(imsi: str = IMSI) -> HssRecord:
    return HssRecord("8988211000000000011", imsi, f"{imsi}@ims.example", ("sip:a@b",), K, OPC)


def test_subscribers_from_every_hss_format(tmp_path: Path) -> None:
    plain = tmp_path / "hss.csv"
    plain.write_text(hss_header(None) + hss_line(_record(), None))
    key = TransportKey(bytes(range(16)))
    keyfile = tmp_path / "transport.key"
    keyfile.write_text(bytes(range(16)).hex())
    enc = tmp_path / "hss-enc.csv"
    enc.write_text(hss_header(key) + hss_line(_record(), key))
    db = tmp_path / "hlr.milenage_db"
    db.write_text("# comment\n" + milenage_db_line(HssRecord("", IMSI, "", (), K, OPC, SQN, AMF)))
    for found in (subs.from_hss(plain), subs.from_hss(enc, keyfile), subs.from_hss(db)):
        assert [(s.imsi, s.k, s.opc) for s in found] == [(IMSI, K, OPC)]
    assert subs.from_hss(db)[0].sqn == SQN and subs.from_hss(db)[0].amf == AMF
    with pytest.raises(InputError, match="--transport-key"):
        subs.from_hss(enc)
    wrong = tmp_path / "wrong.key"
    wrong.write_text("00" * 16)
    with pytest.raises(ProfileError, match="line 2: k_enc"):
        subs.from_hss(enc, wrong)
    bad = tmp_path / "bad.milenage_db"
    bad.write_text(f"{IMSI} {K.hex()} {OPC.hex()[:-2]} 8000 000000000000\n")
    with pytest.raises(ProfileError, match="line 1: opc"):
        subs.from_hss(bad)
    with pytest.raises(ProfileError, match="given twice"):
        subs.index(subs.from_hss(plain) * 2, "x")


def test_subscriber_from_a_profile_keeps_its_sqn() -> None:
    (alice,) = subs.from_cards([ALICE])
    assert alice.imsi == "001010123456789" and alice.k == K and alice.sqn == 0xFF9BB4D0B5E7
    assert "465b" not in repr(alice)


def test_subscriber_from_an_image_reads_ef_imsi(tmp_path: Path) -> None:
    image = tmp_path / "alice.json"
    save_image(image, build_image(load_profile(ALICE)))
    (alice,) = subs.from_cards([image])
    assert (alice.imsi, alice.k, alice.opc, alice.sqn) == ("001010123456789", K, OPC,
                                                           0xFF9BB4D0B5E7)
    isim_only = tmp_path / "isim-only.yaml"
    isim_only.write_text(ALICE.read_text() + "applications: [isim]\n")
    save_image(image, build_image(load_profile(isim_only)))
    with pytest.raises(InputError, match=r"no readable EF\.IMSI"):
        subs.from_cards([image])


# ------------------------------------------------------------------ the process


def test_process_restart_never_reuses_an_sqn(tmp_path: Path) -> None:
    sock = tmp_path / "gw.sock"
    seen: list[int] = []
    for stop in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
        with AucGwProcess([str(ALICE), "--db", str(tmp_path / "sqn.sqlite")],
                          socket=sock) as gw, GatewayClient(sock) as client:
            assert stat.S_IMODE(sock.stat().st_mode) == 0o600
            for _ in range(3):
                reply = client.request("AKA-REQ-AUTH 001010123456789")
                assert reply is not None, gw.output()
                seen.append(sqn_of(reply))
            # ignored, the gateway lives on (a late reply would break the next check)
            assert client.request(b"\xff garbage", timeout=0.3) is None
            assert client.request(b"AKA-REQ-AUTH " + b"1" * 5000, timeout=0.3) is None
            assert client.request("AKA-REQ-AUTH 001019999999999") == (
                "AKA-RESP-AUTH 001019999999999 FAILURE")
            if stop == signal.SIGKILL:
                gw.kill()  # a stale socket file stays; the next start replaces it
            else:
                assert gw.terminate(stop) == 0
                assert not sock.exists()
                assert "stopped (" in gw.output()
    assert seen == sorted(set(seen)) and len(seen) == 9
    assert seen[0] == 0xFF9BB4D0B5E7 + 32


def test_cli_bad_inputs(tmp_path: Path) -> None:
    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(main, ["auc-gw", "--socket", str(tmp_path / "s"), *args])
        return r.exit_code, r.stderr

    assert run()[0] == 2  # neither --hss nor CARD
    assert run("--hss", str(ALICE), str(ALICE))[0] == 2
    assert run("--transport-key", "k", str(ALICE))[0] == 2
    code, err = run("--hss", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv" in err
    code, err = run(str(ALICE), str(ALICE), "--db", str(tmp_path / "d"))
    assert code == 1 and "given twice" in err
    busy = tmp_path / "busy.sock"
    holder = bind_socket(busy)
    try:
        r = CliRunner().invoke(main, ["auc-gw", "--socket", str(busy), str(ALICE),
                                      "--db", str(tmp_path / "d3")])
        assert r.exit_code == 2 and "another process serves" in r.stderr
    finally:
        close_socket(holder, busy)
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["auc-gw", "--socket", str(tmp_path / "file"), str(ALICE),
                                  "--db", str(tmp_path / "d4")])
    assert r.exit_code == 2 and "not a socket" in r.stderr
    assert (tmp_path / "file").read_text() == "x"
    assert not os.path.exists(tmp_path / "s")
