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

`--hss-format hlr_auc_gw` writes hostapd's Milenage database instead (the `-m` file of its
`hlr_auc_gw`): one line per card, space separated,

    IMSI Ki OPc AMF SQN                 (hex; SQN = the last SQN used: the card's initial SQN_MS)

`read_hss` reads either format back (the AuC gateway `isim auc-gw --hss`).
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from isim.aka.codes import AMF_DEFAULT
from isim.errors import InputError, Problem, ProfileError
from isim.fileio import read_bounded
from isim.identity.names import FORMULA_LEADS

__all__ = [
    "HSS_COLUMNS",
    "HSS_COLUMNS_ENCRYPTED",
    "HSS_FORMATS",
    "MILENAGE_DB_AMF",
    "HssRecord",
    "TransportKey",
    "hss_header",
    "hss_line",
    "milenage_db_header",
    "milenage_db_line",
    "read_hss",
    "read_transport_key",
]

HSS_COLUMNS = ("iccid", "imsi", "impi", "impu", "k", "opc")
HSS_COLUMNS_ENCRYPTED = ("iccid", "imsi", "impi", "impu", "k_enc", "opc_enc")
NONCE_BYTES = 12
MAX_KEY_FILE_BYTES = 4096  # 64 hex digits and some whitespace; /dev/zero is not a key
TRANSPORT_MODE = "AES-GCM, 96-bit random nonce per value, AAD '<ICCID>:<column>'"
HSS_FORMATS = ("csv", "hlr_auc_gw")
MILENAGE_DB_AMF = AMF_DEFAULT  # the AMF written to the Milenage database
MAX_HSS_FILE_BYTES = 1 << 30  # 1 GiB: millions of rows; /dev/zero is not an HSS file


@dataclass(frozen=True)
class HssRecord:
    iccid: str
    imsi: str
    impi: str
    impus: Sequence[str]
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    sqn: int = 0  # the card's initial SQN_MS (the last SQN used)
    amf: bytes = MILENAGE_DB_AMF


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
    (`isim.identity.names.nai_parts`) and no other column can start so: this is the second line."""
    return "'" + cell if cell.startswith(FORMULA_LEADS) else cell


def milenage_db_header() -> str:
    return ("# hostapd hlr_auc_gw Milenage database (isim personalize --hss-format hlr_auc_gw)\n"
            "# IMSI Ki OPc AMF SQN; SQN is the last SQN used. Holds keys: keep it secret.\n")


def milenage_db_line(record: HssRecord) -> str:
    """One subscriber for hlr_auc_gw's `-m` file; a comment for a card without an IMSI."""
    if not record.imsi:
        return f"# ICCID {record.iccid}: no IMSI, not usable by hlr_auc_gw\n"
    return (f"{record.imsi} {record.k.hex()} {record.opc.hex()} {record.amf.hex()} "
            f"{record.sqn:012x}\n")


# ------------------------------------------------------------------ reading


def read_hss(path: str | Path, transport: TransportKey | None = None) -> list[HssRecord]:
    """The subscribers of an HSS file: the CSV (plain, or encrypted under `transport`) or the
    hlr_auc_gw Milenage database. InputError when unreadable, ProfileError (every problem,
    by line) when a line is malformed. Rows without an IMSI are skipped."""
    raw = read_bounded(Path(path), MAX_HSS_FILE_BYTES, what="HSS file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("HSS file is not UTF-8", source=str(path)) from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.split(",")[0].strip() == "iccid":
        return _read_csv(text, transport, str(path))
    if transport is not None:
        raise InputError("--transport-key given, but the file is not an encrypted HSS CSV",
                         source=str(path))
    return _read_milenage_db(text, str(path))


def _hex_cell(value: str, length: int, where: str, problems: list[Problem]) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != length:
        problems.append(Problem(where, f"must be {2 * length} hex digits"))
    return raw


def _imsi_cell(value: str, where: str, problems: list[Problem]) -> str:
    if not (value.isascii() and value.isdigit() and 5 <= len(value) <= 15):
        problems.append(Problem(where, "IMSI must be 5 to 15 digits"))
    return value


def _read_csv(text: str, transport: TransportKey | None, source: str) -> list[HssRecord]:
    rows = csv.reader(io.StringIO(text))
    header = tuple(c.strip() for c in next(rows))
    if header == HSS_COLUMNS_ENCRYPTED:
        if transport is None:
            raise InputError("K and OPc are encrypted: give --transport-key", source=source)
    elif header == HSS_COLUMNS:
        if transport is not None:
            raise InputError("--transport-key given, but K and OPc are not encrypted",
                             source=source)
    else:
        raise InputError(f"not an HSS file: header must be {','.join(HSS_COLUMNS)}",
                         source=source)
    records: list[HssRecord] = []
    problems: list[Problem] = []
    for row in rows:
        line = rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            problems.append(Problem(f"line {line}", f"{len(row)} cells, expected {len(header)}"))
            continue
        iccid, imsi, impi, impus, k_text, opc_text = row
        if not imsi:
            continue
        imsi = _imsi_cell(imsi, f"line {line}: imsi", problems)
        if transport is None:
            k = _hex_cell(k_text, 16, f"line {line}: k", problems)
            opc = _hex_cell(opc_text, 16, f"line {line}: opc", problems)
        else:
            k = _decrypt_cell(transport, k_text, iccid, "k", line, problems)
            opc = _decrypt_cell(transport, opc_text, iccid, "opc", line, problems)
        records.append(HssRecord(iccid, imsi, impi, tuple(impus.split("|")), k, opc))
    if problems:
        raise ProfileError(problems, source=source)
    return records


def _decrypt_cell(transport: TransportKey, text: str, iccid: str, column: str, line: int,
                  problems: list[Problem]) -> bytes:
    try:
        value = transport.decrypt(text, iccid, column)
    except ValueError:
        problems.append(Problem(f"line {line}: {column}_enc", "wrong key or altered value"))
        return b""
    if len(value) != 16:
        problems.append(Problem(f"line {line}: {column}_enc", "must decrypt to 16 bytes"))
    return value


def _read_milenage_db(text: str, source: str) -> list[HssRecord]:
    records: list[HssRecord] = []
    problems: list[Problem] = []
    for line, raw in enumerate(text.splitlines(), 1):
        cells = raw.split("#", 1)[0].split()
        if not cells:
            continue
        if not 5 <= len(cells) <= 6:  # the 6th column is hlr_auc_gw's optional RES length
            problems.append(Problem(f"line {line}", "expected IMSI Ki OPc AMF SQN"))
            continue
        imsi = _imsi_cell(cells[0], f"line {line}: imsi", problems)
        k = _hex_cell(cells[1], 16, f"line {line}: ki", problems)
        opc = _hex_cell(cells[2], 16, f"line {line}: opc", problems)
        amf = _hex_cell(cells[3], 2, f"line {line}: amf", problems)
        sqn = _hex_cell(cells[4], 6, f"line {line}: sqn", problems)
        records.append(HssRecord("", imsi, "", (), k, opc, int.from_bytes(sqn or bytes(6)), amf))
    if problems:
        raise ProfileError(problems, source=source)
    return records
