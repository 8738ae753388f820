"""APDU personalization scripts: one command list per card, run by `writer.py` on a reader
or rendered in scriptor's format (pcsc-tools) for a bureau's machine.

The command list, per DF (the MF, then each ADF) in the order of the card's contents:

    SELECT the DF (MF by FID 3F00, an ADF by AID; P2=0C: no response data, so T=0 needs
    no GET RESPONSE), VERIFY ADM1 and, when enabled, PIN1 (once, after selecting the MF:
    files under access rule 2 are updated with PIN1), then for every EF:
    SELECT by FID and UPDATE BINARY (chunks of at most 255 bytes) or UPDATE RECORD
    (absolute mode) for every record. EF.ARR of each DF is written last, so that the
    rules a DF's other files are written under do not change half-way. Files whose access
    rule says "update: never" (EF.ICCID, the MF's EF.ARR) are not written, only read back.

Then the read-back: per DF, SELECT and READ BINARY / READ RECORD of every file. scriptor
cannot compare, so each READ is preceded by a `# expect <hex>` comment holding the data the
card must answer (followed by 90 00); `check_log` compares a scriptor log with the script.

scriptor stops at any line containing "exit" and resets the card at a line containing
"reset" (case-insensitive, even inside comments): `render_scriptor` refuses such text.
The script holds ADM1 and PIN1 (VERIFY data): it is written with mode 0600.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from typing import Final, Literal

from apdu.ins import (
    INS_READ_BINARY,
    INS_READ_RECORD,
    INS_SELECT,
    INS_UPDATE_BINARY,
    INS_UPDATE_RECORD,
    INS_VERIFY,
    RECORD_ABSOLUTE,
    SELECT_BY_AID,
    SELECT_BY_FID,
    SELECT_RETURN_NONE,
)
from isim.card.contents import CardContents, Content, EFContent
from specs.layout import DFSpec, EFSpec

__all__ = [
    "Block",
    "Command",
    "Script",
    "check_log",
    "personalization_commands",
    "render_scriptor",
    "select_df",
    "select_ef",
]

MAX_CHUNK = 255
_FORBIDDEN = re.compile("exit|reset", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    """One C-APDU; `expect` is the response data a READ must return (SW 9000 always)."""

    apdu: bytes
    comment: str = ""
    expect: bytes | None = None

    @property
    def secret(self) -> bool:
        """VERIFY carries a PIN or ADM key: never logged."""
        return len(self.apdu) > 1 and self.apdu[1] == INS_VERIFY


_SELECT_FID = bytes([0x00, INS_SELECT, SELECT_BY_FID, SELECT_RETURN_NONE, 0x02])


def select_df(df: DFSpec) -> Command:
    if df.aid is not None:
        header = bytes([0x00, INS_SELECT, SELECT_BY_AID, SELECT_RETURN_NONE, len(df.aid)])
        return Command(header + df.aid, f"select {df.name}")
    assert df.fid is not None
    return Command(_SELECT_FID + df.fid.to_bytes(2, "big"), f"select {df.name}")


def select_ef(name: str, fid: int) -> Command:
    return Command(_SELECT_FID + fid.to_bytes(2, "big"), f"select {name} ({fid:04X})")


def verify(key_reference: int, key: bytes, what: str) -> Command:
    return Command(bytes([0x00, INS_VERIFY, 0x00, key_reference, len(key)]) + key,
                   f"verify {what}")


@dataclass(frozen=True)
class Block:
    """Consecutive commands and their scriptor text. The text is rendered when the block is
    made; the commands only when asked for (a card's script file needs only the text, the
    writer and the tests the commands)."""

    text: str
    make_commands: Callable[[], Iterable[Command]] = field(repr=False, compare=False)

    @cached_property
    def commands(self) -> tuple[Command, ...]:
        return tuple(self.make_commands())


def _spaced(data: bytes) -> str:
    return data.hex(" ").upper()


def _hex(data: bytes) -> str:
    return data.hex().upper()


@lru_cache(maxsize=1024)  # most comments are the same in every card's script
def _comment(text: str) -> str:
    if _FORBIDDEN.search(text) or "\n" in text:
        raise ValueError(f"text unsafe in a scriptor comment: {text!r}")
    return f"# {text}\n"


def _render(commands: Iterable[Command]) -> str:
    """The scriptor text of commands: per command its comment, `# expect` for a READ, the
    APDU (the reference for `_ef_block`'s frames)."""
    lines: list[str] = []
    for cmd in commands:
        lines.append(_comment(cmd.comment))
        if cmd.expect is not None:
            lines.append(f"# expect {_hex(cmd.expect)}\n")
        lines.append(_spaced(cmd.apdu) + "\n")
    return "".join(lines)


def _block(commands: Iterable[Command]) -> Block:
    commands = tuple(commands)
    return Block(_render(commands), partial(tuple, commands))


# ------------------------------------------------------------------ an EF's block
#
# Writing an EF is its SELECT, then an UPDATE per unit; reading it back, its SELECT and a
# READ per unit. A unit is a chunk of at most MAX_CHUNK bytes of a transparent body (by
# offset) or a record (by number). Everything but the units' data depends only on the EF and
# the units' lengths, the same for every card of a batch: `_frame` renders that part once.
# Of the EF, a block depends on its name and FID only: they are the caches' keys (hashing a
# whole EFSpec would take longer than the rest of a cache hit).

Kind = Literal["update", "read"]
UPDATE: Final = "update"
READ: Final = "read"
_INS = {(UPDATE, False): INS_UPDATE_BINARY, (UPDATE, True): INS_UPDATE_RECORD,
        (READ, False): INS_READ_BINARY, (READ, True): INS_READ_RECORD}


def _units(data: Content) -> Sequence[bytes]:
    if isinstance(data, bytes):
        return [data[off:off + MAX_CHUNK] for off in range(0, len(data), MAX_CHUNK)]
    return data


@lru_cache(maxsize=1024)
def _steps(name: str, kind: Kind, records: bool,
           lengths: tuple[int, ...]) -> tuple[tuple[str, bytes], ...]:
    """(comment, APDU header) of each unit of an EF's block."""
    ins = _INS[kind, records]
    steps = []
    for n, length in enumerate(lengths):
        if records:  # absolute mode; a READ's Le 00 means 256
            le_or_lc = length & 0xFF if kind == READ else length
            header = bytes([0x00, ins, n + 1, RECORD_ABSOLUTE, le_or_lc])
            steps.append((f"{kind} {name} record {n + 1}", header))
        else:
            off = n * MAX_CHUNK
            header = bytes([0x00, ins, off >> 8, off & 0xFF, length])
            steps.append((f"{kind} {name} offset {off}", header))
    return tuple(steps)


def _ef_commands(name: str, fid: int, kind: Kind, data: Content) -> list[Command]:
    """The reference form of an EF's block: an UPDATE carries its unit, a READ expects it."""
    units = _units(data)
    steps = _steps(name, kind, not isinstance(data, bytes), tuple(map(len, units)))
    pairs = zip(steps, units, strict=True)
    if kind == UPDATE:
        ops = [Command(header + unit, comment) for (comment, header), unit in pairs]
    else:
        ops = [Command(header, comment, unit) for (comment, header), unit in pairs]
    return [select_ef(name, fid), *ops]


@lru_cache(maxsize=1024)
def _frame(name: str, fid: int, kind: Kind, records: bool,
           lengths: tuple[int, ...]) -> tuple[str, ...]:
    """The text of an EF's block around its units' data: n + 1 pieces for n units (the data
    goes in spaced hex on an UPDATE's APDU line, in plain hex on a READ's expect line)."""
    pieces = [_render([select_ef(name, fid)])]
    for (comment, header), length in zip(_steps(name, kind, records, lengths), lengths,
                                         strict=True):
        if kind == UPDATE:  # the APDU line: header, then the data (if any)
            pieces[-1] += _comment(comment) + _spaced(header) + (" " if length else "")
            pieces.append("\n")
        else:  # the expect line, then the APDU line
            pieces[-1] += _comment(comment) + "# expect "
            pieces.append("\n" + _spaced(header) + "\n")
    return tuple(pieces)


@lru_cache(maxsize=4096)
def _ef_block(name: str, fid: int, kind: Kind, data: Content) -> Block:
    """An EF's block (cached: the EFs that all cards of a batch share are rendered once).
    Its text is `_render(_ef_commands(...))`, made from the EF's frame without the commands."""
    units = _units(data)
    text: list[str] = [""] * (2 * len(units) + 1)
    text[0::2] = _frame(name, fid, kind, not isinstance(data, bytes), tuple(map(len, units)))
    text[1::2] = [_spaced(u) for u in units] if kind == UPDATE else [_hex(u) for u in units]
    return Block("".join(text), partial(_ef_commands, name, fid, kind, data))


_DF_BLOCKS: dict[str, Block] = {}


def _select_df_block(df: DFSpec) -> Block:
    block = _DF_BLOCKS.get(df.name)
    if block is None:
        block = _DF_BLOCKS[df.name] = _block([select_df(df)])
    return block


def updatable(df: DFSpec, ef: EFSpec) -> bool:
    """False for files whose access rule forbids UPDATE (EF.ICCID, the MF's EF.ARR): the
    card maker wrote them; the script only reads them back."""
    return df.access_rules.get(ef.arr, {}).get("update") != "never"


def _arr_last(df: DFSpec, files: Iterable[EFContent]) -> list[EFContent]:
    return sorted(files, key=lambda f: f.spec.name == df.arr_file)


@dataclass(frozen=True)
class Script:
    """The APDUs that personalize one card: writes, then the read-back."""

    writes: tuple[Block, ...]
    reads: tuple[Block, ...]

    @property
    def write_commands(self) -> list[Command]:
        return [c for b in self.writes for c in b.commands]

    @property
    def read_commands(self) -> list[Command]:
        return [c for b in self.reads for c in b.commands]


def personalization_commands(
    contents: CardContents,
    *,
    adm1: tuple[int, bytes],
    pin1: tuple[int, bytes] | None,
) -> Script:
    """The script of one card. `adm1`/`pin1` are (key reference, VERIFY data); `pin1` is
    None when PIN1 is disabled (then files under PIN1 need no verification). Both are
    verified once, first: some EFs are updated under PIN1 (EF.ARR rule 2), and reads need it.
    """
    groups = [(df, _arr_last(df, files)) for df, files in contents.dfs]
    secrets = [verify(*adm1, "ADM1")] + ([verify(*pin1, "PIN1")] if pin1 is not None else [])
    writes: list[Block] = []
    for df, items in groups:
        writes.append(_select_df_block(df))
        if len(writes) == 1:
            writes.append(_block(secrets))
        writes += [_ef_block(f.spec.name, f.spec.fid, UPDATE, f.data)
                   for f in items if updatable(df, f.spec)]
    reads: list[Block] = []
    for df, items in groups:
        reads.append(_select_df_block(df))
        reads += [_ef_block(f.spec.name, f.spec.fid, READ, f.data) for f in items]
    return Script(tuple(writes), tuple(reads))


def render_scriptor(header: Sequence[str], script: Script) -> str:
    """The script in scriptor's format: one APDU per line, hex bytes separated by spaces."""
    parts = [_comment(h) for h in header]
    parts.append(_comment("every command must answer 90 00"))
    parts.append(_comment("--- personalization ---"))
    parts += [b.text for b in script.writes]
    parts.append(_comment("--- read back ---"))
    parts += [b.text for b in script.reads]
    return "".join(parts)


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
