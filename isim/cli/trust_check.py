"""`isim trust-check`: should the UE trust this P-CSCF?

    isim trust-check CARD (--chain PEM | --connect HOST:PORT) --roots PEM
                     [--pcscf FQDN] [--realm REALM] [--timeout S] [--json]

CARD is a profile, a card image or `reader:N`. The P-CSCF's certificate chain comes from a PEM
file (leaf first) or from a TLS handshake with HOST:PORT (nothing is verified during the
handshake; the SNI is the dialled FQDN). The dialled FQDN defaults to the card's first FQDN
P-CSCF record; REALM is the Digest realm of the 401 challenge (without it the realm check is
skipped and does not block trust). One line per check, then the verdict.

Exit codes: 0 trusted, 1 not trusted, 2 cannot decide (unreadable PEM, no roots, card
unreadable, connection failed, bad arguments).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
from cryptography import x509

from isim.card.image import is_card_image
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.digits import is_number
from isim.errors import IsimError
from isim.identity.trust import DomainError, normalize_domain
from isim.ims.tlscheck import (
    CertificateFileError,
    TrustReport,
    check_pcscf,
    fetch_chain,
    read_pem_file,
)


class CannotDecide(Exception):
    """Bad input: the verdict cannot be reached (exit code 2)."""


@dataclass(frozen=True)
class CardView:
    """What trust-check needs from a card."""

    home_domain: str  # EF.DOMAIN
    pcscf: list[str]  # EF.P-CSCF records, in order (FQDNs and IP addresses)
    trust_domains: list[str]  # the configured IMS Trust Domain Name(s)


def read_card(card: str, trust_domains: Sequence[str] | None = None) -> CardView:
    """Read the home domain, P-CSCF records and trust domains of CARD.

    CARD is a profile (`isim.profile.model.load_profile`), a card image (read through the
    in-process engine by `isim.inspect`, the same APDUs as a reader) or `reader:N` (a PC/SC
    reader: index or name). `trust_domains` (`--trust-domain`) replaces the profile's or
    image's own; a card in a reader does not store them, so `reader:N` needs them.
    """
    path = Path(card)
    if card.startswith("reader:") or is_card_image(path):
        return _read_through_inspect(card, trust_domains)
    try:
        from isim.profile.model import load_profile
    except ImportError:
        raise CannotDecide("profile loading (isim.profile.model) is not available") from None
    try:
        profile = load_profile(path)
    except (IsimError, OSError, ValueError) as exc:  # InputError, ProfileError
        raise CannotDecide(f"{card}: cannot read the card: {exc}") from None
    domains = trust_domains if trust_domains is not None else profile.trust_domains or []
    return CardView(
        home_domain=str(profile.domain),
        pcscf=[str(p) for p in profile.pcscf or []],
        trust_domains=[str(t) for t in domains],
    )


def _read_through_inspect(card: str, trust_domains: Sequence[str] | None) -> CardView:
    from isim.identity.trust import FILE_DOMAIN
    from isim.inspect import CardUnreadable, image_source, inspect_source, reader_source

    try:
        if card.startswith("reader:"):
            if trust_domains is None:
                raise CannotDecide(f"{card}: a card does not store its IMS trust domains; "
                                   "they must be configured")
            name = card.removeprefix("reader:")
            with reader_source(int(name) if is_number(name) else name) as src:
                ins = inspect_source(src, trust_domains)
        else:
            ins = inspect_source(image_source(Path(card)), trust_domains)
    except CardUnreadable as exc:
        raise CannotDecide(f"{card}: cannot read the card: {exc}") from None
    values: dict[str, list[Any]] = {n: d.values for n, d in ins.decoded.items()}
    domain = (values.get(FILE_DOMAIN) or [None])[0]
    if not isinstance(domain, str):
        problems = [str(f) for f in ins.findings if f.file == FILE_DOMAIN]
        raise CannotDecide(f"{card}: no home network domain read from {FILE_DOMAIN}"
                           + (f" ({'; '.join(problems)})" if problems else ""))
    pcscf = [v.address for v in values.get("EF.P-CSCF", []) if v is not None and v.address]
    return CardView(home_domain=domain, pcscf=pcscf, trust_domains=list(ins.trust_domains or []))


def first_fqdn(records: list[str]) -> str | None:
    """The first P-CSCF record that is an FQDN (type 00), not an IP address (01/02)."""
    for record in records:
        if not _is_ip(record):
            return record
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return False
    return True


def _read_pem(path: Path, what: str) -> list[x509.Certificate]:
    try:
        return read_pem_file(path, what)
    except CertificateFileError as exc:
        raise CannotDecide(str(exc)) from None


def parse_hostport(text: str) -> tuple[str, int]:
    """`host:port`, `1.2.3.4:port` or `[v6]:port`."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host or not is_number(port) or not 0 < int(port) < 65536:
        raise CannotDecide(f"--connect {text!r}: expected HOST:PORT")
    return host, int(port)


