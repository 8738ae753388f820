"""SQN array scheme, TS 33.102 Annex C.2 (digest 3.5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isim.aka.sqn import SQN_MAX, SqnArray, SqnConfig, next_sqn


def sqn_of(seq: int, ind: int, ind_bits: int = 5) -> int:
    return (seq << ind_bits) | ind


def test_initial_state_is_profile_sqn() -> None:
    arr = SqnArray(SqnConfig(), initial_sqn=sqn_of(100, 7))
    assert arr.sqn_ms == sqn_of(100, 7)
    assert arr.seq_ms == (100,) * 32
    # same SEQ in any slot is stale, SEQ + 1 in any slot is fresh
    assert not arr.check(sqn_of(100, 7))
    assert not arr.check(sqn_of(100, 3))
    assert arr.check(sqn_of(101, 7))
    assert arr.check(sqn_of(101, 0))


def test_default_initial_zero() -> None:
    arr = SqnArray()
    assert arr.sqn_ms == 0
    assert len(arr.seq_ms) == 32
    assert not arr.check(0)
    assert not arr.check(31)  # SEQ 0 in every IND is not > SEQ_MS(i) = 0
    assert arr.check(32)


def test_replay_rejected() -> None:
    arr = SqnArray()
    s = sqn_of(5, 1)
    assert arr.check(s)
    arr.accept(s)
    assert not arr.check(s)
    with pytest.raises(ValueError):
        arr.accept(s)


def test_interleaved_out_of_order_accepted() -> None:
    """Vectors of different IND can be used out of order (C.2: one SEQ_MS per IND)."""
    arr = SqnArray()
    issued = [sqn_of(1, i) for i in range(4)] + [sqn_of(2, i) for i in range(4)]
    # (2,1) (1,2) (2,3) (1,0) (2,2): out of order overall, increasing within each IND
    for s in [issued[5], issued[2], issued[7], issued[0], issued[6]]:
        assert arr.check(s), hex(s)
        arr.accept(s)
    # (1,1) was never used but SEQ_MS(1) = 2 now: stale; likewise (1,3)
    assert not arr.check(issued[1])
    assert not arr.check(issued[3])
    # (2,0): SEQ_MS(0) = 1 -> still fresh
    assert arr.check(issued[4])
    assert arr.sqn_ms == issued[7]


def test_older_in_same_slot_rejected() -> None:
    arr = SqnArray()
    arr.accept(sqn_of(10, 4))
    assert not arr.check(sqn_of(9, 4))
    assert arr.check(sqn_of(9, 5))


def test_sqn_ms_is_highest_accepted() -> None:
    arr = SqnArray()
    arr.accept(sqn_of(10, 4))
    arr.accept(sqn_of(3, 9))  # older, other slot: accepted but SQN_MS unchanged
    assert arr.sqn_ms == sqn_of(10, 4)
    arr.accept(sqn_of(10, 6))
    assert arr.sqn_ms == sqn_of(10, 6)


def test_delta_check() -> None:
    cfg = SqnConfig(delta=100)
    arr = SqnArray(cfg, sqn_of(50, 0))
    assert arr.check(sqn_of(150, 3))  # SEQ - SEQ_MS = 100 <= delta
    assert not arr.check(sqn_of(151, 3))  # 101 > delta
    arr.accept(sqn_of(150, 3))
    assert arr.check(sqn_of(250, 1))
    assert not arr.check(sqn_of(251, 1))


def test_default_delta_is_2_pow_28() -> None:
    arr = SqnArray()
    assert arr.check(sqn_of(2**28, 1))
    assert not arr.check(sqn_of(2**28 + 1, 1))


def test_limit_check() -> None:
    arr = SqnArray(SqnConfig(limit=10))
    arr.accept(sqn_of(20, 0))
    assert arr.check(sqn_of(11, 1))  # SEQ_MS - SEQ = 9 < L
    assert not arr.check(sqn_of(10, 1))  # 10 >= L
    no_limit = SqnArray()
    no_limit.accept(sqn_of(20, 0))
    assert no_limit.check(sqn_of(1, 1))


def test_other_ind_widths() -> None:
    arr = SqnArray(SqnConfig(ind_bits=0), initial_sqn=7)
    assert len(arr.seq_ms) == 1
    assert not arr.check(7)
    assert arr.check(8)
    arr3 = SqnArray(SqnConfig(ind_bits=3))
    assert len(arr3.seq_ms) == 8
    arr3.accept(sqn_of(1, 7, 3))
    assert not arr3.check(sqn_of(1, 7, 3))


def test_next_sqn() -> None:
    assert next_sqn(0x000000000000) == 0x20
    assert next_sqn(0xFF9BB4D0B607, 5) == 0xFF9BB4D0B627
    assert next_sqn(5, 0) == 6
    arr = SqnArray(initial_sqn=0xFF9BB4D0B607)
    assert arr.check(next_sqn(arr.sqn_ms))
    with pytest.raises(ValueError):
        next_sqn(SQN_MAX)


@pytest.mark.parametrize("bad", [-1, 2**48, True, "1"])
def test_bad_sqn_values(bad: object) -> None:
    with pytest.raises(ValueError):
        SqnArray().check(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"ind_bits": -1}, {"ind_bits": 17}, {"delta": 0}, {"limit": 0}])
def test_bad_config(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SqnConfig(**kwargs)


def test_round_trip_json() -> None:
    arr = SqnArray(SqnConfig(limit=1000), sqn_of(40, 2))
    arr.accept(sqn_of(41, 9))
    arr.accept(sqn_of(45, 1))
    d = json.loads(json.dumps(arr.to_dict()))
    back = SqnArray.from_dict(d)
    assert back == arr
    assert back.sqn_ms == arr.sqn_ms
    assert back.seq_ms == arr.seq_ms
    assert back.config == arr.config
    assert not back.check(sqn_of(41, 9))
    copy = arr.copy()
    copy.accept(sqn_of(46, 1))
    assert copy != arr


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("seq_ms"),
        lambda d: d.__setitem__("seq_ms", d["seq_ms"][:-1]),
        lambda d: d.__setitem__("sqn_ms", "zz"),
        lambda d: d.__setitem__("sqn_ms", "000000000000"),  # not the highest SEQ
        lambda d: d["seq_ms"].__setitem__(3, -1),
        lambda d: d.__setitem__("ind_bits", 99),
    ],
)
def test_from_dict_rejects_corrupt_state(mutate) -> None:
    arr = SqnArray(initial_sqn=sqn_of(40, 2))
    d = arr.to_dict()
    mutate(d)
    with pytest.raises(ValueError):
        SqnArray.from_dict(d)


@given(st.lists(st.integers(min_value=0, max_value=2**12 - 1), max_size=60))
def test_accept_keeps_invariants(seqs: list[int]) -> None:
    arr = SqnArray(SqnConfig(ind_bits=3))
    for s in seqs:
        if arr.check(s):
            arr.accept(s)
            assert not arr.check(s)
        assert arr.sqn_ms >> 3 == max(arr.seq_ms)
    SqnArray.from_dict(arr.to_dict())  # invariants hold for the persisted form
