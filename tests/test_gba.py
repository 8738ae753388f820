"""GBA_U at the card (TS 33.220 Annex B and G, digest 3.3)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu.sw import (
    SW_AUTH_CONTEXT_NOT_SUPPORTED,
    SW_AUTH_MAC_FAILURE,
    SW_CONDITIONS_OF_USE_NOT_SATISFIED,
    SW_INCORRECT_DATA,
    SW_OK,
    SW_WRONG_LENGTH,
)
from isim.aka.gba import GbaState, GbaU, authenticate_command, gba_kdf, naf_keys
from isim.aka.milenage import Milenage
from isim.aka.procedure import ImsAka, generate_vector
from isim.aka.sqn import SqnArray

H = bytes.fromhex
K1 = H("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC1 = H("cd63cb71954a9f4e48a5994e37a02baf")
RAND1 = H("23553cbe9637a89d218ae64dae47bf35")
AUTN1 = H("55f328b43577b9b94a9ffac354dfafb3")
SQN1 = 0xFF9BB4D0B607
RES1 = H("a54211d5e3ba50bf")
CK1 = H("b40ba9a3c58b2a05bbf0d987b21bf8cb")
IK1 = H("f769bcd751044604127672711c6d3441")

IMPI = b"001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
# NAF_Id = FQDN || Ua security protocol id (5 bytes; 33.220 H.2, e.g. 01 00 00 01 02)
NAF_ID = b"naf.example.org" + H("0100000102")


def bootstrap_data(rand: bytes = RAND1, autn: bytes = AUTN1) -> bytes:
    return b"\xdd\x10" + rand + b"\x10" + autn


def naf_data(naf_id: bytes = NAF_ID, impi: bytes = IMPI) -> bytes:
    return b"\xde" + bytes([len(naf_id)]) + naf_id + bytes([len(impi)]) + impi


def make(initial_sqn: int = SQN1 - 32) -> GbaU:
    return GbaU(ImsAka(Milenage(K1, OPC1), SqnArray(initial_sqn=initial_sqn)))


def hand_kdf(key: bytes, p0: bytes, rand: bytes, impi: bytes, naf_id: bytes) -> bytes:
    """Independent S construction of 33.220 B.2/B.3 for FC = 01."""
    s = b"\x01"
    s += p0 + len(p0).to_bytes(2, "big")
    s += rand + b"\x00\x10"
    s += impi + len(impi).to_bytes(2, "big")
    s += naf_id + len(naf_id).to_bytes(2, "big")
    return hmac.new(key, s, hashlib.sha256).digest()


# ------------------------------------------------------------------ KDF


# TS 33.401 A.3 (KeNB from KASME, FC = 11, P0 = uplink NAS COUNT) uses the same 33.220 Annex
# B.2 KDF; these published derivations (openairinterface5g test_secu_kenb.c) check it.
KENB_VECTORS = [
    (
        0xDB1A3569,
        "238e457e0f758badbca8d34bb2612c10428d426757cb5553b2b184fa64bfc549",
        "8eb1bf0083bd79281ef7034bf677e9ec529f196e15287514a2d122acf713b8e8",
    ),
    (
        0x001FB39C,
        "564cb4d2007e4f293b67d9b29392a64add4c776b133d895af6499aa6882aab62",
        "009010688f85855e218339de6c5bd7b6394958da12ddfbf7559e978ce43408f1",
    ),
    (
        0x00000012,
        "fa77e41f693c2a6e71455cb8687e6e6058ef91e2f5abd1bd3c496179481f308c",
        "0afe81266de52b8c8f1c3f4fe799be883f364b018e7368c41f14dd6d050e13e1",
    ),
    (
        0xFE56A1D3,
        "fa77e41f693c2a6e71455cb8687e6e6058ef91e2f5abd1bd3c496179481f308c",
        "3622874b06c683586a009dec81dbe28bdd8e3e6e67a2c22c31630ec97641828e",
    ),
    (
        0xFE56A1D3,
        "70d7071aa016a087f9d888ad51f3a83e2c83443ab27843b35bd1b4923615091c",
        "e59be6f0fbefa1207da3ff05d0f82014100e7a63a11eebfe4f8aa92e7cf8b847",
    ),
    (
        0xAABBCCDD,
        "70d7071aa016a087f9d888ad51f3a83e2c83443ab27843b35bd1b4923615091c",
        "158781a2fdf2ce53abfa186d22eb751decb8273471dc792b5016c9016947d1ae",
    ),
]


@pytest.mark.parametrize(("count", "kasme", "kenb"), KENB_VECTORS)
def test_kdf_published_vectors(count: int, kasme: str, kenb: str) -> None:
    assert gba_kdf(H(kasme), 0x11, count.to_bytes(4, "big")).hex() == kenb


def test_kdf_matches_hand_built_s() -> None:
    ks = CK1 + IK1
    keys = naf_keys(ks, RAND1, IMPI, NAF_ID)
    assert keys.ext == hand_kdf(ks, b"gba-me", RAND1, IMPI, NAF_ID)
    assert keys.int_ == hand_kdf(ks, b"gba-u", RAND1, IMPI, NAF_ID)
    assert keys.ext != keys.int_
    assert len(keys.ext) == len(keys.int_) == 32


def test_kdf_structure() -> None:
    # lengths after values, 2 bytes each: moving a byte between parameters changes the key
    ks = bytes(32)
    assert gba_kdf(ks, 1, b"ab", b"c") != gba_kdf(ks, 1, b"a", b"bc")
    assert gba_kdf(ks, 1, b"x") != gba_kdf(ks, 2, b"x")
    assert gba_kdf(ks, 1, b"x") == hmac.new(ks, b"\x01x\x00\x01", hashlib.sha256).digest()
    assert gba_kdf(ks, 1) == hmac.new(ks, b"\x01", hashlib.sha256).digest()
    # P0 "gba-me" is 67 62 61 2d 6d 65 with L0 = 00 06 (33.220 B.3)
    s = b"\x01" + H("6762612d6d65") + b"\x00\x06"
    assert gba_kdf(ks, 1, b"gba-me") == hmac.new(ks, s, hashlib.sha256).digest()
    with pytest.raises(ValueError):
        gba_kdf(ks, 1, bytes(0x10000))


# ------------------------------------------------------------------ bootstrapping


def test_bootstrap_set1() -> None:
    gba = make()
    data, sw = gba.response(bootstrap_data())
    assert (data, sw) == (b"\xdb\x08" + RES1, SW_OK)
    assert gba.state.ks == CK1 + IK1
    assert gba.state.rand == RAND1
    assert gba.aka.sqn.sqn_ms == SQN1


def test_bootstrap_sync_failure() -> None:
    gba = make(0xFF9BB4D0B627)
    data, sw = gba.response(bootstrap_data())
    assert (data.hex(), sw) == ("dc0eba853f3c121cb55edb820040ab41", SW_OK)
    assert gba.state == GbaState()


def test_bootstrap_mac_failure_keeps_previous_ks() -> None:
    gba = make()
    assert gba.response(bootstrap_data())[1] == SW_OK
    saved = gba.state.to_dict()
    sqn_before = gba.aka.sqn.to_dict()
    bad = AUTN1[:-1] + bytes([AUTN1[-1] ^ 1])
    assert gba.response(bootstrap_data(autn=bad)) == (b"", SW_AUTH_MAC_FAILURE)
    assert gba.state.to_dict() == saved
    assert gba.aka.sqn.to_dict() == sqn_before


def test_bootstrap_shares_sqn_with_ims_aka() -> None:
    gba = make()
    assert gba.response(bootstrap_data())[1] == SW_OK
    # the same challenge on P2 = 81 is now a replay
    data, sw = authenticate_command(0x81, b"\x10" + RAND1 + b"\x10" + AUTN1, gba.aka, gba)
    assert data[:2] == b"\xdc\x0e"
    assert sw == SW_OK


# ------------------------------------------------------------------ NAF derivation


def test_naf_derivation() -> None:
    gba = make()
    gba.response(bootstrap_data())
    data, sw = gba.response(naf_data())
    assert sw == SW_OK
    expected = hand_kdf(CK1 + IK1, b"gba-me", RAND1, IMPI, NAF_ID)
    assert data == b"\xdb\x20" + expected
    # Ks_int_NAF is derived but never leaves the card
    ks_int = hand_kdf(CK1 + IK1, b"gba-u", RAND1, IMPI, NAF_ID)
    assert ks_int not in data
    assert gba._int_keys[NAF_ID] == ks_int


def test_naf_depends_on_every_input() -> None:
    gba = make()
    gba.response(bootstrap_data())
    base = gba.response(naf_data())[0]
    assert gba.response(naf_data(naf_id=b"naf.example.org" + H("0100000103")))[0] != base
    assert gba.response(naf_data(impi=b"other@ims.example.org"))[0] != base
    assert gba.response(naf_data())[0] == base


def test_naf_after_new_bootstrap_uses_new_ks() -> None:
    gba = make(0)
    m = gba.aka.milenage
    v1 = generate_vector(m, bytes(16), 32, b"\x80\x00")
    v2 = generate_vector(m, b"\x01" * 16, 64, b"\x80\x00")
    assert gba.response(bootstrap_data(v1.rand, v1.autn))[1] == SW_OK
    first = gba.response(naf_data())[0]
    assert gba.response(bootstrap_data(v2.rand, v2.autn))[1] == SW_OK
    second = gba.response(naf_data())[0]
    assert first != second
    assert second[2:] == hand_kdf(v2.ck + v2.ik, b"gba-me", v2.rand, IMPI, NAF_ID)


def test_naf_without_bootstrap() -> None:
    assert make().response(naf_data()) == (b"", SW_CONDITIONS_OF_USE_NOT_SATISFIED)


@pytest.mark.parametrize(
    ("data", "sw"),
    [
        (b"", SW_WRONG_LENGTH),
        (b"\xdb", SW_INCORRECT_DATA),
        (b"\xdd", SW_WRONG_LENGTH),
        (b"\xdd\x10" + bytes(10), SW_WRONG_LENGTH),
        (b"\xdd\x08" + bytes(33), SW_INCORRECT_DATA),
        (bootstrap_data() + b"\x00", SW_WRONG_LENGTH),
        (b"\xde", SW_WRONG_LENGTH),
        (b"\xde\x05abc", SW_WRONG_LENGTH),
        (naf_data()[:-1], SW_WRONG_LENGTH),
        (naf_data() + b"\x00", SW_WRONG_LENGTH),
        (naf_data(naf_id=b"abcde"), SW_INCORRECT_DATA),
        (naf_data(impi=b""), SW_INCORRECT_DATA),
    ],
)
def test_malformed(data: bytes, sw: int) -> None:
    gba = make()
    gba.response(bootstrap_data())
    assert gba.response(data) == (b"", sw)


@given(st.binary(max_size=80))
def test_random_data_never_raises(data: bytes) -> None:
    gba = make()
    out, sw = gba.response(data)
    assert isinstance(out, bytes)
    assert sw in (
        SW_OK,
        SW_WRONG_LENGTH,
        SW_INCORRECT_DATA,
        SW_AUTH_MAC_FAILURE,
        SW_CONDITIONS_OF_USE_NOT_SATISFIED,
    )


@given(st.binary(max_size=80))
def test_random_naf_data_after_bootstrap_never_raises(tail: bytes) -> None:
    gba = make()
    gba.response(bootstrap_data())
    out, sw = gba.response(b"\xde" + tail)
    assert sw in (SW_OK, SW_WRONG_LENGTH, SW_INCORRECT_DATA)
    assert (len(out) == 34) == (sw == SW_OK)


# ------------------------------------------------------------------ state and dispatch


def test_state_round_trip() -> None:
    gba = make()
    gba.response(bootstrap_data())
    d = json.loads(json.dumps(gba.state.to_dict()))
    restored = GbaU(gba.aka, GbaState.from_dict(d))
    assert restored.response(naf_data()) == gba.response(naf_data())
    assert GbaState.from_dict(GbaState().to_dict()) == GbaState()
    assert (CK1 + IK1).hex() not in repr(gba.state)


@pytest.mark.parametrize(
    "d",
    [
        {"ks": "00" * 32, "rand": None},
        {"ks": None, "rand": "00" * 16},
        {"ks": "00" * 31, "rand": "00" * 16},
        {"ks": "zz", "rand": "00" * 16},
        {"ks": 5, "rand": "00" * 16},
    ],
)
def test_state_rejects_corrupt(d: dict) -> None:
    with pytest.raises(ValueError):
        GbaState.from_dict(d)


def test_authenticate_command_dispatch() -> None:
    gba = make()
    aka_data = b"\x10" + RAND1 + b"\x10" + AUTN1
    assert authenticate_command(0x82, aka_data, gba.aka, gba) == (
        b"",
        SW_AUTH_CONTEXT_NOT_SUPPORTED,
    )
    assert authenticate_command(0x84, bootstrap_data(), gba.aka, None) == (
        b"",
        SW_AUTH_CONTEXT_NOT_SUPPORTED,
    )
    data, sw = authenticate_command(0x81, aka_data, gba.aka, gba)
    assert sw == SW_OK
    assert data[:2] == b"\xdb\x08"
