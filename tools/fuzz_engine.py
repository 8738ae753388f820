#!/usr/bin/env python3
"""Fuzz the in-process UICC engine (apdu.engine.Card) with random and mutated C-APDUs.

    python tools/fuzz_engine.py [-n 1000000] [--seed 1] [--t0]
                                [--card module:factory] [--check module:function]

Feeds N C-APDUs: raw random bytes, valid headers with random or broken lengths, bodies and
P1/P2, mutations (bit flips, truncation, extension, Lc changes) of a corpus of valid
commands, the right PINs now and then (to reach the protected paths) and power cycles.

Reports uncaught exceptions (the engine's dispatcher is called unwrapped), invalid status
words, and every problem the check hook reports afterwards. Exit status 1 if any.

--card   a callable returning an apdu.engine.Card (default demo_card:demo_card)
--check  a callable check(card) -> iterable of problem strings, run after every APDU
         (default demo_card:demo_check when the card is the default one)
"""

from __future__ import annotations

import argparse
import collections
import importlib
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apdu.engine import KNOWN_INS, Card
from apdu.sw import VALID_SW1

DATA_SW1 = frozenset({0x61, 0x62, 0x63, 0x90, 0x91, 0x98})
# the implemented INS, and some a UICC may know but this card does not (FETCH, ...)
INS = [*KNOWN_INS, 0x12, 0x14, 0xC2, 0x32, 0xCB, 0xB1, 0xD7]
CLA = [
    0x00,
    0x01,
    0x02,
    0x03,
    0x40,
    0x41,
    0x4F,
    0x80,
    0x81,
    0x83,
    0xC0,
    0xCF,
    0xA0,
    0x04,
    0x0C,
    0x10,
    0x60,
    0xE0,
    0xFF,
]


