"""The personalizer's worker processes start safely from a process with threads: forked
only while the process has a single thread (the CLI), spawned otherwise (a test process, a
library caller), since a fork copies locks that other threads hold, and the child hangs."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator_proc import ROOT
from isim.cli import main
from isim.personalize.work import start_method

BATCH = ROOT / "examples" / "batch"


@pytest.fixture
def other_thread() -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="other")
    thread.start()
    yield thread
    stop.set()
    thread.join()


def test_a_single_threaded_process_forks() -> None:
    code = "from isim.personalize.work import start_method; print(start_method())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "fork"), done.stderr


def test_a_process_with_threads_spawns(other_thread: threading.Thread) -> None:
    assert other_thread.is_alive()
    assert start_method() == "spawn"


def test_jobs_in_a_process_with_threads(other_thread: threading.Thread, tmp_path: Path) -> None:
    """The spawned workers get the template by pickle and write every card."""
    outs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        run = CliRunner().invoke(main, ["personalize", str(BATCH / "batch.csv"), "--template",
                                        str(BATCH / "template.yaml"), "--out", str(out),
                                        "--jobs", str(jobs)])
        assert run.exit_code == 0, run.output
        outs[jobs] = sorted(p.name for p in (out / "images").iterdir())
    assert outs[2] == outs[1] and len(outs[1]) == 3
