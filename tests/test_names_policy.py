"""Issue 12 item 14: no leniency in names.

* a card holds exactly what a UE compares: characters that only UTS 46 mapping turns into a
  valid name (fullwidth forms, soft hyphens, upper-case non-ASCII ...) are refused, never
  stored; `trust-check` applies the same policy to certificate names;
* one '@' rule for IMPI and IMPU (an NAI has exactly one '@', RFC 7542 clause 2.2);
* duplicate IMPUs are compared case-insensitively in the host;
* public suffixes are refused as trust domains (the public-suffix list, not a hand list);
* hss.csv never holds a cell a spreadsheet would evaluate.
"""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from certs import PKI
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.errors import ProfileError
from isim.identity.trust import DomainError, normalize_domain, uri_domain
from isim.ims.tlscheck import CHECK_IDENTITY, check_pcscf, sip_identities
from isim.personalize.hss import HssRecord, hss_line
from isim.profile.model import profile_from_mapping

ROOT = Path(__file__).resolve().parents[1]
ALICE: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "alice.yaml").read_text())

MAPPED_ONLY = [  # valid names only after UTS 46 mapping
    "ims.exam\u00adple.com",  # soft hyphen (mapped to nothing)
    "ims\uff0eexample.com",  # fullwidth full stop
    "ims\u3002example.com",  # ideographic full stop
    "ims\uff61example.com",  # halfwidth ideographic full stop
    "\uff49\uff4d\uff53.example.com",  # fullwidth letters
    "B\u00dcCHER.example.com",  # upper-case non-ASCII
    "ims.exa\u200dmple.com",  # zero-width joiner
    "\u2460.example.com",  # circled digit one (compatibility mapping)
]


def profile(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ALICE)
    data.update(changes)
    return data


def problems(data: dict[str, Any]) -> list[str]:
    try:
        profile_from_mapping(data)
    except ProfileError as exc:
        return [f"{p.field}: {p.message}" for p in exc.problems]
    return []


# -- UTS 46 mapping is not applied -----------------------------------------------------------


@pytest.mark.parametrize("name", MAPPED_ONLY)
def test_names_valid_only_after_mapping_are_refused(name: str) -> None:
    with pytest.raises(DomainError):
        normalize_domain(name)


@pytest.mark.parametrize(("name", "normal"), [
    ("b\u00fccher.example.com", "xn--bcher-kva.example.com"),  # a U-label as IDNA2008 has it
    ("xn--bcher-kva.example.com", "xn--bcher-kva.example.com"),
    ("IMS.Example.COM", "ims.example.com"),  # ASCII case is DNS case: compared, not stored
])
def test_names_as_a_ue_compares_them_are_accepted(name: str, normal: str) -> None:
    assert normalize_domain(name) == normal


@pytest.mark.parametrize("name", MAPPED_ONLY)
def test_profile_with_mapped_only_domain_is_refused(name: str) -> None:
    found = problems(profile(domain=name.replace("example.com", "ims.example.com")))
    assert any(p.startswith("domain:") for p in found), found
    found = problems(profile(impu=[f"sip:alice@{name}"]))
    assert any(p.startswith("impu:") for p in found), found


def test_soft_hyphen_never_reaches_ef_domain(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(profile(domain="ims.exam\u00adple.com"), allow_unicode=True))
    result = CliRunner().invoke(main, ["build", str(path), "--json"])
    assert result.exit_code == EXIT_VIOLATION, result.output
    assert "c2ad" not in result.output.lower()


# -- trust-check: the same policy --------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI.create()


@pytest.mark.parametrize("cn", [
    "pcscf.ims.mnc001.mcc001.3gppnetwork\uff0eorg",
    "pcscf.ims.mnc001.mcc001.3gpp\u00adnetwork.org",
    "\uff50cscf.ims.mnc001.mcc001.3gppnetwork.org",
    " pcscf.ims.mnc001.mcc001.3gppnetwork.org",
    "pcscf.ims.mnc001.mcc001.3gppnetwork.org\n",
])
def test_cn_only_certificate_written_with_mapped_characters_is_not_trusted(
    pki: PKI, cn: str
) -> None:
    leaf = pki.leaf(cn=cn)
    report = check_pcscf([leaf.cert], [pki.root.cert], "pcscf.ims.mnc001.mcc001.3gppnetwork.org",
                         None, "ims.mnc001.mcc001.3gppnetwork.org", ["3gppnetwork.org"])
    assert not report.trusted, report.lines()
    assert report.check(CHECK_IDENTITY).status == "fail"


