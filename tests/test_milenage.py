"""Milenage against every conformance set of TS 35.208 (sets 1-20) and TS 35.207 set 2.

Values from the spec digest section 4.2 (cross-checked there against hostapd and free5gc).
Per set, four lines: name K RAND SQN AMF / OP OPc / f1 f1* f2 f5 / f3 f4 f5*.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isim.aka.milenage import Milenage, derive_opc

SETS_TEXT = """
35.208-1 465b5ce8b199b49faa5f0a2ee238a6bc 23553cbe9637a89d218ae64dae47bf35 ff9bb4d0b607 b9b9
cdc202d5123e20f62b6d676ac72cb318 cd63cb71954a9f4e48a5994e37a02baf
4a9ffac354dfafb3 01cfaf9ec4e871e9 a54211d5e3ba50bf aa689c648370
b40ba9a3c58b2a05bbf0d987b21bf8cb f769bcd751044604127672711c6d3441 451e8beca43b

35.208-2 465b5ce8b199b49faa5f0a2ee238a6bc 23553cbe9637a89d218ae64dae47bf35 ff9bb4d0b607 b9b9
cdc202d5123e20f62b6d676ac72cb318 cd63cb71954a9f4e48a5994e37a02baf
4a9ffac354dfafb3 01cfaf9ec4e871e9 a54211d5e3ba50bf aa689c648370
b40ba9a3c58b2a05bbf0d987b21bf8cb f769bcd751044604127672711c6d3441 451e8beca43b

35.208-3 fec86ba6eb707ed08905757b1bb44b8f 9f7c8d021accf4db213ccff0c7f71a6a 9d0277595ffc 725c
dbc59adcb6f9a0ef735477b7fadf8374 1006020f0a478bf6b699f15c062e42b3
9cabc3e99baf7281 95814ba2b3044324 8011c48c0c214ed2 33484dc2136b
5dbdbb2954e8f3cde665b046179a5098 59a92d3b476a0443487055cf88b2307b deacdd848cc6

35.208-4 9e5944aea94b81165c82fbf9f32db751 ce83dbc54ac0274a157c17f80d017bd6 0b604a81eca8 9e09
223014c5806694c007ca1eeef57f004f a64a507ae1a2a98bb88eb4210135dc87
74a58220cba84c49 ac2cc74a96871837 f365cd683cd92e96 f0b9c08ad02e
e203edb3971574f5a94b0d61b816345d 0c4524adeac041c4dd830d20854fc46b 6085a86c6f63

35.208-5 4ab1deb05ca6ceb051fc98e77d026a84 74b0cd6031a1c8339b2b6ce2b8c4a186 e880a1b580b6 9f07
2d16c5cd1fdf6b22383584e3bef2a8d8 dcf07cbd51855290b92a07a9891e523e
49e785dd12626ef2 9e85790336bb3fa2 5860fc1bce351e7e 31e11a609118
7657766b373d1c2138f307e3de9242f9 1c42e960d89b8fa99f2744e0708ccb53 fe2555e54aa9

35.208-6 6c38a116ac280c454f59332ee35c8c4f ee6466bc96202c5a557abbeff8babf63 414b98222181 4464
1ba00a1a7c6700ac8c3ff3e96ad08725 3803ef5363b947c6aaa225e58fae3934
078adfb488241a57 80246b8d0186bcf1 16c8233f05a0ac28 45b0f69ab06c
3f8c7587fe8e4b233af676aede30ba3b a7466cc1e6b2a1337d49d3b66e95d7b4 1f53cd2b1113

35.208-7 2d609d4db0ac5bf0d2c0de267014de0d 194aa756013896b74b4a2a3b0af4539e 6bf69438c2e4 5f67
460a48385427aa39264aac8efc9e73e8 c35a0ab0bcbfc9252caff15f24efbde0
bd07d3003b9e5cc3 bcb6c2fcad152250 8c25a16cd918a1df 7e6455f34cf3
4cd0846020f8fa0731dd47cbdc6be411 88ab80a415f15c73711254a1d388f696 dc6dd01e8f15

