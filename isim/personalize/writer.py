"""`isim personalize BATCH --template T --reader N`: write real cards, one after another.

The whole batch is validated first (formats, the trust rule, duplicates): no APDU is sent
to any card before that. Then, for each card inserted into the reader:

1. EF.ICCID is read (SELECT MF, SELECT 2FE2, READ BINARY) and selects the batch row;
   a card whose ICCID is not in the batch stops the run (nothing is written to it);
2. the batch is read again whole: its SHA-256 must be the validating pass's (an edit after
   validation stops the run before any APDU that writes this card); the row's profile is
   built and checked again, and the bytes of EF.IMPI / EF.IMPU / EF.DOMAIN pass the check
   the card's write guard runs (`isim.identity.files`);
3. VERIFY ADM1 (and PIN1 when enabled), then every EF is updated (`script.py`);
4. every EF is read back and compared with what was written.

Any status word other than 90 00 stops the run at once (a wrong ADM1 is never retried: ADM
counters block the card). A read-back that differs is reported and stops the run. The run
ends when every valid row has been written, or on SIGINT. Secret generators (random K,
PINs, ADM) are refused here: the card's ADM1 and PIN1 must be the batch's, and K/OPc are
not written through these APDUs (only the files are).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from apdu.ins import INS_READ_BINARY
from apdu.sw import SW_OK_BYTES
from isim.card.contents import ISIM_ADF, card_contents
from isim.codecs import codec_for
from isim.digits import is_number
from isim.errors import InputError
from isim.identity.files import IDENTITY_FILES, identity_file_problems
from isim.profile.model import Profile
from specs.layout import layout
from transport.pcsc import (
    TOOL_TIMEOUT,
    PcscCard,
    ReaderError,
    connect,
    list_readers,
    pick_reader,
)

from .batch import Batch, open_batch
from .card import card_script
from .run import CHUNK_ROWS, BatchRejected, RunOptions, row_chunks, validate_batch
from .script import Command, select_df, select_ef
from .template import Template, load_template
from .work import Executor, Worker

__all__ = ["BatchChanged", "CardFailure", "ReaderSummary", "write_cards"]

POLL_SECONDS = 0.2

Log = Callable[[str], None]


class CardFailure(Exception):
    """A card could not be written or read back as asked: the run stops."""

    def __init__(self, iccid: str | None, message: str) -> None:
        super().__init__(f"card {iccid or '(unknown)'}: {message}")
        self.iccid = iccid


@dataclass
class ReaderSummary:
    reader: str
    rows: int
    cards: int = 0
    written: list[str] = field(default_factory=list)  # ICCIDs, in order
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"reader": self.reader, "rows": self.rows, "cards": self.cards,
                "written": self.written, "seconds": round(self.seconds, 3)}


def _transmit(card: PcscCard, cmd: Command, iccid: str | None) -> bytes:
    try:
        response = card.transmit(cmd.apdu)
    except ReaderError as exc:
        raise CardFailure(iccid, f"{cmd.comment}: {exc}") from None
    if response[-2:] != SW_OK_BYTES:
        raise CardFailure(iccid, f"{cmd.comment}: status {response[-2:].hex().upper()}")
    return response[:-2]


def read_iccid(card: PcscCard) -> str:
    mf, ef = layout().mf, layout().find_ef("EF.ICCID")[1]
    for command in (select_df(mf), select_ef(ef.name, ef.fid)):
        _transmit(card, command, None)
    read = bytes([0x00, INS_READ_BINARY, 0x00, 0x00, ef.size])
    data = _transmit(card, Command(read, "read EF.ICCID"), None)
    iccid = codec_for(ef).decode(data)
    if not iccid:
        raise CardFailure(None, "EF.ICCID is empty")
    return str(iccid)


def personalize_card(card: PcscCard, profile: Profile) -> int:
    """Write one card and compare the read-back; returns the number of APDUs sent. The ISIM
    identity files' bytes pass the card's own write guard check before the first APDU."""
    contents = card_contents(profile)
    iccid = profile.iccid
    if profile.has_isim:
        files = {n: contents.get(ISIM_ADF, n).data for n in IDENTITY_FILES}
        problems = identity_file_problems(files, profile.trust_domains)
        if problems:
            raise CardFailure(iccid, "; ".join(map(str, problems)) + "; nothing written")
    script = card_script(profile, contents)
    sent = 0
    for cmd in script.write_commands:
        _transmit(card, cmd, iccid)
        sent += 1
    differs: list[str] = []
    for cmd in script.read_commands:
        data = _transmit(card, cmd, iccid)
        sent += 1
        if cmd.expect is not None and data != cmd.expect:
            differs.append(cmd.comment.removeprefix("read "))
    if differs:
        raise CardFailure(iccid, "read-back differs: " + ", ".join(differs))
    return sent


def _reader_name(reader: int | str) -> str:
    """The full PC/SC name of a reader given by index (ASCII digits too), name or unique part."""
    digits = isinstance(reader, str) and is_number(reader)
    return pick_reader(list_readers(), int(reader) if digits else reader)


def _wait(reader: str, present: bool, timeout: float | None) -> None:
    """Wait until a card is (or no longer is) in `reader`, polling PC/SC."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if present:
            try:
                connect(reader).disconnect()
                return
            except ReaderError:
                pass
        elif not _card_present(reader):
            return
        if deadline is not None and time.monotonic() > deadline:
            state = "inserted" if present else "removed"
            raise ReaderError(f"no card {state} in {reader!r} within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def _card_present(reader: str) -> bool:
    try:
        connect(reader).disconnect()
    except ReaderError:
        return False
    return True


class BatchChanged(InputError):
    """The batch is not the one validated: the run stops before the next APDU."""


def _unchanged(batch: Batch, validated: str, when: str) -> None:
    """`batch.digest` (of the pass that just ended) must be the validating pass's."""
    if batch.digest != validated:
        raise BatchChanged(f"the batch changed after it was validated; run stopped {when} "
                           "(cards written so far stay written)", source=str(batch.path))


def _row_index(batch: Batch, template: Template, worker: Worker,
               skip: frozenset[int], validated: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for chunk in row_chunks(batch, template, CHUNK_ROWS, skip):
        for number, iccid, _ in worker.validate(chunk).identities:
            index[iccid] = number
    _unchanged(batch, validated, "before the first card")
    return index


def _profile_of(batch: Batch, template: Template, worker: Worker, number: int,
                validated: str, iccid: str) -> Profile:
    """The profile of row `number`, from a whole pass over the batch whose SHA-256 is the
    validating pass's (`validated`): an edit after validation stops the run here, before
    any APDU that writes the card."""
    found = None
    for chunk in row_chunks(batch, template, CHUNK_ROWS):
        for row in chunk:
            if row.number == number:
                found = row
    _unchanged(batch, validated, f"before writing card {iccid}")
    if found is None:
        raise BatchChanged(f"{batch.row_label} {number} vanished from the batch",
                           source=str(batch.path))
    return worker.profile(found)


def write_cards(options: RunOptions, reader: int | str, *, log: Log = lambda _: None,
                wait_timeout: float | None = None) -> ReaderSummary:
    start = time.monotonic()
    template = load_template(options.template)
    gen = template.generators
    if gen.draws_secrets:
        raise InputError("generate: random k/pin1/puk1/adm1 cannot be used with --reader "
                         "(the card's own ADM1/PIN1 must be in the batch)",
                         source=str(options.template))
    batch = open_batch(options.batch)
    worker = Worker(template, None, batch.row_label)
    check = validate_batch(batch, template, Executor(worker, 1))
    if check.rows == 0:
        raise InputError("the batch has no rows", source=str(options.batch))
    if check.problems.count and options.reject_file is None:
        raise BatchRejected(check.problems, batch.row_label, check.rows)
    index = _row_index(batch, template, worker, check.problems.bad_rows, check.digest)
    name = _reader_name(reader)
    summary = ReaderSummary(reader=name, rows=check.rows)
    remaining = set(index)
    while remaining:
        log(f"waiting for a card in {name!r} ({len(remaining)} to go)")
        _wait(name, True, wait_timeout)
        with connect(name, timeout=TOOL_TIMEOUT) as card:
            iccid = read_iccid(card)
            if iccid not in index:
                raise CardFailure(iccid, "ICCID not in the batch; nothing written")
            if iccid not in remaining:
                raise CardFailure(iccid, "already written in this run")
            profile = _profile_of(batch, template, worker, index[iccid], check.digest, iccid)
            sent = personalize_card(card, profile)
        remaining.discard(iccid)
        summary.cards += 1
        summary.written.append(iccid)
        log(f"card {iccid} ({batch.row_label} {index[iccid]}): written and read back, "
            f"{sent} APDUs")
        if remaining:
            log("remove the card")
            _wait(name, False, wait_timeout)
    summary.seconds = time.monotonic() - start
    return summary
