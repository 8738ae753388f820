"""Milenage, the 3GPP example authentication and key generation functions (TS 35.206).

All block values are 128 bits. E_K is AES-128 under the subscriber key K (TS 35.206 clause 4.1):

    TEMP  = E_K(RAND xor OPc)
    IN1   = SQN || AMF || SQN || AMF
    OUT1  = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc
    OUTi  = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc          i = 2..5

    f1 = OUT1[0..63]  f1* = OUT1[64..127]  f5 = OUT2[0..47]  f2 = OUT2[64..127]
    f3 = OUT3         f4 = OUT4            f5* = OUT5[0..47]

r1..r5 = 64, 0, 32, 64, 96 bits; c1 = 0, c2..c5 = 1, 2, 4, 8 (in the last byte).

A `Milenage` object keys AES once; it is not safe to share between threads.
"""

from __future__ import annotations

from hmac import compare_digest

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = ["Milenage", "MilenageRand", "derive_opc"]

_MASK64 = (1 << 64) - 1
_MASK128 = (1 << 128) - 1
# c2, c3, c4 in the last byte of the blocks OUT2 || OUT3 || OUT4 (one 48-byte ECB call)
_C234 = (1 << 256) | (2 << 128) | 4


def _require(value: bytes, length: int, name: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != length:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ValueError(f"{name} must be {length} bytes, got {got}")


def _rot(x: int, bits: int) -> int:
    """Cyclic left rotation of a 128-bit integer (TS 35.206 clause 2: rot(x, r))."""
    if bits == 0:
        return x
    return ((x << bits) | (x >> (128 - bits))) & _MASK128


_ECB = modes.ECB()  # stateless: one mode object serves every Cipher


def _ecb_encryptor(k: bytes) -> CipherContext:
    return Cipher(algorithms.AES(bytes(k)), _ECB).encryptor()


def derive_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP xor E_K(OP) (TS 35.206 clause 4.1): one block under a new K per call, so one
    `cryptography` encryptor per call (~3.5 us; the ECB mode object is shared)."""
    if type(k) is not bytes or type(op) is not bytes or len(k) != 16 or len(op) != 16:
        _require(k, 16, "K")  # the message (a bytearray passes)
        _require(op, 16, "OP")
    e = Cipher(algorithms.AES(k), _ECB).encryptor().update(op)
    return (int.from_bytes(e) ^ int.from_bytes(op)).to_bytes(16)


def _out234(m: Milenage, temp: int) -> int:
    """OUT2 || OUT3 || OUT4 in one 48-byte ECB call: OUTi = E_K(rot(TEMP xor OPc, ri) xor ci)
    xor OPc, with r = 0, 32, 64 and c = 1, 2, 4 (TS 35.206 clause 4.1)."""
    x = temp ^ m._opc
    xx = (x << 128) | x  # rot(x, r) = (xx >> (128 - r)) & MASK128
    blocks = ((x << 256) | (((xx >> 96) & _MASK128) << 128) | ((xx >> 64) & _MASK128)) ^ _C234
    return int.from_bytes(m._enc.update(blocks.to_bytes(48))) ^ m._opc3


class Milenage:
    """f1, f1*, f2, f3, f4, f5, f5* for one subscriber (K, OPc)."""

    __slots__ = ("_enc", "_opc", "_opc3", "_opc_hi", "_opc_rot64")

    def __init__(self, k: bytes, opc: bytes) -> None:
        _require(k, 16, "K")
        _require(opc, 16, "OPc")
        # ECB keeps no chaining state: one encryptor serves every call (never finalized).
        self._enc = _ecb_encryptor(k)
        self._opc = int.from_bytes(opc, "big")
        self._opc3 = int.from_bytes(bytes(opc) * 3, "big")
        self._opc_hi = self._opc >> 64
        self._opc_rot64 = _rot(self._opc, 64)

    def __repr__(self) -> str:  # never show K or OPc
        return "Milenage(<secret>)"

    def _e(self, block: bytes) -> bytes:
        return self._enc.update(block)

    def with_rand(self, rand: bytes) -> MilenageRand:
        """Compute TEMP once for RAND; the result evaluates every function for that RAND."""
        _require(rand, 16, "RAND")
        return MilenageRand(self, rand)

    def verify_autn(self, rand: bytes, autn: bytes) -> tuple[int, bytes] | None:
        """The card's AUTN check (TS 33.102 6.3.3) in three AES calls: TEMP, OUT2..OUT4 in
        one 48-byte call, OUT1.

        AUTN = (SQN xor AK) || AMF || MAC-A. Returns None when MAC-A does not match (compared
        in constant time), else (SQN, OUT2 || OUT3 || OUT4): 48 bytes holding AK = [0:6],
        RES = [8:16], CK = [16:32], IK = [32:48]. The same values as `with_rand(rand)`'s
        f2345() and f1(), with fewer conversions (the IMS AKA hot path).
        """
        if type(rand) is not bytes or len(rand) != 16:
            _require(rand, 16, "RAND")
        if len(autn) != 16:
            raise ValueError(f"AUTN must be 16 bytes, got {len(autn)}")
        enc = self._enc.update
        opc = self._opc
        temp = int.from_bytes(enc((int.from_bytes(rand) ^ opc).to_bytes(16)))
        out = _out234(self, temp)
        a = int.from_bytes(autn)
        # SQN || AMF = ((SQN xor AK) || AMF) xor (AK || 0000), AK = OUT2[0..47]
        sqn_amf = (a >> 64) ^ ((out >> 336) << 16)
        # OUT1 = E_K(TEMP xor rot(IN1 xor OPc, 64)) xor OPc, IN1 = (SQN || AMF) twice, so
        # rot(IN1, 64) = IN1; MAC-A = OUT1[0..63] is checked as E_K(..)[0..63] = MAC-A xor OPc
        e1 = enc((temp ^ ((sqn_amf << 64) | sqn_amf) ^ self._opc_rot64).to_bytes(16))
        if not compare_digest(e1[:8], ((a & _MASK64) ^ self._opc_hi).to_bytes(8)):
            return None
        return sqn_amf >> 16, out.to_bytes(48)

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """MAC-A (8 bytes)."""
        return self.with_rand(rand).f1(sqn, amf)

    def f1star(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """MAC-S (8 bytes), used in AUTS."""
        return self.with_rand(rand).f1star(sqn, amf)

    def f2345(self, rand: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """(RES 8, CK 16, IK 16, AK 6)."""
        return self.with_rand(rand).f2345()

    def f5star(self, rand: bytes) -> bytes:
        """AK* (6 bytes), the resynchronisation anonymity key."""
        return self.with_rand(rand).f5star()


class MilenageRand:
    """The Milenage functions for one RAND, sharing TEMP = E_K(RAND xor OPc)."""

    __slots__ = ("_m", "_temp")

    def __init__(self, m: Milenage, rand: bytes) -> None:
        self._m = m
        block = (int.from_bytes(rand, "big") ^ m._opc).to_bytes(16, "big")
        self._temp = int.from_bytes(m._e(block), "big")

    def __repr__(self) -> str:
        return "MilenageRand(<secret>)"

    def out1(self, sqn: bytes, amf: bytes) -> bytes:
        """OUT1 = MAC-A || MAC-S (TS 35.206 clause 4.1, r1 = 64, c1 = 0)."""
        _require(sqn, 6, "SQN")
        _require(amf, 2, "AMF")
        m = self._m
        in1 = int.from_bytes(bytes(sqn) + bytes(amf) + bytes(sqn) + bytes(amf), "big")
        x = self._temp ^ _rot(in1 ^ m._opc, 64)
        out = int.from_bytes(m._e(x.to_bytes(16, "big")), "big") ^ m._opc
        return out.to_bytes(16, "big")

    def f1(self, sqn: bytes, amf: bytes) -> bytes:
        return self.out1(sqn, amf)[:8]

    def f1star(self, sqn: bytes, amf: bytes) -> bytes:
        return self.out1(sqn, amf)[8:]

    def f2345(self) -> tuple[bytes, bytes, bytes, bytes]:
        """(RES, CK, IK, AK); OUT2..OUT4 in a single 48-byte ECB call."""
        out = _out234(self._m, self._temp).to_bytes(48)
        return out[8:16], out[16:32], out[32:48], out[0:6]

    def f5star(self) -> bytes:
        """AK* = OUT5[0..47] (r5 = 96, c5 = 8)."""
        m = self._m
        x = _rot(self._temp ^ m._opc, 96) ^ 8
        out = int.from_bytes(m._e(x.to_bytes(16, "big")), "big") ^ m._opc
        return out.to_bytes(16, "big")[:6]
