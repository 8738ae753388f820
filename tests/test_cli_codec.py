"""`isim decode` / `isim encode`: output, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, main

IMPI_HEX = "800d616c69636540696d732e636f6d"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("ef", ["EF.IMPI", "IMPI", "6F02", "6f02"])
def test_decode_impi(ef: str) -> None:
    code, out, err = run("decode", ef, IMPI_HEX + "ffff")
    assert code == EXIT_OK, err
    assert json.loads(out) == {"nai": "alice@ims.com"}


@pytest.mark.parametrize(
    ("ef", "hexdata", "expected"),
    [
        ("EF.P-CSCF", "800501c0a80c22", {"type": "ipv4", "address": "192.168.12.34"}),
        ("IMPU", "ff" * 128, None),
        ("IMPU", "8000" + "ff" * 126, {"uri": ""}),
        ("IST", "190208", {"services": [1, 4, 5, 10, 20]}),
        ("ICCID", "98 88 12 01 00 00 40 03 10 f0", {"iccid": "8988211000000430010"}),
        (
            "2F00",
            "61194f10a0000000871004ffffffff890709000050054953696d31",
            {"aid": "a0000000871004ffffffff8907090000", "label": "ISim1"},
        ),
    ],
)
def test_decode_outputs_json(ef: str, hexdata: str, expected: object) -> None:
    code, out, err = run("decode", ef, hexdata)
    assert code == EXIT_OK, err
    assert json.loads(out) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("decode", "IMPI", "800d616c6963"), "EF.IMPI: truncated TLV"),
        (("decode", "IMPI", "8002c328"), "EF.IMPI: bad UTF-8"),
        (("decode", "IMPI", "zz"), "EF.IMPI: not hexadecimal"),
        (("decode", "IMPI", IMPI_HEX + "00"), "non-FF"),
        (("decode", "EF.NOPE", "00"), "unknown EF"),
        (("encode", "IMPI", "{nai"), "EF.IMPI: bad JSON"),
        (("encode", "IMPI", '{"uri": "x"}'), "lacks the key 'nai'"),
        (("encode", "IMPI", '"x"'), "must be an object or null"),
        (
            ("encode", "IMPI", json.dumps({"nai": "x" * 137})),
            "EF.IMPI: encoded value is 140 bytes, file is 128",
        ),
        (("encode", "IMPU", '{"uri": "sip:a@b"}', "--size", "4"), "record is 4"),
        (("encode", "P-CSCF", '{"type": "ipv4", "address": "1.2.3"}'), "EF.P-CSCF"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_size_option_exits_2() -> None:
    code, _, err = run("encode", "IMPI", '{"nai": "a"}', "--size", "0")
    assert code == EXIT_BAD_INPUT
    assert "--size" in err


def test_encode_defaults_to_spec_size() -> None:
    code, out, err = run("encode", "IMPI", '{"nai": "alice@ims.com"}')
    assert code == EXIT_OK, err
    assert out.strip() == IMPI_HEX + "ff" * (128 - 15)


def test_encode_with_size_and_stdin() -> None:
    code, out, _ = run(
        "encode",
        "EF.P-CSCF",
        "-",
        "--size",
        "10",
        stdin='{"type": "ipv4", "address": "192.168.12.34"}',
    )
    assert code == EXIT_OK
    assert out.strip() == "800501c0a80c22ffffff"
    code, out, _ = run("encode", "IMPU", "null", "--size", "3")
    assert (code, out.strip()) == (EXIT_OK, "ffffff")


def test_decode_encode_round_trip_through_the_cli() -> None:
    record = "800103a406830101950108800118a40683010a9501088401d4a40683010a950108"
    code, out, _ = run("decode", "EF.ARR", record)
    assert code == EXIT_OK
    code, again, _ = run("encode", "EF.ARR", out, "--size", str(len(record) // 2))
    assert (code, again.strip()) == (EXIT_OK, record)
