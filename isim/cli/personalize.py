"""`isim personalize`: a bureau's batch run (see docs/personalize.md).

    isim personalize BATCH --template TEMPLATE (--out DIR | --reader N)
                     [--jobs N] [--reject-file F] [--transport-key FILE]
                     [--hss-format csv|hlr_auc_gw] [--json]
    isim personalize --clean --out DIR

Exit codes: 0 done; 1 invalid rows (nothing written, every bad row reported) or a card that
could not be written or read back as asked; 2 input that cannot be read (batch, template,
key, output directory, reader); 130 interrupted (nothing written).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.codecs.errors import CodecError
from isim.errors import InputError, ProfileError
from isim.personalize.hss import HSS_FORMATS
from isim.personalize.outputs import remove_stale_partials
from isim.personalize.run import BatchRejected, RunOptions, personalize
from isim.personalize.writer import CardFailure, write_cards
from transport.pcsc import ReaderError

EXIT_INTERRUPTED = 130
LOG_EVERY_SECONDS = 2.0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM takes the same way out as Ctrl-C: the partial output is removed."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _PlainProgress:
    """Log lines on stderr, at most one per LOG_EVERY_SECONDS per phase (and the last)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        start = self._start.setdefault(phase, now)
        if now - self._last.get(phase, 0.0) < LOG_EVERY_SECONDS and done != total:
            return
        self._last[phase] = now
        rate = done / (now - start) if now > start else 0.0
        line = f"{phase}: {done}" + (f"/{total}" if total else "") + f" rows, {rate:.0f}/s"
        if total and rate:
            line += f", ETA {(total - done) / rate:.0f}s"
        click.echo(line, err=True)

    def close(self) -> None:
        pass


class _RichProgress:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} cards/s"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._start: dict[str, float] = {}
        self._started = False

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if not self._started:  # not before: worker processes are forked before the first call
            self._progress.start()
            self._started = True
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total, rate="-")
            self._start[phase] = time.monotonic()
        elapsed = time.monotonic() - self._start[phase]
        rate = f"{done / elapsed:.0f}" if elapsed > 0 else "-"
        self._progress.update(self._tasks[phase], completed=done, total=total, rate=rate)

    def close(self) -> None:
        if self._started:
            self._progress.stop()


def _progress(enabled: bool) -> _PlainProgress | _RichProgress:
    if enabled and sys.stderr.isatty():
        return _RichProgress()
    return _PlainProgress()


def _report_rejected(exc: BatchRejected, batch: str, as_json: bool) -> None:
    if as_json:
        problems = [
            {exc.label: p.row, "column": p.column, "file": p.file, "record": p.record,
             "reason": p.reason}
            for p in exc.problems
        ]
        click.echo(json.dumps({"ok": False, "rows": exc.rows, "row_numbers": exc.label,
                               "rejected_rows": len(exc.problems.bad_rows),
                               "problems": problems}, indent=1))
    for p in exc.problems:
        click.echo(f"{batch}: {p.text(exc.label)}", err=True)
    click.echo(f"{batch}: {exc}; nothing written", err=True)


@main.command("personalize")
@click.argument("batch", required=False, metavar="BATCH")
@click.option("--template", "template", type=click.Path(dir_okay=False),
              help="Profile keys all cards share, and the generate: section.")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="Output directory (must not exist or be empty).")
@click.option("--reader", "reader", help="Write real cards in this PC/SC reader (index or name).")
@click.option("--jobs", "jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes.")
@click.option("--reject-file", "reject_file", type=click.Path(dir_okay=False),
              help="Write the valid cards anyway; list the bad rows and reasons here.")
@click.option("--transport-key", "transport_key", type=click.Path(dir_okay=False),
              help="AES key (hex) encrypting K and OPc in the HSS file (AES-GCM).")
@click.option("--hss-format", "hss_format", type=click.Choice(HSS_FORMATS), default="csv",
              show_default=True,
              help="HSS output: the csv file, or hostapd hlr_auc_gw's Milenage database "
                   "(IMSI Ki OPc AMF SQN).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["saip"]),
              help="Also write this format per card (repeatable): saip = an eUICC Profile "
                   "Package, saip/<ICCID>.der (docs/saip.md).")
@click.option("--clean", is_flag=True,
              help="Only remove what killed runs left next to --out, then exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=True,
              help="Progress bar on a terminal (log lines otherwise).")
def personalize_command(batch: str | None, template: str | None, out: str | None,
                        reader: str | None, jobs: int, reject_file: str | None,
                        transport_key: str | None, hss_format: str,
                        formats: tuple[str, ...], clean: bool, as_json: bool,
                        progress: bool) -> None:
    """Validate a batch of cards, then write images, scripts and the HSS file (or cards)."""
    if clean:
        if out is None:
            _fail("--clean needs --out DIR")
        removed = remove_stale_partials(Path(out))
        for path in removed:
            click.echo(f"removed {path}", err=True)
        if as_json:
            click.echo(json.dumps({"removed": [str(p) for p in removed]}))
        sys.exit(EXIT_OK)
    if batch is None or template is None:
        _fail("BATCH and --template are required")
    if (out is None) == (reader is None):
        _fail("give exactly one of --out DIR and --reader N")
    options = RunOptions(
        batch=Path(batch), template=Path(template), out=Path(out) if out else None,
        jobs=jobs, reject_file=Path(reject_file) if reject_file else None,
        transport_key=Path(transport_key) if transport_key else None,
        hss_format=hss_format,
        saip="saip" in formats,
    )
    show = _progress(progress)
    try:
        with _sigterm_interrupts():
            if reader is not None:
                summary: Any = write_cards(options, reader, log=lambda m: click.echo(m, err=True))
            else:
                summary = personalize(options, show)
    except BatchRejected as exc:
        show.close()
        _report_rejected(exc, batch, as_json)
        sys.exit(EXIT_VIOLATION)
    except (CardFailure, CodecError) as exc:
        show.close()
        click.echo(f"{batch}: {exc}; run stopped", err=True)
        sys.exit(EXIT_VIOLATION)
    except ProfileError as exc:  # a row that passed validation cannot: the batch changed
        show.close()
        for p in exc.problems:
            click.echo(f"{batch}: {p.field}: {p.where}: invalid; run stopped", err=True)
        sys.exit(EXIT_VIOLATION)
    except (InputError, ReaderError) as exc:
        show.close()
        click.echo(f"{exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        show.close()
        click.echo("interrupted: " + ("cards written so far stay written" if reader else
                                      "nothing written"), err=True)
        sys.exit(EXIT_INTERRUPTED)
    show.close()
    data = summary.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=1))
    else:
        for key, value in data.items():
            if key != "written":
                click.echo(f"{key}: {value}", err=True)
    sys.exit(EXIT_OK)


def _fail(message: str) -> None:
    click.echo(f"isim personalize: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)
