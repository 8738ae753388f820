#!/usr/bin/env python3
"""Benchmark of `isim personalize`: profiles per second and peak RSS (not a timed test).

    python tools/bench_personalize.py [--rows 100000 1000000] [--jobs 1 2] [--full-rows N]
                                      [--write-rows N] [--json]

For every batch size and job count, each measurement runs in a fresh child process (so its
peak RSS, from wait4(2), is its own):

* `validate+encode`: pass 1 (every row validated: formats, trust rule, duplicates) and then
  every EF of every card encoded (`card_contents`), streaming the batch twice exactly as
  `isim personalize` does, writing nothing. The target: >= 20,000 profiles/s per core.
* `pipeline` (for batches up to --full-rows): the whole run without files: validation,
  then image JSON, scriptor script and HSS line per card.
* `write` (for batches up to --write-rows): the whole run into a real --out directory.

Batches are synthetic (tools/sample_batch.py) and generated once into a temporary dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _child(kind: str, batch: Path, template: Path, jobs: int, out: Path | None) -> dict:
    """Runs in the measured child process."""
    from isim.personalize.batch import open_batch
    from isim.personalize.run import (
        CHUNK_ROWS,
        RunOptions,
        personalize,
        row_chunks,
        validate_batch,
    )
    from isim.personalize.template import load_template
    from isim.personalize.work import Executor, Worker

    start = time.perf_counter()
    if kind == "validate+encode":
        tpl = load_template(template)
        b = open_batch(batch)
        executor = Executor(Worker(tpl, None, b.row_label), jobs)
        check = validate_batch(b, tpl, executor)
        done = sum(w.cards for w in executor.map(
            "encode", row_chunks(b, tpl, CHUNK_ROWS, check.problems.bad_rows,
                                 trust=check.checkpoints)))
        executor.close()
        assert check.problems.count == 0 and done == check.rows
    else:
        summary = personalize(RunOptions(batch=batch, template=template, out=out, jobs=jobs))
        done = summary.cards
    seconds = time.perf_counter() - start
    return {"cards": done, "seconds": round(seconds, 2)}


def _measure(kind: str, batch: Path, template: Path, jobs: int, out: Path | None) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = _child(kind, batch, template, jobs, out)
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0 or not text:
        raise SystemExit(f"{kind}: child failed (status {status})")
    result = json.loads(text)
    result.update(kind=kind, jobs=jobs,
                  profiles_per_second=round(result["cards"] / result["seconds"]),
                  peak_rss_mb=round(usage.ru_maxrss / 1024, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--full-rows", type=int, default=100_000,
                        help="largest batch for the no-files pipeline measurement")
    parser.add_argument("--write-rows", type=int, default=0,
                        help="largest batch for the measurement with files (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from sample_batch import write_sample_batch, write_sample_template

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-personalize-") as tmp:
        template = write_sample_template(Path(tmp) / "template.yaml")
        for rows in args.rows:
            batch = write_sample_batch(Path(tmp) / f"batch-{rows}.csv", rows)
            kinds = ["validate+encode"]
            if rows <= args.full_rows:
                kinds.append("pipeline")
            if rows <= args.write_rows:
                kinds.append("write")
            for kind in kinds:
                for jobs in args.jobs:
                    out = Path(tmp) / f"out-{rows}-{jobs}" if kind == "write" else None
                    result = _measure(kind, batch, template, jobs, out)
                    result["rows"] = rows
                    results.append(result)
                    if not args.json:
                        print(f"{kind:16} rows={rows:>9} jobs={jobs}  "
                              f"{result['profiles_per_second']:>7} profiles/s  "
                              f"{result['seconds']:>8.1f} s  peak RSS "
                              f"{result['peak_rss_mb']:.0f} MB", flush=True)
            batch.unlink()
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
