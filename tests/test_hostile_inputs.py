"""Hostile profiles, batches and arguments (issue 12 items 7, 9, 10, 11): each gets a clear
error naming the field and the contract's exit code; never a traceback, never a value of the
input in a report, never a file written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from isim.cli import main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = """\
trust_domains: [3gppnetwork.org, ims.example.net]
mnc_length: 2
pcscf: [pcscf.ims.example.net]
ist: [1, 2]
adm1: "88888888"
op: "cdc202d5123e20f62b6d676ac72cb318"
"""
ALICE_TEXT = (ROOT / "examples" / "alice.yaml").read_text()
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
BOMB = """\
a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""


def sample_k(n: int) -> str:
    return hashlib.sha256(n.to_bytes(8, "big")).hexdigest()[:32]


def write_sample_template(path: Path) -> Path:
    path.write_text(TEMPLATE)
    return path


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        "traceback: " + repr(result.exception))
    return result


def alice(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def with_ist(ist: str) -> str:
    return re.sub(r"^ist: .*$", f"ist: {ist}", ALICE_TEXT, flags=re.M)


# ---------------------------------------------------------------- profiles (item 7, 10, 11)


def test_alias_bomb_in_ist_is_refused(tmp_path: Path) -> None:
    text = with_ist("[*f, *f, *f, *f, *f, *f, *f, *f, *f]").replace("ist:", BOMB + "ist:")
    r = run("check", str(alice(tmp_path, text)))
    assert r.exit_code == 2 and "aliases are expanded" in r.output


def test_alias_bomb_in_a_template_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(write_sample_template(tmp_path / "s.yaml").read_text()
                        .replace("ist: [1, 2]", BOMB + "ist: [*f, *f, *f, *f, *f, *f]"))
    batch = tmp_path / "b.csv"
    batch.write_text("iccid,imsi,k\n8988211000000000011,001010000000001," + K + "\n")
    r = run("personalize", str(batch), "--template", str(template), "--out",
            str(tmp_path / "out"))
    assert r.exit_code == 2 and "aliases are expanded" in r.output
    assert not (tmp_path / "out").exists()


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    r = run("check", str(alice(tmp_path, ALICE_TEXT + "description: &x [*x]\n")))
    assert r.exit_code == 2 and "refers to itself" in r.output


def test_merge_keys_are_refused_naming_the_key(tmp_path: Path) -> None:
    text = ALICE_TEXT + "<<: {k: 00000000000000000000000000000000}\n"
    r = run("check", str(alice(tmp_path, text)))
    assert r.exit_code == 1 and "<<" in r.output and "merge" in r.output
    nested = ALICE_TEXT + "sizes:\n  <<: {EF.IMPU: {records: 9}}\n"
    r = run("check", str(alice(tmp_path, nested, "n.yaml")))
    assert r.exit_code == 1 and "sizes" in r.output and "<<" in r.output


@pytest.mark.parametrize("text, field", [
    (with_ist("[1, " + "9" * 5000 + "]"), "ist"),
    (ALICE_TEXT + "sizes:\n  EF.IMPU: {records: " + "9" * 5000 + "}\n", "sizes"),
    (ALICE_TEXT.replace("sip:alice@ims.example.com",
                        "sip:alice@ims.example.com:" + "9" * 5000), "impu"),
])
def test_numbers_over_4300_digits_are_a_clear_error(tmp_path: Path, text: str, field: str
                                                   ) -> None:
    r = run("check", str(alice(tmp_path, text)))
    assert r.exit_code == 1 and (f": {field}:" in r.output or f"EF.{field.upper()}" in r.output)
    assert "9" * 100 not in r.output


def test_lone_surrogate_names_the_field(tmp_path: Path) -> None:
    body = json.loads(json.dumps(__import__("yaml").safe_load(ALICE_TEXT)))
    text = json.dumps(body)[:-1] + ', "label": "\\udc80"}'
    r = run("check", str(alice(tmp_path, text, "p.json")))
    assert r.exit_code == 1 and "label" in r.output and "Unicode" in r.output


@pytest.mark.parametrize("text", [
    ALICE_TEXT + "description: " + "[" * 5000 + "]" * 5000 + "\n",
    '{"label": ' + "[" * 100000 + "]" * 100000 + "}",
])
def test_deep_nesting_is_refused(tmp_path: Path, text: str) -> None:
    r = run("check", str(alice(tmp_path, text)))
    assert r.exit_code == 2 and "nest" in r.output


def test_unbounded_inputs_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes: a blocking open would hang
    for path in ("/dev/zero", str(fifo)):
        assert run("check", path).exit_code == 2
        assert run("aka", path).exit_code == 2
        assert run("emulate", path, "--vpcd", "127.0.0.1:9").exit_code == 2
    batch = tmp_path / "b.csv"
    batch.write_text("iccid,imsi,k\n8988211000000000011,001010000000001," + K + "\n")
    r = run("personalize", str(batch), "--template", "/dev/zero", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "template" in r.output
    alice_path = str(ROOT / "examples" / "alice.yaml")
    r = run("trust-check", alice_path, "--chain", "/dev/zero", "--roots", "/dev/zero")
    assert r.exit_code == 2 and "regular file" in r.output
    r = run("encode", "EF.IMPI", '{"nai": "a@b.c"}', "--size", "9" * 23)
    assert r.exit_code == 2


def test_transport_key_dev_zero_is_refused(tmp_path: Path) -> None:
    template = write_sample_template(tmp_path / "t.yaml")
    batch = tmp_path / "b.csv"
    batch.write_text("iccid,imsi,k\n8988211000000000011,001010000000001," + K + "\n")
    r = run("personalize", str(batch), "--template", str(template), "--out",
            str(tmp_path / "out"), "--transport-key", "/dev/zero")
    assert r.exit_code == 2 and "transport key" in r.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- batches (items 9, 10, 11)


def personalize(tmp_path: Path, batch: Path, *extra: str) -> Result:
    template = write_sample_template(tmp_path / "t.yaml")
    return run("personalize", str(batch), "--template", str(template), "--out",
               str(tmp_path / "out"), *extra)


ROW1 = {"iccid": "8988211000000000011", "imsi": "001010000000001", "k": sample_k(1)}
ROW2 = {"iccid": "8988211000000000029", "imsi": "001010000000002", "k": sample_k(2)}


@pytest.mark.parametrize("column, cell", [("ist", "1|²"), ("mnc_length", "³"),
                                          ("ist", "9" * 5000)])
def test_csv_superscript_digits_make_the_row_invalid(tmp_path: Path, column: str, cell: str
                                                     ) -> None:
    batch = tmp_path / "b.csv"
    batch.write_text(f"iccid,imsi,k,{column}\n{ROW1['iccid']},{ROW1['imsi']},{ROW1['k']},"
                     f"{cell}\n")
    r = personalize(tmp_path, batch)
    assert r.exit_code == 1 and f"line 2: {column}:" in r.output
    assert not (tmp_path / "out").exists()


def test_raw_non_utf8_in_a_json_batch_invalidates_only_its_row(tmp_path: Path) -> None:
    bad = dict(ROW2, impu=["sip:x@ims.example.net", "sip:\udc80@ims.example.net"])
    raw = json.dumps([ROW1, bad], ensure_ascii=False).encode("utf-8", "surrogateescape")
    batch = tmp_path / "b.json"
    batch.write_bytes(raw.replace(b"\\udc80", b"\x80"))
    assert b"\x80" in batch.read_bytes()
    r = personalize(tmp_path, batch, "--reject-file", str(tmp_path / "rej.csv"))
    assert r.exit_code == 0, r.output
    rejected = (tmp_path / "rej.csv").read_text()
    assert "2,impu" in rejected and "Unicode" in rejected and "1," not in rejected.split("\n")[1]
    assert (tmp_path / "out" / "images" / f"{ROW1['iccid']}.json").exists()


def test_duplicate_key_in_a_json_row_is_refused_naming_it(tmp_path: Path) -> None:
    batch = tmp_path / "b.json"
    row2 = json.dumps(ROW2)[:-1] + f', "k": "{sample_k(9)}"}}'
    batch.write_text(f"[{json.dumps(ROW1)}, {row2}]")
    r = personalize(tmp_path, batch)
    assert r.exit_code == 1 and "item 2: k: duplicate key" in r.output
    assert not (tmp_path / "out").exists()


def test_merge_key_in_a_yaml_row_is_refused(tmp_path: Path) -> None:
    batch = tmp_path / "b.yaml"
    batch.write_text(f"- &one {json.dumps(ROW1)}\n- {{<<: *one, iccid: '{ROW2['iccid']}', "
                     f"imsi: '{ROW2['imsi']}'}}\n")
    r = personalize(tmp_path, batch)
    assert r.exit_code == 1 and "item 2: <<:" in r.output


def test_alias_bomb_in_a_yaml_batch_is_refused(tmp_path: Path) -> None:
    batch = tmp_path / "b.yaml"
    rows = BOMB.replace("\n", "\n  ").replace("a: &a", "- description: x\n  a: &a", 1)
    batch.write_text(rows + f"\n- {json.dumps(dict(ROW1, ist='*f'))}\n".replace('"*f"', "*f")
                     + "".join(f"- {json.dumps(dict(ROW1, ist='*f'))}\n".replace('"*f"', "*f")
                               for _ in range(20)))
    r = personalize(tmp_path, batch)
    assert r.exit_code == 2 and "aliases are expanded" in r.output


def test_csv_repeated_column_is_named(tmp_path: Path) -> None:
    batch = tmp_path / "b.csv"
    batch.write_text(f"iccid,imsi,k,k\n{ROW1['iccid']},{ROW1['imsi']},{ROW1['k']},{K}\n")
    r = personalize(tmp_path, batch)
    assert r.exit_code == 2 and "repeated column k" in r.output


@pytest.mark.parametrize("column", ["impi", "pin1", "ist", "iccid", "domain", "impu", "sqn"])
def test_a_k_in_the_wrong_column_is_never_echoed(tmp_path: Path, column: str) -> None:
    batch = tmp_path / "b.csv"
    secret = "9f2e4c1a7b3d5e6f8a9b0c1d2e3f4a5b"
    cells = dict(ROW1, **{column: secret})
    batch.write_text(",".join(cells) + "\n" + ",".join(cells.values()) + "\n")
    reject = tmp_path / "rej.csv"
    r = personalize(tmp_path, batch, "--reject-file", str(reject))
    assert r.exit_code == 0 and "\n2," in reject.read_text()
    for text in (reject.read_text(), r.output):
        assert secret not in text.lower() and secret[:12] not in text.lower()
    shutil.rmtree(tmp_path / "out")
    r = personalize(tmp_path, batch, "--json")
    assert r.exit_code == 1 and secret not in r.output.lower()


# ---------------------------------------------------------------- crafted images (item 11)


def _resealed(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """An image edited and re-sealed (SHA-256 recomputed), as anyone can."""
    from isim.card.image import CardImage, build_image
    from isim.profile.model import load_profile

    doc = json.loads(build_image(load_profile(ROOT / "examples" / "alice.yaml")).to_json())
    doc.pop("sha256")
    change(doc)
    path = tmp_path / "crafted.img"
    path.write_bytes(CardImage(doc["iccid"], doc["card"], doc["isim"]).to_json())
    return path


@pytest.mark.parametrize("change, code, field", [
    (lambda d: d.update(card=None), 2, "card must be a mapping"),
    (lambda d: d.update(isim=[]), 2, "isim must be a mapping"),
    (lambda d: d["isim"].update(trust_domains=["*"]), 1, "isim.trust_domains entry 1"),
    (lambda d: d["isim"].update(trust_domains=[]), 2, "isim.trust_domains"),
    (lambda d: d["card"]["adfs"][0].update(files=[None]), 2, "card.adfs[0].files[0]"),
])
def test_crafted_resealed_images_are_refused(tmp_path: Path, change, code: int, field: str
                                             ) -> None:  # type: ignore[no-untyped-def]
    image = _resealed(tmp_path, change)
    for argv in (["emulate", str(image), "--vpcd", "127.0.0.1:9"], ["aka", str(image)],
                 ["inspect", "--image", str(image)]):
        r = run(*argv)
        assert field in r.output, (argv, r.output)
        assert r.exit_code == (code if argv[0] != "inspect" else r.exit_code), (argv, r.output)
        assert r.exit_code in (1, 2)


@pytest.mark.parametrize("argv", [
    ["emulate", str(ROOT / "examples" / "alice.yaml"), "--vpcd", "127.0.0.1:²"],
    ["emulate", str(ROOT / "examples" / "alice.yaml"), "--listen", "127.0.0.1:" + "9" * 5000],
    ["trust-check", str(ROOT / "examples" / "alice.yaml"), "--connect", "localhost:³",
     "--roots", "ROOTS"],
])
def test_ports_in_arguments_are_a_clear_error(argv: list[str], tmp_path: Path) -> None:
    from certs import make_ca, write_pem

    roots = write_pem(tmp_path / "ca.pem", make_ca("Test CA"))
    r = run(*[str(roots) if a == "ROOTS" else a for a in argv])
    assert r.exit_code == 2 and "HOST:PORT" in r.output
