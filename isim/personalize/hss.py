"""The output file for the operator's HSS: one CSV row per card.

Columns: `iccid, imsi, impi, impu, k, opc` (several IMPUs joined by `|`, K and OPc as
32 lower-case hex digits). No cell starts with a character that makes a spreadsheet evaluate
it (`= + - @` TAB CR): validation refuses such an IMPI, and the writer would still prefix
such a cell with an apostrophe (`_inert`).

With a transport key (`--transport-key FILE`: an AES key of 16, 24 or 32 bytes written as
hex) the two secret columns are named `k_enc, opc_enc` and each value is

    hex( nonce (12 bytes) || ciphertext (16 bytes) || tag (16 bytes) )      88 hex digits

AES-GCM under the transport key; the nonce is 12 fresh random bytes (`secrets`) per value;
the associated data is the ASCII text `<ICCID>:k` or `<ICCID>:opc`, which binds each value to
its card and column (a value moved to another row or column fails to decrypt).
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from isim.errors import InputError
from isim.fileio import read_bounded
from isim.names import FORMULA_LEADS

__all__ = [
    "HSS_COLUMNS",
    "HSS_COLUMNS_ENCRYPTED",
    "HssRecord",
    "TransportKey",
    "hss_header",
    "hss_line",
    "read_transport_key",
]

HSS_COLUMNS = ("iccid", "imsi", "impi", "impu", "k", "opc")
HSS_COLUMNS_ENCRYPTED = ("iccid", "imsi", "impi", "impu", "k_enc", "opc_enc")
NONCE_BYTES = 12
MAX_KEY_FILE_BYTES = 4096  # 64 hex digits and some whitespace; /dev/zero is not a key
TRANSPORT_MODE = "AES-GCM, 96-bit random nonce per value, AAD '<ICCID>:<column>'"


@dataclass(frozen=True)
class HssRecord:
    iccid: str
    imsi: str
    impi: str
    impus: Sequence[str]
    k: bytes
    opc: bytes


class TransportKey:
    """An AES key for the HSS file's secret columns."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("transport key must be 16, 24 or 32 bytes")
        self._aead = AESGCM(key)
        self.bits = len(key) * 8

    @classmethod
    def from_file(cls, path: str | Path) -> TransportKey:
        return cls(read_transport_key(path))

    def encrypt(self, value: bytes, iccid: str, column: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return (nonce + self._aead.encrypt(nonce, value, f"{iccid}:{column}".encode())).hex()

    def decrypt(self, text: str, iccid: str, column: str) -> bytes:
        """The inverse of `encrypt` (for tests and the operator's import side)."""
        blob = bytes.fromhex(text)
        try:
            return self._aead.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], f"{iccid}:{column}".encode()
            )
        except InvalidTag:
            raise ValueError(f"{column} of {iccid}: wrong key or altered value") from None


def read_transport_key(path: str | Path) -> bytes:
    """The AES key in `path`: 32, 48 or 64 hex digits (whitespace ignored)."""
    raw = read_bounded(Path(path), MAX_KEY_FILE_BYTES, what="transport key")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError("transport key is not hex", source=str(path)) from None
    hexdigits = "".join(text.split())
    try:
        key = bytes.fromhex(hexdigits)
    except ValueError:
        raise InputError("transport key is not hex", source=str(path)) from None
    if len(key) not in (16, 24, 32):
        raise InputError("transport key must be 32, 48 or 64 hex digits (AES-128/192/256)",
                         source=str(path))
    return key


def hss_header(transport: TransportKey | None) -> str:
    return _csv_line(HSS_COLUMNS_ENCRYPTED if transport else HSS_COLUMNS)


def hss_line(record: HssRecord, transport: TransportKey | None) -> str:
    if transport is None:
        k, opc = record.k.hex(), record.opc.hex()
    else:
        k = transport.encrypt(record.k, record.iccid, "k")
        opc = transport.encrypt(record.opc, record.iccid, "opc")
    return _csv_line((record.iccid, record.imsi, record.impi, "|".join(record.impus), k, opc))


def _csv_line(cells: Sequence[str]) -> str:
    buf = io.StringIO()
    # csv quotes a cell with "\n" (the line terminator) but not one with a lone "\r"
    quoting = csv.QUOTE_ALL if any("\r" in c for c in cells) else csv.QUOTE_MINIMAL
    csv.writer(buf, lineterminator="\n", quoting=quoting).writerow([_inert(c) for c in cells])
    return buf.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet would evaluate (it starts with = + - @ TAB or CR) gets a leading
    apostrophe (OWASP, "CSV injection"). Validation already refuses such an IMPI
    (`isim.names.nai_parts`) and no other column can start so: this is the second line."""
    return "'" + cell if cell.startswith(FORMULA_LEADS) else cell
