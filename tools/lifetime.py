"""Children that die with the test run: `dies_with_parent(argv)` prefixes `setpriv
--pdeathsig KILL` (util-linux), so the kernel kills the child when the thread that started it
ends, even when that thread's process is SIGKILLed (a CI timeout, a killed pytest) and had no
chance to clean up. `setpriv` execs the command, so the pid is the command's own.

Start such children from a thread that lives as long as they should (pytest's main thread,
a tool's main thread): the signal follows the starting thread, not the process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from typing import Any

__all__ = ["dies_with_parent", "kill_process", "stop_process"]


def _setpriv() -> str:
    path = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")
    if path is None:
        raise RuntimeError("setpriv not found: install Debian's util-linux (tools/setup-system)")
    return path


def dies_with_parent(argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGKILL when the starting thread ends."""
    return [_setpriv(), "--pdeathsig", "KILL", *argv]


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def kill_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGKILL now (a crash, or the end of a test that did not stop it), then reap it."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
