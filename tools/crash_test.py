#!/usr/bin/env python3
"""Crash test of `isim emulate --state`: SIGKILL at random moments, restart, check.

    tools/crash_test.py [--kills 50] [--jobs 2] [--seed 1] [--keep DIR]

The test plays vpcd itself (tools/emulator_proc.FakeVpcd: listens on a loopback port, the
real ``isim emulate IMAGE --state F --vpcd 127.0.0.1:PORT`` subprocess connects to it) so a
restart costs one process start, not a pcscd card detection.  Each cycle:

1. start the emulator on the same state file; read PIN1's counter through the card
   (VERIFY with no data: 63CX) and the state file; both must agree with the model: the
   state before the last command, or after it (after it when its response was received),
   so every acknowledged write is present and an acknowledged 63CX means counter <= X;
   the three identity EFs must keep the trust rule;
2. VERIFY ADM1, then a random stream of commands: valid UPDATE RECORD of EF.IMPU (by SFI),
   UPDATE BINARY of EF.GBABP (random chunks), wrong PIN1 presentations (decrement) and
   right ones (reset to 3); now and then a READ RECORD comparison through the card;
3. send one more command and SIGKILL the process after a random delay (before, during or
   after the persist-then-respond), noting whether its response arrived.

Prints kills, commands, violations (must be 0); exit status 1 on any violation.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from emulator_proc import EmulatorError, EmulatorProcess, FakeVpcd  # noqa: E402
from isim.card.emulator import image_identity_problems  # noqa: E402
from isim.card.image import CardImage, build_image, load_image, save_image  # noqa: E402
from isim.codecs import codec_for  # noqa: E402
from isim.profile.model import load_profile  # noqa: E402

ALICE = ROOT / "examples" / "alice.yaml"
PIN1 = b"1234\xff\xff\xff\xff"
WRONG_PIN1 = b"0000\xff\xff\xff\xff"
VERIFY_ADM1 = bytes.fromhex("0020000A08") + b"12345678"
SELECT_GBABP = bytes.fromhex("00A4000C026FD5")
IMPU_SFI_P2 = (4 << 3) | 4  # record number in P1, EF.IMPU by SFI 4
GOOD_IMPUS = ["sip:alice@ims.example.com", "tel:+15551234567", "sip:bob@ims.example.com",
              "sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org", "tel:+4930123456",
              "sip:carol@3gppnetwork.org"]


@dataclass(frozen=True)
class Model:
    """The persistent state the test tracks."""

    impu: tuple[bytes, ...]
    gbabp: bytes
    pin1_tries: int

    def describe(self) -> str:
        impus = [codec_for("EF.IMPU").decode_detailed(r).value for r in self.impu[:3]]
        return f"IMPU {impus}, GBABP {self.gbabp[:8].hex()}.., PIN1 tries {self.pin1_tries}"


def model_of(image: CardImage) -> Model:
    files: dict[str, object] = {}
    for adf in image.card["adfs"]:
        if adf["name"] != "ADF.ISIM":
            continue
        for f in adf["files"]:
            files[f["name"]] = f["content"]
    impu = files["EF.IMPU"]
    gbabp = files["EF.GBABP"]
    assert isinstance(impu, list) and isinstance(gbabp, str)
    return Model(impu=tuple(bytes.fromhex(r) for r in impu), gbabp=bytes.fromhex(gbabp),
                 pin1_tries=int(image.card["pins"]["01"].get("tries", 3)))


@dataclass
class Command:
    name: str
    apdu: bytes
    expect: bytes
    apply: Callable[[Model], Model]
    prelude: tuple[bytes, ...] = ()


def _impu_write(rng: random.Random, m: Model) -> Command:
    record = rng.randint(1, 3)
    if record > 1 and rng.random() < 0.25:
        data = b"\xff" * 128  # erase: allowed, record 1 always holds an IMPU
    else:  # not a duplicate of another record: the guard refuses those (issue 12 item 14)
        codec = codec_for("EF.IMPU")
        others = m.impu[:record - 1] + m.impu[record:]
        data = rng.choice([e for e in (codec.encode(v, 128) for v in GOOD_IMPUS)
                           if e not in others])

    def apply(m: Model) -> Model:
        impu = list(m.impu)
        impu[record - 1] = data
        return dataclasses.replace(m, impu=tuple(impu))

    return Command(f"UPDATE RECORD IMPU #{record}",
                   bytes([0x00, 0xDC, record, IMPU_SFI_P2, 128]) + data, b"\x90\x00", apply)


def _gbabp_write(rng: random.Random, m: Model) -> Command:
    size = len(m.gbabp)
    offset = rng.randrange(size)
    data = rng.randbytes(rng.randint(1, size - offset))

    def apply(m: Model) -> Model:
        body = bytearray(m.gbabp)
        body[offset:offset + len(data)] = data
        return dataclasses.replace(m, gbabp=bytes(body))

    return Command(f"UPDATE BINARY GBABP {offset}+{len(data)}",
                   bytes([0x00, 0xD6, offset >> 8, offset & 0xFF, len(data)]) + data,
                   b"\x90\x00", apply, prelude=(SELECT_GBABP,))


def _pin(rng: random.Random, m: Model) -> Command:
    if m.pin1_tries >= 2 and rng.random() < 0.75:
        left = m.pin1_tries - 1
        return Command("VERIFY PIN1 wrong", bytes.fromhex("0020000108") + WRONG_PIN1,
                       bytes([0x63, 0xC0 | left]),
                       lambda m: dataclasses.replace(m, pin1_tries=left))
    return Command("VERIFY PIN1 right", bytes.fromhex("0020000108") + PIN1, b"\x90\x00",
                   lambda m: dataclasses.replace(m, pin1_tries=3))


def next_command(rng: random.Random, m: Model, pin1_verified: bool) -> Command:
    """A random state-changing command. EF.GBABP is written by the ME: it needs PIN1."""
    r = rng.random()
    if r < 0.4:
        return _impu_write(rng, m)
    if r < 0.65 and pin1_verified:
        return _gbabp_write(rng, m)
    return _pin(rng, m)


@dataclass
class Stats:
    kills: int = 0
    commands: int = 0
    acknowledged_kills: int = 0  # the killed command's response arrived
    applied_unacked: int = 0  # no response, but the state was after the command
    lost_unacked: int = 0  # no response, state before the command
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def merge(self, other: Stats) -> None:
        with self.lock:
            self.kills += other.kills
            self.commands += other.commands
            self.acknowledged_kills += other.acknowledged_kills
            self.applied_unacked += other.applied_unacked
            self.lost_unacked += other.lost_unacked
            self.violations += other.violations


def alice_crash_image() -> CardImage:
    """alice with PIN1 enabled (so wrong presentations count down)."""
    return build_image(dataclasses.replace(load_profile(ALICE), pin1_enabled=True))


class Worker:
    """One state file, one FakeVpcd, one emulator process at a time."""

    def __init__(self, image_path: Path, state: Path, seed: int) -> None:
        self.image_path = image_path
        self.state = state
        self.rng = random.Random(seed)
        self.stats = Stats()
        image = load_image(image_path)
        self.aid = bytes.fromhex(image.isim["aid"])
        self.before = model_of(image)  # state before the last (unacknowledged) command
        self.after: Model | None = None  # state after it, when it was not acknowledged

    def violation(self, text: str) -> None:
        self.stats.violations.append(f"kill #{self.stats.kills}: {text}")

    def _ok(self, vpcd: FakeVpcd, capdu: bytes, expect: bytes = b"\x90\x00") -> bytes:
        r = vpcd.transmit(capdu)
        self.stats.commands += 1
        if r[-2:] != expect:
            self.violation(f"{capdu.hex().upper()} -> {r.hex().upper()}, "
                           f"expected SW {expect.hex().upper()}")
        return r

    def check_restart(self, vpcd: FakeVpcd) -> Model:
        """The state after a restart: before or after the unacknowledged command."""
        on_disk = load_image(self.state)
        problems = image_identity_problems(on_disk)
        if problems:
            self.violation(f"trust rule broken in the state file: {problems}")
        found = model_of(on_disk)
        counter = vpcd.transmit(bytes.fromhex("00200001"))  # PIN1 retry counter
        self.stats.commands += 1
        if counter != bytes([0x63, 0xC0 | found.pin1_tries]):
            self.violation(f"card says PIN1 {counter.hex().upper()}, state file says "
                           f"{found.pin1_tries} tries")
        allowed = [self.before] + ([self.after] if self.after is not None else [])
        if found == self.before:
            if self.after is not None and self.after != self.before:
                self.stats.lost_unacked += 1
        elif self.after is not None and found == self.after:
            self.stats.applied_unacked += 1
        else:
            self.violation("state after restart is neither before nor after the last "
                           f"command:\n  found   {found.describe()}\n  allowed "
                           + "\n          ".join(m.describe() for m in allowed))
        self.before, self.after = found, None
        return found

    def cycle(self, vpcd: FakeVpcd) -> None:
        proc = EmulatorProcess(self.image_path, vpcd_port=vpcd.port, state=self.state)
        try:
            proc.start()
            vpcd.accept(proc)
            model = self.check_restart(vpcd)
            self._ok(vpcd, bytes([0x00, 0xA4, 0x04, 0x0C, len(self.aid)]) + self.aid)
            self._ok(vpcd, VERIFY_ADM1)
            verified = False  # PIN1 (a wrong presentation clears it)
            for _ in range(self.rng.choice((0, 1, 3, 8, 20))):
                cmd = next_command(self.rng, model, verified)
                for pre in cmd.prelude:
                    self._ok(vpcd, pre)
                if self._ok(vpcd, cmd.apdu, cmd.expect)[-2:] != cmd.expect:
                    self.before = model_of(load_image(self.state))  # resynchronise
                    return
                model = cmd.apply(model)
                verified = cmd.name == "VERIFY PIN1 right" or (
                    verified and not cmd.name.startswith("VERIFY"))
                if cmd.name == "VERIFY PIN1 right" and self.rng.random() < 0.3:
                    # compare the card's view with the model (reads need PIN1)
                    for n in (1, 2, 3):
                        r = self._ok(vpcd, bytes([0, 0xB2, n, IMPU_SFI_P2, 128]))
                        if r[:-2] != model.impu[n - 1]:
                            self.violation(f"IMPU #{n} reads {r[:-2][:20].hex()}.., model "
                                           f"{model.impu[n - 1][:20].hex()}..")
            # the command that the kill hits
            cmd = next_command(self.rng, model, verified)
            for pre in cmd.prelude:
                self._ok(vpcd, pre)
            self.before = model
            vpcd.send_only(cmd.apdu)
            self.stats.commands += 1
            delay = self.rng.choice((0.0, self.rng.uniform(0, 0.004), self.rng.uniform(0, 0.02)))
            if delay:
                time.sleep(delay)
            proc.kill()
            self.stats.kills += 1
            try:
                assert vpcd.sock is not None
                vpcd.sock.settimeout(0.5)
                response = vpcd.recv_response()
            except (OSError, ConnectionError):
                response = None
            if response is not None:
                self.stats.acknowledged_kills += 1
                if response[-2:] != cmd.expect:
                    self.violation(f"{cmd.name} -> {response.hex().upper()}")
                self.before = cmd.apply(model)  # acknowledged: it must be on disk
            else:
                self.after = cmd.apply(model)
        finally:
            proc.close()
            vpcd.disconnect()

    def run(self, kills: int) -> Stats:
        with FakeVpcd() as vpcd:
            while self.stats.kills < kills:
                self.cycle(vpcd)
            # a final restart checks the state left by the last kill
            proc = EmulatorProcess(self.image_path, vpcd_port=vpcd.port, state=self.state)
            try:
                proc.start()
                vpcd.accept(proc)
                self.check_restart(vpcd)
            finally:
                proc.close()
        return self.stats


def run(kills: int, *, jobs: int = 2, seed: int = 1, workdir: Path) -> Stats:
    """`kills` SIGKILLs spread over `jobs` parallel emulators (one state file each)."""
    image_path = workdir / "alice-pin1.json"
    save_image(image_path, alice_crash_image())
    total = Stats()
    errors: list[BaseException] = []
    share = [kills // jobs + (1 if i < kills % jobs else 0) for i in range(jobs)]

    def work(i: int) -> None:
        try:
            w = Worker(image_path, workdir / f"state-{i}.json", seed * 1000 + i)
            total.merge(w.run(share[i]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(jobs) if share[i]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return total


def leftover_temp_files(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.glob(".*.tmp-*"))


def summary(stats: Stats, elapsed: float) -> str:
    return (f"kills: {stats.kills}, commands: {stats.commands}, violations: "
            f"{len(stats.violations)} ({elapsed:.1f} s)\n"
            f"  killed command acknowledged: {stats.acknowledged_kills}, unacknowledged and "
            f"applied: {stats.applied_unacked}, unacknowledged and lost: {stats.lost_unacked}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=2, help="emulators killed in parallel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = ap.parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="isim-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        stats = run(args.kills, jobs=args.jobs, seed=args.seed, workdir=workdir)
    except EmulatorError as exc:
        print(f"crash_test: {exc}", file=sys.stderr)
        return 2
    finally:
        leftovers = leftover_temp_files(workdir)
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary(stats, time.perf_counter() - start))
    if leftovers:
        print(f"  note: {len(leftovers)} temporary state file(s) left by killed processes")
    for v in stats.violations[:20]:
        print(f"[violation] {v}")
    return 1 if stats.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