def test_sip_uri_san_host_comes_from_the_one_sip_parser(pki: PKI) -> None:
    leaf = pki.leaf(cn="x", uris=["sip:pcscf.ims.example.com:5061;transport=tls",
                                  "sip:bob@ims.example.com", "sips:pcscf.ims.example.com",
                                  "sip:192.0.2.1"])
    from isim.identity.names import parse_sip_uri  # the one SIP URI parser

    ids = sip_identities(leaf.cert)
    assert ids.names == ["pcscf.ims.example.com"]
    assert len(ids.rejected) == 3, ids.rejected
    uri = parse_sip_uri("sip:pcscf.ims.example.com:5061;transport=tls")
    assert (uri.scheme, uri.user, uri.host, uri.port) == ("sip", None, "pcscf.ims.example.com",
                                                          5061)


# -- one '@' rule --------------------------------------------------------------------------------


def test_impi_with_several_at_is_refused_like_an_impu() -> None:
    impi = problems(profile(impi="a@b@ims.example.com"))
    impu = problems(profile(impu=["sip:a@b@ims.example.com"]))
    assert len(impi) == 1 and len(impu) == 1, (impi, impu)
    assert impi[0].split(": ", 2)[-1] == impu[0].split(": ", 2)[-1]
    assert "exactly one '@'" in impi[0]


def test_one_at_rule_in_uri_domain() -> None:
    with pytest.raises(DomainError, match="exactly one '@'"):
        uri_domain("sip:a@b@ims.example.com")


# -- duplicates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("second", [
    "sip:alice@IMS.example.com", "sip:alice@ims.example.com.", "SIP:alice@ims.example.com",
])
def test_duplicate_impus_compared_case_insensitively_in_the_host(second: str) -> None:
    found = problems(profile(impu=["sip:alice@ims.example.com", second]))
    assert found == ["impu: " + repr(second) + ": duplicate of record 1"], found


def test_impus_differing_in_user_case_are_distinct() -> None:
    assert problems(profile(impu=["sip:alice@ims.example.com", "sip:Alice@ims.example.com"])) \
        == []


# -- public suffixes -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["org", "co.uk", "github.io", "ORG.", "xn--p1ai"])
def test_public_suffix_trust_domain_is_refused(suffix: str) -> None:
    found = problems(profile(trust_domains=[suffix]))
    assert any(p.startswith("trust_domains:") and "public suffix" in p for p in found), found


def test_inspect_refuses_a_public_suffix_trust_domain(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", "--image", "x", "--trust-domain", "org"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "public suffix" in result.output


def test_registrable_trust_domains_pass() -> None:
    assert problems(profile(trust_domains=["3gppnetwork.org", "ims.example.com"])) == []


# -- spreadsheet formulas --------------------------------------------------------------------------


@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])
def test_impi_a_spreadsheet_would_evaluate_is_refused(lead: str) -> None:
    found = problems(profile(impi=f"{lead}1+1@ims.mnc001.mcc001.3gppnetwork.org"))
    assert any(p.startswith("impi:") for p in found), found


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_hss_cells_a_spreadsheet_would_evaluate_are_neutralised(lead: str) -> None:
    record = HssRecord("8988211000000430010", "001010123456789", f"{lead}cmd|' /C calc'!A0",
                       ("sip:alice@ims.example.com",), b"\x01" * 16, b"\x02" * 16)
    row = next(csv.reader(io.StringIO(hss_line(record, None), newline="")))
    assert row[2] == "'" + record.impi
    assert row[0] == record.iccid and row[3] == "sip:alice@ims.example.com"


def test_alice_passes_check() -> None:
    result = CliRunner().invoke(main, ["check", str(ROOT / "examples" / "alice.yaml")])
    assert result.exit_code == EXIT_OK, result.output


@given(st.text(alphabet="aZ09.@=+-_~'\u00fc \x00", max_size=12))
@example("a.b@ims.example.com")
@example("a=@b")
def test_property_nai_fast_path_agrees_with_the_full_rules(nai: str) -> None:
    from isim.identity import names
    plain = names._PLAIN_NAI.fullmatch(nai)
    if plain is None:
        return
    assert names._nai_parts_full(nai) == (plain.group(1), plain.group(2))
