"""The per-chunk work of both passes, run in-process (`--jobs 1`) or in worker processes.

Chunks are lists of rows whose ICCID/IMSI generators have already been applied (in the
parent, in batch order, so numbering does not depend on the number of jobs).
"""

from __future__ import annotations

import collections
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isim.card.contents import card_contents
from isim.errors import Problem
from isim.profile.model import Profile
from isim.saip.export import sqn_problem
from isim.saip.fast import profile_package

from .batch import Row
from .card import card_output
from .hss import TransportKey, hss_line, milenage_db_line
from .outputs import write_new_file
from .problems import RowProblem
from .template import Template

__all__ = ["Executor", "Worker"]

IMAGES = "images"
SCRIPTS = "scripts"
SAIP = "saip"  # --format saip: <ICCID>.der, docs/personalize.md
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Validated:
    problems: list[RowProblem]
    identities: list[tuple[int, str, str | None]]  # (row, iccid, imsi) of the valid rows


@dataclass(frozen=True)
class Written:
    cards: int
    hss: str  # the chunk's HSS lines, in row order


class Worker:
    """What a (worker) process needs: the template and, for pass 2, the transport key."""

    def __init__(self, template: Template, transport_key: bytes | None, row_label: str,
                 hss_format: str = "csv", *, saip: bool = False) -> None:
        self.template = template
        self.saip = saip
        self.transport = TransportKey(transport_key) if transport_key else None
        self.row_label = row_label
        self.milenage_db = hss_format == "hlr_auc_gw"

    def validate(self, rows: list[Row]) -> Validated:
        problems: list[RowProblem] = []
        identities: list[tuple[int, str, str | None]] = []
        template = self.template
        gen = template.generators
        for row in rows:
            if row.problems:
                problems.extend(RowProblem.of(row.number, p, row.values) for p in row.problems)
                continue
            values = row.values
            if gen.draws_secrets:
                values = dict(values)
                gen.placeholders(values, template.values)
            checked, found = template.check(values, derive_opc=False)
            if self.saip and not found:
                problem = sqn_problem(checked["sqn_ind_bits"])
                if problem:
                    found = [Problem("sqn_ind_bits", f"--format saip: {problem}")]
            if found:
                problems.extend(RowProblem.of(row.number, p, row.values) for p in found)
            else:
                identities.append((row.number, checked["iccid"], checked["imsi"]))
        return Validated(problems, identities)

    def profile(self, row: Row, known_valid: bool = False) -> Profile:
        """The final profile of a valid row: randoms generated now (pass 2). `known_valid`:
        the row is byte for byte one that pass 1 found valid (see `run.row_chunks`)."""
        values = row.values
        gen = self.template.generators
        if gen.draws_secrets:
            values = dict(values)
            gen.secrets_for(values, self.template.values)
        return self.template.profile(values, known_valid=known_valid)

    def encode(self, rows: list[Row]) -> Written:
        """Validate and encode every EF, nothing else (the benchmark's unit of work)."""
        known_valid = getattr(rows, "known_valid", False)
        for row in rows:
            card_contents(self.profile(row, known_valid))
        return Written(len(rows), "")

    def write(self, rows: list[Row], out: str | None) -> Written:
        """Images and scripts into `out` (None: encode only, for benchmarks)."""
        lines: list[str] = []
        known_valid = getattr(rows, "known_valid", False)
        for row in rows:
            profile = self.profile(row, known_valid)
            contents = card_contents(profile)
            card = card_output(profile, contents, row_label=f"{self.row_label} {row.number}")
            package = profile_package(profile, contents) if self.saip else None
            if out is not None:
                write_new_file(Path(out, IMAGES, f"{card.iccid}.json"), card.image)
                write_new_file(Path(out, SCRIPTS, f"{card.iccid}.apdu"), card.script.encode())
                if package is not None:
                    write_new_file(Path(out, SAIP, f"{card.iccid}.der"), package)
            lines.append(milenage_db_line(card.hss) if self.milenage_db
                         else hss_line(card.hss, self.transport))
        return Written(len(rows), "".join(lines))


_worker: Worker | None = None


def _init_worker(worker: Worker) -> None:
    """In a worker process: die with the parent (even SIGKILLed), leave SIGINT to it."""
    global _worker
    _worker = worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: orphans end when their queue closes
        pass
    if os.getppid() == 1:  # the parent died before prctl
        os._exit(1)


def start_method() -> str:
    """'fork' while this process has one thread (the CLI: workers start at once, sharing the
    parent's imports and template), else 'spawn' (a library caller or a test process with
    threads: a thread holding a lock while we fork would leave the lock held forever in the
    child, which then hangs). The count is the kernel's (/proc), so native threads count.
    Not spawn always: each spawned worker imports isim again, which cost 35-45 % of the
    `tools/bench_personalize.py --rows 20000 --jobs 2` rate (validate+encode)."""
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux
        threads = threading.active_count()
    if threads == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _call(method: str, rows: list[Row], *args: Any) -> Any:
    assert _worker is not None
    return getattr(_worker, method)(rows, *args)


class Executor:
    """Runs chunk methods of `Worker` in order, in-process or on `jobs` processes with at
    most 2 * jobs chunks in flight (memory stays flat, results come back in batch order)."""

    def __init__(self, worker: Worker, jobs: int) -> None:
        self.worker = worker
        self.jobs = jobs
        self._pool: Any = None
        if jobs > 1:
            ctx = multiprocessing.get_context(start_method())
            self._pool = ctx.Pool(jobs, initializer=_init_worker, initargs=(worker,))

    def map(self, method: str, chunks: Iterable[list[Row]], *args: Any) -> Iterator[Any]:
        if self._pool is None:
            call: Callable[..., Any] = getattr(self.worker, method)
            for chunk in chunks:
                yield call(chunk, *args)
            return
        pending: collections.deque[Any] = collections.deque()
        for chunk in chunks:
            pending.append(self._pool.apply_async(_call, (method, chunk, *args)))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self, *, abort: bool = False) -> None:
        if self._pool is not None:
            if abort:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None
