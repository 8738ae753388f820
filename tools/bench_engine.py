#!/usr/bin/env python3
"""Benchmark the in-process UICC engine (apdu.engine.Card): APDUs per second.

    python tools/bench_engine.py [--seconds 2] [--card module:factory]

Prints the rate of the headline mix (SELECT by FID with P2=0C + READ BINARY of 128 bytes,
alternating) and per-command rates. Target: >= 100,000 APDU/s for the mix.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apdu.demo import demo_card
from apdu.engine import Card

ISIM_AID = "A0000000871004FFFFFFFF8907090000"


def _factory(spec: str | None) -> Callable[[], Card]:
    if not spec:
        return lambda: demo_card(rng=os.urandom)
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _prepare(card: Card) -> None:
    """Select the first ADF and verify PIN1 so that PIN1-protected reads succeed."""
    card.power_on()
    isim = [a for a in card.adfs if a.name == "ADF.ISIM"] or card.adfs
    aid = isim[0].aid.hex() if isim else ISIM_AID
    for h in (f"00A4040C{len(aid) // 2:02X}{aid}", "002000010831323334FFFFFFFF"):
        card.process(bytes.fromhex(h))


def _rate(card: Card, apdus: list[bytes], seconds: float) -> tuple[float, bytes]:
    process = card.process
    n = 0
    last = b""
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for a in apdus:
            last = process(a)
        n += len(apdus)
        if time.perf_counter() >= deadline:
            break
    return n / (time.perf_counter() - start), last


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    ap.add_argument("--card", help="module:factory returning an apdu.engine.Card")
    args = ap.parse_args(argv)
    card = _factory(args.card)()
    _prepare(card)
    select_impi = bytes.fromhex("00A4000C026F02")
    read128 = bytes.fromhex("00B0000080")
    cases: dict[str, list[bytes]] = {
        "MIX select(FID,0C)+read binary(128)": [select_impi, read128] * 50,
        "SELECT by FID, P2=0C": [select_impi, bytes.fromhex("00A4000C026F04")] * 50,
        "SELECT by FID, P2=04 (FCP)": [bytes.fromhex("00A40004026F0200")] * 100,
        "READ BINARY 128": [read128] * 100,
        "READ RECORD (EF.IMPU 1)": [bytes.fromhex("00B2012480")] * 100,
        "STATUS P2=00": [bytes.fromhex("80F2000000")] * 100,
        "VERIFY PIN1 (correct)": [bytes.fromhex("002000010831323334FFFFFFFF")] * 100,
        "unknown INS": [bytes.fromhex("00FE000000")] * 100,
    }
    print(f"engine benchmark, {args.seconds:g} s per case, python {sys.version.split()[0]}")
    for name, apdus in cases.items():
        _prepare(card)
        card.process(select_impi)
        rate, last = _rate(card, apdus, args.seconds)
        print(f"  {name:40s} {rate:>12,.0f} APDU/s   (last SW {last[-2:].hex().upper()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
