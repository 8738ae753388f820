#!/usr/bin/env python3
"""Before/after in instructions: the in-process work of the benchmarks, counted by valgrind's
callgrind for two trees in one run (not a timed test; the counts do not move with the load
of a shared machine, unlike CPU time).

    python tools/bench_instructions.py --before 5bfb774 [--after REF] [--only engine,aka]

`--before`/`--after` are git refs of this repository (`--after` defaults to the working
tree). Each workload runs twice per tree, with a short and a long loop, and the difference
is divided by the extra operations: start-up and imports cancel out. Printed per workload:
instructions per operation before and after, and their ratio as throughput (after/before;
1.00x is unchanged, 0.90x is 10 % slower).

Workloads (the same code paths as the bench_* tools, written to run on older trees too):
* engine_*: `Card.process` on the demo card (tools/bench_engine.py's cases);
* transmit_*: `Emulator.transmit` on examples/alice.yaml (SELECT + READ BINARY; STATUS);
* aka_network, aka_both: tools/bench_aka.py's network side (a vector) and both sides (a
  vector, then the card's answer);
* personalize: validate + encode of an ISIM-only card, one core (tools/bench_personalize.py's
  `validate+encode`), on the sample batch of tools/sample_batch.py.

Needs valgrind (Debian: `apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# workload -> (short loop, long loop, operations per loop unit)
WORKLOADS: dict[str, tuple[int, int, int]] = {
    "engine_mix": (1000, 11000, 1),
    "engine_fcp": (1000, 11000, 1),
    "engine_record": (1000, 11000, 1),
    "engine_status": (1000, 11000, 1),
    "engine_verify": (1000, 11000, 1),
    "engine_unknown": (1000, 11000, 1),
    "transmit_mix": (100, 2100, 2),
    "transmit_status": (100, 2100, 1),
    "aka_network": (100, 1100, 1),
    "aka_both": (100, 1100, 1),
    "personalize": (100, 2100, 1),
}
_ENGINE_CASES = {
    "engine_mix": ["00A4000C026F02", "00B0000080"],
    "engine_fcp": ["00A40004026F0200"],
    "engine_record": ["00B2012480"],
    "engine_status": ["80F2000000"],
    "engine_verify": ["002000010831323334FFFFFFFF"],
    "engine_unknown": ["00FE000000"],
}
_TRANSMIT_CASES = {
    "transmit_mix": ["00A4000C026F02", "00B0000080"],
    "transmit_status": ["80F2000000"],
}


# -- the child: one workload in one tree ------------------------------------------------------

def _import_first(*names: str):  # type: ignore[no-untyped-def]
    """The first of `module:attribute` that imports (the tree may be older)."""
    for name in names:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {names}")


def _engine(work: str, n: int) -> None:
    demo_card = _import_first("demo_card:demo_card", "apdu.demo:demo_card")
    card = demo_card(rng=os.urandom)
    card.power_on()
    aid = next(a for a in card.adfs if a.name == "ADF.ISIM").aid.hex()
    for h in (f"00A4040C{len(aid) // 2:02X}{aid}", "002000010831323334FFFFFFFF"):
        card.process(bytes.fromhex(h))
    apdus = [bytes.fromhex(h) for h in _ENGINE_CASES[work]]
    apdus = apdus * (100 // len(apdus))
    process = card.process
    for _ in range(n // 100):
        for apdu in apdus:
            process(apdu)


def _transmit(work: str, n: int, tree: Path) -> None:
    load = _import_first("isim.card.image:load_card_source", "isim.image:load_card_source")
    emulator = _import_first("isim.card.emulator:Emulator", "isim.emulator:Emulator")
    emu = emulator.open(load(tree / "examples" / "alice.yaml"), allow_rule_violations=True)
    transmit = emu.transmit
    if transmit(bytes.fromhex("00A4040C07A0000000871004"))[-2:] != b"\x90\x00":
        raise SystemExit("cannot select the ISIM")
    apdus = [bytes.fromhex(h) for h in _TRANSMIT_CASES[work]]
    for _ in range(n):
        for apdu in apdus:
            transmit(apdu)


def _aka(work: str, n: int, tree: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_aka", tree / "tools" / "bench_aka.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    getattr(module, "bench_" + work.removeprefix("aka_"))(n)


def _personalize(n: int, data: Path) -> None:
    from isim.personalize.batch import open_batch
    from isim.personalize.run import CHUNK_ROWS, row_chunks, validate_batch
    from isim.personalize.template import load_template
    from isim.personalize.work import Executor, Worker

    keys = _import_first("isim.profile.checks:KEYS", "isim.profile_checks:KEYS")
    text = (data / "template.yaml").read_text(encoding="utf-8")
    if "applications" in keys:  # a tree with the USIM: the card of older trees, ISIM only
        text += "applications: [isim]\n"
    template_path = data / f"template-{os.getpid()}.yaml"
    template_path.write_text(text, encoding="utf-8")
    template = load_template(template_path)
    batch = open_batch(data / f"batch-{n}.csv")
    executor = Executor(Worker(template, None, batch.row_label), 1)
    check = validate_batch(batch, template, executor)
    done = sum(w.cards for w in executor.map(
        "encode", row_chunks(batch, template, CHUNK_ROWS, check.problems.bad_rows,
                             trust=check.checkpoints)))
    executor.close()
    if check.problems.count or done != n:
        raise SystemExit(f"personalize: {check.problems.count} problems, {done} of {n} cards")


def child(tree: Path, work: str, n: int, data: Path) -> None:
    sys.path[:0] = [str(tree), str(tree / "tools")]
    if work.startswith("engine_"):
        _engine(work, n)
    elif work.startswith("transmit_"):
        _transmit(work, n, tree)
    elif work.startswith("aka_"):
        _aka(work, n, tree)
    else:
        _personalize(n, data)


# -- the parent -------------------------------------------------------------------------------

def _count(tree: Path, work: str, n: int, data: Path) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
            str(Path(__file__).resolve()), "--child", str(tree), work, str(n), str(data)]
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree)
    for line in done.stderr.splitlines():
        if "Collected :" in line and done.returncode == 0:
            return int(line.split(":")[1])
    raise SystemExit(f"{work} in {tree} failed:\n{done.stderr[-2000:]}")


def _tree(ref: str | None, into: Path, name: str) -> Path:
    if ref is None:
        return ROOT
    tree = into / name
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git ref of the tree before")
    parser.add_argument("--after", help="git ref of the tree after (default: this tree)")
    parser.add_argument("--only", default="", help="comma-separated workload prefixes")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench_instructions: valgrind not found (apt-get install valgrind)",
              file=sys.stderr)
        return 2
    prefixes = tuple(p for p in args.only.split(",") if p)
    chosen = [w for w in WORKLOADS if not prefixes or w.startswith(prefixes)]
    sys.path.insert(0, str(ROOT / "tools"))
    from sample_batch import write_sample_batch, write_sample_template

    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        data = Path(tmp, "data")
        data.mkdir()
        write_sample_template(data / "template.yaml")
        for n in {WORKLOADS["personalize"][0], WORKLOADS["personalize"][1]}:
            write_sample_batch(data / f"batch-{n}.csv", n)
        trees = {"before": _tree(args.before, Path(tmp), "before"),
                 "after": _tree(args.after, Path(tmp), "after")}
        print(f"instructions per operation (callgrind), before = {args.before}, "
              f"after = {args.after or 'this tree'}")
        for work in chosen:
            short, long, per = WORKLOADS[work]
            per_op = {}
            for name, tree in trees.items():
                extra = _count(tree, work, long, data) - _count(tree, work, short, data)
                per_op[name] = extra / ((long - short) * per)
            ratio = per_op["before"] / per_op["after"]
            print(f"{work:18} before {per_op['before']:10.0f}  after {per_op['after']:10.0f}"
                  f"  throughput after/before {ratio:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
    else:
        sys.exit(main())