35.208-8 a530a7fe428fad1082c45eddfce13884 3a4c2b3245c50eb5c71d08639395764d f63f5d768784 b90e
511c6c4e83e38c89b1c5d8dde62426fa 27953e49bc8af6dcc6e730eb80286be3
53761fbd679b0bad 21adfd334a10e7ce a63241e1ffc3e5ab 88196c47986f
10f05bab75a99a5fbb98a9c287679c3b f9ec0865eb32f22369cade40c59c3a44 c987a3d23115

35.208-9 d9151cf04896e25830bf2e08267b8360 f761e5e93d603feb730e27556cb8a2ca 47ee0199820a 9113
75fc2233a44294ee8e6de25c4353d26b c4c93effe8a08138c203d4c27ce4e3d9
66cc4be44862af1f 7a4b8d7a8753f246 4a90b2171ac83a76 82a0f5287a71
71236b7129f9b22ab77ea7a54c96da22 90527ebaa5588968db41727325a04d9e 527dbf41f35f

35.208-10 a0e2971b6822e8d354a18cc235624ecb 08eff828b13fdb562722c65c7f30a9b2 db5c066481e0 716b
323792faca21fb4d5d6f13c145a9d2c1 82a26f22bba9e9488f949a10d98e9cc4
9485fe24621cb9f6 bce325ce03e2e9b9 4bc2212d8624910a a2f858aa9e5d
08cef6d004ec61471a3c3cda048137fa ed0318ca5deb9206272f6e8fa64ba411 74e76fbbec38

35.208-11 0da6f7ba86d5eac8a19cf563ac58642d 679ac4dbacd7d233ff9d6806f4149ce3 6e2331d692ad 224a
4b9a26fa459e3acbff36f4015de3bdc1 0db1071f8767562ca43a0a64c41e8d08
2831d7ae9088e492 9b2e16951135d523 6fc30fee6d123523 4c539a26e1fa
69b1cae7c7429d975e245cacb05a517c 74f24e8c26df58e1b38d7dcd4f1b7fbd 07861e126928

35.208-12 77b45843c88e58c10d202684515ed430 4c47eb3076dc55fe5106cb2034b8cd78 fe1a8731005d ad25
bf3286c7a51409ce95724d503bfe6e70 d483afae562409a326b5bb0b20c4d762
08332d7e9f484570 ed41b734489d5207 aefa357beac2a87a 30ff25cdadf6
908c43f0569cb8f74bc971e706c36c5f c251df0d888dd9329bcf46655b226e40 e84ed0d4677e

35.208-13 729b17729270dd87ccdf1bfe29b4e9bb 311c4c929744d675b720f3b7e9b1cbd0 c85c4cf65916 5bb2
d04c9c35bd2262fa810d2924d036fd13 228c2f2f06ac3268a9e616ee16db4ba1
ff794fe2f827ebf8 24fe4dc61e874b52 98dbbd099b3b408d 5380d158cfe3
44c0f23c5493cfd241e48f197e1d1012 0c9fb81613884c2535dd0eabf3b440d8 87ac3b559fb6

35.208-14 d32dd23e89dc662354ca12eb79dd32fa cf7d0ab1d94306950bf12018fbd46887 484107e56a43 b5e6
fe75905b9da47d356236d0314e09c32e d22a4b4180a5325708a5ff70d9f67ec7
cf19d62b6a809866 5d269537e45e2ce6 af4a411e1139f2c2 217af49272ad
5af86b80edb70df5292cc1121cbad50c 7f4d6ae7440e18789a8b75ad3f42f03a 900e101c677e

35.208-15 af7c65e1927221de591187a2c5987a53 1f0f8578464fd59b64bed2d09436b57a 3d627b01418d 84f6
0c7acb8d95b7d4a31c5aca6d26345a88 a4cf5c8155c08a7eff418e5443b98e55
c37cae7805642032 68cd09a452d8db7c 7bffa5c2f41fbc05 837fd7b74419
3f8c3f3ccf7625bf77fc94bcfd22fd26 abcbae8fd46115e9961a55d0da5f2078 56e97a6090b1

35.208-16 5bd7ecd3d3127a41d12539bed4e7cf71 59b75f14251c75031d0bcbac1c2c04c7 a298ae8929dc d056
f967f76038b920a9cd25e10c08b49924 76089d3c0ff3efdc6e36721d4fceb747
c3f25cd94309107e b0c8ba343665afcc 7e3f44c7591f6f45 5be11495525d
d42b2d615e49a03ac275a5aef97af892 0b3f8d024fe6bfafaa982b8f82e319c2 4d6a34a1e4eb

