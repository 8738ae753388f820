"""`isim register`: register the card's IMPU at a P-CSCF over TLS (IMS AKA, AKAv1-MD5).

    isim register (--reader N | --card CARD [--state FILE]) [--pin1 DIGITS]
                  [--pcscf HOST[:PORT]] [--resolve HOST:PORT:ADDRESS] --roots CA.pem
                  [--trust-domain D]... [--impu URI] [--expires S] [--timeout S] [--json]
                  [--trace]

The identities come from the card (ISIM, else derived from the USIM's IMSI); the P-CSCF from
--pcscf, else the card's first FQDN in EF.P-CSCF; port 5061 by default. The certificate is
judged by the trust rule (`isim.ims.tlscheck`) before any SIP byte is sent. `--trace` writes the
SIP messages to stderr with the Digest response (derived from RES) masked.

Exit codes: 0 registered; 1 P-CSCF not trusted, REGISTER rejected or authentication failed;
2 cannot connect, no card, bad input (also a malformed or truncated answer, a timeout).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from cryptography import x509

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from isim.cli.options import secret_callback
from isim.digits import is_number
from isim.ims.card import CardError, UeCard, open_card
from isim.ims.register import RegisterConfig, RegisterFailure, RegisterResult, register
from isim.ims.tlscheck import CertificateFileError, read_pem_file
from isim.inspect.auth import pin_block

DEFAULT_PORT = 5061  # SIP over TLS (RFC 3261 clause 19.1.2)


class _BadInput(Exception):
    pass


def _split_hostport(text: str, what: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port`."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _BadInput(f"{what} {text!r}: expected HOST[:PORT]")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, None
    if not host:
        raise _BadInput(f"{what} {text!r}: no host")
    if port_text is None:
        return host, None
    if not is_number(port_text) or not 0 < int(port_text) < 65536:
        raise _BadInput(f"{what} {text!r}: port must be 1-65535")
    return host, int(port_text)


def _resolve(text: str, host: str, port: int) -> str:
    """`HOST:PORT:ADDRESS` as curl's --resolve; ADDRESS may be [v6]."""
    name, sep, rest = text.partition(":")
    port_text, sep2, address = rest.partition(":")
    if not sep or not sep2 or not name or not address or not is_number(port_text):
        raise _BadInput(f"--resolve {text!r}: expected HOST:PORT:ADDRESS")
    address = address.strip("[]")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise _BadInput(f"--resolve {text!r}: {address!r} is not an IP address") from None
    if name.lower().rstrip(".") != host.lower().rstrip(".") or int(port_text) != port:
        raise _BadInput(f"--resolve {text!r} does not match the P-CSCF {host}:{port}")
    return address


def _roots(path: Path) -> list[x509.Certificate]:
    try:
        return read_pem_file(path, "--roots")
    except CertificateFileError as exc:
        raise _BadInput(str(exc)) from None


def _pcscf(card: UeCard, given: str | None) -> tuple[str, int]:
    if given is not None:
        host, port = _split_hostport(given, "--pcscf")
        return host, port or DEFAULT_PORT
    for address in card.identities.pcscf:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return address, DEFAULT_PORT
    if card.identities.pcscf:
        return card.identities.pcscf[0], DEFAULT_PORT  # an IP: the identity check names it
    raise _BadInput(f"{card.description}: no P-CSCF on the card (EF.P-CSCF); give --pcscf")


def _trust_domains(card: UeCard, given: tuple[str, ...]) -> list[str]:
    if given:
        return list(given)
    if card.trust_domains:
        return list(card.trust_domains)
    raise _BadInput("a card does not store its IMS trust domains: give --trust-domain")


def _fail(exit_code: int, message: str, as_json: bool, extra: dict[str, Any] | None = None
          ) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"registered": False, "error": message, **(extra or {})},
                              indent=2))
    else:
        click.echo(f"isim register: {message}", err=True)
    sys.exit(exit_code)


