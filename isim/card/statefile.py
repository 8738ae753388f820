"""The emulator's state file: locked, sealed under the image's key, checked against the image.

The state file (`isim emulate --state F`) is a card image (isim-card-image/1) that the
emulator rewrites after every state change. What this module adds (docs/security.md):

* **One emulator per state file.** An exclusive `flock` on the lock file `.F.lock` beside
  it, held for the emulator's lifetime (the state file itself is replaced on every write, so
  it cannot carry the lock). The lock file holds the holder's PID, which a second emulator
  names when it is refused (`StateLocked`, exit 2).
* **No link, no stranger's mode.** A state path that is a symbolic link is refused unless
  the user asks to follow it; an existing state file readable or writable by group or others
  gets mode 0600 again, with a warning (it holds K, OPc and PINs).
* **The image is the authority.** The state's ICCID, AID, K, OPc and trust domains must be
  the image's; a state whose trust domains differ is refused.
* **Tampering is detectable.** The state carries `isim.state_mac`: HMAC-SHA256 over its
  canonical JSON under the image's state key (`mac_key`), which is never written into the
  state. A state re-sealed with wider trust domains or reset PIN counters is refused.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from isim.card.image import MAX_IMAGE_BYTES, CardImage, ImageError
from isim.errors import InputError
from isim.fileio import SECRET_MODE, SymlinkRefused, atomic_write, read_bounded

__all__ = [
    "STATE_KEY",
    "STATE_MAC",
    "StateError",
    "StateFile",
    "StateLocked",
    "mac_key",
    "new_state_key",
]

log = logging.getLogger("isim.state")

STATE_KEY = "state_key"  # image only: the key of the state file's MAC (64 hex digits)
STATE_MAC = "state_mac"  # state file only: HMAC-SHA256 (hex) of the rest of the state
_DERIVED_INFO = b"isim state-file MAC key v1"
_MAC_LABEL = b"isim-state-mac/1\n"


class StateError(InputError):
    """A state file that cannot be used: corrupt, tampered with, another card's, locked."""


class StateLocked(StateError):
    """Another emulator holds the state file."""


def new_state_key() -> str:
    """A fresh state key for a new image (`isim build -o`, personalized images)."""
    return secrets.token_hex(32)


def mac_key(image: CardImage) -> bytes:
    """The key of the state file's MAC: the image's `state_key`; for an image without one
    (a profile given directly, images written before state keys existed), HKDF-SHA256 of the
    image's K and OPc (RFC 5869; info names the purpose, salt the card)."""
    own = image.isim.get(STATE_KEY)
    if own is not None:
        try:
            key = bytes.fromhex(own)
        except (TypeError, ValueError):
            key = b""
        if len(key) != 32:
            raise ImageError("card image: state_key must be 64 hex digits")
        return key
    try:
        secret = bytes.fromhex(image.isim["k"]) + bytes.fromhex(image.isim["opc"])
    except (KeyError, TypeError, ValueError):
        raise ImageError("card image: bad ISIM section (k, opc)") from None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=image.iccid.encode(),
                info=_DERIVED_INFO)
    return hkdf.derive(secret)


def _mac(key: bytes, canonical: str) -> str:
    return hmac.new(key, _MAC_LABEL + canonical.encode("ascii"), hashlib.sha256).hexdigest()


def seal(image: CardImage, key: bytes) -> bytes:
    """The state file's bytes: the image without its state key, with the MAC over the
    canonical JSON of the rest (`CardImage.canonical`)."""
    isim = {k: v for k, v in image.isim.items() if k not in (STATE_KEY, STATE_MAC)}
    return dataclasses.replace(image, isim=isim).to_json(
        seal=(STATE_MAC, lambda canonical: _mac(key, canonical)))


def _lock(path: Path) -> int:
    """The exclusive lock on `path`'s lock file, or `StateLocked` naming the holder."""
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     SECRET_MODE)
    except OSError as exc:
        raise StateError(f"cannot create the lock file {lock_path} ({exc.strerror or exc})",
                         source=str(path)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"pid {holder}" if holder.isdecimal() else "another process"
        raise StateLocked(f"state file is in use by another emulator ({who}); refusing to "
                          "share it", source=str(path)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _private_mode(path: Path) -> None:
    """An existing state file open to group or others gets 0600 back, with a warning."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        try:
            os.chmod(path, SECRET_MODE)
        except OSError as exc:
            raise StateError(f"state file has mode {mode:04o} and cannot be made private "
                             f"({exc.strerror or exc})", source=str(path)) from None
        log.warning("%s: state file had mode %04o (it holds K, OPc and PINs): now 0600; "
                    "treat its secrets as exposed", path, mode)


@dataclass
class StateFile:
    """An emulator's state file, locked from `open` to `close`."""

    path: Path
    key: bytes
    _lock_fd: int | None
    accept_unsealed: bool = False  # the operator vouches for a state without a MAC

    @classmethod
    def open(cls, path: Path, image: CardImage, *, follow_symlink: bool = False,
             accept_unsealed: bool = False) -> StateFile:
        path = Path(path)
        if path.is_symlink():
            if not follow_symlink:
                raise SymlinkRefused("state file is a symbolic link; refusing it (give "
                                     "--state-follow-symlink to use its target)",
                                     source=str(path))
            path = Path(os.path.realpath(path))
        if path.exists() and not path.is_file():  # /dev/zero: no lock file beside it either
            raise StateError("state file is not a regular file", source=str(path))
        return cls(path, mac_key(image), _lock(path), accept_unsealed)

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def load(self, image: CardImage) -> CardImage | None:
        """The state of `image`'s card, or None when there is no state file yet."""
        if not self.path.exists():
            return None
        source = str(self.path)
        try:
            _private_mode(self.path)
            raw = read_bounded(self.path, MAX_IMAGE_BYTES, what="state file",
                               follow_symlink=False)
            state = CardImage.from_json(raw, source=source)
        except InputError as exc:
            raise StateError(f"state file refused: {exc}") from None
        claimed = state.isim.pop(STATE_MAC, None)
        if not image.same_card(state):
            raise StateError(f"state file belongs to another card (ICCID {state.iccid}, not "
                             f"{image.iccid}); refusing to use or replace it", source=source)
        if claimed is None and self.accept_unsealed:
            log.warning("%s: state file without a MAC accepted as asked; sealed from now on",
                        source)
        elif not isinstance(claimed, str):
            raise StateError("state file refused: it has no MAC (written by an older isim, or "
                             "the MAC was removed); give --state-accept-unsealed if you know "
                             "where it comes from, or delete it to start again from the image",
                             source=source)
        elif not hmac.compare_digest(claimed, _mac(self.key, state.canonical())):
            raise StateError("state file refused: its MAC does not match this image's key "
                             "(changed outside the emulator)", source=source)
        if state.isim.get("trust_domains") != image.isim.get("trust_domains"):
            raise StateError("state file refused: its trust domains differ from the image's "
                             "(the image is the authority)", source=source)
        if claimed is None:
            self.save(state)  # accepted once: sealed from now on
        return state

    def save(self, image: CardImage) -> None:
        atomic_write(self.path, seal(image, self.key))