def _dialled_name(pcscf: str | None, card: CardView) -> str:
    name = pcscf if pcscf is not None else first_fqdn(card.pcscf)
    if name is None:
        raise CannotDecide("the card has no FQDN P-CSCF record; give --pcscf")
    if _is_ip(name):
        raise CannotDecide(f"P-CSCF {name!r} is an IP address; only FQDN P-CSCFs are checked")
    try:
        normalize_domain(name)
    except DomainError as exc:
        raise CannotDecide(f"P-CSCF {name!r} is not a domain name: {exc}") from None
    return name


def evaluate(
    card: str,
    chain_path: Path | None,
    connect: str | None,
    roots_path: Path,
    pcscf: str | None,
    realm: str | None,
    timeout: float,
    trust_domains: Sequence[str] | None = None,
) -> tuple[TrustReport, str]:
    """Everything but output; returns the report and where the chain came from."""
    view = read_card(card, trust_domains or None)
    roots = _read_pem(roots_path, "roots")
    dialled = _dialled_name(pcscf, view)
    if chain_path is not None:
        chain = _read_pem(chain_path, "chain")
        source = str(chain_path)
    else:
        assert connect is not None
        host, port = parse_hostport(connect)
        try:
            chain = fetch_chain(host, port, server_name=normalize_domain(dialled), timeout=timeout)
        except (OSError, ValueError) as exc:  # ssl.SSLError, timeouts, refused, bad DER
            raise CannotDecide(f"--connect {connect}: {exc}") from None
        source = f"tls://{connect}"
    report = check_pcscf(
        chain=chain,
        roots=roots,
        pcscf_fqdn=dialled,
        realm=realm,
        home_domain=view.home_domain,
        trust_domains=view.trust_domains,
    )
    return report, source


def _fail(message: str, as_json: bool) -> NoReturn:
    if as_json:
        out = {"trusted": False, "verdict": "cannot decide", "error": message}
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"isim trust-check: cannot decide: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@main.command("trust-check")
@click.argument("card")
@click.option("--chain", "chain_path", type=click.Path(path_type=Path), default=None,
              help="P-CSCF certificate chain, PEM, leaf first.")
@click.option("--connect", metavar="HOST:PORT", default=None,
              help="Fetch the chain with a TLS handshake to HOST:PORT.")
@click.option("--roots", "roots_path", type=click.Path(path_type=Path), required=True,
              help="Trusted root certificates, PEM.")
@click.option("--pcscf", metavar="FQDN", default=None,
              help="The dialled P-CSCF FQDN (default: the card's first FQDN P-CSCF).")
@click.option("--realm", metavar="REALM", default=None,
              help="Digest realm of the 401 challenge (not given: realm check skipped).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds for --connect.")
@click.option("--trust-domain", "trust_domains", multiple=True, metavar="D",
              help="IMS Trust Domain Name (repeatable); replaces the card's own, and is "
                   "required for reader:N since a card does not store them.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def trust_check(
    card: str,
    chain_path: Path | None,
    connect: str | None,
    roots_path: Path,
    pcscf: str | None,
    realm: str | None,
    timeout: float,
    trust_domains: tuple[str, ...],
    as_json: bool,
) -> None:
    """Decide whether the UE should trust a P-CSCF's TLS certificate (TS 33.203 Annex F)."""
    if (chain_path is None) == (connect is None):
        raise click.UsageError("give exactly one of --chain PEM or --connect HOST:PORT")
    try:
        report, source = evaluate(
            card, chain_path, connect, roots_path, pcscf, realm, timeout, trust_domains
        )
    except CannotDecide as exc:
        _fail(str(exc), as_json)
    if as_json:
        out: dict[str, Any] = {**report.to_dict(), "card": card, "chain_source": source}
        click.echo(json.dumps(out, indent=2))
    else:
        for line in report.lines():
            click.echo(line)
        verdict = "trusted" if report.trusted else "not trusted"
        click.echo(f"P-CSCF {report.pcscf_fqdn} ({source}): {verdict}")
    sys.exit(EXIT_OK if report.trusted else EXIT_VIOLATION)
