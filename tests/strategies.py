"""Hypothesis strategies shared by several test modules (import at module level: defining
strategies inside a running @given test trips hypothesis' nested-given check)."""

from __future__ import annotations

import functools
import operator

from hypothesis import strategies as st

from apdu.arr import ALWAYS, NEVER, AccessMode, AccessRule, key


def access_rules() -> st.SearchStrategy[AccessRule]:
    """Random rules, conditions normalised the way decoding builds them."""
    keys = st.sampled_from([0x01, 0x02, 0x0A, 0x0B, 0x11, 0x81, 0x8A])
    alternative = st.frozensets(keys, min_size=1, max_size=3)
    condition = st.one_of(
        st.just(ALWAYS),
        st.just(NEVER),
        st.lists(alternative, min_size=1, max_size=3).map(
            lambda alts: functools.reduce(operator.or_, (key(*alt) for alt in alts))
        ),
    )
    byte = st.integers(0, 255)
    mode = st.one_of(
        st.builds(AccessMode, am_byte=byte),
        st.builds(AccessMode, ins=byte),
        st.builds(
            AccessMode, cla=st.none() | byte, ins=byte, p1=st.none() | byte, p2=st.none() | byte
        ),
    )
    return st.lists(st.tuples(mode, condition), min_size=1, max_size=4).map(
        lambda rules: AccessRule(tuple(rules))
    )
