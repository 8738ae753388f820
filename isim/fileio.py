"""Crash-safe file writing: what is on disk is the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path

SECRET_MODE = 0o600


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = SECRET_MODE) -> None:
    """Write `data` to `path` atomically: temp file in the same directory, fsync, rename,
    fsync of the directory. The file is created with `mode` (0600 by default: card images and
    state files hold keys)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    tmp = directory / f".{path.name}.tmp-{os.getpid()}"  # see remove_stale_temps
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we asked for
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files of `atomic_write(path)` that a process killed in the middle of
    a write left behind: they may hold keys and would pile up, one per crash. Files of a
    process still alive are left alone."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        pid = tmp.name.rpartition("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive (or the PID was reused): not ours to delete
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()
