"""`isim decode EF HEX` and `isim encode EF JSON [--size N]`: one EF's content <-> JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from isim.cli import EXIT_BAD_INPUT, main
from isim.codecs import Codec, CodecError, codec_for
from isim.profile.checker import shown

MAX_EF_SIZE = 0xFFFF  # the file size in an FCP is two bytes (TS 102 221 clause 11.1.1.4.1)


def _fail(command: str, message: str) -> NoReturn:
    click.echo(f"isim {command}: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _codec(command: str, ef: str) -> Codec[Any]:
    try:
        return codec_for(ef)
    except CodecError as exc:
        _fail(command, str(exc))


@main.command("decode")
@click.argument("ef")
@click.argument("hex_data", metavar="HEX")
def decode_command(ef: str, hex_data: str) -> None:
    """Decode the content of EF (EF.IMPI, IMPI or 6F02) given in HEX and print it as JSON.

    For a record EF, HEX is one record. An all-FF content prints null.
    """
    codec = _codec("decode", ef)
    cleaned = "".join(hex_data.split()).replace(":", "")
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        _fail("decode", f"{codec.ef}: not hexadecimal: {shown(hex_data)}")
    try:
        value = codec.decode(data)
    except CodecError as exc:
        _fail("decode", str(exc))
    click.echo(json.dumps(codec.to_json(value), ensure_ascii=False))


@main.command("encode")
@click.argument("ef")
@click.argument("json_text", metavar="JSON")
@click.option(
    "--size",
    type=click.IntRange(min=1, max=MAX_EF_SIZE),
    default=None,
    help="File or record size in bytes (default: the size in specs/filesystem.yaml).",
)
def encode_command(ef: str, json_text: str, size: int | None) -> None:
    """Encode JSON (as printed by `isim decode`; `-` reads stdin) for EF and print hex."""
    codec = _codec("encode", ef)
    if json_text == "-":
        json_text = sys.stdin.read()
    try:
        obj = json.loads(json_text)
    except json.JSONDecodeError as exc:
        _fail("encode", f"{codec.ef}: bad JSON: {exc}")
    try:
        data = codec.encode(codec.from_json(obj), size)
    except CodecError as exc:
        _fail("encode", str(exc))
    click.echo(data.hex())
