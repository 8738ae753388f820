#!/usr/bin/env python3
"""Benchmark the isim card, in process and through the whole PC/SC stack, in one run.

    python tools/bench_card.py [--seconds 2] [--auths 3000] [--no-stack]

Full stack (pyscard -> pcscd -> vpcd -> card), every card in its own process:
  * the trivial responder (tools/responders.py TrivialCard behind transport.vpcd; run twice, the
    mean is the reference),
  * `isim emulate IMAGE` and `isim emulate IMAGE --state F` (as a user runs it),
  * Debian's vicc when installed (SELECT MF with P2=0C only: vicc fails on P2=04).
  Rates of SELECT (00A4000C026F02, EF.IMPI in ADF.ISIM; vicc: 00A4000C023F00), READ BINARY
  of 128 bytes, and AUTHENTICATE (IMS AKA with pre-generated fresh vectors), with ratios
  to the trivial responder (which answers 9000 to everything).
In process: SELECT + READ BINARY (alternating) APDU/s on the ISIM card, and
AUTHENTICATE/s without and with a state file (one atomic write + fsync per
authentication, as `isim emulate --state` does); AUTHENTICATE on the USIM (3G context,
with Kc) as a ratio to the ISIM's, interleaved bursts in CPU time.

Targets: isim >= 0.85x trivial full stack, >= 100x vicc, >= 100,000 APDU/s and
>= 20,000 AUTHENTICATE/s in process.  Starts a private pcscd (tools/pcsc_stack.py): run as root.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from isim.aka.milenage import Milenage  # noqa: E402
from isim.aka.procedure import generate_vector  # noqa: E402
from isim.aka.sqn import next_sqn  # noqa: E402
from isim.card.emulator import Emulator  # noqa: E402
from isim.card.image import CardImage, build_image, save_image  # noqa: E402
from isim.profile.model import load_profile  # noqa: E402
from responders import TrivialCard  # noqa: E402
from transport import pcsc, vpcd  # noqa: E402

ALICE = ROOT / "examples" / "alice.yaml"
VICC = Path("/usr/bin/vicc")
VICC_LIB = Path("/usr/lib/python3/site-packages/virtualsmartcard")
SELECT_IMPI = bytes.fromhex("00A4000C026F02")
SELECT_MF = bytes.fromhex("00A4000C023F00")
READ_128 = bytes.fromhex("00B0000080")


# ------------------------------------------------------------------------------ vectors


def auth_apdus(image: CardImage, sqn_ms: int, ind_bits: int, count: int) -> list[bytes]:
    """`count` AUTHENTICATE commands with strictly fresh SQNs (SEQ + 1 each, same IND)."""
    milenage = Milenage(bytes.fromhex(image.isim["k"]), bytes.fromhex(image.isim["opc"]))
    out: list[bytes] = []
    sqn = sqn_ms
    for i in range(count):
        sqn = next_sqn(sqn, ind_bits)
        rand = i.to_bytes(4, "big") * 4
        v = generate_vector(milenage, rand, sqn)
        out.append(b"\x00\x88\x00\x81\x22\x10" + rand + b"\x10" + v.autn + b"\x00")
    return out


# ------------------------------------------------------------------------------ in process


def rate(func: Callable[[bytes], bytes], apdus: Sequence[bytes], seconds: float,
         expect: bytes | None = b"\x90\x00") -> float:
    """APDUs per second, cycling through `apdus` for about `seconds`."""
    for a in apdus:
        r = func(a)
        if expect is not None and r[-2:] != expect:
            raise RuntimeError(f"{a.hex().upper()} -> {r.hex().upper()}")
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for a in apdus:
            func(a)
        n += len(apdus)
        if time.perf_counter() >= deadline:
            break
    return n / (time.perf_counter() - start)


def run_once(func: Callable[[bytes], bytes], apdus: Sequence[bytes], expect_prefix: bytes,
             seconds: float | None = None) -> float:
    """Each APDU once (AUTHENTICATE: a vector is used once), checking the response."""
    start = time.perf_counter()
    n = 0
    for a in apdus:
        r = func(a)
        if not r.startswith(expect_prefix) or r[-2:] != b"\x90\x00":
            raise RuntimeError(f"AUTHENTICATE #{n} -> {r[:4].hex().upper()}..{r[-2:].hex()}")
        n += 1
        if seconds is not None and n % 64 == 0 and time.perf_counter() - start >= seconds:
            break
    return n / (time.perf_counter() - start)


def isim_select(emu_or_card: Callable[[bytes], bytes], image: CardImage) -> None:
    aid = bytes.fromhex(image.isim["aid"])
    r = emu_or_card(bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid)
    if r != b"\x90\x00":
        raise RuntimeError(f"SELECT ISIM -> {r.hex()}")


def in_process(image: CardImage, seconds: float, auths: int) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    emu = Emulator.open(copy.deepcopy(image))
    isim_select(emu.card.process, image)
    rows.append(("SELECT + READ BINARY 128 (card.process)",
                 rate(emu.card.process, [SELECT_IMPI, READ_128], seconds), "APDU/s"))
    rows.append(("SELECT + READ BINARY 128 (Emulator.transmit)",
                 rate(emu.transmit, [SELECT_IMPI, READ_128], seconds), "APDU/s"))
    sqn = emu.app.aka.sqn.sqn_ms
    ind = emu.app.aka.sqn.config.ind_bits
    vectors = auth_apdus(image, sqn, ind, max(auths * 10, 20000))
    rows.append(("AUTHENTICATE, no state file",
                 run_once(emu.transmit, vectors, b"\xdb\x08", seconds), "auth/s"))
    with tempfile.TemporaryDirectory(prefix="isim-bench-") as tmp:
        emu = Emulator.open(copy.deepcopy(image), state_path=Path(tmp) / "state.json")
        isim_select(emu.transmit, image)
        rows.append(("AUTHENTICATE, --state (atomic write + fsync each)",
                     run_once(emu.transmit, vectors[: auths], b"\xdb\x08", seconds), "auth/s"))
    return rows


def usim_vs_isim(image: CardImage, seconds: float, burst: int = 500) -> tuple[float, float]:
    """AUTHENTICATE/s (CPU time) with ADF.USIM selected (P2=81: RES, CK, IK and Kc, UST
    service 27 on) and with ADF.ISIM selected, on two emulators of the same image fed the
    same fresh vectors in alternating bursts, so that both see the same machine load."""
    emus = []
    for app in (image.usim, image.isim):
        emu = Emulator.open(copy.deepcopy(image))
        aid = bytes.fromhex(app["aid"])
        if emu.transmit(bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid) != b"\x90\x00":
            raise RuntimeError(f"SELECT {app['aid']} failed")
        emus.append(emu)
    sqn = emus[0].app.aka.sqn
    vectors = auth_apdus(image, sqn.sqn_ms, sqn.config.ind_bits, 20000)
    cpu = [0.0, 0.0]
    done = 0
    while done + burst <= len(vectors) and sum(cpu) < 2 * seconds:
        chunk = vectors[done:done + burst]
        for i, emu in enumerate(emus):
            t = time.process_time()
            for a in chunk:
                r = emu.transmit(a)
            cpu[i] += time.process_time() - t
            if r[:2] != b"\xdb\x08" or r[-2:] != b"\x90\x00":
                raise RuntimeError(f"AUTHENTICATE -> {r[:4].hex().upper()}..{r[-2:].hex()}")
        done += burst
    return done / cpu[0], done / cpu[1]


# ------------------------------------------------------------------------------ full stack


def serve_trivial(port: int) -> None:
    """Child process: the trivial responder behind transport.vpcd, until killed."""
    vpcd.VpcdTransport(TrivialCard(), port=port).serve_forever()


@dataclass
class StackRow:
    name: str
    argv: list[str]
    env: dict[str, str]
    kind: str  # "trivial", "isim", "vicc"
    rates: dict[str, float] = field(default_factory=dict)
    trivial: dict[str, float] = field(default_factory=dict)  # the paired trivial rates
    note: str = ""


class _Burst:
    """One connected card measured in short bursts, alternating with its pair."""

    def __init__(self, card: pcsc.PcscCard) -> None:
        self.card = card
        self.count = 0
        self.elapsed = 0.0

    def run(self, apdus: Sequence[bytes], duration: float, expect: bytes = b"") -> float:
        """One burst; returns its rate."""
        tx = self.card.transmit
        n = 0
        start = time.perf_counter()
        while True:
            for a in apdus:
                r = tx(a)
                if expect and not r.startswith(expect):
                    raise RuntimeError(f"{a[:5].hex().upper()}.. -> {r[:4].hex().upper()}..")
            n += len(apdus)
            if time.perf_counter() - start >= duration:
                break
        elapsed = time.perf_counter() - start
        self.elapsed += elapsed
        self.count += n
        return n / elapsed

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


def _start(argv: list[str], env: dict[str, str], reader: str) -> subprocess.Popen[bytes]:
    from pcsc_stack import StackError, wait_for_card

    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_card(reader, timeout=20)
    except StackError as exc:
        err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
        _stop(proc, reader)
        raise StackError(f"{exc} {err}") from exc
    return proc


def _stop(proc: subprocess.Popen[bytes], reader: str) -> None:
    from lifetime import stop_process
    from pcsc_stack import StackError, wait_for_card

    stop_process(proc, timeout=5)
    if proc.stderr is not None:
        proc.stderr.close()
    with contextlib.suppress(StackError):  # a card that does not leave: next row reports it
        wait_for_card(reader, present=False, timeout=15)


def measure_pair(trivial: pcsc.PcscCard, row: StackRow, reader: str, image: CardImage,
                 seconds: float, auths: int, burst: float = 0.03) -> None:
    """The row's card in `reader`, measured in bursts alternating with the trivial card
    (which stays in the other reader), so that drift and noise hit both alike."""
    proc = _start(row.argv, row.env, reader)
    try:
        with pcsc.connect(reader) as card:
            if row.kind == "isim":
                isim_select(card.transmit, image)
            kinds: list[tuple[str, Sequence[bytes], Sequence[bytes]]] = (
                [("select", [SELECT_MF], [SELECT_MF])] if row.kind == "vicc" else
                [("select", [SELECT_IMPI], [SELECT_IMPI]), ("read", [READ_128], [READ_128])])
            for key, mine, theirs in kinds:
                a, b = _Burst(card), _Burst(trivial)
                a.run(mine, 0.05)  # warm up
                a.count = 0
                a.elapsed = 0.0
                ratios: list[float] = []
                while a.elapsed < seconds or b.elapsed < seconds:
                    ra = a.run(mine, burst, b"")
                    ratios.append(ra / b.run(theirs, burst, b""))
                # the median of the per-round ratios: robust to a stalled burst on either side
                row.rates[key] = a.rate
                row.trivial[key] = a.rate / statistics.median(ratios)
            if row.kind != "isim":
                return
            sqn = image.isim["state"]["sqn"]
            vectors = auth_apdus(image, int(sqn["sqn_ms"], 16), int(sqn.get("ind_bits", 5)),
                                 auths)
            a, b = _Burst(card), _Burst(trivial)
            step = 25
            ratios = []
            for i in range(0, len(vectors), step):
                chunk = vectors[i:i + step]
                ra = a.run(chunk, 0, b"\xdb\x08")
                ratios.append(ra / b.run(chunk, 0, b""))
                if a.elapsed >= seconds and b.elapsed >= seconds:
                    break
            row.rates["auth"] = a.rate
            row.trivial["auth"] = a.rate / statistics.median(ratios)
    finally:
        _stop(proc, reader)


def vicc_missing() -> str | None:
    if not VICC.exists() or not VICC_LIB.is_dir():
        return "python3-virtualsmartcard not installed"
    if importlib.util.find_spec("Crypto") is None:
        return "pycryptodome's Crypto module missing"
    return None


def full_stack(image_path: Path, image: CardImage, seconds: float, auths: int,
               workdir: Path) -> tuple[list[StackRow], str]:
    from pcsc_stack import StackError, pcsc_stack

    with pcsc_stack(activate=True) as stack:
        env = dict(stack.env, PYTHONPATH=os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        port = stack.slot_port(1)  # the measured card; the trivial one stays in slot 0
        isim = [sys.executable, "-m", "isim", "emulate", str(image_path), "--vpcd",
                f"127.0.0.1:{port}"]
        rows = [
            StackRow("isim emulate", isim, env, "isim"),
            StackRow("isim emulate --state", [*isim, "--state", str(workdir / "state.json")],
                     env, "isim"),
            StackRow("trivial responder, second process (noise check)",
                     [sys.executable, str(Path(__file__).resolve()), "--serve-trivial",
                      str(port)], env, "trivial"),
        ]
        missing = vicc_missing()
        if missing is None:
            rows.append(StackRow("Debian vicc (iso7816), SELECT MF P2=0C",
                                 [sys.executable, str(VICC), "-t", "iso7816", "-H",
                                  "127.0.0.1", "-P", str(port)],
                                 dict(stack.env, PYTHONPATH=str(VICC_LIB)), "vicc"))
        else:
            rows.append(StackRow("Debian vicc", [], {}, "vicc", note=missing))
        trivial_argv = [sys.executable, str(Path(__file__).resolve()), "--serve-trivial",
                        str(stack.slot_port(0))]
        trivial_proc = _start(trivial_argv, env, stack.readers[0])
        try:
            with pcsc.connect(stack.readers[0]) as trivial:
                for row in rows:
                    if not row.argv:
                        continue
                    try:
                        measure_pair(trivial, row, stack.readers[1], image, seconds, auths)
                    except (StackError, pcsc.ReaderError, RuntimeError) as exc:
                        row.note = str(exc).splitlines()[0]
        finally:
            _stop(trivial_proc, stack.readers[0])
        return rows, stack.kind


def _fmt(value: float | None, base: float | None) -> str:
    if value is None:
        return f"{'-':>9}          "
    ratio = f"{value / base:7.3f}x" if base else "        "
    return f"{value:9.0f} {ratio}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per measurement (default 2)")
    ap.add_argument("--auths", type=int, default=3000,
                    help="AUTHENTICATEs per full-stack row and with --state (default 3000)")
    ap.add_argument("--no-stack", action="store_true", help="in-process figures only")
    ap.add_argument("--serve-trivial", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_trivial:
        serve_trivial(args.serve_trivial)
        return 0
    image = build_image(load_profile(ALICE))
    print("In process (alice, ADF.ISIM selected)")
    for name, value, unit in in_process(image, args.seconds, args.auths):
        print(f"  {name:52} {value:10,.0f} {unit}")
    usim, isim = usim_vs_isim(image, args.seconds)
    print(f"  {'AUTHENTICATE on ADF.USIM (with Kc), CPU time':52} {usim:10,.0f} auth/s"
          f"  ({usim / isim:.2f}x the ISIM's {isim:,.0f}, interleaved)")
    if args.no_stack:
        return 0
    with tempfile.TemporaryDirectory(prefix="isim-bench-") as tmp:
        image_path = Path(tmp) / "alice.json"
        save_image(image_path, image)
        try:
            rows, kind = full_stack(image_path, image, args.seconds, args.auths, Path(tmp))
        except Exception as exc:  # StackError: no pcscd
            print(f"bench_card: full stack unavailable: {exc}", file=sys.stderr)
            return 3
    print(f"\nFull stack ({kind} pcscd; pyscard -> pcscd -> vpcd -> card process): per "
          "second, and ratio to the trivial responder (transport.vpcd subprocess) in the other "
          "reader: median of the ratios of alternating 30 ms bursts")
    print(f"  {'':48} {'SELECT':>18}  {'READ BINARY 128':>18}  {'AUTHENTICATE':>18}")
    for r in rows:
        cells = "  ".join(_fmt(r.rates.get(k), r.trivial.get(k))
                          for k in ("select", "read", "auth"))
        print(f"  {r.name:48} {cells}" + (f"  ({r.note})" if r.note else ""))
    vicc = next((r for r in rows if r.kind == "vicc" and r.rates), None)
    if vicc is not None:
        for r in rows:
            if r.kind == "isim" and "select" in r.rates:
                print(f"  {r.name}: SELECT {r.rates['select'] / vicc.rates['select']:,.0f}x "
                      "vicc's SELECT MF")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