35.208-17 6cd1c6ceb1e01e14f1b82316a90b7f3d f69b78f300a0568bce9f0cb93c4be4c9 b4fce5feb059 e4bb
078bfca9564659ecd8851e84e6c59b48 a219dc37f1dc7d66738b5843c799f206
69a90869c268cb7b 2e0fdcf9fd1cfa6a 70f6bdb9ad21525f 1c408a858b3e
6edaf99e5bd9f85d5f36d91c1272fb4b d61c853c280dd9c46f297baec386de17 aa4ae52daa30

35.208-18 b73a90cbcf3afb622dba83c58a8415df b120f1c1a0102a2f507dd543de68281f f1e8a523a36d 471b
b672047e003bb952dca6cb8af0e5b779 df0c67868fa25f748b7044c6e7c245b8
ebd70341bcd415b0 12359f5d82220c14 479dd25c20792d63 aefdaa5ddd99
66195dbed0313274c5ca7766615fa25e 66bec707eb2afc476d7408a8f2927b36 12ec2b87fbb1

35.208-19 5122250214c33e723a5dd523fc145fc0 81e92b6c0ee0e12ebceba8d92a99dfa5 16f3b3f70fc2 c3ab
c9e8763286b5b9ffbdf56e1297d0887b 981d464c7c52eb6e5036234984ad0bcf
2a5c23d15ee351d5 62dae3853f3af9d2 28d7b0f2a2ec3de5 ada15aeb7bb8
5349fbe098649f948f5d2e973a81c00f 9744871ad32bf9bbd1dd5ce54e3e2e5a d461bc15475d

35.208-20 90dca4eda45b53cf0f12d7c9c3bc6a89 9fddc72092c6ad036b6e464789315b78 20f813bd4141 61df
3ffcfe5b7b1111589920d3528e84e655 cb9cccc4b9258e6dca4760379fb82581
09db94eab4f8149e a29468aa9775b527 a95100e2760952cd 83cfd54db913
b5f2da03883b69f96bf52e029ed9ac45 b4721368bc16ea67875c5598688bb0ef 4f2039392ddc

