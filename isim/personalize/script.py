"""APDU personalization scripts: one command list per card, run by `writer.py` on a reader
or rendered in scriptor's format (pcsc-tools) for a bureau's machine.

The command list, per DF (the MF, then each ADF) in the order of the card's contents:

    SELECT the DF (MF by FID 3F00, an ADF by AID; P2=0C: no response data, so T=0 needs
    no GET RESPONSE), VERIFY ADM1 (once, after selecting the MF), then for every EF:
    SELECT by FID and UPDATE BINARY (chunks of at most 255 bytes) or UPDATE RECORD
    (absolute mode) for every record. EF.ARR of each DF is written last, so that the
    rules a DF's other files are written under do not change half-way.

Then the read-back: VERIFY PIN1 (when the card has PIN1 enabled) and, per DF, SELECT and
READ BINARY / READ RECORD of every file. scriptor cannot compare, so each READ is preceded
by a `# expect <hex>` comment holding the data the card must answer (followed by 90 00);
`check_log` compares a scriptor log with the script.

scriptor stops at any line containing "exit" and resets the card at a line containing
"reset" (case-insensitive, even inside comments): `render_scriptor` refuses such text.
The script holds ADM1 and PIN1 (VERIFY data): it is written with mode 0600.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from apdu.layout import DFSpec, EFSpec

__all__ = [
    "Command",
    "EfWrite",
    "check_log",
    "personalization_commands",
    "render_scriptor",
]

MAX_CHUNK = 255
_FORBIDDEN = re.compile("exit|reset", re.IGNORECASE)
_INS_VERIFY = 0x20


@dataclass(frozen=True)
class EfWrite:
    """What one EF must hold: the whole body (transparent) or every record."""

    df: DFSpec
    ef: EFSpec
    content: bytes | tuple[bytes, ...]


@dataclass(frozen=True)
class Command:
    """One C-APDU; `expect` is the response data a READ must return (SW 9000 always)."""

    apdu: bytes
    comment: str = ""
    expect: bytes | None = None

    @property
    def secret(self) -> bool:
        """VERIFY carries a PIN or ADM key: never logged."""
        return len(self.apdu) > 1 and self.apdu[1] == _INS_VERIFY


def _select_df(df: DFSpec) -> Command:
    if df.aid is not None:
        return Command(bytes([0x00, 0xA4, 0x04, 0x0C, len(df.aid)]) + df.aid, f"select {df.name}")
    assert df.fid is not None
    return Command(bytes([0x00, 0xA4, 0x00, 0x0C, 0x02]) + df.fid.to_bytes(2, "big"),
                   f"select {df.name}")


def _select_ef(ef: EFSpec) -> Command:
    return Command(bytes([0x00, 0xA4, 0x00, 0x0C, 0x02]) + ef.fid.to_bytes(2, "big"),
                   f"select {ef.name} ({ef.fid_hex})")


def verify(key_reference: int, key: bytes, what: str) -> Command:
    return Command(bytes([0x00, _INS_VERIFY, 0x00, key_reference, len(key)]) + key,
                   f"verify {what}")


def _writes(item: EfWrite) -> list[Command]:
    ef, out = item.ef, [_select_ef(item.ef)]
    if isinstance(item.content, bytes):
        body = item.content
        for off in range(0, len(body), MAX_CHUNK):
            chunk = body[off:off + MAX_CHUNK]
            out.append(Command(bytes([0x00, 0xD6, off >> 8, off & 0xFF, len(chunk)]) + chunk,
                               f"update {ef.name} offset {off}"))
    else:
        for number, record in enumerate(item.content, start=1):
            out.append(Command(bytes([0x00, 0xDC, number, 0x04, len(record)]) + record,
                               f"update {ef.name} record {number}"))
    return out


def _reads(item: EfWrite) -> list[Command]:
    ef, out = item.ef, [_select_ef(item.ef)]
    if isinstance(item.content, bytes):
        body = item.content
        for off in range(0, len(body), MAX_CHUNK):
            chunk = body[off:off + MAX_CHUNK]
            out.append(Command(bytes([0x00, 0xB0, off >> 8, off & 0xFF, len(chunk)]),
                               f"read {ef.name} offset {off}", chunk))
    else:
        for number, record in enumerate(item.content, start=1):
            out.append(Command(bytes([0x00, 0xB2, number, 0x04, len(record) & 0xFF]),
                               f"read {ef.name} record {number}", record))
    return out


def _by_df(files: Iterable[EfWrite]) -> list[tuple[DFSpec, list[EfWrite]]]:
    groups: list[tuple[DFSpec, list[EfWrite]]] = []
    for item in files:
        if not groups or groups[-1][0].name != item.df.name:
            groups.append((item.df, []))
        groups[-1][1].append(item)
    for df, items in groups:  # EF.ARR of the DF last
        items.sort(key=lambda i, arr=df.arr_file: i.ef.name == arr)
    return groups


def personalization_commands(
    files: Sequence[EfWrite],
    *,
    adm1: tuple[int, bytes],
    pin1: tuple[int, bytes] | None,
) -> tuple[list[Command], list[Command]]:
    """(writes, read-back) for one card. `adm1`/`pin1` are (key reference, VERIFY data);
    `pin1` is None when PIN1 is disabled (reads need no verification then)."""
    groups = _by_df(files)
    writes: list[Command] = []
    for df, items in groups:
        writes.append(_select_df(df))
        if not any(c.secret for c in writes):
            writes.append(verify(*adm1, "ADM1"))
        for item in items:
            writes.extend(_writes(item))
    reads: list[Command] = []
    if pin1 is not None:
        reads.append(verify(*pin1, "PIN1"))
    for df, items in groups:
        reads.append(_select_df(df))
        for item in items:
            reads.extend(_reads(item))
    return writes, reads


def _spaced(data: bytes) -> str:
    return data.hex(" ").upper()


def _comment(text: str) -> str:
    if _FORBIDDEN.search(text) or "\n" in text:
        raise ValueError(f"text unsafe in a scriptor comment: {text!r}")
    return f"# {text}\n"


def render_scriptor(header: Sequence[str], writes: Sequence[Command],
                    reads: Sequence[Command]) -> str:
    """The script in scriptor's format: one APDU per line, hex bytes separated by spaces."""
    lines = [_comment(h) for h in header]
    lines.append(_comment("every command must answer 90 00"))
    for part, commands in (("personalization", writes), ("read back", reads)):
        lines.append(_comment(f"--- {part} ---"))
        for cmd in commands:
            lines.append(_comment(cmd.comment))
            if cmd.expect is not None:
                lines.append(_comment(f"expect {cmd.expect.hex().upper()}"))
            lines.append(_spaced(cmd.apdu) + "\n")
    return "".join(lines)


