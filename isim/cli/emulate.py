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

from apdu.events import ApduExchanged, WriteRefused
from apdu.trace import gsmtap_apdu, mask_capdu, mask_rapdu
from isim.card.emulator import Emulator
from isim.card.image import load_card_source
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, main, reporting
from isim.digits import is_number
from transport.gsmtap import DEFAULT_GSMTAP, GsmtapSender
from transport.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdTransport
from transport.vpcd_session import AtrSent, CardInserted, CardRemoved

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
@click.option("--t0/--t1", "t0", default=True,
              help="--t0 (default): a T=0 UICC, its ATR announces T=0: 61XX + GET RESPONSE for "
                   "commands with data that answer data, 6CXX for a wrong Le. --t1: APDU level "
                   "(data and SW in one response), its ATR announces T=1.")
@click.option("--trace", is_flag=True, help="Log every APDU to stderr (PINs and keys masked).")
@click.option("--gsmtap", "gsmtap", metavar="[HOST:PORT]", is_flag=False,
              flag_value=f"{DEFAULT_GSMTAP[0]}:{DEFAULT_GSMTAP[1]}", default=None,
              help="Send every APDU exchange as GSMTAP type SIM over UDP, for "
                   f"Wireshark (default {DEFAULT_GSMTAP[0]}:{DEFAULT_GSMTAP[1]}); masked as "
                   "--trace. A non-loopback HOST needs --allow-remote.")
@click.option("--unsafe-load-rule-breaking-image-for-validator-tests", "unsafe", is_flag=True,
              help="TESTING ONLY: load an image whose IMPI/IMPU/DOMAIN break the trust-domain "
                   "rule, to test validators. Never use for a card given to anyone.")
def emulate(source: str, state: str | None, follow: bool, unsealed: bool, vpcd: str | None,
            listen: str | None, allow_remote: bool, t0: bool, trace: bool, gsmtap: str | None,
            unsafe: bool) -> None:
    """Put the card of PROFILE_OR_IMAGE into a vpcd virtual reader until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO if trace else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if vpcd and listen:
        raise click.UsageError("--vpcd and --listen are exclusive")
    host, port = _hostport(listen or vpcd or f"{DEFAULT_HOST}:{DEFAULT_PORT}",
                           "--listen" if listen else "--vpcd")
    tap: GsmtapSender | None = None
    if gsmtap is not None:
        try:
            tap = GsmtapSender(*_hostport(gsmtap, "--gsmtap"), allow_remote=allow_remote)
        except (ValueError, OSError) as exc:
            raise click.BadParameter(str(exc), param_hint="--gsmtap") from None
    with reporting(source, "emulate"):
        emu = Emulator.open(load_card_source(source), state_path=Path(state) if state else None,
                            t0=t0, allow_rule_violations=unsafe, follow_symlink=follow,
                            accept_unsealed=unsealed)
    emu.card.trace_exchanges = trace or tap is not None  # else no per-APDU trace events
    if unsafe:
        click.echo("isim emulate: WARNING: rule-breaking images allowed (validator testing)",
                   err=True)

    def observe(event: object) -> None:  # typed events: apdu.events, transport.vpcd_session
        if isinstance(event, ApduExchanged):  # masked by what the card says the data is
            if tap is not None:
                tap.send(gsmtap_apdu(event.capdu, event.rapdu, event.secrecy))
            if trace:
                log.info("> %s", mask_capdu(event.capdu, event.secrecy))
                log.info("< %s", mask_rapdu(event.rapdu, event.secrecy))
        elif isinstance(event, WriteRefused):
            if trace:
                log.info("  write refused: %s: %s", event.ef_name, event.reason)
        elif isinstance(event, CardInserted):
            where = f"listening on {host}:{port}" if listen else f"vpcd {host}:{port}"
            click.echo(f"isim: card {emu.image.iccid} is in the reader ({where})", err=True)
        elif isinstance(event, CardRemoved):
            click.echo("isim: card removed from the reader", err=True)
        elif isinstance(event, AtrSent):
            if trace:
                log.info("atr %s", event.atr.hex().upper())
        elif trace:
            log.info("%s", type(event).__name__)

    try:
        transport = VpcdTransport(emu.card, host=host, port=port, listen=bool(listen),
                                  allow_remote=allow_remote, persist=emu.persist,
                                  observe=observe)
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
        if tap is not None:
            tap.close()
    click.echo("isim: stopped", err=True)
    sys.exit(EXIT_OK)