35.207-2 0396eb317b6d1c36f19c1c84cd6ffd16 c00d603103dcee52c4478119494202e8 fd8eef40df7d af17
ff53bade17df5d4e793073ce9d7579fa 53c15671c60a4b731c55b4a441c0bde2
5df5b31807e258b0 a8c016e51ef4a343 d3a628ed988620f0 c47783995f72
58c433ff7a7082acd424220f2b67c556 21a8c1f929702adb3e738488b9f5c5da 30f1197061c1
"""

FIELDS = [
    "name",
    "k",
    "rand",
    "sqn",
    "amf",
    "op",
    "opc",
    "f1",
    "f1star",
    "f2",
    "f5",
    "f3",
    "f4",
    "f5star",
]


def _sets() -> list[dict[str, str]]:
    out = []
    for block in SETS_TEXT.strip().split("\n\n"):
        values = block.split()
        assert len(values) == len(FIELDS), block
        out.append(dict(zip(FIELDS, values, strict=True)))
    return out


SETS = _sets()
H = bytes.fromhex


def test_all_sets_present() -> None:
    names = [s["name"] for s in SETS]
    assert names == [f"35.208-{i}" for i in range(1, 21)] + ["35.207-2"]


@pytest.mark.parametrize("s", SETS, ids=[s["name"] for s in SETS])
def test_opc(s: dict[str, str]) -> None:
    assert derive_opc(H(s["k"]), H(s["op"])).hex() == s["opc"]


@pytest.mark.parametrize("s", SETS, ids=[s["name"] for s in SETS])
def test_outputs(s: dict[str, str]) -> None:
    m = Milenage(H(s["k"]), H(s["opc"]))
    rand, sqn, amf = H(s["rand"]), H(s["sqn"]), H(s["amf"])
    assert m.f1(rand, sqn, amf).hex() == s["f1"]
    assert m.f1star(rand, sqn, amf).hex() == s["f1star"]
    res, ck, ik, ak = m.f2345(rand)
    assert res.hex() == s["f2"]
    assert ck.hex() == s["f3"]
    assert ik.hex() == s["f4"]
    assert ak.hex() == s["f5"]
    assert m.f5star(rand).hex() == s["f5star"]


@pytest.mark.parametrize("s", SETS, ids=[s["name"] for s in SETS])
def test_with_rand_matches_single_calls(s: dict[str, str]) -> None:
    m = Milenage(H(s["k"]), H(s["opc"]))
    rand, sqn, amf = H(s["rand"]), H(s["sqn"]), H(s["amf"])
    mr = m.with_rand(rand)
    assert mr.out1(sqn, amf).hex() == s["f1"] + s["f1star"]
    assert mr.f2345() == m.f2345(rand)
    assert mr.f5star() == m.f5star(rand)


def test_temp_check_value() -> None:
    """Set 1: TEMP = E_K(RAND xor OPc) = 9e2980c5... (digest 4.1; 35.208 Rijndael test 1)."""
    s = SETS[0]
    mr = Milenage(H(s["k"]), H(s["opc"])).with_rand(H(s["rand"]))
    assert mr._temp.to_bytes(16, "big").hex() == "9e2980c59739da67b136355e3cede6a2"


def test_object_reused_across_calls() -> None:
    """One keyed object gives the same answers over many calls, in any order."""
    s1, s3 = SETS[0], SETS[2]
    m = Milenage(H(s1["k"]), H(s1["opc"]))
    for _ in range(3):
        assert m.f5star(H(s1["rand"])).hex() == s1["f5star"]
        assert m.f2345(H(s1["rand"]))[0].hex() == s1["f2"]
    other = Milenage(H(s3["k"]), H(s3["opc"]))
    assert other.f2345(H(s3["rand"]))[0].hex() == s3["f2"]
    assert m.f1(H(s1["rand"]), H(s1["sqn"]), H(s1["amf"])).hex() == s1["f1"]


def test_wmnsk_vector() -> None:
    v = H("00112233445566778899aabbccddeeff")
    opc = derive_opc(v, v)
    assert opc.hex() == "62e75b8d6fa5bf46ec87a9276f9df54d"
    m = Milenage(v, opc)
    assert m.f1(v, H("000000000001"), H("8000")).hex() == "4af30b82a8531115"
    res, ck, ik, ak = m.f2345(v)
    assert (res.hex(), ck.hex(), ik.hex(), ak.hex()) == (
        "700eb2300b2c4799",
        "b379874b3d183d2a21291d439e7761e1",
        "f4706f66629cf7ddf881d80025bf1255",
        "de656c8b0bce",
    )


@pytest.mark.parametrize(
    ("k", "opc", "field"),
    [(b"\x00" * 15, b"\x00" * 16, "K"), (b"\x00" * 16, b"\x00" * 17, "OPc")],
)
def test_key_lengths(k: bytes, opc: bytes, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Milenage(k, opc)


def test_input_lengths_name_the_field() -> None:
    m = Milenage(b"\x00" * 16, b"\x00" * 16)
    rand = b"\x00" * 16
    with pytest.raises(ValueError, match="RAND"):
        m.f2345(b"\x00" * 15)
    with pytest.raises(ValueError, match="RAND"):
        m.f5star(b"")
    with pytest.raises(ValueError, match="SQN"):
        m.f1(rand, b"\x00" * 5, b"\x00\x00")
    with pytest.raises(ValueError, match="AMF"):
        m.f1star(rand, b"\x00" * 6, b"\x00")
    with pytest.raises(ValueError, match="OP"):
        derive_opc(b"\x00" * 16, b"\x00" * 8)
    with pytest.raises(ValueError, match="K"):
        derive_opc(b"\x00" * 8, b"\x00" * 16)


def test_repr_hides_secrets() -> None:
    k = H("465b5ce8b199b49faa5f0a2ee238a6bc")
    m = Milenage(k, k)
    assert k.hex() not in repr(m)
    assert k.hex() not in repr(m.with_rand(k))


# ------------------------------------------------------------------ fused AUTN check


def _autn(s: dict[str, str]) -> bytes:
    sqn_xor_ak = bytes(a ^ b for a, b in zip(H(s["sqn"]), H(s["f5"]), strict=True))
    return sqn_xor_ak + H(s["amf"]) + H(s["f1"])


@pytest.mark.parametrize("s", SETS, ids=[s["name"] for s in SETS])
def test_verify_autn_matches_the_spec_outputs(s: dict[str, str]) -> None:
    m = Milenage(H(s["k"]), H(s["opc"]))
    rand = H(s["rand"])
    checked = m.verify_autn(rand, _autn(s))
    assert checked is not None
    sqn, out = checked
    assert sqn == int(s["sqn"], 16)
    assert len(out) == 48
    assert out[0:6].hex() == s["f5"]
    assert out[8:16].hex() == s["f2"]
    assert out[16:32].hex() == s["f3"]
    assert out[32:48].hex() == s["f4"]
    assert (out[8:16], out[16:32], out[32:48], out[0:6]) == m.f2345(rand)


@pytest.mark.parametrize("s", SETS[:4], ids=[s["name"] for s in SETS[:4]])
def test_verify_autn_refuses_any_single_bit_flip(s: dict[str, str]) -> None:
    """A flipped bit in SQN xor AK, AMF or MAC-A makes MAC-A fail (None); so does another RAND."""
    m = Milenage(H(s["k"]), H(s["opc"]))
    rand, autn = H(s["rand"]), _autn(s)
    for bit in range(128):
        bad = bytearray(autn)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        assert m.verify_autn(rand, bytes(bad)) is None, bit
    assert m.verify_autn(bytes(16), autn) is None


def test_verify_autn_accepts_bytearray_and_checks_lengths() -> None:
    s = SETS[0]
    m = Milenage(H(s["k"]), H(s["opc"]))
    expected = m.verify_autn(H(s["rand"]), _autn(s))
    assert m.verify_autn(bytearray(H(s["rand"])), bytearray(_autn(s))) == expected
    assert m.verify_autn(H(s["rand"]), memoryview(_autn(s))) == expected
    with pytest.raises(ValueError, match="RAND"):
        m.verify_autn(H(s["rand"])[:15], _autn(s))
    with pytest.raises(ValueError, match="RAND"):
        m.verify_autn("x" * 16, _autn(s))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="AUTN"):
        m.verify_autn(H(s["rand"]), _autn(s) + b"\x00")


# -- derive_opc: one AES block under a new K per card, through `cryptography` ---------------


def test_derive_opc_accepts_bytes_like() -> None:
    k, op = bytearray(H(SETS[0]["k"])), bytearray(H(SETS[0]["op"]))
    assert derive_opc(k, op).hex() == SETS[0]["opc"]


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_derive_opc_keys_every_call(k: bytes, op: bytes) -> None:
    """A new K each call: a path that kept the first key would give equal OPcs for two Ks."""
    other = bytes(b ^ 0xFF for b in k)
    assert derive_opc(k, op) != derive_opc(other, op) or k == other
    assert derive_opc(k, op) == derive_opc(k, op)


# Run in a fresh interpreter: forking the pytest process, where earlier tests may have left
# threads running (vpcd transports, loggers), can copy a lock another thread holds, and the
# child then hangs. The fresh one has a single thread when it forks, as the personalizer's
# CLI (isim.personalize.work.start_method).
_FORKED_CHILDREN = """
import json, multiprocessing, sys
from isim.aka.milenage import derive_opc

SETS = json.loads(sys.stdin.read())


def opcs(_):
    return [derive_opc(bytes.fromhex(s["k"]), bytes.fromhex(s["op"])).hex() for s in SETS]


first = opcs(0)
with multiprocessing.get_context("fork").Pool(2) as pool:
    print(json.dumps([first, *pool.map(opcs, range(4))]))
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_a_forked_child_keeps_deriving() -> None:
    """The personalizer forks its workers after the parent derived OPcs."""
    sets = [{"k": s["k"], "op": s["op"]} for s in SETS]
    done = subprocess.run([sys.executable, "-c", _FORKED_CHILDREN], input=json.dumps(sets),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results == [[s["opc"] for s in SETS]] * 5  # the parent, then 4 forked children
