"""`isim saip export|import`: eUICC Profile Packages (TCA SAIP, DER), docs/saip.md.

    isim saip export CARD -o FILE.der
    isim saip import FILE.der (-o PROFILE.yaml | --image IMAGE) [--trust-domain D]...

Exit codes: 0 written; 1 the card or package breaks a format or the trust-domain rule
(the findings are listed, nothing is written); 2 the input cannot be read (a truncated or
garbled package, a PE out of order: the PE and its offset are named; nothing is written).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from isim.cli import EXIT_OK, EXIT_VIOLATION, main, reporting
from isim.cli.options import trust_domains_callback
from isim.saip.convert import export_card, import_package, write_image, write_profile_yaml


@main.group("saip")
def saip_group() -> None:
    """eUICC Profile Packages (SAIP "Interoperable Format", DER)."""


@saip_group.command("export")
@click.argument("card", metavar="CARD")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The package to write (DER, mode 0600: it holds K, OPc and the PINs).")
def export_command(card: str, output: Path) -> None:
    """Write CARD (a profile or a card image) as an eUICC Profile Package."""
    with reporting(card, "saip export"):
        size = export_card(card, output)
    click.echo(f"{output}: {size} bytes (mode 0600: it holds K, OPc and the PINs)", err=True)
    sys.exit(EXIT_OK)


@saip_group.command("import")
@click.argument("package", metavar="FILE.der")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the profile (YAML, mode 0600).")
@click.option("--image", "image", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a card image (JSON, mode 0600) built from the profile.")
@click.option("--trust-domain", "trust_domains", multiple=True, callback=trust_domains_callback,
              metavar="D", help="IMS trust domain (repeatable). Default: the package's "
                                "home domain (EF.DOMAIN).")
def import_command(package: str, output: Path | None, image: Path | None,
                   trust_domains: tuple[str, ...] | None) -> None:
    """Read FILE.der: ICCID, IMSI, ISIM identities, P-CSCF, PINs, K/OPc (Milenage)."""
    if (output is None) == (image is None):
        raise click.UsageError("give exactly one of -o PROFILE.yaml and --image IMAGE")
    with reporting(package, "saip import"):
        ex, profile = import_package(package, list(trust_domains) if trust_domains else None)
        for note in ex.notes:
            click.echo(f"{package}: note: {note}", err=True)
        if image is not None:
            if profile is None:
                click.echo(f"{package}: no Milenage K/OPc in the package: cannot build a "
                           "card image (import to a profile with -o, then add k and opc)",
                           err=True)
                sys.exit(EXIT_VIOLATION)
            write_image(profile, image)
        else:
            assert output is not None
            write_profile_yaml(ex, output, package)
    click.echo(f"{package}: imported to {output or image} (mode 0600)", err=True)
    sys.exit(EXIT_OK)
