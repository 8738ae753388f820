"""`isim inspect`: read an ISIM card and check it.

    isim inspect [--reader N | --image FILE] [--trust-domain D]... [--adm HEX_OR_DIGITS]
                 [--pin1 DIGITS] [--strict] [--json]

Reads the ATR, EF.DIR, the ISIM (selected by AID) and every ISIM EF of specs/ that the card
has (FCP, raw content, decoded value), with SELECT, READ BINARY, READ RECORD and VERIFY only:
nothing is ever written. Then the checks (TLV format, FF padding, structure / SFI / record
length / size against specs/, IST services against the files present, access rules, IMPI /
IMPU / DOMAIN consistency and the trust-domain rule).

Trust domains: `--trust-domain` (repeatable); with `--image` the image's own by default; with
a reader and none given the rule cannot be checked, which is reported as an error.
PIN1 / ADM: presented only when a READ answers 6982 and the value was given; the retry
counter is queried first and a secret with 1 try left is not presented; never retried.
Without `--reader` or `--image`: reader 0.

Exit codes: 0 no error (with --strict: no warning either); 1 errors (or warnings with
--strict); 2 the card cannot be read (no reader, no card, not a UICC, no ISIM, unreadable
image) or bad arguments.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.cli.options import secret_callback, trust_domains_callback
from isim.cli.render import render
from isim.digits import is_number
from isim.inspect import CardSource, CardUnreadable, image_source, inspect_source, reader_source
from isim.inspect.auth import adm_block, pin_block
from isim.inspect.report import to_json_text


def _fail(message: str, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message, "summary": {"passed": False}}, indent=2))
    else:
        click.echo(f"isim inspect: cannot read the card: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def _source(reader: str | None, image: Path | None) -> Iterator[CardSource]:
    if image is not None:
        with nullcontext(image_source(image)) as src:
            yield src
        return
    target: int | str = int(reader) if reader is not None and is_number(reader) else (
        reader or 0)
    with reader_source(target) as src:
        yield src


@main.command("inspect")
@click.option("--reader", "reader", metavar="N",
              help="PC/SC reader: index (see `opensc-tool -l`) or name. Default: 0.")
@click.option("--image", "image", type=click.Path(dir_okay=False, path_type=Path),
              help="A card image (isim build -o), read through the in-process engine.")
@click.option("--trust-domain", "trust_domains", multiple=True, callback=trust_domains_callback,
              metavar="D", help="IMS trust domain name (repeatable). Default with --image: "
                                "the image's own; with a reader: required for the rule check.")
@click.option("--adm", "adm", metavar="HEX_OR_DIGITS", callback=secret_callback(adm_block),
              help="ADM1 (8 digits or 16 hex digits), presented only if a READ needs it.")
@click.option("--pin1", "pin1", metavar="DIGITS", callback=secret_callback(pin_block),
              help="PIN1, presented only if a READ needs it (never on the last try).")
@click.option("--saip", "saip", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE.der", help="An eUICC Profile Package (SAIP, DER): its MF and "
              "ISIM files, inspected as a card. Default trust domain: its EF.DOMAIN.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_command(reader: str | None, image: Path | None,
                    trust_domains: tuple[str, ...] | None, adm: bytes | None,
                    pin1: bytes | None, saip: Path | None, strict: bool,
                    as_json: bool) -> None:
    """Read an ISIM card (reader or image) and check it against specs/ and the rule."""
    if sum(x is not None for x in (reader, image, saip)) > 1:
        raise click.UsageError("give one of --reader, --image and --saip")
    if saip is not None:
        _inspect_saip(saip, trust_domains, strict, as_json)
    try:
        with _source(reader, image) as src:
            ins = inspect_source(src, trust_domains, pin1=pin1, adm=adm)
            description = src.description
    except CardUnreadable as exc:
        _fail(str(exc), as_json)
    except Exception as exc:  # a card that breaks the reader in a way not foreseen
        _fail(f"{type(exc).__name__}: {exc}", as_json)
    if as_json:
        click.echo(to_json_text(ins, source=description, strict=strict))
    else:
        render(ins, Console(), source=description, strict=strict)
    sys.exit(EXIT_OK if ins.passed(strict) else EXIT_VIOLATION)


def _inspect_saip(path: Path, trust_domains: tuple[str, ...] | None, strict: bool,
                  as_json: bool) -> NoReturn:
    from isim.errors import InputError
    from isim.saip.inspection import inspect_package

    try:
        ins, description = inspect_package(path, trust_domains)
    except (InputError, CardUnreadable) as exc:
        _fail(str(exc), as_json)
    if as_json:
        click.echo(to_json_text(ins, source=description, strict=strict))
    else:
        render(ins, Console(), source=description, strict=strict)
    sys.exit(EXIT_OK if ins.passed(strict) else EXIT_VIOLATION)
