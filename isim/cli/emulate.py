"""`isim emulate PROFILE_OR_IMAGE`: the card in a virtual PC/SC reader (vpcd).

Exit codes: 0 stopped cleanly (SIGINT/SIGTERM); 1 the card breaks the trust-domain rule or
a format; 2 the input or the state file cannot be used.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from apdu.trace import mask_capdu, mask_rapdu
from apdu.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdTransport
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, is_number, main, reporting
from isim.emulator import Emulator
from isim.image import load_card_source

log = logging.getLogger("isim.emulate")


def _hostport(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not is_number(port) or not 0 < int(port) < 65536:
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=what)
    return host.strip("[]") or DEFAULT_HOST, int(port)


@main.command("emulate")
@click.argument("source", metavar="PROFILE_OR_IMAGE")
@click.option("--state", "state", type=click.Path(dir_okay=False),
              help="State file (created 0600 if missing): file contents, PIN counters and the "
                   "SQN array survive restarts and crashes.")
@click.option("--state-follow-symlink", "follow", is_flag=True,
              help="Accept a --state path that is a symbolic link (use its target).")
@click.option("--state-accept-unsealed", "unsealed", is_flag=True,
              help="Accept a state file without a MAC (written by an older isim) once; it is "
                   "sealed from then on.")
@click.option("--vpcd", "vpcd", metavar="HOST:PORT",
              help=f"Connect to vpcd here (default {DEFAULT_HOST}:{DEFAULT_PORT}).")
@click.option("--listen", "listen", metavar="HOST:PORT",
              help="Listen here for a vpcd configured to connect out (reversed mode).")
@click.option("--allow-remote", is_flag=True,
              help="Allow --listen on a non-loopback address (exposes the card to the network).")
@click.option("--t0", is_flag=True,
              help="T=0 response style: 61XX + GET RESPONSE for case 4, 6CXX for a wrong Le.")
@click.option("--trace", is_flag=True, help="Log every APDU to stderr (PINs and keys masked).")
@click.option("--unsafe-load-rule-breaking-image-for-validator-tests", "unsafe", is_flag=True,
              help="TESTING ONLY: load an image whose IMPI/IMPU/DOMAIN break the trust-domain "
                   "rule, to test validators. Never use for a card given to anyone.")
def emulate(source: str, state: str | None, follow: bool, unsealed: bool, vpcd: str | None,
            listen: str | None, allow_remote: bool, t0: bool, trace: bool, unsafe: bool) -> None:
    """Put the card of PROFILE_OR_IMAGE into a vpcd virtual reader until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO if trace else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if vpcd and listen:
        raise click.UsageError("--vpcd and --listen are exclusive")
    host, port = _hostport(listen or vpcd or f"{DEFAULT_HOST}:{DEFAULT_PORT}",
                           "--listen" if listen else "--vpcd")
    with reporting(source, "emulate"):
        emu = Emulator.open(load_card_source(source), state_path=Path(state) if state else None,
                            t0=t0, allow_rule_violations=unsafe, follow_symlink=follow,
                            accept_unsealed=unsealed)
    if unsafe:
        click.echo("isim emulate: WARNING: rule-breaking images allowed (validator testing)",
                   err=True)

    last_capdu = b""

    def on_event(event: str, data: bytes) -> None:
        nonlocal last_capdu
        if event == "insert":
            where = f"listening on {host}:{port}" if listen else f"vpcd {host}:{port}"
            click.echo(f"isim: card {emu.image.iccid} is in the reader ({where})", err=True)
        elif event == "remove":
            click.echo("isim: card removed from the reader", err=True)
        elif trace and event == "capdu":
            last_capdu = data
            log.info("> %s", mask_capdu(data))
        elif trace and event == "rapdu":
            log.info("< %s", mask_rapdu(last_capdu, data))
            if data[-2:] == b"\x6a\x80" and emu.app.last_rejection:
                log.info("  write refused: %s", emu.app.last_rejection)
        elif trace:
            log.info("%s %s", event, data.hex().upper())

    try:
        transport = VpcdTransport(emu.card, host=host, port=port, listen=bool(listen),
                                  allow_remote=allow_remote, after_command=emu.after_command,
                                  trace=on_event)
    except ValueError as exc:
        click.echo(f"isim emulate: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        transport.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if listen:
        bound = transport.bind()
        click.echo(f"isim: waiting for vpcd on {bound[0]}:{bound[1]}", err=True)
    elif not trace:
        click.echo(f"isim: connecting to vpcd at {host}:{port}", err=True)
    try:
        transport.serve_forever(stop)
    except OSError as exc:
        click.echo(f"isim emulate: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        transport.close()
    click.echo("isim: stopped", err=True)
    sys.exit(EXIT_OK)
