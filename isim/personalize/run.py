"""`isim personalize BATCH --template T --out DIR`: the two passes over a streamed batch.

Pass 1 validates every row (formats and the trust rule, through `isim.profile.model`) and keeps
only the ICCID and IMSI of each row as integers (`dedupe.py`). Any bad row: `BatchRejected`,
and nothing is written; with a reject file the bad rows are left out instead.
Pass 2 streams the batch again and writes, into the staging directory (`outputs.py`), one
image and one scriptor script per card, the HSS file and the summary; then the staging
directory is renamed into place. The batch is hashed in both passes: if it changed between
them, the run fails and writes nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from isim.errors import InputError, Problem
from isim.fileio import SECRET_MODE, SymlinkRefused, atomic_write, create_exclusive

from .batch import Batch, Row, open_batch
from .dedupe import DuplicateIndex
from .generate import GenerateError
from .hss import (
    TRANSPORT_MODE,
    TransportKey,
    hss_header,
    milenage_db_header,
    read_transport_key,
)
from .outputs import PUBLIC_MODE, Staging, write_new_file
from .problems import ProblemLog, RowProblem
from .template import Template, load_template
from .work import IMAGES, SAIP, SCRIPTS, Executor, Worker

__all__ = [
    "CHUNK_ROWS",
    "BatchRejected",
    "Progress",
    "RunOptions",
    "Summary",
    "personalize",
    "row_chunks",
    "validate_batch",
]

SUMMARY_FORMAT = "isim-personalize-summary/1"
HSS_FILE = "hss.csv"
MILENAGE_DB_FILE = "hlr_auc_gw.milenage_db"  # --hss-format hlr_auc_gw
SUMMARY_FILE = "summary.json"

Progress = Callable[[str, int, int | None], None]  # (phase, rows done, rows in the phase)
# Rows per chunk (per task of a worker, per checkpoint of pass 1): large enough that the
# per-task costs of --jobs fade (1000 rows: ~10 % faster with 2 jobs than 250), small enough
# that 2 * jobs chunks in flight hold little memory.
CHUNK_ROWS = 1000


@dataclass(frozen=True)
class RunOptions:
    batch: Path
    template: Path
    out: Path | None = None  # None: validate and encode only (benchmarks)
    jobs: int = 1
    reject_file: Path | None = None
    transport_key: Path | None = None
    chunk_rows: int = CHUNK_ROWS
    hss_format: str = "csv"  # or "hlr_auc_gw" (hostapd's Milenage database)
    saip: bool = False  # also one eUICC Profile Package per card (saip/<ICCID>.der)


@dataclass(frozen=True)
class Summary:
    format: str
    rows: int
    cards: int
    rejected_rows: int
    row_numbers: str  # "line" (CSV) or "item" (YAML/JSON list)
    batch: str
    batch_sha256: str
    template_sha256: str
    seconds: float
    cards_per_second: float
    jobs: int
    out: str | None
    reject_file: str | None
    hss_transport: str | None
    hss_format: str = "csv"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class BatchRejected(Exception):
    """The batch has bad rows (and no reject file was given): nothing was written."""

    def __init__(self, problems: ProblemLog, label: str, rows: int) -> None:
        super().__init__(f"{len(problems.bad_rows)} of {rows} rows are invalid")
        self.problems = problems
        self.label = label
        self.rows = rows


@dataclass
class Validation:
    problems: ProblemLog
    rows: int
    digest: str
    # rows read -> SHA-256 of the batch bytes up to there, at each pass-1 chunk end (-1: EOF)
    checkpoints: dict[int, bytes] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.rows - len(self.problems.bad_rows)


class Chunk(list[Row]):
    """Rows sent to a worker; `known_valid`: pass 1 found every one valid and read exactly
    these bytes (so pass 2 may skip the checks that cannot change a valid row)."""

    known_valid: bool = False


def row_chunks(batch: Batch, template: Template, size: int,
               skip: frozenset[int] = frozenset(), *, record: dict[int, bytes] | None = None,
               trust: dict[int, bytes] | None = None) -> Iterator[list[Row]]:
    """Rows with ICCID/IMSI ranges applied (to every row, so both passes number alike),
    without the rows in `skip`, in lists of `size`.

    Pass 1 gives `record`: at each chunk end it stores the digest of the batch bytes read so
    far under the count of rows read (-1: the whole batch). Pass 2 gives those as `trust`
    (and the bad rows as `skip`): chunks then end at the same row counts, and a chunk is
    `known_valid` when the digest there is pass 1's. Why that is safe: SHA-256 covers every
    byte from the start of the file through the chunk's last row, so these rows are the
    very rows pass 1 read, numbered and generated alike (the ranges depend only on the rows
    before), validated by the same template and code; those not in `skip` were valid. A
    chunk read after a change never matches and gets the full check, as before; the change
    itself still fails the run at the end (`personalize` compares the whole digests), so
    nothing is committed either way.
    """
    counters: dict[str, int] = {}
    gen = template.generators
    chunk = Chunk()
    read = 0
    for row in batch.rows():
        read += 1
        try:
            gen.numbers(row.values, counters)
        except GenerateError as exc:
            column = "iccid" if "iccid" in str(exc) else "imsi"
            row.problems.append(Problem(column, str(exc)))
        if row.number not in skip:
            chunk.append(row)
        if trust is not None:
            if read not in trust:
                continue
            chunk.known_valid = trust[read] == batch.digest_so_far()
        elif len(chunk) < size:
            continue
        elif record is not None:
            record[read] = batch.digest_so_far()
        if chunk:
            yield chunk
            chunk = Chunk()
    if record is not None:
        record[-1] = batch.digest_so_far()
    if chunk:
        chunk.known_valid = trust is not None and trust.get(-1) == batch.digest_so_far()
        yield chunk


def validate_batch(batch: Batch, template: Template, executor: Executor, *,
                   chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None
                   ) -> Validation:
    """Pass 1: every row checked, duplicates found; nothing written."""
    problems = ProblemLog()
    index = DuplicateIndex()
    rows = 0
    checkpoints: dict[int, bytes] = {}
    chunks = row_chunks(batch, template, chunk_rows, record=checkpoints)
    for result in executor.map("validate", chunks):
        for problem in result.problems:
            problems.add(problem)
        for number, iccid, imsi in result.identities:
            index.add(number, iccid, imsi)
        rows += len(result.identities) + len({p.row for p in result.problems})
        if progress:
            progress("validate", rows, None)
    if progress:
        progress("validate", rows, rows)
    for dup in index.duplicates():
        others = ", ".join(str(r) for r in dup.others)
        problems.add_late(RowProblem(dup.row, dup.column,
                                     f"same {dup.column} as {batch.row_label} {others}"))
    return Validation(problems, rows, batch.digest, checkpoints)


def personalize(options: RunOptions, progress: Progress | None = None) -> Summary:
    """Validate the whole batch, then write every card's outputs (see the module doc)."""
    start = time.monotonic()
    if options.reject_file is not None and options.reject_file.is_symlink():
        raise SymlinkRefused("reject file is a symbolic link; refusing to write through it",
                             source=str(options.reject_file))  # before anything is written
    template = load_template(options.template)
    batch = open_batch(options.batch)
    key = read_transport_key(options.transport_key) if options.transport_key else None
    if key is not None and options.hss_format != "csv":
        raise InputError("--transport-key encrypts the csv HSS file only; hlr_auc_gw reads "
                         "its Milenage database in clear", source=str(options.transport_key))
    dirs = (IMAGES, SCRIPTS, SAIP) if options.saip else (IMAGES, SCRIPTS)
    staging = Staging(options.out, dirs) if options.out is not None else None
    worker = Worker(template, key, batch.row_label, options.hss_format, saip=options.saip)
    executor = Executor(worker, max(1, options.jobs))
    try:
        check = validate_batch(batch, template, executor, chunk_rows=options.chunk_rows,
                               progress=progress)
        if check.rows == 0:
            raise InputError("the batch has no rows", source=str(options.batch))
        if check.problems.count and options.reject_file is None:
            raise BatchRejected(check.problems, batch.row_label, check.rows)
        chunks = row_chunks(batch, template, options.chunk_rows, check.problems.bad_rows,
                            trust=check.checkpoints)
        cards = check.valid
        transport = TRANSPORT_MODE if key else None
        if staging is None:
            done = _encode_only(executor, chunks, cards, progress)
            summary = _summary(options, batch, template, check, done, start, transport)
        else:
            with staging:
                try:
                    done = _write(executor, chunks, staging.path, cards, key, progress,
                                  options.hss_format)
                except BaseException:
                    # stop the workers before the staging directory is removed: a worker
                    # still writing into it would leave a partial directory behind
                    executor.close(abort=True)
                    raise
                if batch.digest != check.digest:
                    raise InputError("the batch changed during the run", source=str(batch.path))
                summary = _summary(options, batch, template, check, done, start, transport)
                write_new_file(staging.path / SUMMARY_FILE,
                               (json.dumps(summary.to_dict(), indent=2) + "\n").encode(),
                               PUBLIC_MODE)
                staging.commit()
        if options.reject_file is not None:
            atomic_write(Path(options.reject_file),
                         check.problems.to_csv(batch.row_label).encode(), SECRET_MODE)
    except BaseException:
        executor.close(abort=True)
        raise
    executor.close()
    check.problems.close()
    return summary


