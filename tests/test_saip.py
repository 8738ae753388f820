"""eUICC Profile Packages: specs/saip.asn, export, import, round trips, bad input."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from isim.card.contents import card_contents
from isim.card.image import build_image
from isim.cli import main
from isim.profile.model import load_profile, profile_from_mapping
from isim.saip.asn import SQN_INIT_ENTRIES, decode_pe, encode_pe
from isim.saip.export import export_image
from isim.saip.extract import extract
from isim.saip.files import apply_items, content_items
from isim.saip.package import PackageError, read_package
from specs.layout import layout

ROOT = Path(__file__).resolve().parents[1]
TS48 = ROOT / "tests/data/saip/TS48V5-SAIP2-3-BERTLV-SUCI-UNIQUE.der"
EXAMPLE = ROOT / "examples/ts48.yaml"
BOTH = ["--trust-domain", "test.3gpp.com", "--trust-domain", "ims.mnc001.mcc001.3gppnetwork.org"]

# digest-wave2 5.6: PE-AKAParameter for TS 35.208 test set 1 (K, OPc), identification 11,
# every default left out (55 bytes)
AKA_SET1 = bytes.fromhex(
    "a435a0058000810 10ba12ca12a800101810100"
    "8210465b5ce8b199b49faa5f0a2ee238a6bc8310cd63cb71954a9f4e48a5994e37a02baf".replace(" ", ""))


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def _package() -> bytes:
    return export_image(build_image(load_profile(EXAMPLE)))


# ------------------------------------------------------------------ ASN.1


def test_aka_vector_and_sqn_init_default() -> None:
    name, value = decode_pe(AKA_SET1)
    assert name == "akaParameter"
    # asn1tools alone gives a string here; the 32 zero entries are what it means
    assert value["sqnInit"] == [bytes(6)] * SQN_INIT_ENTRIES
    assert encode_pe(name, value) == AKA_SET1
    value["sqnInit"] = [bytes(6)] * 31 + [bytes.fromhex("000000000020")]
    longer = encode_pe(name, value)
    assert len(longer) > len(AKA_SET1)
    assert decode_pe(longer)[1]["sqnInit"][-1] == bytes.fromhex("000000000020")


def test_ts48_package_reencodes_byte_identical() -> None:
    data = TS48.read_bytes()
    package = read_package(data)
    assert package.encode() == data
    assert [pe.name for pe in package.pes][:4] == ["header", "mf", "pukCodes", "pinCodes"]
    assert {pe.name for pe in package.unmodelled} >= {"securityDomain", "rfm", "telecom"}


def test_our_package_reencodes_byte_identical() -> None:
    data = _package()
    package = read_package(data)
    assert all(pe.value is not None for pe in package.pes)
    assert package.encode() == data


@pytest.mark.parametrize("body", [b"", b"\xff", b"\x01\xff\xff\xff\xff\x02", b"\xff" * 9 + b"a",
                                  b"ab\xff\xffcd", bytes(range(256)) * 3])
def test_content_items_round_trip(body: bytes) -> None:
    assert apply_items(content_items(body), len(body)) == body


def test_fill_pattern_per_record() -> None:
    assert apply_items([], 6, fill=b"\x80\x00\xff") == b"\x80\x00\xff\xff\xff\xff"
    assert apply_items([], 4, repeat=b"ab", record_length=2) == b"abab"
    assert apply_items([], 6, fill=b"\x01", record_length=3) == b"\x01" * 6


# ------------------------------------------------------------------ import


def test_ts48_import_reads_identities_and_refuses_one_domain(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    code, text = _run("saip", "import", TS48, "-o", out)
    assert code == 1 and not out.exists()
    assert "EF.IMPU (PE isim ef-impu" in text and "3gppnetwork.org" in text
    code, text = _run("saip", "import", TS48, "-o", out, *BOTH)
    assert code == 0, text
    assert "usim-test-algorithm" in text  # not Milenage: said, the rest imported
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = yaml.safe_load(out.read_text())
    assert data["iccid"] == "8949449999999990163"
    assert data["imsi"] == "001010123456063"
    assert data["impi"] == "001010123456789@test.3gpp.com"
    assert data["impu"][0] == "sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    assert data["domain"] == "test.3gpp.com"
    assert data["pin1"] == "0000" and data["pin1_enabled"] is False
    assert "k" not in data and "opc" not in data


def test_ts48_import_image_needs_milenage(tmp_path: Path) -> None:
    image = tmp_path / "card.json"
    code, text = _run("saip", "import", TS48, "--image", image, *BOTH)
    assert code == 1 and "Milenage" in text and not image.exists()


def test_export_then_import_gives_the_same_card(tmp_path: Path) -> None:
    der, prof, img = tmp_path / "c.der", tmp_path / "c.yaml", tmp_path / "c.json"
    assert _run("saip", "export", EXAMPLE, "-o", der)[0] == 0
    assert stat.S_IMODE(der.stat().st_mode) == 0o600
    assert _run("saip", "import", der, "-o", prof, *BOTH)[0] == 0
    original = load_profile(EXAMPLE)
    back = load_profile(prof)
    assert card_contents(back) == card_contents(original)
    assert (back.k, back.opc, back.pin1, back.puk1, back.pin2, back.puk2, back.adm1) == (
        original.k, original.opc, original.pin1, original.puk1, original.pin2, original.puk2,
        original.adm1)
    assert _run("saip", "import", der, "--image", img, *BOTH)[0] == 0
    assert build_image(back).card == build_image(original).card


def test_sizes_and_services_survive_the_round_trip() -> None:
    base = yaml.safe_load(EXAMPLE.read_text())
    base |= {"ist": [1, 2, 21], "sizes": {"EF.IMPU": {"records": 3, "record_length": 90}},
             "sqn": "000000000040", "ad": 128}
    original = profile_from_mapping(base)
    ex = extract(read_package(export_image(build_image(original))),
                 list(original.trust_domains))
    back = profile_from_mapping(ex.mapping)
    assert card_contents(back) == card_contents(original)
    assert back.sqn == original.sqn and back.ad == 128


# ------------------------------------------------------------------ bad input


def _pes(data: bytes) -> list[bytes]:
    package = read_package(data)
    return [pe.raw for pe in package.pes]


def _swap(raws: list[bytes], first: str, second: str) -> list[bytes]:
    """The PEs with the first `first` and the first `second` PE exchanged."""
    names = [pe.name for pe in read_package(b"".join(raws)).pes]
    i, j = names.index(first), names.index(second)
    out = list(raws)
    out[i], out[j] = out[j], out[i]
    return out


@pytest.mark.parametrize("mangle, message", [
    (lambda p: b"".join(p)[:-4], "PE #"),
    (lambda p: b"".join(p[:1] + p[2:3] + p[1:2] + p[3:]), ""),  # valid order change (puk/mf)
    (lambda p: b"".join([p[1], p[0], *p[2:]]), "first PE must be the ProfileHeader"),
    (lambda p: b"".join(_swap(p, "isim", "opt-isim")), "opt-isim before isim"),
    (lambda p: b"".join(p) + p[3], "after PE-End"),
    (lambda p: b"".join(p) + p[-1], "a second end PE"),
    (lambda p: b"".join(p[:-1]), "does not end with PE-End"),
    (lambda p: p[0] + b"\xb5\x85\x01\x00\x00\x00\x00" + b"".join(p[1:]), "length field"),
    (lambda p: p[0] + b"\xb5\x83\x7f\xff\xff" + b"".join(p[1:]), "runs past the end"),
    (lambda p: p[0] + b"\xb5\x03\x02\x01\x00" + b"".join(p[1:]), "PE isim at offset"),
])
def test_bad_packages_exit_2_naming_pe_and_offset(tmp_path: Path, mangle, message) -> None:
    data = mangle(_pes(_package()))
    bad = tmp_path / "bad.der"
    bad.write_bytes(data)
    out = tmp_path / "out.yaml"
    code, text = _run("saip", "import", bad, "-o", out, *BOTH)
    if not message:  # the control: a package still readable
        assert code == 0, text
        return
    assert code == 2, text
    assert message in text and "offset" in text
    assert "Traceback" not in text and not out.exists()
    code, text = _run("inspect", "--saip", bad)
    assert code == 2 and message in text


def test_unknown_pe_is_kept_and_reported(tmp_path: Path) -> None:
    pes = _pes(_package())
    vendor = b"\xbf\x7f\x03\x80\x01\x00"  # a tag no ProfileElement has
    data = b"".join(pes[:-1]) + vendor + pes[-1]
    package = read_package(data)
    assert package.encode() == data
    assert any(pe.name == "unknown(BF7F)" for pe in package.unmodelled)
    bad = tmp_path / "v.der"
    bad.write_bytes(data)
    code, text = _run("saip", "import", bad, "-o", tmp_path / "v.yaml", *BOTH)
    assert code == 0 and "unknown(BF7F)" in text


def test_export_refuses_rule_breaking_image(tmp_path: Path) -> None:
    image = build_image(load_profile(EXAMPLE))
    image.isim["trust_domains"] = ["test.3gpp.com"]  # IMPU 1 now outside
    from isim.card.image import save_image

    src = tmp_path / "img.json"
    save_image(src, image)
    out = tmp_path / "x.der"
    code, text = _run("saip", "export", src, "-o", out)
    assert code == 1 and "EF.IMPU record 1" in text and not out.exists()


def test_read_package_errors_are_input_errors() -> None:
    with pytest.raises(PackageError, match="empty"):
        read_package(b"")


def test_import_findings_name_the_pe(tmp_path: Path) -> None:
    code, text = _run("saip", "import", TS48, "-o", tmp_path / "p.yaml")
    assert code == 1
    assert "EF.IMPU (PE isim ef-impu (offset 10270)) record 1" in text


def test_inspect_saip_json(tmp_path: Path) -> None:
    import json

    code, text = _run("inspect", "--saip", TS48, "--json")
    assert code == 1
    report = json.loads(text[text.index("{"):])
    rule = [f for f in report["findings"] if f["check"] == "rule"]
    assert rule and all("PE isim ef-impu" in f["file"] for f in rule)
    assert any(f["check"] == "saip" and "securityDomain" in f["message"]
               for f in report["findings"])
    der = tmp_path / "c.der"
    assert _run("saip", "export", EXAMPLE, "-o", der)[0] == 0
    assert _run("inspect", "--saip", der, *BOTH)[0] == 0
    assert _run("inspect", "--saip", der)[0] == 1  # the home domain alone: IMPU 1 outside


def test_export_refuses_rule_breaking_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load(EXAMPLE.read_text())
    data["trust_domains"] = ["test.3gpp.com"]
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "x.der"
    code, text = _run("saip", "export", bad, "-o", out)
    assert code == 1 and "EF.IMPU record 1" in text and not out.exists()


def test_unreadable_package_inputs_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    for bad in (tmp_path / "missing.der", tmp_path, Path("/dev/zero")):
        code, text = _run("saip", "import", bad, "-o", out, *BOTH)
        assert code == 2 and "Traceback" not in text and not out.exists()
    link = tmp_path / "link.der"
    link.symlink_to(tmp_path / "elsewhere.der")
    code, text = _run("saip", "export", EXAMPLE, "-o", link)
    assert code == 2 and "symbolic link" in text
    assert not (tmp_path / "elsewhere.der").exists()


def test_usim_only_card_round_trip(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    for key in ("impi", "impu", "domain", "pcscf", "ist", "label"):
        data.pop(key, None)
    data |= {"applications": ["usim"], "trust_domains": ["3gppnetwork.org"],
             "msisdn": "+15551234", "spn": "Op", "ecc": ["112", "911"], "ad": 128}
    src = tmp_path / "usim.yaml"
    src.write_text(yaml.safe_dump(data))
    der, back = tmp_path / "u.der", tmp_path / "back.yaml"
    assert _run("saip", "export", src, "-o", der)[0] == 0
    assert [pe.name for pe in read_package(der.read_bytes()).pes if "isim" in pe.name] == []
    code, text = _run("saip", "import", der, "-o", back, "--trust-domain", "3gppnetwork.org")
    assert code == 0, text
    assert card_contents(load_profile(back)) == card_contents(load_profile(src))
    assert _run("inspect", "--saip", der, "--trust-domain", "3gppnetwork.org")[0] == 0
    assert _run("inspect", "--saip", der, "--trust-domain", "example.org")[0] == 1


def test_a_card_with_other_ind_bits_has_no_package(tmp_path: Path) -> None:
    """PE-AKAParameter.sqnInit is 32 SEQs, one per IND value of 5 bits: a card with another
    IND length is refused with the reason (exit 2, nothing written), not exported without
    its SQN array."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["sqn_ind_bits"] = 4
    card = tmp_path / "ind4.yaml"
    card.write_text(yaml.safe_dump(data))
    out = tmp_path / "x.der"
    code, text = _run("saip", "export", card, "-o", out)
    assert code == 2 and "sqn_ind_bits: 4 IND bits" in text and "Traceback" not in text
    assert not out.exists()


