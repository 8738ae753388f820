"""`isim auc-gw`: the AuC gateway for hostapd's EAP-SIM/AKA/AKA' server (hlr_auc_gw protocol).

    isim auc-gw --socket PATH (--hss FILE [--transport-key F] | CARD...) [--db FILE]

Subscribers come from an HSS file (`isim personalize`'s hss.csv, plain or encrypted, or a
hlr_auc_gw Milenage database) or from cards (profiles, images, state files). SQN_HE lives in
SQLite (`--db`, default beside the HSS file or the first card: `<FILE>.sqn.sqlite`).
hostapd: `eap_sim_db=unix:PATH`. Runs until SIGINT/SIGTERM.

Exit codes: 0 stopped cleanly; 1 a subscriber source breaks a format (named by line or key);
2 an input, the database or the socket cannot be used.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from isim.cli import EXIT_OK, main, reporting
from isim.network import subscribers as subs
from isim.network.aucgw import AucGateway
from isim.network.server import bind_socket, close_socket, serve
from isim.network.sqn_store import SqnStore

DB_SUFFIX = ".sqn.sqlite"


@main.command("auc-gw")
@click.argument("cards", nargs=-1, metavar="[CARD]...")
@click.option("--socket", "socket_path", required=True, type=click.Path(dir_okay=False),
              help="UNIX datagram socket to serve (hostapd: eap_sim_db=unix:PATH).")
@click.option("--hss", "hss", type=click.Path(dir_okay=False),
              help="HSS file of isim personalize (csv or --hss-format hlr_auc_gw).")
@click.option("--transport-key", "transport_key", type=click.Path(dir_okay=False),
              help="AES key (hex) of the HSS file's encrypted K and OPc.")
@click.option("--db", "db", type=click.Path(dir_okay=False),
              help=f"SQLite file of SQN_HE per IMSI (default: <HSS or first CARD>{DB_SUFFIX}).")
@click.option("--quiet", is_flag=True, help="Log only problems, not every request.")
def auc_gw_command(cards: tuple[str, ...], socket_path: str, hss: str | None,
                   transport_key: str | None, db: str | None, quiet: bool) -> None:
    """Serve authentication vectors to hostapd until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if (hss is None) == (not cards):
        raise click.UsageError("give either --hss FILE or CARD... (not both)")
    if transport_key is not None and hss is None:
        raise click.UsageError("--transport-key goes with --hss")
    source = hss or cards[0]
    with reporting(source, "auc-gw"):
        found = subs.from_hss(hss, transport_key) if hss else subs.from_cards(cards)
        by_imsi = subs.index(found, source)
        store = SqnStore(Path(db) if db else Path(source + DB_SUFFIX))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with reporting(socket_path, "auc-gw"):
        sock = bind_socket(socket_path)
    gateway = AucGateway(by_imsi, store)
    click.echo(f"isim auc-gw: {len(by_imsi)} subscribers, SQN store {store.path}, "
               f"listening on {socket_path}", err=True)
    try:
        serve(sock, gateway, stop)
    finally:
        close_socket(sock, socket_path)
        store.close()
    s = gateway.stats
    click.echo(f"isim auc-gw: stopped ({s.requests} requests: {s.vectors} AKA vectors, "
               f"{s.triplets} GSM triplets, {s.resyncs} resyncs, {s.failures} failures, "
               f"{s.ignored} ignored)", err=True)
    sys.exit(EXIT_OK)
