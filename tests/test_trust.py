"""The trust-domain rule (TS 33.203 clause 8.1 as changed by the seed CR): isim.identity.trust."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from isim.identity.names import is_public_suffix
from isim.identity.trust import (
    DomainError,
    Violation,
    check_domain,
    check_identities,
    check_impi,
    check_impu,
    in_trust_domain,
    nai_realm,
    normalize_domain,
    uri_domain,
)

IMS = ["ims.com"]
TS48 = ["test.3gpp.com", "ims.mnc001.mcc001.3gppnetwork.org"]
L63 = "a" * 63
L64 = "a" * 64


def _name_of_length(n: int, suffix: str = "ims.com") -> str:
    """A valid name of exactly n octets ending in `suffix` (labels of at most 63)."""
    labels: list[str] = []
    rest = n - len(suffix)  # octets still to add, each label costing its size + 1
    while rest > 64:
        labels.append("b" * 50)
        rest -= 51
    labels.append("c" * (rest - 1))
    name = ".".join([*labels, suffix])
    assert len(name) == n, (len(name), n)
    return name


# (kind, value, trust domains, passes, fragment of the reason when it fails)
CASES: list[tuple[str, str, list[str], bool, str]] = [
    # --- domain names: equal or subdomain, whole labels ---
    ("domain", "ims.com", IMS, True, ""),
    ("domain", "sub.ims.com", IMS, True, ""),
    ("domain", "a.b.c.ims.com", IMS, True, ""),
    ("domain", "badims.com", IMS, False, "not inside trust domain(s) ims.com"),
    ("domain", "ims.com.evil.org", IMS, False, "not inside"),
    ("domain", "ims.co", IMS, False, "not inside"),
    ("domain", "ims.comm", IMS, False, "not inside"),
    ("domain", "com", IMS, False, "not inside"),
    ("domain", "1a.ims.com", IMS, True, ""),  # RFC 1123: a label may start with a digit
    ("domain", "a-b.ims.com", IMS, True, ""),
    # --- case and the trailing dot ---
    ("domain", "IMS.COM", IMS, True, ""),
    ("domain", "Sub.Ims.Com.", IMS, True, ""),
    ("domain", "sub.ims.com", ["IMS.COM."], True, ""),
    ("domain", "ims.com..", IMS, False, "empty label"),
    # --- label and name syntax ---
    ("domain", ".ims.com", IMS, False, "empty label"),
    ("domain", "a..ims.com", IMS, False, "empty label"),
    ("domain", "", IMS, False, "empty value"),
    ("domain", ".", IMS, False, "empty name"),
    ("domain", "-a.ims.com", IMS, False, "hyphen"),
    ("domain", "a-.ims.com", IMS, False, "hyphen"),
    ("domain", "a_b.ims.com", IMS, False, "letters, digits and hyphen"),
    ("domain", "a b.ims.com", IMS, False, "contains U+0020 SPACE"),
    ("domain", "ims.com\n", IMS, False, "contains U+000A"),
    ("domain", "*.ims.com", IMS, False, "letters, digits and hyphen"),
    ("domain", f"{L63}.ims.com", IMS, True, ""),
    ("domain", f"{L64}.ims.com", IMS, False, "more than 63"),
    ("domain", _name_of_length(253), IMS, True, ""),
    ("domain", _name_of_length(254), IMS, False, "more than 253"),
    ("domain", "ims.123", IMS, False, "all-numeric"),
    ("domain", "192.0.2.1", IMS, False, "IPv4 address"),
    # --- IDNs: U-label and A-label are the same name ---
    ("domain", "bücher.ims.com", IMS, True, ""),
    ("domain", "xn--bcher-kva.ims.com", IMS, True, ""),
    ("domain", "ims.bücher.de", ["xn--bcher-kva.de"], True, ""),
    ("domain", "ims.xn--bcher-kva.de", ["bücher.de"], True, ""),
    ("domain", "ims.BÜCHER.de", ["bücher.de"], False, "not an IDNA2008 U-label"),
    ("domain", "xn--bcher-kva.de", ["ücher.de"], False, "not inside"),
    ("domain", "xn--zz.ims.com", IMS, False, "not a valid A-label"),
    ("domain", "bü cher.ims.com", IMS, False, "contains U+0020"),
    # --- several trust domains (GSMA TS.48-style) ---
    ("domain", "test.3gpp.com", TS48, True, ""),
    ("domain", "ims.mnc001.mcc001.3gppnetwork.org", TS48, True, ""),
    ("domain", "3gpp.com", TS48, False, "test.3gpp.com, ims.mnc001.mcc001.3gppnetwork.org"),
    ("domain", "ims.mnc002.mcc001.3gppnetwork.org", TS48, False, "not inside"),
    # --- IMPI: the realm is after the LAST '@' (RFC 4282) ---
    ("impi", "alice@ims.com", IMS, True, ""),
    ("impi", "alice@sub.ims.com", IMS, True, ""),
    ("impi", "alice@IMS.COM.", IMS, True, ""),
    ("impi", "alice@evil.com", IMS, False, "realm 'evil.com' is not inside"),
    ("impi", "alice@badims.com", IMS, False, "not inside"),
    ("impi", "a@b@ims.com", IMS, False, "exactly one '@'"),
    ("impi", "alice@ims.com@evil.com", IMS, False, "exactly one '@'"),
    ("impi", "alice", IMS, False, "no '@realm'"),
    ("impi", "alice@", IMS, False, "empty realm"),
    ("impi", "alice@192.0.2.1", IMS, False, "IPv4 address"),
    ("impi", "alice@ims..com", IMS, False, "empty label"),
    # --- SIP and SIPS URIs (RFC 3261 section 19.1.1) ---
    ("impu", "sip:alice@ims.com", IMS, True, ""),
    ("impu", "SIP:alice@IMS.com", IMS, True, ""),
    ("impu", "sips:alice@sub.ims.com", IMS, True, ""),
    ("impu", "sip:ims.com", IMS, True, ""),
    ("impu", "sip:alice@ims.com:5060;transport=tcp", IMS, True, ""),
    ("impu", "sip:alice:secret@ims.com", IMS, True, ""),
    ("impu", "sip:alice@ims.com;lr?subject=hi&priority=urgent", IMS, True, ""),
    ("impu", "sip:+15551234567;phone-context=ims.com@ims.com;user=phone", IMS, True, ""),
    ("impu", "sip:%61lice@ims.com", IMS, True, ""),
    ("impu", "sip:alice@bücher.ims.com", IMS, True, ""),
    ("impu", "sip:alice@evil.com", IMS, False, "host 'evil.com' is not inside"),
    ("impu", "sip:alice@badims.com", IMS, False, "host 'badims.com' is not inside"),
    ("impu", "sip:alice@evil.com;maddr=ims.com", IMS, False, "host 'evil.com'"),
    ("impu", "sip:ims.com@evil.com", IMS, False, "host 'evil.com'"),
    ("impu", "sip:alice@192.0.2.1", IMS, False, "IPv4 address"),
    ("impu", "sip:alice@192.0.2.1:5060", IMS, False, "IPv4 address"),
    ("impu", "sip:alice@[2001:db8::1]", IMS, False, "IPv6 address"),
    ("impu", "sip:alice@", IMS, False, "no host"),
    ("impu", "sip:", IMS, False, "no host"),
    ("impu", "sip:alice@ims.com:99999", IMS, False, "port"),
    ("impu", "sip:alice@ims.com:", IMS, False, "malformed SIP URI"),
    ("impu", "sip:a@b@ims.com", IMS, False, "exactly one '@'"),
    ("impu", "sip:al ice@ims.com", IMS, False, "contains U+0020"),
    ("impu", "sip:alice@bad_host.ims.com", IMS, False, "letters, digits and hyphen"),
    ("impu", "sip:alice@ims..com", IMS, False, "empty label"),
    # --- tel URIs (RFC 3966 section 3) ---
    ("impu", "tel:+15551234567", IMS, True, ""),
    ("impu", "TEL:+1-555-123-4567", IMS, True, ""),
    ("impu", "tel:+15551234567;ext=22", IMS, True, ""),
    ("impu", "tel:1234;phone-context=ims.com", IMS, True, ""),
    ("impu", "tel:1234;phone-context=sub.ims.com", IMS, True, ""),
    ("impu", "tel:1234;phone-context=+1234", IMS, True, ""),
    ("impu", "tel:1234;phone-context=evil.com", IMS, False, "phone-context 'evil.com'"),
    ("impu", "tel:+1555;phone-context=evil.com", IMS, False, "phone-context 'evil.com'"),
    ("impu", "tel:1234;phone-context=ims..com", IMS, False, "empty label"),
    ("impu", "tel:1234", IMS, False, "without phone-context"),
    ("impu", "tel:+", IMS, False, "malformed"),
    ("impu", "tel:+15551234567;phone-context=+1;phone-context=evil.com", IMS, False, "repeats"),
    ("impu", "tel:+1555;=x", IMS, False, "malformed tel URI parameter"),
    # --- other schemes and non-URIs ---
    ("impu", "mailto:alice@ims.com", IMS, False, "scheme 'mailto' is not allowed"),
    ("impu", "http://ims.com/", IMS, False, "scheme 'http' is not allowed"),
    ("impu", "urn:service:sos", IMS, False, "scheme 'urn' is not allowed"),
    ("impu", "alice@ims.com", IMS, False, "not a URI"),
    ("impu", "", IMS, False, "empty value"),
]


def _run(kind: str, value: str, tds: list[str]) -> list[Violation]:
    if kind == "domain":
        return check_domain(value, tds)
    if kind == "impi":
        return check_impi(value, tds)
    return check_impu(value, 3, tds)


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({(k, v, tuple(t)) for k, v, t, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("kind", "value", "tds", "ok", "fragment"), CASES)
def test_rule_table(kind: str, value: str, tds: list[str], ok: bool, fragment: str) -> None:
    violations = _run(kind, value, tds)
    if ok:
        assert violations == []
    else:
        assert len(violations) == 1, violations
        v = violations[0]
        assert fragment in v.reason, v.reason
        assert v.value == value
        assert v.file == {"domain": "EF.DOMAIN", "impi": "EF.IMPI", "impu": "EF.IMPU"}[kind]
        assert v.record == (3 if kind == "impu" else None)
    if kind == "domain":
        assert in_trust_domain(value, tds) is ok


# --- normalize_domain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("IMS.Example.COM.", "ims.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("XN--BCHER-KVA.de", "xn--bcher-kva.de"),
        ("ims.mnc001.mcc001.3gppnetwork.org", "ims.mnc001.mcc001.3gppnetwork.org"),
        ("localhost", "localhost"),
    ],
)
def test_normalize_domain(name: str, normal: str) -> None:
    assert normalize_domain(name) == normal
    assert normalize_domain(normal) == normal  # idempotent


@pytest.mark.parametrize(
    "bad", ["", ".", "a..b", "a.", "a_b.c", "-a.b", "1.2.3.4", f"{L64}.com", "xn--zz.com",
            "BÜCHER.DE", "b\u00fccher\uff0ede", "exa\u00admple.de"]
)
def test_normalize_domain_refuses(bad: str) -> None:
    if bad == "a.":  # one trailing dot is the root: fine
        assert normalize_domain(bad) == "a"
        return
    with pytest.raises(DomainError):
        normalize_domain(bad)


def test_domain_error_is_value_error_and_not_cached_as_one_instance() -> None:
    with pytest.raises(ValueError, match="empty label"):
        normalize_domain("a..b")
    errors = []
    for _ in range(2):
        try:
            normalize_domain("a..b")
        except DomainError as exc:
            errors.append(exc)
    assert errors[0] is not errors[1]


def test_normalize_domain_refuses_non_string() -> None:
    with pytest.raises(DomainError):
        normalize_domain(b"ims.com")  # type: ignore[arg-type]


# --- nai_realm / uri_domain ---------------------------------------------------------------------


def test_nai_realm() -> None:
    assert nai_realm("alice@ims.com") == "ims.com"
    assert nai_realm("a@IMS.com.") == "IMS.com."  # as written
    with pytest.raises(DomainError, match="exactly one '@'"):
        nai_realm("a@b@IMS.com.")
    with pytest.raises(DomainError, match="no '@realm'"):
        nai_realm("alice")
    with pytest.raises(DomainError, match="empty realm"):
        nai_realm("alice@")


@pytest.mark.parametrize(
    ("uri", "domain"),
    [
        ("sip:alice@Ims.Com:5060;transport=tcp", "Ims.Com"),
        ("sips:ims.com", "ims.com"),
        ("tel:+15551234567", None),
        ("tel:1234;phone-context=+1234", None),
        ("tel:1234;phone-context=ims.com", "ims.com"),
        ("tel:+1234;phone-context=ims.com", "ims.com"),
    ],
)
def test_uri_domain(uri: str, domain: str | None) -> None:
    assert uri_domain(uri) == domain


@pytest.mark.parametrize(
    "uri", ["sip:alice@192.0.2.1", "sip:[::1]", "tel:1234", "mailto:a@ims.com", "nope"]
)
def test_uri_domain_refuses(uri: str) -> None:
    with pytest.raises(DomainError):
        uri_domain(uri)


# --- Violation and check_identities --------------------------------------------------------------


def test_violation_str() -> None:
    (v,) = check_impu("sip:bob@evil.com", 3, ["ims.com"])
    assert str(v) == (
        "EF.IMPU record 3: 'sip:bob@evil.com': host 'evil.com' is not inside trust domain(s) "
        "ims.com"
    )
    (v,) = check_impi("bob@evil.com", ["ims.com", "example.org"])
    assert str(v) == (
        "EF.IMPI: 'bob@evil.com': realm 'evil.com' is not inside trust domain(s) "
        "ims.com, example.org"
    )
    assert str(Violation("EF.IMPU", None, "", "at least one")) == "EF.IMPU: at least one"


def test_violation_is_frozen() -> None:
    v = Violation("EF.IMPI", None, "x", "y")
    with pytest.raises(AttributeError):
        v.reason = "z"  # type: ignore[misc]


def test_check_identities_all_good() -> None:
    assert check_identities("a@ims.com", ["sip:a@ims.com", "tel:+1"], "ims.com", IMS) == []


def test_check_identities_numbers_records_from_one_and_skips_absent() -> None:
    violations = check_identities(None, [None, "sip:a@ims.com", "", "sip:b@evil.com"], None, IMS)
    assert [(v.file, v.record, v.missing) for v in violations] == [
        ("EF.IMPI", None, True), ("EF.IMPU", 3, False), ("EF.IMPU", 4, False),
        ("EF.DOMAIN", None, True)]
    assert "empty value" in violations[1].reason


def test_check_identities_reports_every_file_in_order() -> None:
    violations = check_identities(
        "a@evil.com", ["sip:a@evil.com", "sip:a@ims.com", "tel:1"], "evil.com", IMS
    )
    assert [(v.file, v.record) for v in violations] == [
        ("EF.IMPI", None),
        ("EF.IMPU", 1),
        ("EF.IMPU", 3),
        ("EF.DOMAIN", None),
    ]


@pytest.mark.parametrize("impus", [[], [None], [None, None]])
def test_check_identities_requires_one_impu(impus: list[str | None]) -> None:
    (v,) = check_identities("a@ims.com", impus, "ims.com", IMS)
    assert (v.file, v.record, v.value) == ("EF.IMPU", None, "")
    assert "at least one IMPU" in v.reason and "33.203" in v.reason


def test_ts48_profile_needs_both_trust_domains() -> None:
    impi = "001010000123456@test.3gpp.com"
    impus = [
        "sip:001010000123456@ims.mnc001.mcc001.3gppnetwork.org",
        "sip:+11234567890@test.3gpp.com;user=phone",
        "tel:+11234567890",
    ]
    domain = "test.3gpp.com"
    assert check_identities(impi, impus, domain, TS48) == []
    only_test = check_identities(impi, impus, domain, ["test.3gpp.com"])
    assert [(v.file, v.record) for v in only_test] == [("EF.IMPU", 1)]
    only_3gpp = check_identities(impi, impus, domain, ["ims.mnc001.mcc001.3gppnetwork.org"])
    assert [(v.file, v.record) for v in only_3gpp] == [
        ("EF.IMPI", None),
        ("EF.IMPU", 2),
        ("EF.DOMAIN", None),
    ]


def test_no_trust_domain_configured_fails_everything() -> None:
    assert not in_trust_domain("ims.com", [])
    (v,) = check_domain("ims.com", [])
    assert "none configured" in v.reason


def test_a_single_string_is_one_trust_domain_not_characters() -> None:
    assert in_trust_domain("sub.ims.com", "ims.com")  # type: ignore[arg-type]
    assert not in_trust_domain("c", "abc.example")  # type: ignore[arg-type]


def test_invalid_trust_domain_raises() -> None:
    with pytest.raises(DomainError, match=r"trust domain 'ims\.\.com'"):
        in_trust_domain("ims.com", ["ims..com"])
    with pytest.raises(DomainError):
        check_identities("a@ims.com", ["sip:a@ims.com"], "ims.com", ["bad_name.com"])


def test_in_trust_domain_invalid_name_is_false() -> None:
    assert in_trust_domain("a..ims.com", IMS) is False
    assert in_trust_domain(None, IMS) is False  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,14}[a-zA-Z0-9])?", fullmatch=True)
# The top label of a trust domain must not be all-numeric (RFC 3696 section 2).
TOP = st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True)
is_public_suffix("org")  # loads the list now, not inside a deadline-bound example
TRUST_DOMAIN = st.tuples(st.lists(LABEL, max_size=4), TOP).map(lambda t: [*t[0], t[1]]).filter(
    lambda labels: not is_public_suffix(".".join(labels).lower()))  # refused as trust domains


@given(td=TRUST_DOMAIN, prefix=st.lists(LABEL, max_size=6), dot=st.booleans())
def test_property_prefixing_labels_to_a_trust_domain_passes(
    td: list[str], prefix: list[str], dot: bool
) -> None:
    trust_domain = ".".join(td)
    name = ".".join([*prefix, *td]) + ("." if dot else "")
    assume(len(name.rstrip(".")) <= 253)
    assert in_trust_domain(name, [trust_domain])
    assert in_trust_domain(name.upper(), [trust_domain.lower()])
    assert check_domain(name, [trust_domain]) == []
    assert check_impi(f"user@{name}", [trust_domain]) == []
    assert check_impu(f"sip:user@{name}", 1, [trust_domain]) == []


@given(td=TRUST_DOMAIN, name=TRUST_DOMAIN, prefix=st.lists(LABEL, max_size=3))
def test_property_different_last_labels_fail(
    td: list[str], name: list[str], prefix: list[str]
) -> None:
    labels = [*prefix, *name]
    tail = labels[-len(td) :]  # all of `labels` when it is shorter than the trust domain
    assume([x.lower() for x in tail] != [x.lower() for x in td])
    full = ".".join(labels)
    assume(len(full) <= 253)
    assert not in_trust_domain(full, [".".join(td)])
    (v,) = check_domain(full, [".".join(td)])
    assert "not inside" in v.reason


@given(td=TRUST_DOMAIN, glue=LABEL)
def test_property_no_partial_label_match(td: list[str], glue: str) -> None:
    trust_domain = ".".join(td)
    name = glue + trust_domain  # e.g. "bad" + "ims.com" = "badims.com"
    assume(len(name) <= 253 and len(glue + td[0]) <= 63)
    assert not in_trust_domain(name, [trust_domain])


@given(label=st.text(alphabet="abcdeéüöß日本", min_size=1, max_size=10))
def test_property_u_label_equals_its_a_label(label: str) -> None:
    try:
        a_label = normalize_domain(f"{label}.ims.com")
    except DomainError:
        return
    assert in_trust_domain(a_label, [normalize_domain(f"{label}.ims.com")])
    assert in_trust_domain(f"{label}.ims.com", ["ims.com"])
    assert normalize_domain(a_label) == a_label


SIP_PART = st.text(alphabet="aZ09-_.!~*'()+&=$,;?/%:@[] \t", min_size=1, max_size=6)


@given(rest=st.from_regex(r"[a-zA-Z0-9\-_.!~*'()+]{1,8}@[a-zA-Z0-9.\-]{1,12}", fullmatch=True)
       | st.builds("{}@{}".format, SIP_PART, SIP_PART))
@example("alice@ims.example.com:5060")
@example("alice@ims.example.com;transport=tcp")
@example("alice@[2001:db8::1]")
@example("al%41ice@ims.example.com")
@example("a@b@ims.example.com")
def test_property_plain_sip_fast_path_agrees_with_the_full_grammar(rest: str) -> None:
    """The `user@host` fast path accepts only URIs the RFC 3261 grammar accepts, with the same
    host (so the same domain or the same error)."""
    from isim.identity import names
    plain = names._PLAIN_SIP_URI.fullmatch(rest)
    if plain is None:
        return
    full = names._SIP_URI.fullmatch(rest)
    assert full is not None and full.group("host") == plain.group(2)
    assert full.group("userinfo") == plain.group(1)
    assert full.group("port") is None and not full.group("rest")