def test_personalize_format_saip_refuses_other_ind_bits_in_pass_1(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text((ROOT / "examples/batch/template.yaml").read_text()
                        + "sqn_ind_bits: 4\n")
    out = tmp_path / "out"
    args = ["personalize", ROOT / "examples/batch/batch.csv", "--template", template,
            "--out", out]
    code, text = _run(*args, "--format", "saip")
    assert code == 1 and "--format saip: 4 IND bits" in text and not out.exists()
    code, _ = _run(*args)  # images and scripts hold any IND length
    assert code == 0 and out.is_dir()


def _with_aka(data: bytes, edit_usim, edit_isim) -> bytes:
    """The package with its USIM's and ISIM's PE-AKAParameter values edited."""
    out, adf = [], None
    for pe in read_package(data).pes:
        raw = pe.raw
        if pe.name in ("usim", "isim"):
            adf = pe.name
        elif pe.name == "akaParameter":
            name, value = decode_pe(raw)
            (edit_usim if adf == "usim" else edit_isim)(value)
            raw = encode_pe(name, value)
        out.append(raw)
    return b"".join(out)


def _map_to_usim(value: dict) -> None:
    usim_aid = layout().applications["ADF.USIM"].aid
    value["algoConfiguration"] = ("mappingParameter", {"mappingOptions": b"\x01",
                                                       "mappingSource": usim_aid})


def test_import_follows_the_isims_mapping_to_the_usims_keys(tmp_path: Path) -> None:
    """TCA: an ISIM may share the USIM's algorithm and keys (mappingParameter naming the
    USIM's AID): the keys are the USIM's, and imported as such."""
    der, prof = tmp_path / "m.der", tmp_path / "m.yaml"
    der.write_bytes(_with_aka(_package(), lambda v: None, _map_to_usim))
    code, text = _run("saip", "import", der, "-o", prof, *BOTH)
    assert code == 0 and "shares the algorithm of ADF.USIM" in text, text
    original, back = load_profile(EXAMPLE), load_profile(prof)
    assert (back.k, back.opc) == (original.k, original.opc)


def test_import_says_when_the_applications_keys_differ(tmp_path: Path) -> None:
    other = bytes(range(16))

    def usim_key(value: dict) -> None:
        value["algoConfiguration"][1]["key"] = other

    der, prof = tmp_path / "d.der", tmp_path / "d.yaml"
    der.write_bytes(_with_aka(_package(), usim_key, lambda v: None))
    code, text = _run("saip", "import", der, "-o", prof, *BOTH)
    assert code == 0 and "has another K or OPc" in text and other.hex() not in text, text
    assert load_profile(prof).k == load_profile(EXAMPLE).k  # the ISIM's
