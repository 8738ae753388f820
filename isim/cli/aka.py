"""`isim aka`: network-side IMS AKA tool (authentication vector, resynchronisation).

    isim aka PROFILE [--rand HEX] [--sqn HEX] [--amf HEX] [--json]
    isim aka PROFILE --resync AUTS --rand HEX [--json]

This is the HSS/AuC view: it prints XRES, CK, IK and AK (never K or OPc). Exit codes: 0 ok,
1 MAC-S verification failed (resync), 2 bad input.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from isim.aka import generate_vector, resync
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.milenage import Milenage, derive_opc
from isim.sqn import SqnConfig, next_sqn


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
class _AkaProfile:
    """The attributes of isim.profile.Profile that `isim aka` uses (same names)."""

    k: bytes
    opc: bytes
    sqn: int
    sqn_ind_bits: int = 5


def _load_profile(path: Path) -> _AkaProfile:
    """Read k, opc/op, sqn and sqn_ind_bits from a YAML or JSON profile; ignore other keys.

    Temporary stand-in for isim.profile.load_profile (same attribute names). YAML is read
    with every scalar as a string so that hex such as 000000000001 is not turned into a number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _BadInput(f"{path}: cannot read profile ({exc.__class__.__name__})") from None
    data: Any
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.load(text, Loader=yaml.BaseLoader)
        except yaml.YAMLError:
            raise _BadInput(f"{path}: not a YAML/JSON profile") from None
    if not isinstance(data, dict):
        raise _BadInput(f"{path}: profile is not a mapping")

    def text_field(key: str) -> str | None:
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise _BadInput(f"{path}: {key} must be a hex string")
        return v

    k_text = text_field("k")
    if k_text is None:
        raise _BadInput(f"{path}: no k in profile")
    k = _hex(k_text, "k", 16)
    opc_text, op_text = text_field("opc"), text_field("op")
    if opc_text is None and op_text is None:
        raise _BadInput(f"{path}: profile has neither opc nor op")
    opc = _hex(opc_text, "opc", 16) if opc_text is not None else None
    if op_text is not None:
        derived = derive_opc(k, _hex(op_text, "op", 16))
        if opc is not None and opc != derived:
            raise _BadInput(f"{path}: opc does not match op")
        opc = derived
    assert opc is not None
    sqn_value = data.get("sqn", "0")
    if isinstance(sqn_value, int) and not isinstance(sqn_value, bool):  # JSON number
        sqn = sqn_value
    elif isinstance(sqn_value, str):
        try:
            sqn = int(sqn_value.strip(), 16)
        except ValueError:
            raise _BadInput(f"{path}: sqn: not a hex string") from None
    else:
        raise _BadInput(f"{path}: sqn must be a hex string")
    if not 0 <= sqn < 1 << 48:
        raise _BadInput(f"{path}: sqn must fit 48 bits")
    ind_value = data.get("sqn_ind_bits", 5)
    try:
        ind_bits = SqnConfig(ind_bits=int(ind_value)).ind_bits
    except (TypeError, ValueError):
        raise _BadInput(f"{path}: sqn_ind_bits must be an integer in 0..16") from None
    return _AkaProfile(k=k, opc=opc, sqn=sqn, sqn_ind_bits=ind_bits)


def _fail(message: str) -> NoReturn:
    click.echo(f"isim aka: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@main.command("aka")
@click.argument("profile", type=click.Path(path_type=Path))
@click.option("--rand", "rand_hex", metavar="HEX", help="RAND (16 bytes); random by default.")
@click.option("--sqn", "sqn_hex", metavar="HEX", help="SQN (6 bytes); default profile sqn + 1 SEQ.")
@click.option("--amf", "amf_hex", metavar="HEX", default="8000", show_default=True, help="AMF.")
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
        prof = _load_profile(profile)
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
