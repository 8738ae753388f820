"""Run the example card in a virtual PC/SC reader and read its ISIM back through PC/SC.

    python tools/demo.py [PROFILE_OR_IMAGE] [--once]

pcscd: the one already running (with Debian's vpcd reader), else one started for the demo
(on the system socket when root and none runs, so every PC/SC program sees the card).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from isim.card.image import load_card_source  # noqa: E402
from isim.codecs import codec_for  # noqa: E402
from lifetime import dies_with_parent, stop_process  # noqa: E402
from pcsc_stack import StackError, pcsc_stack, wait_for_card  # noqa: E402
from specs.layout import layout  # noqa: E402
from transport.pcsc import ReaderError, connect  # noqa: E402

_ISIM = layout().applications["ADF.ISIM"]
SELECT_ISIM = f"00A40404{len(_ISIM.aid or b''):02X}{(_ISIM.aid or b'').hex().upper()}00"
_USIM = layout().applications["ADF.USIM"]
SELECT_USIM = f"00A4040C{len(_USIM.aid or b''):02X}{(_USIM.aid or b'').hex().upper()}"


def _fid(name: str) -> str:
    return layout().find_ef(name)[1].fid_hex


def _tx(card, apdu: str) -> tuple[bytes, int]:
    r = card.transmit(bytes.fromhex(apdu))
    return r[:-2], int.from_bytes(r[-2:], "big")


def read_back(reader: str) -> list[str]:
    """ATR, EF.DIR, then IMPI, IMPUs and the home domain of the ISIM, as lines."""
    lines = []
    with connect(reader) as card:
        lines.append(f"ATR         {card.atr.hex().upper()}")
        _tx(card, "00A40004023F0000")
        _tx(card, f"00A4000C02{_fid('EF.DIR')}")
        for record in range(1, 5):  # one record per application: the USIM, the ISIM
            data, sw = _tx(card, f"00B2{record:02X}0400")
            app = codec_for("EF.DIR").decode(data) if sw == 0x9000 else None
            if app is None:
                break
            lines.append(f"EF.DIR #{record:<3} {app.aid.hex().upper()} {app.label!r}")
        _, sw = _tx(card, SELECT_USIM)
        if sw == 0x9000:
            _tx(card, f"00A4000C02{_fid('USIM/EF.IMSI')}")
            data, sw = _tx(card, "00B0000000")
            lines.append(f"EF.IMSI     {codec_for('EF.IMSI').decode(data) if sw == 0x9000 else sw}")
        _, sw = _tx(card, SELECT_ISIM)
        if sw != 0x9000:
            return [*lines, f"ISIM not found (SW {sw:04X})"]
        for name in ("EF.IMPI", "EF.DOMAIN"):
            _tx(card, f"00A4000C02{_fid(name)}")
            data, sw = _tx(card, "00B0000000")
            lines.append(f"{name:11} {codec_for(name).decode(data) if sw == 0x9000 else hex(sw)}")
        _tx(card, f"00A4000C02{_fid('EF.IMPU')}")
        n = 1
        while True:
            data, sw = _tx(card, f"00B2{n:02X}0400")
            if sw != 0x9000:
                break
            uri = codec_for("EF.IMPU").decode(data)
            if uri:
                lines.append(f"EF.IMPU #{n:<2} {uri}")
            n += 1
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", nargs="?", default=str(ROOT / "examples" / "alice.yaml"))
    ap.add_argument("--once", action="store_true", help="stop after the read-back")
    args = ap.parse_args()
    mode = os.environ.get("ISIM_PCSC_MODE")
    order = [mode] if mode else ["system", "global", "private"]
    try:
        with contextlib.ExitStack() as cleanup:
            stack = None
            for kind in order:
                try:
                    stack = cleanup.enter_context(pcsc_stack(kind))
                    break
                except StackError as exc:
                    print(f"demo: pcscd ({kind}): {str(exc).splitlines()[-1]}", file=sys.stderr)
            if stack is None:
                print("demo: no PC/SC stack could be started", file=sys.stderr)
                return 2
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="isim-demo-"))
            return _run(stack, args, Path(tmp) / "card.state")
    except KeyboardInterrupt:
        return 0


def _run(stack, args, state: Path) -> int:
    stack.activate()
    print(f"demo: pcscd ({stack.kind}) with reader {stack.reader_name!r}")
    emu = subprocess.Popen(
        dies_with_parent([sys.executable, "-m", "isim", "emulate", args.card, "--state",
                          str(state), "--vpcd", f"127.0.0.1:{stack.vpcd_port}"]),
        cwd=ROOT,
    )
    try:
        try:
            wait_for_card(stack.reader_name, present=True, timeout=15)
        except Exception:
            print("demo: the card did not appear in the reader", file=sys.stderr)
            return 1
        try:
            for line in read_back(stack.reader_name):
                print(f"  {line}")
        except ReaderError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        if args.once:
            return 0
        isim = Path(sys.executable).with_name("isim")
        domains = " ".join(f"--trust-domain {d}" for d in load_card_source(args.card).isim[
            "trust_domains"])
        env_hint = "" if stack.kind != "private" else (
            f"PCSCLITE_CSOCK_NAME={stack.socket_path} ")
        print(f"\nThe card stays in {stack.reader_name!r}. Try:\n"
              f"  {env_hint}opensc-tool --list-readers\n"
              f"  {env_hint}opensc-tool --reader 0 --send-apdu {SELECT_ISIM}\n"
              f"  {env_hint}{isim} inspect --reader 0 {domains}\n"
              "Ctrl-C stops the card.")
        while emu.poll() is None:
            time.sleep(0.5)
        return emu.returncode
    finally:
        stop_process(emu)


if __name__ == "__main__":
    sys.exit(main())
