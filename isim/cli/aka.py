"""`isim aka`: network-side IMS AKA tool (authentication vector, resynchronisation).

    isim aka CARD [--rand HEX] [--sqn HEX] [--amf HEX] [--json]
    isim aka CARD --resync AUTS --rand HEX [--json]

CARD is a profile, a card image or an emulator state file (then SQN_MS is the running
card's). This is the HSS/AuC view: it prints XRES, CK, IK and AK (never K or OPc). Exit codes: 0 ok,
1 MAC-S verification failed (resync) or CARD breaks a rule or format, 2 bad input.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click

from isim.aka.codes import AMF_DEFAULT
from isim.aka.milenage import Milenage
from isim.aka.procedure import generate_vector, resync
from isim.aka.sqn import SqnArray, next_sqn
from isim.card.image import load_card_source
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main, reporting
from isim.errors import IsimError


class _BadInput(Exception):
    pass


def _hex(value: str, name: str, length: int) -> bytes:
    text = value.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise _BadInput(f"{name}: not a hex string") from None
    if len(raw) != length:
        raise _BadInput(f"{name}: must be {length} bytes ({2 * length} hex digits), got {len(raw)}")
    return raw


@dataclass(frozen=True)
class _Subscriber:
    k: bytes
    opc: bytes
    sqn: int  # the card's SQN_MS: the highest SQN it accepted (a profile's initial sqn)
    sqn_ind_bits: int


def _load_subscriber(path: Path) -> _Subscriber:
    """K, OPc and SQN_MS from a profile, a card image or an emulator state file. A profile
    or card that breaks a rule exits 1, an unreadable one 2 (`reporting`)."""
    with reporting(str(path), "aka"):
        image = load_card_source(path)
    try:
        sqn = SqnArray.from_dict(image.isim["state"]["sqn"])
        return _Subscriber(
            k=bytes.fromhex(image.isim["k"]),
            opc=bytes.fromhex(image.isim["opc"]),
            sqn=sqn.sqn_ms,
            sqn_ind_bits=sqn.config.ind_bits,
        )
    except (IsimError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise _BadInput(f"{path}: bad SQN state ({type(exc).__name__})") from None


def _fail(message: str) -> NoReturn:
    click.echo(f"isim aka: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@main.command("aka")
@click.argument("profile", type=click.Path(path_type=Path))
@click.option("--rand", "rand_hex", metavar="HEX", help="RAND (16 bytes); random by default.")
@click.option("--sqn", "sqn_hex", metavar="HEX", help="SQN (6 bytes); default profile sqn + 1 SEQ.")
@click.option("--amf", "amf_hex", metavar="HEX", default=AMF_DEFAULT.hex(), show_default=True,
              help="AMF.")
@click.option(
    "--resync", "auts_hex", metavar="AUTS", help="Recover SQN_MS from AUTS (needs --rand)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def aka_command(
    profile: Path,
    rand_hex: str | None,
    sqn_hex: str | None,
    amf_hex: str,
    auts_hex: str | None,
    as_json: bool,
) -> None:
    """Print an IMS AKA authentication vector for PROFILE, or verify an AUTS."""
    try:
        prof = _load_subscriber(profile)
        milenage = Milenage(prof.k, prof.opc)
        if auts_hex is not None:
            if rand_hex is None:
                raise _BadInput("--resync needs --rand (the RAND of the failed challenge)")
            if sqn_hex is not None:
                raise _BadInput("--sqn cannot be used with --resync")
            rand = _hex(rand_hex, "--rand", 16)
            auts = _hex(auts_hex, "--resync", 14)
            sqn_ms = resync(milenage, rand, auts)
            if sqn_ms is None:
                click.echo(
                    "isim aka: MAC-S verification failed (AUTS not from this card)", err=True
                )
                sys.exit(EXIT_VIOLATION)
            if as_json:
                click.echo(json.dumps({"sqn_ms": f"{sqn_ms:012x}", "mac_s": "ok"}))
            else:
                click.echo(f"SQN_MS {sqn_ms:012x}")
            sys.exit(EXIT_OK)
        rand = _hex(rand_hex, "--rand", 16) if rand_hex is not None else secrets.token_bytes(16)
        amf = _hex(amf_hex, "--amf", 2)
        if sqn_hex is not None:
            sqn = int.from_bytes(_hex(sqn_hex, "--sqn", 6), "big")
        else:
            try:
                sqn = next_sqn(prof.sqn, prof.sqn_ind_bits)
            except ValueError as exc:
                raise _BadInput(f"sqn: {exc}") from None
        vector = generate_vector(milenage, rand, sqn, amf)
    except _BadInput as exc:
        _fail(str(exc))
    fields = {
        "rand": vector.rand.hex(),
        "autn": vector.autn.hex(),
        "xres": vector.xres.hex(),
        "ck": vector.ck.hex(),
        "ik": vector.ik.hex(),
        "ak": vector.ak.hex(),
        "sqn": f"{sqn:012x}",
        "amf": amf.hex(),
        "nonce": vector.nonce_b64,
    }
    if as_json:
        click.echo(json.dumps(fields))
    else:
        for key, value in fields.items():
            click.echo(f"{key.upper():<6}{value}")
