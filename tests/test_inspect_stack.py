"""`isim inspect --reader N` end to end: `isim build`, `isim emulate` behind pcscd + vpcd (the
session stack of tests/conftest.py), then `isim inspect` as a subprocess in the stack's
environment. Real processes, no mocks."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broken_images import ALICE, BAD_IMPU, BROKEN, ROOT, write
from isim.card.image import load_image
from isim.cli import EXIT_OK, EXIT_VIOLATION
from lifetime import stop_process
from pcsc_stack import PcscStack, StackError, wait_for_card
from transport import pcsc

pytestmark = pytest.mark.stack

UNSAFE = "--unsafe-load-rule-breaking-image-for-validator-tests"


def _env(stack: PcscStack) -> dict[str, str]:
    env = dict(stack.env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def isim(stack: PcscStack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "isim", *args], env=_env(stack),
                          capture_output=True, text=True, timeout=timeout, check=False)


@contextlib.contextmanager
def emulated(stack: PcscStack, image: Path, *extra: str) -> Iterator[int]:
    """`isim emulate IMAGE` in the stack's reader; yields the reader's index."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "isim", "emulate", str(image),
         "--vpcd", f"127.0.0.1:{stack.vpcd_port}", *extra],
        env=_env(stack), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        try:
            wait_for_card(stack.reader_name, timeout=20)
        except StackError:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"isim emulate did not insert the card:\n{err}\n{stack.log_tail()}")
        yield pcsc.list_readers().index(stack.reader_name)
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        wait_for_card(stack.reader_name, present=False, timeout=20)


@pytest.fixture(scope="module")
def alice_image(tmp_path_factory: pytest.TempPathFactory, pcsc_stack: PcscStack) -> Path:
    path = tmp_path_factory.mktemp("inspect") / "alice.json"
    built = isim(pcsc_stack, "build", str(ALICE), "-o", str(path))
    assert built.returncode == 0, built.stderr
    return path


def trust_args(image: Path) -> list[str]:
    return [a for d in load_image(image).isim["trust_domains"] for a in ("--trust-domain", d)]


def test_example_card_passes_through_a_reader(pcsc_stack: PcscStack, alice_image: Path) -> None:
    with emulated(pcsc_stack, alice_image) as index:
        done = isim(pcsc_stack, "inspect", "--reader", str(index), *trust_args(alice_image),
                    "--strict", "--json")
        table = isim(pcsc_stack, "inspect", "--reader", str(index), *trust_args(alice_image))
        no_domains = isim(pcsc_stack, "inspect", "--reader", str(index), "--json")
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["findings"] == []
    assert out["source"] == f"reader {pcsc_stack.reader_name}"
    assert out["atr"] and out["applications"] and len(out["files"]) >= 6
    assert table.returncode == EXIT_OK and "PASS" in table.stdout, table.stdout + table.stderr
    # a card does not store its trust domains: without --trust-domain the rule is not checked
    assert no_domains.returncode == EXIT_VIOLATION
    assert [f["check"] for f in json.loads(no_domains.stdout)["findings"]] == ["rule"]


def test_rule_breaking_card_through_a_reader(pcsc_stack: PcscStack, alice_image: Path,
                                             tmp_path: Path) -> None:
    build, expected = BROKEN["impu_rule_violation"]
    bad = write(build(load_image(alice_image)), tmp_path / "bad.json")
    refused = isim(pcsc_stack, "emulate", str(bad), "--vpcd", "127.0.0.1:1")
    assert refused.returncode == EXIT_VIOLATION, refused.stderr  # not without the option
    with emulated(pcsc_stack, bad, UNSAFE) as index:
        done = isim(pcsc_stack, "inspect", "--reader", str(index), *trust_args(alice_image),
                    "--json")
    assert done.returncode == EXIT_VIOLATION, done.stdout + done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert [(f["level"], f["check"], f["file"], f["record"]) for f in findings] == [
        (expected.level, expected.check, expected.file, expected.record)]
    assert BAD_IMPU in findings[0]["message"]


def test_no_card_in_the_reader_exits_2(pcsc_stack: PcscStack) -> None:
    index = pcsc.list_readers().index(pcsc_stack.reader_name)
    done = isim(pcsc_stack, "inspect", "--reader", str(index))
    assert done.returncode == 2
    assert "cannot read the card" in done.stderr and "Traceback" not in done.stderr
    missing = isim(pcsc_stack, "inspect", "--reader", "99", "--json")
    assert missing.returncode == 2 and "no reader number 99" in json.loads(missing.stdout)["error"]


def test_trust_check_reads_a_card_in_a_reader(pcsc_stack: PcscStack, alice_image: Path) -> None:
    from isim.cli.trust_check import read_card

    domains = load_image(alice_image).isim["trust_domains"]
    with emulated(pcsc_stack, alice_image) as index:
        view = read_card(f"reader:{index}", domains)
    assert view.home_domain.endswith("3gppnetwork.org")
    assert view.pcscf[0] == "pcscf.ims.example.com"
    assert view.trust_domains == domains
