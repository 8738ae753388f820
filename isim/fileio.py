"""Crash-safe file writing: what is on disk is the old content or the new, never a mix.

Every file this package creates is created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`):
a name planted in advance (a symbolic link to another file, a file of another user) makes the
creation fail instead of writing through it. Temp names carry a random part, so they cannot
be planted in advance either (docs/security.md).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import stat
from pathlib import Path

from isim.errors import InputError

__all__ = [
    "SECRET_MODE",
    "SymlinkRefused",
    "atomic_write",
    "create_exclusive",
    "fsync_dir",
    "read_bounded",
    "remove_stale_temps",
    "write_all",
]

SECRET_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class SymlinkRefused(InputError):
    """A path to write (or a state file to use) that is a symbolic link."""


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_exclusive(path: Path, mode: int = SECRET_MODE) -> int:
    """A new file at `path`, open for writing, with exactly `mode` (whatever the umask).
    Fails (FileExistsError) when anything is there already, a symbolic link included."""
    fd = os.open(path, _CREATE, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we asked for
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _temp_name(path: Path) -> str:
    # pid: see remove_stale_temps; the random part: nobody can plant the name in advance
    return f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(8)}"


def atomic_write(path: Path, data: bytes, mode: int = SECRET_MODE, *,
                 follow_symlink: bool = False) -> None:
    """Write `data` to `path` atomically: an exclusively created temp file in the same
    directory, fsync, rename, fsync of the directory. The file is created with `mode` (0600
    by default: card images and state files hold keys).

    A `path` that is a symbolic link is refused (`SymlinkRefused`) unless `follow_symlink`:
    then the link's target is replaced and the link stays."""
    path = Path(path)
    if path.is_symlink():
        if not follow_symlink:
            raise SymlinkRefused("is a symbolic link; refusing to write through it",
                                 source=str(path))
        path = Path(os.path.realpath(path))
    directory = path.parent if str(path.parent) else Path(".")
    while True:
        tmp = directory / _temp_name(path)
        try:
            fd = create_exclusive(tmp, mode)
            break
        except FileExistsError:  # 64 random bits taken: someone plants names; draw again
            continue
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)


def read_bounded(path: Path, limit: int, *, what: str = "file",
                 follow_symlink: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. A device (`/dev/zero`), a FIFO
    or a larger file raises `InputError` instead of reading without end; a symbolic link
    raises `SymlinkRefused` unless `follow_symlink`."""
    source = str(path)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow_symlink else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_symlink and Path(path).is_symlink():
            raise SymlinkRefused(f"{what} is a symbolic link", source=source) from None
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", source=source) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{what} is not a regular file", source=source)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise InputError(f"{what} is larger than {limit} bytes", source=source)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", source=source) from None
    finally:
        os.close(fd)


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files of `atomic_write(path)` that a process killed in the middle of
    a write left behind: they may hold keys and would pile up, one per crash. Files of a
    process still alive are left alone."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        pid = tmp.name.rpartition(".tmp-")[2].partition("-")[0]
        if not (pid.isascii() and pid.isdecimal() and len(pid) < 12):
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
