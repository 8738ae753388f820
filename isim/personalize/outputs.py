"""The output directory: built in a hidden sibling, renamed into place only when complete.

For `--out DIR` a run writes into `.DIR.partial-<pid>` (same parent, so the same file system)
and holds an exclusive `flock` on the sibling file `.DIR.partial-<pid>.lock` for as long as it
runs. At the end: everything is flushed (`os.sync`), the partial directory is renamed to DIR
in one `rename(2)` and the parent directory is fsynced. So DIR either does not exist or is
complete.

* SIGINT / SIGTERM / any error: the partial directory is removed before the process exits.
* SIGKILL or a power cut: only the hidden partial directory (and its lock file) can remain.
  Its lock is no longer held, so the next run for the same DIR, or `isim personalize --clean
  --out DIR`, recognises it as stale and removes it. A partial directory whose lock is still
  held belongs to a live run and is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path
from types import TracebackType

from isim.errors import InputError
from isim.fileio import SECRET_MODE, create_exclusive, fsync_dir, write_all

__all__ = ["Staging", "remove_stale_partials", "write_new_file"]

PUBLIC_MODE = 0o644


def _partial_re(out: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(out.name)}\.partial-\d+(\.lock)?$")


def _lock_free(lock: Path) -> bool:
    """True when nobody holds the lock file (its run is gone)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases a lock we may have taken
    return True


def remove_stale_partials(out: Path) -> list[Path]:
    """Remove what killed runs left for `out`; returns the paths removed."""
    out = Path(out).absolute()
    parent = out.parent
    if not parent.is_dir():
        return []
    pattern = _partial_re(out)
    removed: list[Path] = []
    for entry in sorted(parent.iterdir()):
        if not pattern.match(entry.name) or entry.name.endswith(".lock"):
            continue
        lock = entry.with_name(entry.name + ".lock")
        if _lock_free(lock):
            shutil.rmtree(entry, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            removed.append(entry)
    for entry in sorted(parent.iterdir()):  # lock files whose directory is gone
        if pattern.match(entry.name) and entry.name.endswith(".lock"):
            partial = entry.with_name(entry.name.removesuffix(".lock"))
            if not partial.exists() and _lock_free(entry):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                removed.append(entry)
    return removed


def write_new_file(path: Path, data: bytes, mode: int = SECRET_MODE) -> None:
    """Create `path` (must not exist) with `mode`; no fsync (the staging commit syncs)."""
    fd = create_exclusive(path, mode)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


class Staging:
    """Context manager around the partial directory of one run."""

    def __init__(self, out: str | Path, subdirs: tuple[str, ...] = ()) -> None:
        self.out = Path(out).absolute()
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise InputError("output exists and is not an empty directory", source=str(out))
        if not self.out.parent.is_dir():
            raise InputError("parent directory does not exist", source=str(out))
        self.path = self.out.with_name(f".{self.out.name}.partial-{os.getpid()}")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.subdirs = subdirs
        self._lock_fd: int | None = None
        self.committed = False

    def __enter__(self) -> Staging:
        remove_stale_partials(self.out)
        while True:  # a cleaner may unlink the lock file between open and flock: retry
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, SECRET_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        self._lock_fd = fd
        os.mkdir(self.path, 0o700)
        for sub in self.subdirs:
            os.mkdir(self.path / sub, 0o700)
        return self

    def commit(self) -> Path:
        """Flush everything and rename the partial directory to the final one."""
        os.sync()
        if self.out.exists() and any(self.out.iterdir()):
            raise InputError("output appeared during the run", source=str(self.out))
        os.rename(self.path, self.out)
        fsync_dir(self.out.parent)
        self.committed = True
        return self.out

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
