"""c2/c3 against the digest's worked values for TS 35.208 test set 1 (SRES#1 and Kc of TS 55.205
test set 1 are c2(RES) and c3(CK, IK) of the Milenage outputs)."""

import pytest

from isim.aka.gsm import c2, c3

# TS 35.208 clause 4.3, test set 1: RES, CK, IK, SRES (c2), Kc (c3)
VECTORS = [
    ("a54211d5e3ba50bf", "b40ba9a3c58b2a05bbf0d987b21bf8cb", "f769bcd751044604127672711c6d3441",
     "46f8416a", "eae4be823af9a08b"),
]


@pytest.mark.parametrize("res, ck, ik, sres, kc", VECTORS)
def test_conversion_functions_match_ts_35_208(res, ck, ik, sres, kc):
    assert c2(bytes.fromhex(res)).hex() == sres
    assert c3(bytes.fromhex(ck), bytes.fromhex(ik)).hex() == kc


def test_c2_pads_short_res_and_rejects_bad_lengths():
    assert c2(bytes.fromhex("01020304")) == bytes.fromhex("01020304")
    with pytest.raises(ValueError, match="XRES"):
        c2(b"\x00" * 3)
    with pytest.raises(ValueError, match="CK and IK"):
        c3(b"\x00" * 15, b"\x00" * 16)