def _print(result: RegisterResult) -> None:
    click.echo(f"card      {result.application}: IMPI {result.impi}, "
               f"home domain {result.home_domain}")
    click.echo(f"tls       {result.tls}")
    for check in result.trust.checks:
        if not check.skipped:  # the realm is known only now: its own line below
            click.echo(check.line())
    click.echo(f"registered {result.impu} at {result.pcscf}: {result.status} {result.reason}"
               + (" (after resynchronization)" if result.resynchronized else ""))
    click.echo(f"  expires           {result.expires}")
    for route in result.service_route or ["(none)"]:
        click.echo(f"  Service-Route     {route}")
    for uri in result.p_associated_uri or ["(none)"]:
        click.echo(f"  P-Associated-URI  {uri}")
    if result.realm is None:
        click.echo("  realm             (no challenge)")
    else:
        same = "equals" if result.realm_is_home_domain else "differs from"
        click.echo(f"  realm             {result.realm} ({same} the home domain)")


@main.command("register")
@click.option("--reader", metavar="N", help="PC/SC reader: index or name.")
@click.option("--card", "card_path", type=click.Path(path_type=Path),
              help="A profile, card image or state file, run in-process.")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --card: the card's state file (SQN, PIN counters), kept as isim "
                   "emulate --state keeps it; created from CARD when absent.")
@click.option("--pin1", "pin1", metavar="DIGITS", callback=secret_callback(pin_block),
              help="PIN1, presented only if a READ or AUTHENTICATE needs it (never on the "
                   "last try), as isim inspect --pin1.")
@click.option("--pcscf", metavar="HOST[:PORT]",
              help="P-CSCF (default: the card's first FQDN in EF.P-CSCF; port 5061).")
@click.option("--resolve", metavar="HOST:PORT:ADDRESS",
              help="Connect to ADDRESS for HOST:PORT; the certificate is checked against HOST.")
@click.option("--roots", "roots_path", type=click.Path(path_type=Path), required=True,
              help="Trusted root certificates, PEM.")
@click.option("--trust-domain", "trust_domains", multiple=True, metavar="D",
              help="IMS Trust Domain Name (repeatable); replaces a profile's or image's own; "
                   "required with --reader.")
@click.option("--impu", metavar="URI", help="IMPU to register (default: the first SIP URI).")
@click.option("--expires", type=click.IntRange(1, 2**32 - 1), default=600000,
              show_default=True, help="Requested registration expiry, seconds.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds for the connection, for each response and for each exchange "
                   "with a reader's card.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--trace", is_flag=True, help="SIP messages on stderr (secrets masked).")
def register_command(reader: str | None, card_path: Path | None, state_path: Path | None,
                     pin1: bytes | None, pcscf: str | None,
                     resolve: str | None, roots_path: Path, trust_domains: tuple[str, ...],
                     impu: str | None, expires: int, timeout: float, as_json: bool,
                     trace: bool) -> None:
    """Register the card at a P-CSCF over TLS (TS 24.229, RFC 3310 AKAv1-MD5)."""
    if (reader is None) == (card_path is None):
        raise click.UsageError("give exactly one of --reader N or --card CARD")
    tracer = (lambda text: click.echo(text + "\n", err=True)) if trace else None
    try:
        roots = _roots(roots_path)
        with open_card(reader=reader, card=card_path, state=state_path, pin1=pin1,
                       timeout=timeout) as card:
            host, port = _pcscf(card, pcscf)
            config = RegisterConfig(
                pcscf=host, port=port, roots=roots,
                trust_domains=_trust_domains(card, trust_domains),
                address=_resolve(resolve, host, port) if resolve else None,
                impu=impu, expires=expires, timeout=timeout)
            result = register(card, config, tracer)
    except _BadInput as exc:
        _fail(EXIT_BAD_INPUT, str(exc), as_json)
    except CardError as exc:
        _fail(EXIT_BAD_INPUT, str(exc), as_json)
    except RegisterFailure as exc:
        if exc.trust is not None and not as_json:
            for line in exc.trust.lines():
                click.echo(line, err=True)
        extra: dict[str, Any] = {"finding": exc.finding, "status": exc.status}
        if exc.trust is not None:
            extra["trust"] = exc.trust.to_dict()
        _fail(exc.exit_code, str(exc), as_json, extra)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print(result)
    sys.exit(EXIT_OK)
