#!/usr/bin/env python3
"""Fuzz the ISIM card (engine + ISIM application) with tools/fuzz_engine.py's generator
plus ISIM-targeted commands.

    python tools/fuzz_isim.py [-n 1000000] [--seed 1] [--isim-share 0.35]
                              [--differential 10000]

A share of the steps (--isim-share) is aimed at the trust-rule guard: VERIFY ADM1 with the
right key, SELECT of ADF.ISIM and of EF.IMPI / EF.IMPU / EF.DOMAIN, UPDATE BINARY / UPDATE
RECORD (by current EF or SFI) carrying TLVs of identities inside and outside the trust
domains, padded or TLV-only, at random offsets, and AUTHENTICATE with random or mutated
set-1 data.  The rest is fuzz_engine's own mix (raw bytes, valid headers, mutations).
After every state change, tools/isim_fuzz_plugin.isim_check decodes the three EFs.

Then --differential cases of tools/fuzz_identities.py (issue 12 item 1): bytes written to
EF.IMPI / EF.IMPU / EF.DOMAIN, the guard's verdict against `isim check` and `isim inspect`.

Reports uncaught exceptions, invalid status words, rule violations and disagreements;
exit 1 if any.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
for p in (str(TOOLS.parent), str(TOOLS)):
    if p not in sys.path:
        sys.path.insert(0, p)

import fuzz_engine  # noqa: E402
import fuzz_identities  # noqa: E402
import isim_fuzz_plugin as plugin  # noqa: E402

VERIFY_ADM1 = bytes.fromhex("0020000A08") + plugin.FUZZ_ADM1
SET1_AUTH = bytes.fromhex(
    "00880081221023553cbe9637a89d218ae64dae47bf351055f328b43577b9b94a9ffac354dfafb300")
USERS = ["alice", "bob", "001010123456789", "+15551234567", "", "a" * 60, "%40", "x@y"]
DOMAINS = ["ims.example.com", "3gppnetwork.org", "ims.mnc001.mcc001.3gppnetwork.org",
           "IMS.EXAMPLE.COM", "evil.example.net", "example.com", "3gppnetwork.org.evil.com",
           "ims.example.com.", "xn--bcher-kva.example", "a..b", "", "192.0.2.1", "[::1]",
           "ims.example.com:5060", "bücher.example"]
SCHEMES = ["sip:", "sips:", "tel:", "http://", "", "SIP:"]


def _identity(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.3:
        text = f"{rng.choice(USERS)}@{rng.choice(DOMAINS)}"
    elif r < 0.6:
        text = f"{rng.choice(SCHEMES)}{rng.choice(USERS)}@{rng.choice(DOMAINS)}"
    elif r < 0.75:
        text = rng.choice(DOMAINS)
    elif r < 0.85:
        text = f"tel:+{rng.randrange(10**12)}" + rng.choice(
            ["", f";phone-context={rng.choice(DOMAINS)}"])
    else:
        return rng.randbytes(rng.randrange(40))
    return text.encode("utf-8")


def _tlv(rng: random.Random) -> bytes:
    value = _identity(rng)[:120]
    tag = 0x80 if rng.random() < 0.9 else rng.randrange(256)
    length = len(value) if rng.random() < 0.85 else rng.randrange(256)
    tlv = bytes([tag, length]) + value
    r = rng.random()
    if r < 0.5:
        return tlv + b"\xff" * (128 - len(tlv))  # full record / file
    if r < 0.6:
        return b"\xff" * 128  # erase
    return tlv  # TLV only (pySim's update_binary_decoded)


def isim_generate(rng: random.Random, aid: bytes) -> bytes:
    r = rng.random()
    if r < 0.12:
        return VERIFY_ADM1
    if r < 0.2:
        return bytes([0x00, 0xA4, 0x04, rng.choice((0x04, 0x0C)), len(aid)]) + aid
    if r < 0.35:
        fid = rng.choice(("6F02", "6F03", "6F04", "6F04", "6FD5", "6F09"))
        return bytes([rng.choice((0, 0, 1)), 0xA4, 0x00, 0x0C, 2]) + bytes.fromhex(fid)
    if r < 0.6:
        data = _tlv(rng)
        if rng.random() < 0.4:
            p1, p2 = rng.choice((0x82, 0x85, 0x84)), rng.choice((0, 0, 1, 20))
        else:
            offset = rng.choice((0, 0, 0, 1, 2, 64, 127))
            p1, p2 = offset >> 8, offset & 0xFF
        data = data[:128] or b"\x80"
        return bytes([0x00, 0xD6, p1, p2, len(data)]) + data
    if r < 0.85:
        data = _tlv(rng)
        if rng.random() < 0.9:
            data = (data + b"\xff" * 128)[:128]
        record = rng.choice((1, 1, 2, 3, 4, 8, 9, 0))
        p2 = rng.choice((0x04, 0x04, 0x24, 0x24, 0x02, 0x03, 0x14))
        return bytes([0x00, 0xDC, record, p2, len(data)]) + data
    if r < 0.95:
        apdu = bytearray(SET1_AUTH)
        for _ in range(rng.randint(0, 2)):
            apdu[rng.randrange(4, len(apdu))] ^= 1 << rng.randrange(8)
        if rng.random() < 0.2:
            apdu[3] = rng.choice((0x80, 0x82, 0x84, 0x86))
        return bytes(apdu)
    return bytes([0x00, 0xB2, rng.randint(1, 3), 0x24, 0x00])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1_000_000, help="number of steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--isim-share", type=float, default=0.35,
                    help="share of ISIM-targeted steps (default 0.35)")
    ap.add_argument("--epoch", type=int, default=2000, help="steps per fresh card")
    ap.add_argument("--differential", type=int, default=10_000, metavar="N",
                    help="cases of the guard/check/inspect differential (default 10000)")
    args = ap.parse_args(argv)
    aid = bytes.fromhex(plugin._image().isim["aid"])
    base = fuzz_engine._generate
    share = args.isim_share

    def generate(rng: random.Random, corpus: list[bytes]) -> bytes | str:
        if rng.random() < share:
            return isim_generate(rng, aid)
        return base(rng, corpus)

    start = time.perf_counter()
    result = fuzz_engine.fuzz(plugin.isim_card, args.n, args.seed, plugin.isim_check,
                              epoch=args.epoch, generate=generate)
    elapsed = time.perf_counter() - start
    what = f"seed {args.seed}, ISIM-targeted share {share:.0%}"
    status = fuzz_engine.report(result, args.n, elapsed, what, "rule violations")
    diff = fuzz_identities.fuzz(args.differential, args.seed)
    for line in diff.disagreements[:50]:
        print(f"[differential] {line}")
    print(f"differential guard/check/inspect: {diff.cases:,} cases, {diff.accepted:,} "
          f"accepted, {len(diff.disagreements)} disagreements")
    return 1 if status or diff.disagreements else 0

if __name__ == "__main__":
    raise SystemExit(main())
