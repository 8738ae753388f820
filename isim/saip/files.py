"""One file of a package: its FCP (`Fcp`, TS 102 222 codings) and its content as `File`
items, both ways (SAIP clause 8.3).

Content as written (`content_items`): the body (records one after the other) with every run
of at least `SKIP_RUN` FF bytes skipped by a fillFileOffset and the rest in fillFileContent;
trailing FF is not written. The file is created filled with FF (the erased state), so the
skipped bytes read as FF.

Content as read (`apply_items`): the file starts as its fill pattern (or repeat pattern, or
FF: TS 102 222 6.3); fillFileOffset moves the write position forward from where it is,
fillFileContent writes there and moves past what it wrote (clause 8.3.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apdu.files import LCSI_ACTIVATED_HEX

__all__ = ["SKIP_RUN", "FileShape", "apply_items", "content_items", "ef_fcp", "minimal",
           "parse_fcp"]

SKIP_RUN = 4  # a fillFileOffset costs 3 or 4 bytes: shorter FF runs are written as content

# TS 102 222 CREATE FILE file descriptor (tag 82): descriptor byte, data coding byte 21;
# record EFs add the record length on 2 bytes (TS 102 221 11.1.1.4.3)
_DESCRIPTOR = {"transparent": 0x41, "linear_fixed": 0x42, "cyclic": 0x46}
_STRUCTURE = {v: k for k, v in _DESCRIPTOR.items()}
_DATA_CODING = 0x21


def minimal(n: int) -> bytes:
    """An integer on the minimum number of octets (efFileSize, clause 8.3.2)."""
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


_SKIPPED = re.compile(rb"\xff{%d,}" % SKIP_RUN)
_MAX_OFFSET = 0xFFFF  # fillFileOffset is a UInt16


def content_items(data: bytes) -> list[tuple[str, Any]]:
    """The `File` items writing `data` into a file created all FF."""
    items: list[tuple[str, Any]] = []
    data = data.rstrip(b"\xff")  # trailing FF: not written
    pos = 0  # where the eUICC's write position is
    for run in _SKIPPED.finditer(data):
        start, end = run.span()
        if start > pos:
            items.append(("fillFileContent", data[pos:start]))
        gap = end - start
        while gap:
            step = min(gap, _MAX_OFFSET)
            items.append(("fillFileOffset", step))
            gap -= step
        pos = end
    if pos < len(data):
        items.append(("fillFileContent", data[pos:]))
    return items


def apply_items(items: Iterable[tuple[str, Any]], size: int, *, fill: bytes | None = None,
                repeat: bytes | None = None, record_length: int = 0) -> bytes:
    """The body of a file of `size` bytes after its creation pattern and `items`.
    Raises ValueError for content past the end of the file."""
    body = bytearray(_initial(size, fill, repeat, record_length))
    pos = 0
    for kind, value in items:
        if kind == "fillFileOffset":
            pos += value
        elif kind == "fillFileContent":
            if pos + len(value) > size:
                raise ValueError(
                    f"content at offset {pos} ({len(value)} bytes) past the end of the file "
                    f"({size} bytes)")
            body[pos:pos + len(value)] = value
            pos += len(value)
    return bytes(body)


def _initial(size: int, fill: bytes | None, repeat: bytes | None, record_length: int) -> bytes:
    """TS 102 222 6.3: a fill pattern is written once and its last byte repeated to the end,
    a repeat pattern is repeated; for record EFs, in every record."""
    unit = record_length or size
    if not unit:
        return b""
    if fill:
        one = (fill + fill[-1:] * unit)[:unit]
    elif repeat:
        one = (repeat * (unit // len(repeat) + 1))[:unit]
    else:
        return b"\xff" * size
    return (one * (size // unit + 1))[:size]


def ef_fcp(ef: dict[str, Any], implicit_arr: str) -> dict[str, Any]:
    """The `Fcp` of an EF of a card image (its dict in apdu.engine form). The access rule is
    the record number alone when its EF.ARR is the one clause 8.3.2 implies (`implicit_arr`),
    else FID + record; `shortEFID` is always given (empty: the file has no SFI)."""
    structure = ef["structure"]
    descriptor = bytes([_DESCRIPTOR[structure], _DATA_CODING])
    if structure == "transparent":
        size = ef["size"]
    else:
        rlen = ef["record_length"]
        descriptor += rlen.to_bytes(2, "big")
        size = rlen * len(ef["content"])
    fcp: dict[str, Any] = {
        "fileDescriptor": descriptor,
        "fileID": bytes.fromhex(ef["fid"]),
        "securityAttributesReferenced": arr_reference(ef["arr"], implicit_arr),
        "efFileSize": minimal(size),
        "shortEFID": bytes([ef["sfi"] << 3]) if ef.get("sfi") else b"",
    }
    if ef.get("lcsi", LCSI_ACTIVATED_HEX).upper() != LCSI_ACTIVATED_HEX:
        fcp["lcsi"] = bytes.fromhex(ef["lcsi"])
    return fcp


def arr_reference(arr: dict[str, Any], implicit_arr: str) -> bytes:
    record = bytes([int(arr["record"])])
    if str(arr["file"]).upper() == implicit_arr:
        return record
    return bytes.fromhex(arr["file"]) + record


@dataclass(frozen=True)
class FileShape:
    """What an Fcp says of an EF (None: not said, the template's value applies)."""

    fid: str | None
    structure: str | None
    record_length: int
    size: int | None
    sfi: int | bool | None  # False: not said; None: no SFI
    arr_file: str | None
    arr_record: int | None
    fill: bytes | None
    repeat: bytes | None
    dir_name: bytes | None


def parse_fcp(fcp: dict[str, Any], implicit_arr: str) -> FileShape:
    """Raises ValueError for a file descriptor or an access rule isim cannot read."""
    structure = None
    rlen = 0
    desc = fcp.get("fileDescriptor")
    if desc is not None and desc[0] in _STRUCTURE:
        structure = _STRUCTURE[desc[0]]
        if structure != "transparent":
            if len(desc) < 4:
                raise ValueError(f"record file descriptor {desc.hex().upper()} without length")
            rlen = int.from_bytes(desc[2:4], "big")
    size = int.from_bytes(fcp["efFileSize"], "big") if "efFileSize" in fcp else None
    sfi: int | bool | None = False
    if "shortEFID" in fcp:
        sfi = fcp["shortEFID"][0] >> 3 if fcp["shortEFID"] else None
    arr_file = arr_record = None
    sec = fcp.get("securityAttributesReferenced")
    if sec:
        arr_file = implicit_arr if len(sec) == 1 else sec[:-1].hex().upper()
        arr_record = sec[-1]
    info = fcp.get("proprietaryEFInfo") or {}
    fid = fcp.get("fileID")
    return FileShape(
        fid=fid.hex().upper() if fid else None, structure=structure, record_length=rlen,
        size=size, sfi=sfi, arr_file=arr_file, arr_record=arr_record,
        fill=info.get("fillPattern"), repeat=info.get("repeatPattern"),
        dir_name=fcp.get("dfName"))