def _load(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _corpus(card: Card) -> list[bytes]:
    aids = [a.aid for a in card.adfs if a.aid]
    out = [
        bytes.fromhex(h)
        for h in (
            "00A40004023F0000",
            "00A4000C023F00",
            "00A4000C022F00",
            "00A4000C022FE2",
            "00A4000C026F02",
            "00A4000C026F04",
            "00A4000C026F06",
            "00A4000C027FFF",
            "00A4080C047FFF6F02",
            "00A4030C",
            "00B0000000",
            "00B0820010",
            "00B2010400",
            "00B2000200",
            "00B2012400",
            "00D6000004AABBCCDD",
            "00A2010403736970" + "00",
            "80F2000000",
            "80F2000100",
            "002000010831323334FFFFFFFF",
            "00200001",
            "0020000A083131313131313131",
            "002C0001",
            "0070000001",
            "00708001",
            "00C0000000",
            "0084000008",
            "008800811022" + "00" * 16 + "00",
            "00040000",
            "00440000",
            "8010000003FFFFFF",
            "80AA000003A90100",
        )
    ]
    for aid in aids:
        out.append(bytes([0x00, 0xA4, 0x04, 0x04, len(aid)]) + aid + b"\x00")
        out.append(bytes([0x01, 0xA4, 0x04, 0x0C, len(aid) - 3]) + aid[:-3])
    out.append(bytes([0x00, 0xDC, 0x01, 0x04, 0x80]) + b"\x80\x03abc" + b"\xff" * 123)
    for sfi in (0x82, 0x83, 0x85, 0x87):
        out.append(bytes([0x00, 0xD6, sfi, 0x00, 0x03]) + b"\x01\x02\x03")
        out.append(bytes([0x00, 0xD6, sfi, 0x00, 0x02]) + b"\x00\x00")
    out.append(bytes([0x00, 0xDC, 0x01, 0x24, 0x80]) + b"\xff" * 128)
    return out


Generator = Callable[[random.Random, list[bytes]], bytes | str]


def _generate(rng: random.Random, corpus: list[bytes]) -> bytes | str:
    r = rng.random()
    if r < 0.002:
        return rng.choice(("reset", "power_cycle", "power_on"))
    if r < 0.15:  # raw bytes
        return rng.randbytes(rng.choice((0, 1, 2, 3, 4, 5, 6, rng.randrange(300))))
    if r < 0.25:  # the corpus as is (reach deeper states)
        return rng.choice(corpus)
    if r < 0.60:  # valid header, random body and lengths
        header = bytes(
            (
                rng.choice(CLA) if rng.random() < 0.8 else rng.randrange(256),
                rng.choice(INS) if rng.random() < 0.8 else rng.randrange(256),
                rng.randrange(256) if rng.random() < 0.5 else rng.choice((0, 1, 4, 8, 0x80)),
                rng.randrange(256) if rng.random() < 0.5 else rng.choice((0, 4, 0x0C)),
            )
        )
        n = rng.choice((0, 0, 1, 2, 8, 16, rng.randrange(256)))
        data = rng.randbytes(n)
        kind = rng.randrange(6)
        if kind == 0:
            return header
        if kind == 1:
            return header + bytes((rng.randrange(256),))
        lc = n & 0xFF
        if kind == 5:  # broken Lc
            lc = rng.choice(((lc + 1) & 0xFF, (lc - 1) & 0xFF, 0, rng.randrange(256)))
        body = (bytes((lc,)) + data) if n else b""
        if kind in (3, 5):
            body += bytes((rng.randrange(256),))
        return header + body
    # mutation of a corpus entry
    b = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            del b[rng.randrange(len(b)) :]
        elif op == 2:
            b += rng.randbytes(rng.randint(1, 4))
        elif op == 3 and len(b) > 4:
            b[4] = rng.randrange(256)
        elif op == 4 and len(b) > 3:
            b[rng.randrange(4)] = rng.randrange(256)
    return bytes(b)


def fuzz(
    factory: Callable[[], Card],
    n: int,
    seed: int,
    check: Callable[[Card], Iterable[str]] | None,
    epoch: int = 2000,
    limit: int = 20,
    generate: Generator | None = None,
) -> dict[str, Any]:
    """Run n steps; a fresh card every `epoch` steps (PINs get blocked by random VERIFYs).
    `generate` replaces the default APDU generator (e.g. tools/fuzz_isim.py's mix)."""
    generate = generate or _generate
    rng = random.Random(seed)
    card = factory()
    corpus = _corpus(card)
    sw_counts: collections.Counter[int] = collections.Counter()
    exceptions: list[str] = []
    invalid: list[str] = []
    violations: list[str] = []
    counts = {"exceptions": 0, "invalid": 0, "violations": 0}
    process = getattr(card, "_process", card.process)
    for i in range(n):
        if i and epoch and i % epoch == 0:
            card = factory()
            process = getattr(card, "_process", card.process)
        capdu = generate(rng, corpus)
        if isinstance(capdu, str):
            if capdu == "power_cycle":
                card.power_off()
                if rng.random() < 0.9:  # now and then an APDU reaches a card without power
                    card.power_on()
            else:
                getattr(card, capdu)()
            continue
        try:
            rapdu = process(capdu)
        except Exception:
            counts["exceptions"] += 1
            if len(exceptions) < limit:
                exceptions.append(f"#{i} {capdu.hex().upper()}\n{traceback.format_exc()}")
            continue
        sw_counts[int.from_bytes(rapdu[-2:], "big") if len(rapdu) >= 2 else -1] += 1
        if (
            len(rapdu) < 2
            or len(rapdu) > 258
            or rapdu[-2] not in VALID_SW1
            or (len(rapdu) > 2 and rapdu[-2] not in DATA_SW1)
        ):
            counts["invalid"] += 1
            if len(invalid) < limit:
                invalid.append(f"#{i} {capdu.hex().upper()} -> {rapdu.hex().upper()}")
        if check is not None:
            problems = list(check(card))
            if problems:
                counts["violations"] += 1
                if len(violations) < limit:
                    violations.append(f"#{i} {capdu.hex().upper()}: {problems}")
    return {
        "counts": counts,
        "sw": sw_counts,
        "exceptions": exceptions,
        "invalid": invalid,
        "violations": violations,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="number of steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--t0", action="store_true", help="T=0 response style (default card only)")
    ap.add_argument("--card", help="module:factory returning an apdu.engine.Card")
    ap.add_argument("--check", help="module:function, check(card) -> iterable of problems")
    ap.add_argument("--epoch", type=int, default=2000, help="steps per fresh card (0: one card)")
    args = ap.parse_args(argv)
    factory: Callable[[], Card]
    if args.card:
        factory = _load(args.card)
        check = _load(args.check) if args.check else None
    else:
        from demo_card import demo_card, demo_check

        randbytes = random.Random(args.seed).randbytes

        def factory() -> Card:
            return demo_card(t0=args.t0, rng=randbytes)

        check = _load(args.check) if args.check else demo_check
    start = time.perf_counter()
    result = fuzz(factory, args.n, args.seed, check, epoch=args.epoch)
    elapsed = time.perf_counter() - start
    return report(result, args.n, elapsed, f"seed {args.seed}")


def report(result: dict[str, Any], n: int, elapsed: float, what: str,
           violations: str = "check violations") -> int:
    """Print the summary of a fuzz run; the exit status: 1 when anything was found."""
    counts = result["counts"]
    print(f"{n:,} steps in {elapsed:.1f} s ({n / elapsed:,.0f}/s), {what}")
    print(f"uncaught exceptions: {counts['exceptions']}, invalid SWs: {counts['invalid']}, "
          f"{violations}: {counts['violations']}")
    top = ", ".join(f"{sw:04X}:{c}" for sw, c in result["sw"].most_common(16))
    print(f"status words: {top}")
    for title in ("exceptions", "invalid", "violations"):
        for line in result[title]:
            print(f"[{title}] {line}")
    return 1 if any(counts.values()) else 0

if __name__ == "__main__":
    raise SystemExit(main())
