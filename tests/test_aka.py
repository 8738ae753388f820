"""IMS AKA, card and network side (digest 3.2-3.6)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu.sw import SW_AUTH_MAC_FAILURE, SW_INCORRECT_DATA, SW_OK, SW_WRONG_LENGTH
from isim.aka.milenage import Milenage, derive_opc
from isim.aka.procedure import (
    AuthVector,
    ImsAka,
    MacFailure,
    Success,
    SyncFailure,
    encode_result,
    generate_vector,
    ims_aka_response,
    nonce_b64,
    parse_rand_autn,
    resync,
)
from isim.aka.sqn import SqnArray, SqnConfig, next_sqn

H = bytes.fromhex

# 35.208 set 1
K1 = H("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC1 = H("cd63cb71954a9f4e48a5994e37a02baf")
RAND1 = H("23553cbe9637a89d218ae64dae47bf35")
SQN1 = 0xFF9BB4D0B607
AMF1 = H("b9b9")
AUTN1 = H("55f328b43577b9b94a9ffac354dfafb3")
RESP1 = H(
    "db08a54211d5e3ba50bf10b40ba9a3c58b2a05bbf0d987b21bf8cb10f769bcd751044604127672711c6d3441"
)


def data_of(rand: bytes, autn: bytes) -> bytes:
    return b"\x10" + rand + b"\x10" + autn


def card(initial_sqn: int, k: bytes = K1, opc: bytes = OPC1, **cfg: int) -> ImsAka:
    return ImsAka(Milenage(k, opc), SqnArray(SqnConfig(**cfg), initial_sqn))


# ------------------------------------------------------------------ published vectors


def test_set1_autn() -> None:
    v = generate_vector(Milenage(K1, OPC1), RAND1, SQN1, AMF1)
    assert v.autn == AUTN1
    assert v.xres.hex() == "a54211d5e3ba50bf"
    assert v.ak.hex() == "aa689c648370"


def test_set1_apdu_response_exact() -> None:
    # The card's SQN_MS is one SEQ below the set-1 SQN in the same IND slot.
    aka = card(SQN1 - 32)
    data, sw = ims_aka_response(aka, data_of(RAND1, AUTN1))
    assert sw == SW_OK
    assert data == RESP1
    assert aka.sqn.sqn_ms == SQN1


def test_set1_c_apdu_data_is_digest_command() -> None:
    apdu = H("00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300")
    assert apdu[4] == 0x22
    assert apdu[5:-1] == data_of(RAND1, AUTN1)


def test_set1_sync_failure_auts_exact() -> None:
    # SQN_MS ff9bb4d0b627 = same IND (7), SEQ + 1: the received ff9bb4d0b607 is stale.
    aka = card(0xFF9BB4D0B627)
    assert aka.sqn.sqn_ms == next_sqn(SQN1)
    before = aka.sqn.to_dict()
    result = aka.authenticate(RAND1, AUTN1)
    assert result == SyncFailure(H("ba853f3c121cb55edb820040ab41"))
    assert aka.sqn.to_dict() == before
    data, sw = ims_aka_response(aka, data_of(RAND1, AUTN1))
    assert (data.hex(), sw) == ("dc0eba853f3c121cb55edb820040ab41", SW_OK)
    # and the network recovers SQN_MS from it
    assert resync(Milenage(K1, OPC1), RAND1, result.auts) == 0xFF9BB4D0B627


def test_set19_autn_free5gc() -> None:
    m = Milenage(H("5122250214c33e723a5dd523fc145fc0"), H("981d464c7c52eb6e5036234984ad0bcf"))
    v = generate_vector(m, H("81e92b6c0ee0e12ebceba8d92a99dfa5"), 0x16F3B3F70FC2, H("c3ab"))
    assert v.autn.hex() == "bb52e91c747ac3ab2a5c23d15ee351d5"


K20 = H("90dca4eda45b53cf0f12d7c9c3bc6a89")
OPC20 = H("cb9cccc4b9258e6dca4760379fb82581")
RAND20 = H("9fddc72092c6ad036b6e464789315b78")
AUTS20 = H("4f2039392ddd4bb4316ed4a14688")


def test_set20_auts_hostapd_network_side() -> None:
    assert resync(Milenage(K20, OPC20), RAND20, AUTS20) == 1


def test_set20_auts_hostapd_card_side() -> None:
    # A card with SQN_MS = 1 rejects set 20's SQN (delta check) and answers with that AUTS.
    aka = card(1, K20, OPC20)
    v = generate_vector(aka.milenage, RAND20, 0x20F813BD4141, H("61df"))
    assert aka.authenticate(v.rand, v.autn) == SyncFailure(AUTS20)


def test_free5gc_auts() -> None:
    opc = derive_opc(bytes(16), H("63bfa50ee6523365ff14c1f45f88737d"))
    assert opc.hex() == "c8ffd2aa7a43c926bf2b2826205b9030"
    rand = H("01000000000000002e6f0eb33b7ffde7")
    auts = H("797d7a19ca27f99f4363d3ca24be")
    assert resync(Milenage(bytes(16), opc), rand, auts) == 0x00052C8C338E
    wrong_k = H("00000000000000000012340000000000")
    assert resync(Milenage(wrong_k, opc), rand, auts) is None


def test_wmnsk_vectors() -> None:
    v16 = H("00112233445566778899aabbccddeeff")
    m = Milenage(v16, derive_opc(v16, v16))
    vec = generate_vector(m, v16, 1, H("8000"))
    assert vec.autn.hex() == "de656c8b0bcf80004af30b82a8531115"
    assert vec.xres.hex() == "700eb2300b2c4799"
    # card whose SQN_MS is that same SQN 1 -> replay -> AUTS with SQN_MS = 1
    aka = ImsAka(m, SqnArray(initial_sqn=1))
    assert aka.authenticate(vec.rand, vec.autn) == SyncFailure(H("b9ac50c48a82cdf74673bc86e7ab"))
    assert resync(m, v16, H("b9ac50c48a82cdf74673bc86e7ab")) == 1


# ------------------------------------------------------------------ card behaviour


def test_round_trip_and_replay() -> None:
    aka = card(0)
    v = generate_vector(aka.milenage, bytes(range(16)), next_sqn(0), H("8000"))
    result = aka.authenticate(v.rand, v.autn)
    assert isinstance(result, Success)
    assert (result.res, result.ck, result.ik) == (v.xres, v.ck, v.ik)
    assert result.sqn == 32
    # the same challenge again is a replay -> sync failure, AUTS carries SQN_MS = 32
    again = aka.authenticate(v.rand, v.autn)
    assert isinstance(again, SyncFailure)
    assert resync(aka.milenage, v.rand, again.auts) == 32


def test_interleaved_vectors_accepted() -> None:
    """A batch of vectors with stepping IND can be used out of order (Annex C)."""
    aka = card(0)
    m = aka.milenage
    batch = [generate_vector(m, bytes([i]) * 16, (1 << 5) | i, H("8000")) for i in range(6)]
    for i in (4, 1, 5, 0, 2, 3):
        assert isinstance(aka.authenticate(batch[i].rand, batch[i].autn), Success), i
    for v in batch:  # each now replayed
        assert isinstance(aka.authenticate(v.rand, v.autn), SyncFailure)


def test_delta_check_sync_failure() -> None:
    aka = card(0, delta=16)
    far = generate_vector(aka.milenage, bytes(16), 17 << 5, H("8000"))
    near = generate_vector(aka.milenage, bytes(16), 16 << 5, H("8000"))
    assert isinstance(aka.authenticate(far.rand, far.autn), SyncFailure)
    assert isinstance(aka.authenticate(near.rand, near.autn), Success)


def test_limit_check_sync_failure() -> None:
    aka = card(20 << 5, limit=5)
    old = generate_vector(aka.milenage, bytes(16), (15 << 5) | 1, H("8000"))
    result = aka.authenticate(old.rand, old.autn)
    assert isinstance(result, SyncFailure)
    assert resync(aka.milenage, old.rand, result.auts) == 20 << 5


@pytest.mark.parametrize("pos", [0, 5, 6, 7, 8, 15])
def test_autn_bit_flip_is_mac_failure_without_state_change(pos: int) -> None:
    aka = card(SQN1 - 32)
    before = aka.sqn.to_dict()
    autn = bytearray(AUTN1)
    autn[pos] ^= 0x01
    assert aka.authenticate(RAND1, bytes(autn)) == MacFailure()
    assert ims_aka_response(aka, data_of(RAND1, bytes(autn))) == (b"", SW_AUTH_MAC_FAILURE)
    assert aka.sqn.to_dict() == before
    # the genuine challenge still works afterwards
    assert ims_aka_response(aka, data_of(RAND1, AUTN1)) == (RESP1, SW_OK)


def test_mac_failure_checked_before_sqn() -> None:
    # stale SQN *and* bad MAC -> MAC failure (33.102 6.3.3 order), not AUTS
    aka = card(0xFF9BB4D0B627)
    autn = AUTN1[:-1] + bytes([AUTN1[-1] ^ 0x80])
    assert aka.authenticate(RAND1, autn) == MacFailure()


def test_commit_false_leaves_array() -> None:
    aka = card(SQN1 - 32)
    before = aka.sqn.to_dict()
    result = aka.authenticate(RAND1, AUTN1, commit=False)
    assert isinstance(result, Success)
    assert aka.sqn.to_dict() == before
    aka.sqn.accept(result.sqn)
    assert aka.sqn.sqn_ms == SQN1


def test_state_persists_across_objects() -> None:
    aka = card(SQN1 - 32)
    assert ims_aka_response(aka, data_of(RAND1, AUTN1))[1] == SW_OK
    restored = ImsAka(Milenage(K1, OPC1), SqnArray.from_dict(aka.sqn.to_dict()))
    data, sw = ims_aka_response(restored, data_of(RAND1, AUTN1))
    assert data[:2] == b"\xdc\x0e"
    assert sw == SW_OK


def test_result_reprs_hide_keys() -> None:
    aka = card(SQN1 - 32)
    result = aka.authenticate(RAND1, AUTN1)
    assert isinstance(result, Success)
    assert result.ck.hex() not in repr(result)
    v = generate_vector(aka.milenage, RAND1, SQN1, AMF1)
    assert v.ck.hex() not in repr(v)
    assert v.xres.hex() not in repr(v)


def test_encode_result_layouts() -> None:
    assert encode_result(MacFailure()) == (b"", 0x9862)
    assert encode_result(SyncFailure(bytes(14))) == (b"\xdc\x0e" + bytes(14), 0x9000)
    data, sw = encode_result(Success(b"\x01" * 8, b"\x02" * 16, b"\x03" * 16))
    assert data == b"\xdb\x08" + b"\x01" * 8 + b"\x10" + b"\x02" * 16 + b"\x10" + b"\x03" * 16
    assert len(data) == 44
    assert sw == 0x9000


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("data", "sw"),
    [
        (b"", SW_WRONG_LENGTH),
        (b"\x10", SW_WRONG_LENGTH),
        (b"\x10" + bytes(16), SW_WRONG_LENGTH),
        (data_of(RAND1, AUTN1)[:-1], SW_WRONG_LENGTH),
        (data_of(RAND1, AUTN1) + b"\x00", SW_WRONG_LENGTH),
        (b"\x0f" + bytes(33), SW_INCORRECT_DATA),
        (b"\x11" + bytes(33), SW_INCORRECT_DATA),
        (b"\x10" + bytes(16) + b"\x0e" + bytes(16), SW_INCORRECT_DATA),
        (b"\x10" + bytes(16) + b"\x00", SW_INCORRECT_DATA),
    ],
)
def test_malformed_data(data: bytes, sw: int) -> None:
    aka = card(SQN1 - 32)
    before = aka.sqn.to_dict()
    assert ims_aka_response(aka, data) == (b"", sw)
    assert aka.sqn.to_dict() == before


def test_parse_rand_autn_offset() -> None:
    assert parse_rand_autn(b"\xdd" + data_of(RAND1, AUTN1), 1) == (RAND1, AUTN1)


@given(st.binary(max_size=64))
def test_random_data_never_raises(data: bytes) -> None:
    aka = card(0)
    out, sw = ims_aka_response(aka, data)
    assert sw in (SW_OK, SW_WRONG_LENGTH, SW_INCORRECT_DATA, SW_AUTH_MAC_FAILURE)
    if sw != SW_OK:
        assert out == b""


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_random_well_formed_challenges_are_mac_failures(rand: bytes, autn: bytes) -> None:
    aka = card(0)
    # a random AUTN passes the 64-bit MAC with negligible probability
    assert ims_aka_response(aka, data_of(rand, autn)) == (b"", SW_AUTH_MAC_FAILURE)
    assert aka.sqn.sqn_ms == 0


# ------------------------------------------------------------------ network helpers


def test_nonce_b64() -> None:
    v = generate_vector(Milenage(K1, OPC1), RAND1, SQN1, AMF1)
    assert isinstance(v, AuthVector)
    assert base64.b64decode(v.nonce_b64) == RAND1 + AUTN1
    assert nonce_b64(RAND1, AUTN1) == v.nonce_b64
    assert v.nonce_b64 == "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M="


def test_generate_vector_sqn_as_bytes() -> None:
    m = Milenage(K1, OPC1)
    assert generate_vector(m, RAND1, SQN1.to_bytes(6, "big"), AMF1).autn == AUTN1


@pytest.mark.parametrize("sqn", [-1, 2**48, b"\x00" * 5])
def test_generate_vector_bad_sqn(sqn: object) -> None:
    with pytest.raises(ValueError, match="SQN"):
        generate_vector(Milenage(K1, OPC1), RAND1, sqn, AMF1)  # type: ignore[arg-type]


def test_resync_rejects_tampered_auts() -> None:
    m = Milenage(K20, OPC20)
    for i in range(14):
        bad = bytearray(AUTS20)
        bad[i] ^= 0x04
        assert resync(m, RAND20, bytes(bad)) is None
    with pytest.raises(ValueError, match="AUTS"):
        resync(m, RAND20, AUTS20[:-1])


# ------------------------------------------------------------------ fused hot path


def _reference_response(aka: ImsAka, data: bytes) -> tuple[bytes, int]:
    """The unfused card side (parse, f2345, f1, check, accept, encode) the hot path replaces."""
    parsed = parse_rand_autn(data)
    if isinstance(parsed, int):
        return b"", parsed
    rand, autn = parsed
    mr = aka.milenage.with_rand(rand)
    res, ck, ik, ak = mr.f2345()
    sqn = bytes(a ^ b for a, b in zip(autn[:6], ak, strict=True))
    if mr.f1(sqn, autn[6:8]) != autn[8:16]:
        return b"", SW_AUTH_MAC_FAILURE
    sqn_int = int.from_bytes(sqn, "big")
    if not aka.sqn.check(sqn_int):
        sqn_ms = aka.sqn.sqn_ms.to_bytes(6, "big")
        ak_star = mr.f5star()
        auts = bytes(a ^ b for a, b in zip(sqn_ms, ak_star, strict=True))
        return encode_result(SyncFailure(auts + mr.f1star(sqn_ms, b"\x00\x00")))
    aka.sqn.accept(sqn_int)
    return encode_result(Success(res, ck, ik, sqn_int))


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.integers(-40, 200), st.integers(0, 3)),
        min_size=1,
        max_size=25,
    )
)
def test_fused_response_matches_the_reference(steps: list[tuple[int, int, int]]) -> None:
    """Same bytes, SW and SQN state as the unfused path, over fresh, replayed, too-far-ahead
    and forged challenges."""
    m = Milenage(K1, OPC1)
    fused, ref = card(SQN1, delta=64), card(SQN1, delta=64)
    for rand_seed, step, kind in steps:
        sqn = min(max(SQN1 + step * 32 + rand_seed, 0), 2**48 - 1)
        rand = bytes([rand_seed]) * 16
        autn = bytearray(generate_vector(m, rand, sqn, AMF1).autn)
        if kind == 1:
            autn[15] ^= 1  # forged MAC-A
        elif kind == 2:
            autn[7] ^= 1  # AMF changed: MAC-A fails too
        data = data_of(rand, bytes(autn))
        assert ims_aka_response(fused, data) == _reference_response(ref, data)
        assert fused.sqn == ref.sqn


@given(st.binary(max_size=40))
def test_fused_response_matches_the_reference_on_any_data(data: bytes) -> None:
    for d in (data, bytearray(data), memoryview(data)):
        fused, ref = card(0), card(0)
        assert ims_aka_response(fused, d) == _reference_response(ref, bytes(d))  # type: ignore[arg-type]
        assert fused.sqn == ref.sqn


def test_fused_response_accepts_bytearray_and_memoryview() -> None:
    for wrap in (bytearray, memoryview):
        aka = card(SQN1 - 32)
        assert ims_aka_response(aka, wrap(data_of(RAND1, AUTN1))) == (RESP1, SW_OK)  # type: ignore[arg-type]
        assert aka.sqn.sqn_ms == SQN1


def test_authenticate_commit_false_leaves_the_array_alone() -> None:
    aka = card(SQN1 - 32)
    before = aka.sqn.to_dict()
    result = aka.authenticate(RAND1, AUTN1, commit=False)
    assert isinstance(result, Success) and result.sqn == SQN1
    assert aka.sqn.to_dict() == before
    assert isinstance(aka.authenticate(RAND1, AUTN1), Success)
    assert isinstance(aka.authenticate(RAND1, AUTN1, commit=False), SyncFailure)


@given(
    ind_bits=st.integers(0, 6),
    delta=st.integers(1, 1 << 12),
    limit=st.one_of(st.none(), st.integers(1, 1 << 12)),
    initial=st.integers(0, 1 << 16),
    sqns=st.lists(st.integers(0, 1 << 17), max_size=30),
)
def test_sqn_try_accept_is_check_then_accept(
    ind_bits: int, delta: int, limit: int | None, initial: int, sqns: list[int]
) -> None:
    cfg = SqnConfig(ind_bits=ind_bits, delta=delta, limit=limit)
    fast, slow = SqnArray(cfg, initial), SqnArray(cfg, initial)
    for s in sqns:
        ok = slow.check(s)
        if ok:
            slow.accept(s)
        assert fast.try_accept(s) == ok
        assert fast == slow


@pytest.mark.parametrize("bad", [-1, 2**48, True, 1.0, "1"])
def test_sqn_try_accept_refuses_non_sqns(bad: object) -> None:
    arr = SqnArray()
    with pytest.raises(ValueError, match="SQN"):
        arr.try_accept(bad)  # type: ignore[arg-type]
