"""One AES-128 block under a key used once: E_K(OP) of the OPc derivation (TS 35.206 4.1).

Why this module: `milenage.derive_opc` runs once per card when a batch gives OP, each time
with a new K. Building a `cryptography` Cipher to encrypt a single block costs ~12 us, most
of the OPc derivation in a 1M-card batch; re-keying an OpenSSL EVP context through ctypes
costs ~1 us. (A `Milenage` object keys AES once and reuses its encryptor: it does not use
this module.)

`encrypt_block(key, block)` uses the system libcrypto through OpenSSL's EVP API
(EVP_EncryptInit_ex with AES-128-ECB and no padding, then only the key per call;
EVP_EncryptUpdate) when the library loads, has every symbol and passes a known-answer test
under two keys (TS 35.207 test set 1, TS 35.208 test set 3). Otherwise it is, silently, the
`cryptography` path (`encrypt_block_cryptography`), which gives the same bytes. The choice
is made on the first call, not at import (finding the library runs `ldconfig`); `backend()`
tells which path is in use.

Threads and processes: every thread has its own EVP context and output buffer
(threading.local), so concurrent calls share no state; the library is loaded with
`ctypes.PyDLL`, which keeps the GIL during the sub-microsecond calls. A process forked after
the first call (the personalizer's workers) inherits the forking thread's context as plain
memory and keeps using it; other threads' contexts are never touched in the child.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["backend", "encrypt_block", "encrypt_block_cryptography"]

BlockCipher = Callable[[bytes, bytes], bytes]

# (K, OP, E_K(OP) = OP xor OPc): TS 35.207 test set 1 and TS 35.208 test set 3. Two keys, so
# that a path which fails to re-key is caught.
_KNOWN_ANSWERS = tuple(
    (bytes.fromhex(k), bytes.fromhex(op), (int(op, 16) ^ int(opc, 16)).to_bytes(16, "big"))
    for k, op, opc in (
        (
            "465b5ce8b199b49faa5f0a2ee238a6bc",
            "cdc202d5123e20f62b6d676ac72cb318",
            "cd63cb71954a9f4e48a5994e37a02baf",
        ),
        (
            "fec86ba6eb707ed08905757b1bb44b8f",
            "dbc59adcb6f9a0ef735477b7fadf8374",
            "1006020f0a478bf6b699f15c062e42b3",
        ),
    )
)


def encrypt_block_cryptography(key: bytes, block: bytes) -> bytes:
    """The reference path: a `cryptography` AES-ECB Cipher built for this key."""
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def passes_self_test(encrypt: BlockCipher) -> bool:
    """Whether `encrypt` gives the known answers (any exception: it does not)."""
    try:
        return all(encrypt(k, op) == want for k, op, want in _KNOWN_ANSWERS)
    except Exception:
        return False


def evp_block_cipher(library: str | None) -> BlockCipher | None:
    """The EVP path over `library` (a libcrypto name or path for ctypes), or None when it
    cannot be loaded or lacks a symbol. The result takes a 16-byte `bytes` key and block
    (unchecked: `encrypt_block` checks them) and raises OSError when OpenSSL reports a
    failure; it is not self-tested here."""
    if not library:
        return None
    try:
        lib = ctypes.PyDLL(library)
        ctx_new, ctx_free = lib.EVP_CIPHER_CTX_new, lib.EVP_CIPHER_CTX_free
        aes_128_ecb, set_padding = lib.EVP_aes_128_ecb, lib.EVP_CIPHER_CTX_set_padding
        init, update = lib.EVP_EncryptInit_ex, lib.EVP_EncryptUpdate
    except (OSError, AttributeError):
        return None
    void_p, char_p, c_int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    ctx_new.argtypes, ctx_new.restype = [], void_p
    ctx_free.argtypes, ctx_free.restype = [void_p], None
    aes_128_ecb.argtypes, aes_128_ecb.restype = [], void_p
    set_padding.argtypes, set_padding.restype = [void_p, c_int], c_int
    # EVP_EncryptInit_ex(ctx, cipher, engine, key, iv)
    init.argtypes, init.restype = [void_p, void_p, void_p, char_p, char_p], c_int
    # EVP_EncryptUpdate(ctx, out, &outl, in, inl): out and &outl go as plain addresses, the
    # cheapest argument conversion ctypes has
    update.argtypes, update.restype = [void_p, void_p, void_p, char_p, c_int], c_int
    cipher = aes_128_ecb()
    if not cipher:
        return None

    class ThreadContext:
        """One thread's EVP context, keyed per call, and its output buffer."""

        __slots__ = ("ctx", "out", "out_addr", "outl", "outl_addr")

        def __init__(self) -> None:
            self.ctx = ctx_new()
            if not self.ctx:
                raise OSError("EVP_CIPHER_CTX_new failed")
            if init(self.ctx, cipher, None, None, None) != 1 or set_padding(self.ctx, 0) != 1:
                raise OSError("EVP_EncryptInit_ex (AES-128-ECB) failed")
            self.out = ctypes.create_string_buffer(16)
            self.out_addr = ctypes.addressof(self.out)
            self.outl = c_int()
            self.outl_addr = ctypes.addressof(self.outl)

        def __del__(self) -> None:  # the thread ended (or the process exits)
            if getattr(self, "ctx", None):
                ctx_free(self.ctx)

    local = threading.local()

    def encrypt(key: bytes, block: bytes) -> bytes:
        try:
            t = local.context
        except AttributeError:
            t = local.context = ThreadContext()
        ctx = t.ctx
        # cipher NULL: the context keeps AES-128-ECB and no padding, only the key changes
        if (
            init(ctx, None, None, key, None) != 1
            or update(ctx, t.out_addr, t.outl_addr, block, 16) != 1
            or t.outl.value != 16
        ):
            raise OSError("EVP AES-128-ECB encryption failed")
        return t.out.raw

    return encrypt


_encrypt: BlockCipher | None = None  # the path in use, chosen by the first call


def _choose() -> BlockCipher:
    """The EVP path when it loads and passes the self-test, else the `cryptography` path."""
    global _encrypt
    library = ctypes.util.find_library("crypto")
    if sys.platform == "darwin" and library and library.startswith("/usr/lib/"):
        library = None  # macOS's own libcrypto aborts the process when loaded this way
    evp = evp_block_cipher(library)
    _encrypt = evp if evp is not None and passes_self_test(evp) else encrypt_block_cryptography
    return _encrypt


def backend() -> str:
    """The path `encrypt_block` uses in this process: "openssl-evp" or "cryptography"."""
    chosen = _encrypt or _choose()
    return "cryptography" if chosen is encrypt_block_cryptography else "openssl-evp"


def encrypt_block(key: bytes, block: bytes) -> bytes:
    """E_K(block): AES-128 of one 16-byte block under a 16-byte key (bytes-like values)."""
    if type(key) is not bytes:
        key = bytes(key)
    if type(block) is not bytes:
        block = bytes(block)
    if len(key) != 16 or len(block) != 16:
        raise ValueError(f"AES-128 takes a 16-byte key and block, got {len(key)}, {len(block)}")
    try:
        return (_encrypt or _choose())(key, block)
    except OSError:  # OpenSSL failed after passing the self-test (out of memory?)
        return encrypt_block_cryptography(key, block)
