"""SQN_HE per subscriber, kept in SQLite (the AuC's side of TS 33.102 Annex C).

Each call that hands out or changes an SQN is one committed transaction (`BEGIN IMMEDIATE`
... `COMMIT`, WAL journal, `synchronous = FULL`) that finishes before the caller may use the
value: a gateway killed at any moment and restarted never hands out an SQN twice.

The database holds IMSIs and SQNs only (no key); it is still created mode 0600, exclusively
(O_CREAT | O_EXCL | O_NOFOLLOW), and an existing database must be a regular file, not a
symlink.

Table `sqn_he(imsi TEXT PRIMARY KEY, sqn INTEGER)`: the last SQN handed out (or set by a
resynchronisation). A subscriber not yet in it starts from the SQN its source gives (the
card's initial SQN_MS).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from isim.aka.sqn import SQN_MAX, SqnConfig, next_sqn
from isim.errors import InputError
from isim.fileio import SECRET_MODE, create_exclusive

__all__ = ["SqnStore", "resync_target"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sqn_he ("
    " imsi TEXT PRIMARY KEY NOT NULL,"
    f" sqn INTEGER NOT NULL CHECK (sqn BETWEEN 0 AND {SQN_MAX}))"
)


def resync_target(sqn_he: int, sqn_ms: int, config: SqnConfig) -> int:
    """SQN_HE after a resynchronisation (TS 33.102 6.3.5): kept when the next SQN it would
    generate is acceptable to the USIM whose highest accepted SQN is `sqn_ms` (its SEQ above
    SEQ_MS, by at most delta: Annex C.2.2), else reset to SQN_MS."""
    shift = config.ind_bits
    seq_next = next_sqn(sqn_he, shift) >> shift if sqn_he >> shift < SQN_MAX >> shift else -1
    seq_ms = sqn_ms >> shift
    if seq_ms < seq_next and seq_next - seq_ms <= config.delta:
        return sqn_he
    return sqn_ms


class SqnStore:
    """The SQLite database of SQN_HE values; not shared between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _create_or_check(self.path)
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True,
                                       isolation_level=None, timeout=5.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise InputError(f"cannot use the SQN database: {exc}", source=str(path)) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqnStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def current(self, imsi: str) -> int | None:
        """The stored SQN_HE of `imsi`, None when it has none yet."""
        row = self._db.execute("SELECT sqn FROM sqn_he WHERE imsi = ?", (imsi,)).fetchone()
        return None if row is None else int(row[0])

    def take_next(self, imsi: str, initial: int, ind_bits: int) -> int:
        """The SQN of a new vector (SEQ + 1, IND kept: `isim.aka.sqn.next_sqn`), committed
        before it is returned. ValueError when the SQN space is exhausted."""
        return self._update(imsi, initial, lambda last: next_sqn(last, ind_bits))

    def resync(self, imsi: str, initial: int, sqn_ms: int, config: SqnConfig) -> int:
        """Apply a verified SQN_MS (from an AUTS); returns the SQN_HE now stored."""
        return self._update(imsi, initial, lambda last: resync_target(last, sqn_ms, config))

    def _update(self, imsi: str, initial: int, step: Callable[[int], int]) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT sqn FROM sqn_he WHERE imsi = ?", (imsi,)).fetchone()
            last = initial if row is None else int(row[0])
            new = step(last)
            if new != last or row is None:
                db.execute("INSERT INTO sqn_he (imsi, sqn) VALUES (?, ?) "
                           "ON CONFLICT (imsi) DO UPDATE SET sqn = excluded.sqn", (imsi, new))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new


def _create_or_check(path: Path) -> None:
    """Create the database file 0600 exclusively, or check that the existing one is a
    regular file reached without a symlink."""
    try:
        os.close(create_exclusive(path, SECRET_MODE))
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"cannot create the SQN database ({exc.strerror})",
                         source=str(path)) from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"cannot open the SQN database ({exc.strerror}; a symlink is "
                         "refused)", source=str(path)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError("the SQN database is not a regular file", source=str(path))
    finally:
        os.close(fd)