@dataclass(frozen=True)
class _Expected:
    apdu: str
    expect: str | None


def _script_commands(script: str) -> list[_Expected]:
    out: list[_Expected] = []
    pending: str | None = None
    for line in script.splitlines():
        text = line.strip()
        if text.startswith("# expect "):
            pending = text.removeprefix("# expect ").strip()
        elif text and not text.startswith("#"):
            out.append(_Expected("".join(text.split()).upper(), pending))
            pending = None
    return out


def _log_exchanges(log: str) -> list[tuple[str, str]]:
    """(command, response incl. SW) pairs from scriptor's output, as hex without spaces."""
    pairs: list[tuple[str, str]] = []
    command: str | None = None
    response: list[str] | None = None
    for line in log.splitlines():
        if response is not None:
            head, sep, _ = line.partition(" : ")
            response.append(head)
            if sep:
                pairs.append((command or "", "".join("".join(response).split()).upper()))
                command, response = None, None
        elif line.startswith("> "):
            command = "".join(line[2:].split()).upper()
        elif line.startswith("< ") and command is not None:
            head, sep, _ = line[2:].partition(" : ")
            if sep:
                pairs.append((command, "".join(head.split()).upper()))
                command = None
            else:
                response = [head]
    return pairs


def check_log(script: str, log: str) -> list[str]:
    """Differences between what a script demands and what a scriptor log shows; [] = all
    commands answered 90 00 and every READ returned the expected data."""
    expected = _script_commands(script)
    got = _log_exchanges(log)
    problems: list[str] = []
    if len(got) != len(expected):
        problems.append(f"{len(expected)} commands in the script, {len(got)} in the log")
    for n, (want, (cmd, resp)) in enumerate(zip(expected, got, strict=False), start=1):
        if cmd != want.apdu:
            problems.append(f"command {n}: log shows {cmd[:10]}..., script has {want.apdu[:10]}...")
        elif not resp.endswith("9000"):
            problems.append(f"command {n} ({cmd[:8]}): status {resp[-4:]}")
        elif want.expect is not None and resp[:-4] != want.expect:
            problems.append(f"command {n} ({cmd[:8]}): read-back differs")
    return problems
