"""isim.ims.tlscheck: should the UE trust this P-CSCF certificate (chain, RFC 5922 identity,
trust domain, realm)?"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs import DAY, PKI, Issued
from isim.ims.tlscheck import (
    CHECK_CHAIN,
    CHECK_IDENTITY,
    CHECK_REALM,
    CHECK_TRUST_DOMAIN,
    SOURCE_CN,
    SOURCE_DNS,
    SOURCE_NONE,
    SOURCE_SIP_URI,
    TrustReport,
    check_pcscf,
    realm_matches,
    sip_identities,
)

TRUST = ["3gppnetwork.org"]
HOME = "ims.mnc001.mcc001.3gppnetwork.org"
PCSCF = "pcscf.ims.mnc001.mcc001.3gppnetwork.org"
OTHER = "pcscf2.ims.mnc001.mcc001.3gppnetwork.org"


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI.create()


def run(
    pki: PKI,
    leaf: Issued,
    *,
    intermediates: tuple[Issued, ...] = (),
    pcscf: str = PCSCF,
    realm: str | None = HOME,
    now: dt.datetime | None = None,
) -> TrustReport:
    return check_pcscf(
        chain=[leaf.cert, *(i.cert for i in intermediates)],
        roots=[pki.root.cert],
        pcscf_fqdn=pcscf,
        realm=realm,
        home_domain=HOME,
        trust_domains=TRUST,
        now=now,
    )


def statuses(report: TrustReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


ALL_PASS = {CHECK_CHAIN: "pass", CHECK_IDENTITY: "pass", CHECK_TRUST_DOMAIN: "pass",
            CHECK_REALM: "pass"}


# ------------------------------------------------------------------ certificate cases


def test_good_leaf_dns_san(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]))
    assert statuses(report) == ALL_PASS
    assert report.trusted
    assert report.identities is not None and report.identities.source == SOURCE_DNS
    assert PCSCF in report.check(CHECK_IDENTITY).detail
    assert "inside" in report.check(CHECK_TRUST_DOMAIN).detail


def test_sip_uri_san_preferred_over_dns(pki: PKI) -> None:
    leaf = pki.leaf(uris=[f"sip:{PCSCF}"], dns=["unrelated.example.com"])
    report = run(pki, leaf)
    assert report.trusted, report.lines()
    assert report.identities is not None
    assert report.identities.source == SOURCE_SIP_URI
    assert report.identities.names == [PCSCF]


def test_sip_uri_san_makes_dns_san_ignored(pki: PKI) -> None:
    # dNSName matches the dialled name, but a sip: URI SAN exists: only its host counts.
    leaf = pki.leaf(uris=[f"sip:{OTHER};transport=tls"], dns=[PCSCF])
    report = run(pki, leaf)
    assert not report.trusted
    assert statuses(report)[CHECK_IDENTITY] == "fail"
    assert "SIP URI SAN" in report.check(CHECK_IDENTITY).detail


def test_sip_uri_with_user_part_is_no_identity(pki: PKI) -> None:
    leaf = pki.leaf(uris=[f"sip:alice@{PCSCF}"], dns=[PCSCF])
    ids = sip_identities(leaf.cert)
    assert ids.source == SOURCE_DNS  # falls back to dNSName: no acceptable sip: URI
    assert any("user part" in r for r in ids.rejected)
    assert run(pki, leaf).trusted


def test_wrong_domain_matches_dialled_but_outside_trust_domain(pki: PKI) -> None:
    name = "pcscf.evil.example.net"
    report = run(pki, pki.leaf(dns=[name]), pcscf=name)
    assert statuses(report) == {**ALL_PASS, CHECK_TRUST_DOMAIN: "fail"}
    assert not report.trusted
    assert "outside" in report.check(CHECK_TRUST_DOMAIN).detail


def test_only_the_matched_identity_is_placed_in_the_trust_domain(pki: PKI) -> None:
    evil = "pcscf.evil.example.net"
    leaf = pki.leaf(dns=[PCSCF, evil])
    assert run(pki, leaf).trusted
    report = run(pki, leaf, pcscf=evil)
    assert statuses(report) == {**ALL_PASS, CHECK_TRUST_DOMAIN: "fail"}
    assert report.check(CHECK_TRUST_DOMAIN).detail.startswith(f"{evil} lies outside")


def test_unmatched_identities_still_placed(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=["pcscf.evil.example.net"]))
    assert statuses(report)[CHECK_TRUST_DOMAIN] == "fail"
    detail = report.check(CHECK_TRUST_DOMAIN).detail
    assert detail.endswith("outside trust domain(s) 3gppnetwork.org: pcscf.evil.example.net")


def test_dialled_name_not_in_certificate(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[OTHER]))
    assert statuses(report)[CHECK_IDENTITY] == "fail"
    assert not report.trusted
    detail = report.check(CHECK_IDENTITY).detail
    assert "not among" in detail and OTHER in detail


def test_wildcard_san_rejected(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=["*.ims.mnc001.mcc001.3gppnetwork.org"]))
    assert statuses(report)[CHECK_IDENTITY] == "fail"
    assert "wildcard" in report.check(CHECK_IDENTITY).detail
    assert not report.trusted


def test_wildcard_san_next_to_exact_name(pki: PKI) -> None:
    leaf = pki.leaf(dns=["*.ims.mnc001.mcc001.3gppnetwork.org", PCSCF])
    report = run(pki, leaf)
    assert report.trusted
    assert report.identities is not None and report.identities.names == [PCSCF]


def test_expired(pki: PKI) -> None:
    now = dt.datetime.now(dt.UTC)
    report = run(pki, pki.leaf(dns=[PCSCF], not_before=now - 30 * DAY, not_after=now - DAY))
    assert statuses(report) == {**ALL_PASS, CHECK_CHAIN: "fail"}
    assert "expired" in report.check(CHECK_CHAIN).detail
    assert not report.trusted


def test_not_yet_valid(pki: PKI) -> None:
    now = dt.datetime.now(dt.UTC)
    report = run(pki, pki.leaf(dns=[PCSCF], not_before=now + DAY, not_after=now + 30 * DAY))
    assert statuses(report)[CHECK_CHAIN] == "fail"
    assert "not yet valid" in report.check(CHECK_CHAIN).detail
    assert not report.trusted


def test_validity_judged_at_given_time(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]), now=dt.datetime.now(dt.UTC) + 400 * DAY)
    assert "expired" in report.check(CHECK_CHAIN).detail


def test_naive_time_taken_as_utc(pki: PKI) -> None:
    naive = (dt.datetime.now(dt.UTC) + 400 * DAY).replace(tzinfo=None)
    assert "expired" in run(pki, pki.leaf(dns=[PCSCF]), now=naive).check(CHECK_CHAIN).detail


def test_unknown_root(pki: PKI) -> None:
    report = run(pki, pki.leaf(issuer=pki.other_root, dns=[PCSCF]))
    assert statuses(report) == {**ALL_PASS, CHECK_CHAIN: "fail"}
    assert "no path" in report.check(CHECK_CHAIN).detail
    assert not report.trusted


def test_cn_only_certificate_identified_by_cn(pki: PKI) -> None:
    report = run(pki, pki.leaf(cn=PCSCF))
    assert report.identities is not None and report.identities.source == SOURCE_CN
    assert report.trusted, report.lines()


def test_cn_matches_but_san_does_not(pki: PKI) -> None:
    report = run(pki, pki.leaf(cn=PCSCF, dns=[OTHER]))
    assert statuses(report)[CHECK_IDENTITY] == "fail"
    assert f"CN {PCSCF} ignored" in report.check(CHECK_IDENTITY).detail
    assert not report.trusted


def test_san_without_usable_names_does_not_fall_back_to_cn(pki: PKI) -> None:
    report = run(pki, pki.leaf(cn=PCSCF, uris=["https://pcscf.example/"]))
    assert report.identities is not None and report.identities.source == SOURCE_NONE
    assert statuses(report)[CHECK_IDENTITY] == "fail"


def test_realm_mismatch(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]), realm="ims.mnc002.mcc001.3gppnetwork.org")
    assert statuses(report) == {**ALL_PASS, CHECK_REALM: "fail"}
    assert not report.trusted


def test_realm_case_and_trailing_dot(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]), realm=HOME.upper() + ".")
    assert statuses(report) == ALL_PASS
    assert report.trusted


def test_realm_not_given_is_skipped(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]), realm=None)
    realm = report.check(CHECK_REALM)
    assert realm.skipped and not realm.passed and realm.status == "skip"
    assert report.trusted  # a skipped check is neither pass nor fail
    assert realm.line().startswith("SKIP realm:")


def test_intermediate_chain(pki: PKI) -> None:
    leaf = pki.leaf(issuer=pki.intermediate, dns=[PCSCF])
    report = run(pki, leaf, intermediates=(pki.intermediate,))
    assert report.trusted, report.lines()
    assert "isim test intermediate" in report.check(CHECK_CHAIN).detail


def test_intermediate_missing_from_chain(pki: PKI) -> None:
    report = run(pki, pki.leaf(issuer=pki.intermediate, dns=[PCSCF]))
    assert statuses(report)[CHECK_CHAIN] == "fail"


def test_idn_dialled_as_unicode_certificate_in_a_labels(pki: PKI) -> None:
    unicode_name = "pcscf.bücher.3gppnetwork.org"
    a_label = "pcscf.xn--bcher-kva.3gppnetwork.org"
    report = run(pki, pki.leaf(dns=[a_label]), pcscf=unicode_name)
    assert statuses(report) == ALL_PASS, report.lines()


def test_identity_match_is_case_insensitive(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF.upper()]), pcscf=PCSCF.title())
    assert report.trusted, report.lines()


def test_client_only_eku_rejected(pki: PKI) -> None:
    leaf = pki.leaf(dns=[PCSCF], eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    report = run(pki, leaf)
    assert statuses(report)[CHECK_CHAIN] == "fail"
    assert "serverAuth" in report.check(CHECK_CHAIN).detail


def test_no_eku_means_any_purpose(pki: PKI) -> None:
    assert run(pki, pki.leaf(dns=[PCSCF], eku=None)).trusted


# --------------------------------------------------------------------- edge inputs


def test_no_roots_fails_chain(pki: PKI) -> None:
    leaf = pki.leaf(dns=[PCSCF])
    report = check_pcscf([leaf.cert], [], PCSCF, HOME, HOME, TRUST)
    assert statuses(report)[CHECK_CHAIN] == "fail"
    assert not report.trusted


def test_empty_chain_is_an_error() -> None:
    with pytest.raises(ValueError):
        check_pcscf([], [], PCSCF, HOME, HOME, TRUST)


def test_no_trust_domain_fails(pki: PKI) -> None:
    leaf = pki.leaf(dns=[PCSCF])
    report = check_pcscf([leaf.cert], [pki.root.cert], PCSCF, HOME, HOME, [])
    assert statuses(report)[CHECK_TRUST_DOMAIN] == "fail"


def test_one_line_per_check(pki: PKI) -> None:
    report = run(pki, pki.leaf(dns=[PCSCF]))
    lines = report.lines()
    assert len(lines) == 4
    assert all("\n" not in line for line in lines)
    assert [line.split()[1].rstrip(":") for line in lines] == [
        CHECK_CHAIN, CHECK_IDENTITY, CHECK_TRUST_DOMAIN, CHECK_REALM
    ]


def test_to_dict(pki: PKI) -> None:
    data = run(pki, pki.leaf(dns=[OTHER])).to_dict()
    assert data["trusted"] is False and data["verdict"] == "not trusted"
    assert [c["status"] for c in data["checks"]] == ["pass", "fail", "pass", "pass"]
    assert data["identities"] == {"source": SOURCE_DNS, "names": [OTHER], "rejected": []}


@pytest.mark.parametrize(
    ("realm", "expected"),
    [(HOME, True), (HOME.upper(), True), (HOME + ".", True), ("ims.example.org", False),
     ("operator1@" + HOME, False), ("", False)],
)
def test_realm_matches(realm: str, expected: bool) -> None:
    assert realm_matches(realm, HOME) is expected
