"""Batch readers, template, duplicate index and the HSS file of `isim personalize`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isim.errors import InputError
from isim.personalize.batch import open_batch
from isim.personalize.dedupe import DuplicateIndex
from isim.personalize.hss import (
    HssRecord,
    TransportKey,
    hss_header,
    hss_line,
    read_transport_key,
)
from isim.personalize.template import load_template


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_csv_rows_are_numbered_by_line_and_split_impus(tmp_path: Path) -> None:
    batch = open_batch(_write(tmp_path / "b.csv", (
        "iccid,imsi,impu,ist,pin1_enabled,mnc_length\n"
        "1,2,sip:a@x.org| tel:+1 ,1|2,true,3\n"
        "\n"
        '3,4,"sip:b@x.org|sip:c@x.org",,no,\n'
        '5,6,"sip:multi\nline@x.org",,,\n'
        "7,8,,,,\n"
    )))
    rows = list(batch.rows())
    assert [r.number for r in rows] == [2, 4, 5, 7]
    assert rows[0].values == {"iccid": "1", "imsi": "2", "impu": ["sip:a@x.org", "tel:+1"],
                              "ist": [1, 2], "pin1_enabled": True, "mnc_length": 3}
    assert rows[1].values["impu"] == ["sip:b@x.org", "sip:c@x.org"]
    assert rows[1].values["pin1_enabled"] is False
    assert rows[2].values["impu"] == ["sip:multi\nline@x.org"]
    assert rows[3].values == {"iccid": "7", "imsi": "8"}  # empty cells: not given
    assert batch.row_label == "line"
    assert len(batch.digest) == 64


def test_csv_non_utf8_bytes_make_only_that_row_bad(tmp_path: Path) -> None:
    batch = open_batch(_write(tmp_path / "b.csv",
                              b"iccid,impu\n1,sip:a@x.org\n2,sip:\xff\xfe@x.org\n3,sip:c@x.org\n"))
    rows = list(batch.rows())
    assert [r.problems for r in rows[::2]] == [[], []]
    (problem,) = rows[1].problems
    assert rows[1].number == 3
    assert problem.field == "impu" and "UTF-8" in problem.message and "0xFF" in problem.message


def test_csv_wrong_cell_count_is_a_row_problem(tmp_path: Path) -> None:
    rows = list(open_batch(_write(tmp_path / "b.csv", "iccid,imsi\n1,2,3\n")).rows())
    assert rows[0].problems and "cells" in rows[0].problems[0].message


@pytest.mark.parametrize("content", ["", "iccid,iccid\n1,2\n", "\xff\n"])
def test_csv_bad_header_is_input_error(tmp_path: Path, content: str) -> None:
    raw = b"\xff,a\n" if content == "\xff\n" else content.encode()
    with pytest.raises(InputError):
        list(open_batch(_write(tmp_path / "b.csv", raw)).rows())


def test_list_batches_are_numbered_by_index(tmp_path: Path) -> None:
    items = [{"iccid": "1", "impu": ["sip:a@x.org"]}, "oops", {"iccid": "3", "imsi": None}]
    for name, text in (("b.json", json.dumps(items)),
                       ("b.yaml", "- {iccid: '1', impu: [sip:a@x.org]}\n- oops\n"
                                  "- {iccid: '3', imsi: null}\n")):
        batch = open_batch(_write(tmp_path / name, text))
        rows = list(batch.rows())
        assert batch.row_label == "item"
        assert [r.number for r in rows] == [1, 2, 3]
        assert rows[0].values == {"iccid": "1", "impu": ["sip:a@x.org"]}
        assert rows[1].problems and not rows[2].problems
        assert rows[2].values == {"iccid": "3"}


def test_json_batch_with_non_utf8_names_the_item(tmp_path: Path) -> None:
    raw = b'[{"iccid": "1"}, {"iccid": "2", "impi": "a\xc3@x.org"}]'
    rows = list(open_batch(_write(tmp_path / "b.json", raw)).rows())
    assert not rows[0].problems
    assert rows[1].problems[0].field == "impi"


@pytest.mark.parametrize("name", ["b.txt", "missing.csv"])
def test_unusable_batch_paths(tmp_path: Path, name: str) -> None:
    if name == "b.txt":
        _write(tmp_path / name, "x")
    with pytest.raises(InputError):
        open_batch(tmp_path / name)


def test_template_refuses_per_card_and_unknown_keys(tmp_path: Path) -> None:
    good = load_template(_write(tmp_path / "t.yaml",
                                "trust_domains: [x.org]\nop: '" + "00" * 16 + "'\n"
                                "generate: {iccid: '898821100000000001'}\n"))
    assert good.generators.iccid is not None and "generate" not in good.values
    assert good.row_mapping({"imsi": "1"})["op"] == "00" * 16
    assert "op" not in good.row_mapping({"opc": "11" * 16})  # the row's own OPc wins
    for text, word in (("trust_domains: [x.org]\nimsi: '001010000000001'\n", "imsi"),
                       ("trust_domains: [x.org]\ncolour: red\n", "colour"),
                       ("generate: {k: zeros}\n", "generate.k"),
                       ("- a\n", "mapping")):
        with pytest.raises(InputError, match=word):
            load_template(_write(tmp_path / "bad.yaml", text))


def test_template_values_are_checked_once_at_load(tmp_path: Path) -> None:
    """A bad template value is an input error naming the key (not a problem in every row)."""
    for text, word in (("trust_domains: [x..org]\n", "trust_domains: entry 1"),
                       ("trust_domains: [x.org]\npcscf: 5\n", "pcscf: must be a list"),
                       ("trust_domains: [x.org]\nop: '00'\n", "op: must be 32 hex digits"),
                       ("trust_domains: [x.org]\nsizes: {EF.IMPV: {records: 2}}\n",
                        "did you mean 'EF.IMPU'")):
        with pytest.raises(InputError, match=word):
            load_template(_write(tmp_path / "bad.yaml", text))


def test_template_rows_check_like_their_merged_profile(tmp_path: Path) -> None:
    """`Template.check` of a row = the check of `row_mapping(row)`, the batch OP included."""
    from isim.aka.milenage import derive_opc
    from isim.profile.model import profile_from_mapping

    tpl = load_template(_write(tmp_path / "t.yaml",
                               "trust_domains: [3gppnetwork.org]\nop: '" + "cd" * 16 + "'\n"))
    row = {"iccid": "8988211000000000003", "imsi": "001010000000123", "k": "00" * 16}
    for own in ({}, {"opc": "11" * 16}, {"op": "22" * 16}):
        merged = tpl.row_mapping(row | own)
        assert tpl.profile(row | own) == profile_from_mapping(merged)
    assert tpl.profile(row).opc == derive_opc(bytes(16), bytes.fromhex("cd" * 16))
    assert tpl.profile(row | {"opc": "11" * 16}).opc == bytes.fromhex("11" * 16)
    _, problems = tpl.check(row | {"impu": ["sip:a@evil.example"]})
    assert [p.field for p in problems] == ["impu"]


def test_duplicate_index_keeps_leading_zeros_and_reports_all_rows() -> None:
    index = DuplicateIndex()
    index.add(2, "8988211000000000011", "001010000000001")
    index.add(3, "8988211000000000029", "01010000000001")  # not the same IMSI: shorter
    index.add(4, "8988211000000000037", "001010000000001")
    index.add(5, "8988211000000000011", None)
    index.add(6, "89882110000000000110", "001010000000009")  # 20 digits: other length
    dups = index.duplicates()
    assert {(d.column, d.row, d.others) for d in dups} == {
        ("iccid", 2, (5,)), ("iccid", 5, (2,)), ("imsi", 2, (4,)), ("imsi", 4, (2,))}
    assert [d.row for d in dups] == sorted(d.row for d in dups)


def test_duplicate_index_handles_20_digit_iccids() -> None:
    index = DuplicateIndex()
    index.add(1, "99999999999999999999", None)  # above 2**64 with its check digit
    index.add(2, "99999999999999999999", None)
    assert len(index.duplicates()) == 2


RECORD = HssRecord("8988211000000000011", "001010000000001",
                   "001010000000001@ims.mnc001.mcc001.3gppnetwork.org",
                   ("sip:a@ims.example.net", "tel:+1555"), bytes(range(16)), bytes(range(16, 32)))


def test_hss_plain_line() -> None:
    assert hss_header(None) == "iccid,imsi,impi,impu,k,opc\n"
    assert hss_line(RECORD, None) == (
        "8988211000000000011,001010000000001,001010000000001@ims.mnc001.mcc001.3gppnetwork.org,"
        "sip:a@ims.example.net|tel:+1555,000102030405060708090a0b0c0d0e0f,"
        "101112131415161718191a1b1c1d1e1f\n")


@pytest.mark.parametrize("key_hex", ["0f" * 16, "1e2d" * 12, "3c4b5a69" * 8])
def test_transport_key_round_trip(tmp_path: Path, key_hex: str) -> None:
    path = _write(tmp_path / "key.hex", key_hex[:20] + "\n " + key_hex[20:] + "\n")
    key = TransportKey.from_file(path)
    assert hss_header(key) == "iccid,imsi,impi,impu,k_enc,opc_enc\n"
    cells = hss_line(RECORD, key).strip().split(",")
    k_enc, opc_enc = cells[4], cells[5]
    assert len(k_enc) == len(opc_enc) == 88  # hex(nonce 12 || ciphertext 16 || tag 16)
    assert key.decrypt(k_enc, RECORD.iccid, "k") == RECORD.k
    assert key.decrypt(opc_enc, RECORD.iccid, "opc") == RECORD.opc
    assert k_enc != hss_line(RECORD, key).split(",")[4]  # a fresh nonce every time
    other = TransportKey(bytes(b ^ 1 for b in bytes.fromhex(key_hex)))
    for args in ((k_enc, RECORD.iccid, "opc", key), (k_enc, "8988211000000000029", "k", key),
                 (k_enc, RECORD.iccid, "k", other)):
        with pytest.raises(ValueError, match="wrong key or altered"):
            args[3].decrypt(*args[:3])


def test_transport_key_independent_decryption(tmp_path: Path) -> None:
    """The documented format, decrypted with nothing but `cryptography`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_bytes = bytes(range(32))
    blob = bytes.fromhex(TransportKey(key_bytes).encrypt(b"\x42" * 16, "123", "k"))
    assert AESGCM(key_bytes).decrypt(blob[:12], blob[12:], b"123:k") == b"\x42" * 16


@pytest.mark.parametrize("text", ["zz" * 16, "11" * 15, "", "11" * 33])
def test_bad_transport_keys(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError):
        read_transport_key(_write(tmp_path / "k", text))
