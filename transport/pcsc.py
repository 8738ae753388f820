"""Host side: a PC/SC reader as ``transmit(bytes) -> bytes``, over pyscard's scard layer.

`connect` returns a `PcscCard` whose `transmit` always yields the whole response
(data followed by SW1 SW2): T=0 procedure status words are handled here
(``61XX``: GET RESPONSE until done; ``6CXX``: the command re-sent with Le = XX).
Every failure is a `ReaderError` with a readable message; pyscard's own exceptions and
result codes never reach callers.

The PC/SC service is found through libpcsclite, which honours the environment variable
``PCSCLITE_CSOCK_NAME`` (the pcscd socket path) when it first connects in a process.

``connect(reader, timeout=S)`` bounds every exchange: PC/SC has no way to cancel an
SCardTransmit, so a card (or a virtual card's process) that stops answering would hang the
caller; with a timeout the exchange runs on the connection's own worker thread and a late
answer is a `ReaderError` (the card is then unusable for this connection).
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType
from typing import Any

from apdu.t0 import ProcedureError, complete_response

__all__ = ["TOOL_TIMEOUT", "PcscCard", "ReaderError", "connect", "list_readers", "pick_reader"]



# Seconds the isim tools let a reader's card take for one exchange (a real card answers within
# a second; a stopped virtual card would otherwise hang them): `connect(timeout=...)`.
TOOL_TIMEOUT = 30.0


class ReaderError(Exception):
    """A PC/SC problem: no service, no such reader, no card, transmission failure."""


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ReaderError(
            "pyscard is not installed (pip install pyscard; it needs swig and "
            "libpcsclite-dev to build, see tools/setup-system)"
        ) from exc
    return scard


def _check(scard: Any, hresult: int, what: str) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        try:
            message = scard.SCardGetErrorMessage(hresult)
        except Exception:
            message = "unknown error"
        raise ReaderError(f"{what}: {message} (0x{hresult & 0xFFFFFFFF:08X})")


def _call(scard: Any, what: str, func: Any, *args: Any) -> Any:
    """Call a scard function returning (hresult, *values); check and unwrap."""
    try:
        result = func(*args)
    except ReaderError:
        raise
    except Exception as exc:  # pyscard raises its own error types for bad handles
        raise ReaderError(f"{what}: {exc}") from exc
    if isinstance(result, int):
        _check(scard, result, what)
        return None
    _check(scard, result[0], what)
    rest = result[1:]
    return rest[0] if len(rest) == 1 else rest


class _Context:
    def __init__(self) -> None:
        self.scard = _scard()
        self.handle = _call(
            self.scard, "cannot reach the PC/SC service (is pcscd running?)",
            self.scard.SCardEstablishContext, self.scard.SCARD_SCOPE_USER,
        )

    def readers(self) -> list[str]:
        scard = self.scard
        try:
            hresult, readers = scard.SCardListReaders(self.handle, [])
        except Exception as exc:
            raise ReaderError(f"cannot list readers: {exc}") from exc
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        _check(scard, hresult, "cannot list readers")
        return list(readers)

    def release(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to release
                self.scard.SCardReleaseContext(self.handle)
            self.handle = None


def list_readers() -> list[str]:
    """Names of the PC/SC readers, in PC/SC order (the index used by `connect`)."""
    ctx = _Context()
    try:
        return ctx.readers()
    finally:
        ctx.release()


class PcscCard:
    """A connected card.  Use as a context manager or call `disconnect`."""

    def __init__(self, reader: int | str = 0, *, exclusive: bool = False,
                 timeout: float | None = None) -> None:
        self._ctx = _Context()
        self._hcard: Any = None
        self.timeout = timeout  # seconds per exchange (None: wait as long as PC/SC does)
        self._stalled = False
        try:
            names = self._ctx.readers()
            self.reader = pick_reader(names, reader)
            scard = self._ctx.scard
            share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
            self._hcard, self._protocol = _call(
                scard, f"cannot connect to a card in {self.reader!r}", scard.SCardConnect,
                self._ctx.handle, self.reader, share,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            self.atr = self._read_atr()
        except BaseException:
            self.disconnect()
            raise

    @property
    def protocol(self) -> str:
        return "T=1" if self._protocol == self._ctx.scard.SCARD_PROTOCOL_T1 else "T=0"

    def _read_atr(self) -> bytes:
        status = _call(self._ctx.scard, "cannot read the card status",
                       self._ctx.scard.SCardStatus, self._hcard)
        return bytes(status[3])

    def _raw(self, capdu: bytes) -> bytes:
        if self._hcard is None:
            raise ReaderError("the card is disconnected")
        if self._stalled:
            raise ReaderError(f"the card in {self.reader!r} stopped answering")
        args = (self._ctx.scard, f"transmit failed in {self.reader!r}",
                self._ctx.scard.SCardTransmit, self._hcard, self._protocol, list(capdu))
        response = _call(*args) if self.timeout is None else self._bounded(args)
        data = bytes(response)
        if len(data) < 2:
            raise ReaderError(f"short response {data.hex().upper()!r} from the card")
        return data

    def _bounded(self, args: tuple[Any, ...]) -> Any:
        """`_call(*args)` on a daemon thread, waited for `timeout` seconds: a call stuck in
        PC/SC then neither hangs the caller nor holds the process at exit."""
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((True, _call(*args)))
            except BaseException as exc:  # handed to the caller below
                outcome.append((False, exc))

        worker = threading.Thread(target=run, name="pcsc-transmit", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not outcome:
            self._stalled = True
            raise ReaderError(f"the card in {self.reader!r} did not answer within "
                              f"{self.timeout:g} s")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def transmit(self, capdu: bytes) -> bytes:
        """Send one C-APDU; return response data followed by SW1 SW2."""
        if len(capdu) < 4:
            raise ValueError(f"a C-APDU has at least 4 bytes, got {len(capdu)}")
        try:
            return complete_response(self._raw, capdu)
        except ProcedureError as exc:
            raise ReaderError(str(exc)) from None

    def reset(self, *, cold: bool = False) -> bytes:
        """Reset the card (warm by default); returns the new ATR."""
        scard = self._ctx.scard
        if self._hcard is None:
            raise ReaderError("the card is disconnected")
        init = scard.SCARD_UNPOWER_CARD if cold else scard.SCARD_RESET_CARD
        self._protocol = _call(scard, "card reset failed", scard.SCardReconnect,
                               self._hcard, scard.SCARD_SHARE_SHARED,
                               scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, init)
        self.atr = self._read_atr()
        return self.atr

    def disconnect(self) -> None:
        """Leave the card (no reset) and release the PC/SC context; idempotent."""
        if self._stalled:  # a call still in libpcsclite holds the context's lock: touch
            self._hcard = None  # neither the card nor the context (the process exit frees
            return  # them)
        if self._hcard is not None:
            with contextlib.suppress(Exception):  # the card or service may be gone
                self._ctx.scard.SCardDisconnect(self._hcard, self._ctx.scard.SCARD_LEAVE_CARD)
            self._hcard = None
        self._ctx.release()

    def __enter__(self) -> PcscCard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()


def pick_reader(names: list[str], reader: int | str) -> str:
    """The reader `reader` names: an index, an exact name or a unique substring (any case)."""
    if not names:
        raise ReaderError("no PC/SC reader found")
    if isinstance(reader, int):
        if not 0 <= reader < len(names):
            raise ReaderError(f"no reader number {reader}; readers: {_listing(names)}")
        return names[reader]
    if reader in names:
        return reader
    matches = [n for n in names if reader.lower() in n.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ReaderError(f"no reader matches {reader!r}; readers: {_listing(names)}")
    raise ReaderError(f"{reader!r} matches several readers: {_listing(matches)}")


def _listing(names: list[str]) -> str:
    return ", ".join(f"{i}: {n}" for i, n in enumerate(names))


def connect(reader: int | str = 0, *, exclusive: bool = False,
            timeout: float | None = None) -> PcscCard:
    """Connect to the card in ``reader`` (index, exact name, or unique substring);
    ``timeout``: seconds each exchange may take (see the module docstring)."""
    return PcscCard(reader, exclusive=exclusive, timeout=timeout)