def _summary(options: RunOptions, batch: Batch, template: Template, check: Validation,
             cards: int, start: float, transport: str | None) -> Summary:
    seconds = time.monotonic() - start
    return Summary(
        format=SUMMARY_FORMAT,
        rows=check.rows,
        cards=cards,
        rejected_rows=len(check.problems.bad_rows),
        row_numbers=batch.row_label,
        batch=str(options.batch),
        batch_sha256=check.digest,
        template_sha256=template.sha256,
        seconds=round(seconds, 3),
        cards_per_second=round(cards / seconds, 1) if seconds > 0 else 0.0,
        jobs=max(1, options.jobs),
        out=str(options.out) if options.out is not None else None,
        reject_file=str(options.reject_file) if options.reject_file is not None else None,
        hss_transport=transport,
        hss_format=options.hss_format,
    )


def _write(executor: Executor, chunks: Iterator[list[Row]], path: Path, total: int,
           key: bytes | None, progress: Progress | None, hss_format: str = "csv") -> int:
    done = 0
    milenage_db = hss_format == "hlr_auc_gw"
    fd = create_exclusive(path / (MILENAGE_DB_FILE if milenage_db else HSS_FILE), SECRET_MODE)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as hss:
        hss.write(milenage_db_header() if milenage_db
                  else hss_header(TransportKey(key) if key else None))
        for written in executor.map("write", chunks, str(path)):
            hss.write(written.hss)
            done += written.cards
            if progress:
                progress("write", done, total)
    return done


def _encode_only(executor: Executor, chunks: Iterator[list[Row]], total: int,
                 progress: Progress | None) -> int:
    done = 0
    for written in executor.map("write", chunks, None):
        done += written.cards
        if progress:
            progress("encode", done, total)
    return done
