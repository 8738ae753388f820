#!/usr/bin/env python3
"""Full-stack round trips per second: pyscard -> pcscd -> vpcd -> card, one run.

    tools/bench_stack.py [--seconds 2] [--card module:factory] [--apdu HEX]
    tools/bench_stack.py --vs-minimal [--before GIT_REF] [--seconds 4] [--burst 200]

``--vs-minimal``: the driver loop against the stack's limit. A MINIMAL vpcd responder (a
plain socket loop, TCP_NODELAY, TCP_QUICKACK re-armed, 9000 or READ BINARY data, none of our
code) sits in one reader of a pcscd, `isim emulate` (the real CLI, the example card) in the
other; READ BINARY goes to both in alternating bursts, so that both see the same machine
load. The figure is the emulator's rate over the minimal responder's. ``--before GIT_REF``
adds the same pair with `isim emulate` of that commit (extracted with git archive), so that
before and after are measured in one run.

Rows: the trivial responder (tools/responders.py TrivialCard: the stack's own limit), the same
behind a naive socket (no TCP_NODELAY / TCP_QUICKACK: Debian's vpcd then stalls on delayed
ACKs), the card made by ``--card`` (a zero-argument callable returning an
transport.vpcd.VirtualCard, e.g. the isim engine), and Debian's vicc when installed
(python3-virtualsmartcard; needs pycryptodome's ``Crypto`` in this Python).  Every card
runs in its own process, as `isim emulate` would.  Starts a private pcscd
(tools/pcsc_stack.py), so run it as root.  Figures are also given as ratios to the trivial
responder.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from lifetime import stop_process  # noqa: E402
from pcsc_stack import PcscStack, StackError, pcsc_stack, wait_for_card  # noqa: E402
from transport import pcsc, vpcd  # noqa: E402

VICC = Path("/usr/bin/vicc")
VICC_LIB = Path("/usr/lib/python3/site-packages/virtualsmartcard")
SELECT_MF_NO_FCP = "00A4000C023F00"  # vicc crashes on SELECT with P2=04


def load_factory(spec: str) -> Callable[[], vpcd.VirtualCard]:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise SystemExit(f"--card wants module:factory, got {spec!r}")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise SystemExit(f"{spec} is not callable")
    return obj  # type: ignore[return-value]


def serve(factory: str, port: int, naive: bool) -> None:
    """Child process: serve one card to vpcd until killed."""
    if naive:  # what a plain socket loop does: no NODELAY, no QUICKACK re-arming
        vpcd._TCP_QUICKACK = None
        vpcd._tune = lambda sock: None
    card = load_factory(factory)()
    vpcd.VpcdTransport(card, port=port).serve_forever()


@dataclass
class Result:
    name: str
    rate: float | None
    note: str = ""


def measure(stack: PcscStack, argv: list[str], env: dict[str, str], apdu: bytes,
            seconds: float) -> float:
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_for_card(stack.reader_name, timeout=15)
        except StackError as exc:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            raise StackError(f"{exc}\n{err}") from exc
        with pcsc.connect(stack.reader_name) as card:
            first = card.transmit(apdu)
            if first[-2:] != b"\x90\x00":
                raise StackError(f"the card answered {first.hex().upper()} to "
                                 f"{apdu.hex().upper()}")
            for _ in range(20):
                card.transmit(apdu)
            count = 0
            start = time.perf_counter()
            deadline = start + seconds
            while True:
                card.transmit(apdu)
                count += 1
                if count % 16 == 0 and time.perf_counter() >= deadline:
                    break
            return count / (time.perf_counter() - start)
    finally:
        stop_process(proc, timeout=5)
        wait_for_card(stack.reader_name, present=False, timeout=15)


READ_IMPI = bytes.fromhex("00B0000010")  # 16 bytes of EF.IMPI (after the SELECTs below)
PREPARE = ("00A4040C10A0000000871004FFFFFFFF8907090000", "00A4000C026F02")


def minimal_responder(port: int) -> None:
    """Child process: the least a vpcd card can do, with none of our code."""
    atr = bytes.fromhex("3B9C96801F878031E073FE211F546973696DBA")
    quickack = getattr(socket, "TCP_QUICKACK", None)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        data = sock.recv(65538)
        if not data:
            return
        if quickack is not None:
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        buf += data
        while len(buf) >= 2:
            size = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + size:
                break
            msg, buf = buf[2 : 2 + size], buf[2 + size :]
            if size == 1:
                if msg == b"\x04":
                    sock.sendall(len(atr).to_bytes(2, "big") + atr)
                continue
            reply = bytes(msg[4]) + b"\x90\x00" if msg[1] == 0xB0 and size == 5 else b"\x90\x00"
            sock.sendall(len(reply).to_bytes(2, "big") + reply)


def _emulator_argv(port: int, image: Path) -> list[str]:
    return [sys.executable, "-m", "isim", "emulate", str(image), "--vpcd", f"127.0.0.1:{port}"]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alternate(cards: list[pcsc.PcscCard], seconds: float, burst: int) -> tuple[float, ...]:
    """Bursts of READ BINARY to each card in turn, for ``seconds`` per card: the rate of each
    card, and the median over the rounds of card 1's burst time over card 0's (adjacent
    bursts see the same machine load; the median drops rounds another process disturbed)."""
    spent = [0.0] * len(cards)
    ratios: list[float] = []
    rounds = 0
    deadline = time.perf_counter() + seconds * len(cards)
    while time.perf_counter() < deadline:
        times = []
        for i, card in enumerate(cards):
            transmit = card.transmit
            start = time.perf_counter()
            for _ in range(burst):
                transmit(READ_IMPI)
            times.append(time.perf_counter() - start)
            spent[i] += times[-1]
        ratios.append(times[0] / times[1])
        rounds += 1
    return (*(rounds * burst / t for t in spent), statistics.median(ratios), rounds * burst)


def _extract(ref: str, into: Path) -> Path:
    tree = into / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _pair(stack: PcscStack, tree: Path, image: Path, swap: bool, seconds: float,
          burst: int) -> tuple[float, ...]:
    """The minimal responder and `isim emulate` of ``tree``, one reader each (swapped when
    ``swap``): minimal rate, emulator rate, median ratio, CPU us per APDU of each."""
    ports = [stack.slot_port(1), stack.slot_port(0)] if swap else [stack.slot_port(0),
                                                                    stack.slot_port(1)]
    env = dict(stack.env, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    minimal = [sys.executable, str(Path(__file__).resolve()), "--minimal", "--port",
               str(ports[0])]
    procs = [subprocess.Popen(minimal, env=env, stdin=subprocess.DEVNULL),
             subprocess.Popen(_emulator_argv(ports[1], image), env=env, cwd=tree,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    readers = list(reversed(stack.readers)) if swap else list(stack.readers)
    try:
        for reader in readers:
            wait_for_card(reader, timeout=15)
        cards = [pcsc.connect(r) for r in readers]
        try:
            for card in cards:
                for capdu in PREPARE:
                    card.transmit(bytes.fromhex(capdu))
                if card.transmit(READ_IMPI)[-2:] != b"\x90\x00":
                    raise StackError(f"{card.reader}: READ BINARY refused")
            _alternate(cards, 0.3, burst)  # warm-up
            cpu0 = [_cpu_seconds(p.pid) for p in procs]
            rate_min, rate_emu, ratio, count = _alternate(cards, seconds, burst)
            cpu = [(_cpu_seconds(p.pid) - c) / count * 1e6 for p, c in zip(procs, cpu0,
                                                                            strict=True)]
        finally:
            for card in cards:
                card.disconnect()
    finally:
        for proc in procs:
            stop_process(proc, timeout=5)
        for reader in readers:
            wait_for_card(reader, present=False, timeout=15)
    return rate_min, rate_emu, ratio, cpu[0], cpu[1]


def vs_minimal(seconds: float, burst: int, before: str | None, repeats: int) -> int:
    from isim.card.image import build_image, save_image
    from isim.profile.model import load_profile

    with tempfile.TemporaryDirectory() as tmp, pcsc_stack(activate=True) as stack:
        image = Path(tmp) / "alice.img"
        save_image(image, build_image(load_profile(ROOT / "examples" / "alice.yaml")))
        trees = [("after (this tree)", ROOT)]
        if before:
            trees.append((f"before ({before})", _extract(before, Path(tmp))))
        results: dict[str, list[tuple[float, ...]]] = {n: [] for n, _ in trees}
        for rep in range(repeats):  # before and after take turns, readers swap each time
            for name, tree in trees:
                results[name].append(_pair(stack, tree, image, rep % 2 == 1, seconds, burst))
    print(f"READ BINARY {READ_IMPI.hex().upper()}, alternating bursts of {burst}, "
          f"{seconds:g} s per card and pair, {repeats} pairs per row (readers swapped every "
          f"other pair), {stack.kind} pcscd")
    print("  ratio = emulator rate / minimal rate: median of the pairs (each: median of its")
    print("  rounds); cpu = the card process's CPU time per APDU (/proc, load-independent)")
    for name, pairs in results.items():
        rate_min = statistics.median(p[0] for p in pairs)
        rate_emu = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[2] for p in pairs)
        each = " ".join(f"{p[2]:.2f}" for p in pairs)
        cpu_min = statistics.median(p[3] for p in pairs)
        cpu_emu = statistics.median(p[4] for p in pairs)
        print(f"  {name:24} emulator {rate_emu:6.0f} APDU/s ({1e6 / rate_emu:5.0f} us, cpu "
              f"{cpu_emu:5.1f} us)  minimal {rate_min:6.0f} APDU/s ({1e6 / rate_min:5.0f} us, "
              f"cpu {cpu_min:5.1f} us)  ratio {ratio:.3f}x (pairs: {each})")
    return 0


def vicc_available() -> str | None:
    if not VICC.exists() or not VICC_LIB.is_dir():
        return "python3-virtualsmartcard not installed"
    if importlib.util.find_spec("Crypto") is None:
        return "pycryptodome's Crypto module missing (pip install pycryptodome)"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per row (default 2)")
    parser.add_argument("--card", help="module:factory of the card to compare")
    parser.add_argument("--apdu", default=SELECT_MF_NO_FCP,
                        help="C-APDU to repeat, hex (default %(default)s)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive row")
    parser.add_argument("--vs-minimal", action="store_true",
                        help="the emulator against a minimal vpcd responder (see above)")
    parser.add_argument("--before", metavar="GIT_REF",
                        help="with --vs-minimal: also measure isim emulate of this commit")
    parser.add_argument("--repeats", type=int, default=4,
                        help="pairs per row (--vs-minimal)")
    parser.add_argument("--burst", type=int, default=50, help="APDUs per burst (--vs-minimal)")
    parser.add_argument("--minimal", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.minimal:
        minimal_responder(args.port)
        return 0
    if args.serve:
        serve(args.serve, args.port, args.naive)
        return 0
    if args.vs_minimal:
        try:
            return vs_minimal(args.seconds, args.burst, args.before, args.repeats)
        except StackError as exc:
            print(f"bench_stack: {exc}", file=sys.stderr)
            return 3
    apdu = bytes.fromhex(args.apdu)
    rows: list[tuple[str, list[str], dict[str, str]]] = []
    try:
        with pcsc_stack(activate=True) as stack:
            env = dict(stack.env, PYTHONPATH=os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
            me = [sys.executable, str(Path(__file__).resolve()), "--port",
                  str(stack.vpcd_port), "--serve"]
            rows.append(("trivial responder (transport.vpcd)",
                         [*me, "responders:TrivialCard"], env))
            if not args.no_naive:
                rows.append(("trivial, naive socket (no NODELAY/QUICKACK)",
                             [*me, "responders:TrivialCard", "--naive"], env))
            if args.card:
                rows.append((f"--card {args.card}", [*me, args.card], env))
            rows.append(("trivial responder again (noise check)", rows[0][1], env))
            missing = vicc_available()
            if missing is None:
                vicc_env = dict(stack.env, PYTHONPATH=str(VICC_LIB))
                rows.append(("Debian vicc (iso7816)",
                             [sys.executable, str(VICC), "-t", "iso7816", "-H", "127.0.0.1",
                              "-P", str(stack.vpcd_port)], vicc_env))
            results: list[Result] = []
            for name, cmd, cmd_env in rows:
                try:
                    results.append(Result(name, measure(stack, cmd, cmd_env, apdu,
                                                        args.seconds)))
                except (StackError, pcsc.ReaderError) as exc:
                    results.append(Result(name, None, str(exc).splitlines()[0]))
            if missing is not None:
                results.append(Result("Debian vicc (iso7816)", None, missing))
    except StackError as exc:
        print(f"bench_stack: {exc}", file=sys.stderr)
        return 3
    print(f"C-APDU {apdu.hex().upper()}, {args.seconds:g} s per row, {stack.kind} pcscd")
    trivial = [r.rate for r in results if r.name.startswith("trivial responder") and r.rate]
    base = sum(trivial) / len(trivial) if trivial else None
    print(f"  ratios relative to the mean trivial rate, {base or 0:.0f} APDU/s")
    for r in results:
        if r.rate is None:
            print(f"  {r.name:48} {'-':>9}           ({r.note})")
        else:
            ratio = f"{r.rate / base:8.3f}x" if base else ""
            print(f"  {r.name:48} {r.rate:9.0f} APDU/s {ratio}  {1e6 / r.rate:8.0f} us/APDU")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main(sys.argv[1:]))
