"""Profile loading and validation: isim.profile.model."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isim.errors import InputError, IsimError, Problem, ProfileError
from isim.profile.model import (
    KEYS,
    Profile,
    ProfileRules,
    load_profile,
    parse_profile,
    pcscf_address_type,
    profile_from_mapping,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BAD = EXAMPLES / "bad"

K1 = "465b5ce8b199b49faa5f0a2ee238a6bc"  # TS 35.208 set 1
OPC1 = "cd63cb71954a9f4e48a5994e37a02baf"
OP1 = "cdc202d5123e20f62b6d676ac72cb318"

BASE: dict[str, Any] = {
    "trust_domains": ["ims.example.com"],
    "iccid": "8988211000000430010",
    "imsi": "001010123456789",
    "impi": "alice@ims.example.com",
    "impu": ["sip:alice@ims.example.com", "tel:+15551234567"],
    "domain": "ims.example.com",
    "k": K1,
    "opc": OPC1,
}


def with_(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


DROP = object()


def problems_of(data: Any) -> list[Problem]:
    with pytest.raises(ProfileError) as info:
        profile_from_mapping(data)
    return info.value.problems


# --- the examples ---------------------------------------------------------------------------


def test_alice_example() -> None:
    p = load_profile(EXAMPLES / "alice.yaml")
    assert p.trust_domains == ("3gppnetwork.org", "ims.example.com")
    assert p.iccid == "8988211000000430010"
    assert p.imsi == "001010123456789" and p.mnc_length == 2
    assert p.impi == "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    assert p.domain == "ims.mnc001.mcc001.3gppnetwork.org"
    assert p.impu == (
        "sip:alice@ims.example.com",
        "tel:+15551234567",
        "sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org",
    )
    assert p.pcscf == ("pcscf.ims.example.com", "192.0.2.10")
    assert p.ist == (1, 2)
    assert p.k == bytes.fromhex(K1) and p.opc == bytes.fromhex(OPC1) and p.op is None
    assert p.sqn == 0xFF9BB4D0B5E7 and p.sqn_bytes == bytes.fromhex("ff9bb4d0b5e7")
    assert p.adm1 == b"12345678"
    assert p.source == str(EXAMPLES / "alice.yaml")


def test_ts48_example_derives_opc_from_op() -> None:
    p = load_profile(EXAMPLES / "ts48.yaml")
    assert p.op == bytes.fromhex("00112233445566778899aabbccddeeff")
    assert p.opc == bytes.fromhex("62e75b8d6fa5bf46ec87a9276f9df54d")  # wmnsk/milenage vector
    assert p.impi.endswith("@test.3gpp.com") and p.domain == "test.3gpp.com"
    assert len(p.iccid) == 20


def test_op_set1_gives_set1_opc() -> None:
    p = profile_from_mapping(with_(opc=DROP, op=OP1))
    assert p.opc == bytes.fromhex(OPC1)


def test_ts48_with_one_trust_domain_fails_on_exactly_impu_record_1(tmp_path: Path) -> None:
    text = (EXAMPLES / "ts48.yaml").read_text(encoding="utf-8")
    text = text.replace("  - ims.mnc001.mcc001.3gppnetwork.org\n", "", 1)
    path = tmp_path / "ts48-one.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    (problem,) = info.value.problems
    assert (problem.field, problem.file, problem.record) == ("impu", "EF.IMPU", 1)
    assert "not inside trust domain(s) test.3gpp.com" in problem.message


def test_defaults() -> None:
    p = profile_from_mapping(
        with_(impu=DROP, impi=DROP, domain=DROP, trust_domains=["3gppnetwork.org"])
    )
    assert p.impi == "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
    assert p.impu == ("sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org",)
    assert p.domain == "ims.mnc001.mcc001.3gppnetwork.org"
    assert (p.pin1, p.puk1, p.pin2, p.puk2) == ("1234", "12345678", "5678", "87654321")
    assert (p.pin1_enabled, p.pin2_enabled) == (False, False)
    assert p.adm1 == b"12345678"
    assert (p.sqn, p.sqn_ind_bits, p.sqn_delta, p.sqn_limit) == (0, 5, 2**28, None)
    assert (p.ad, p.label, p.description, p.pcscf, p.ist) == (0, "ISIM", "", (), ())
    assert dict(p.sizes) == {}
    assert p.mnc_length == 2


def test_derived_identities_fail_when_the_trust_domain_does_not_cover_them() -> None:
    problems = problems_of(with_(impi=DROP, domain=DROP))
    assert [(p.file, p.record) for p in problems] == [("EF.IMPI", None), ("EF.DOMAIN", None)]
    assert all("(derived from the IMSI)" in p.message for p in problems)


def test_mnc_length_3() -> None:
    p = profile_from_mapping(
        with_(
            imsi="310150123456789",
            mnc_length=3,
            impi=DROP,
            domain=DROP,
            trust_domains=["3gppnetwork.org", "ims.example.com"],
        )
    )
    assert p.domain == "ims.mnc150.mcc310.3gppnetwork.org"


def test_identities_without_imsi() -> None:
    p = profile_from_mapping(with_(imsi=DROP))
    assert p.imsi is None


def test_pcscf_gives_ist_service_1_by_default() -> None:
    p = profile_from_mapping(with_(pcscf=["pcscf.ims.example.com", "2001:db8::1"]))
    assert p.ist == (1,)
    assert [pcscf_address_type(a) for a in p.pcscf] == [0, 2]


def test_options() -> None:
    p = profile_from_mapping(
        with_(
            sqn="ff9bb4d0b5e7",
            sqn_ind_bits=4,
            sqn_delta=1000,
            sqn_limit=50,
            pin1="00001234",
            pin1_enabled=True,
            puk1="00000000",
            pin2="0000",
            pin2_enabled=True,
            puk2="11111111",
            adm1="0102030405060708",
            ad="type_approval",
            ist=[17, 1, 1],
            sizes={"EF.IMPU": {"records": 4}, "MF/EF.DIR": {"record_length": 64}},
            label="IMS",
            description="test",
        )
    )
    assert p.sqn == 0xFF9BB4D0B5E7 and p.sqn_ind_bits == 4
    assert (p.sqn_delta, p.sqn_limit) == (1000, 50)
    assert (p.pin1, p.pin1_enabled, p.pin2) == ("00001234", True, "0000")
    assert p.adm1 == bytes(range(1, 9))
    assert p.ad == 0x80
    assert p.ist == (1, 17)
    assert p.sizes["EF.IMPU"]["records"] == 4
    assert profile_from_mapping(with_(ad="81")).ad == 0x81
    assert profile_from_mapping(with_(ad=4)).ad == 4


# --- one clear problem per kind of mistake ---------------------------------------------------

BAD_FILES = [
    ("bad_luhn.yaml", "iccid", None, "Luhn"),
    ("imsi_letters.yaml", "imsi", None, "6 to 15 decimal digits"),
    ("imsi_short.yaml", "imsi", None, "6 to 15 decimal digits"),
    ("opc_short.yaml", "opc", None, "32 hex digits"),
    ("op_and_opc.yaml", "opc", None, "exactly one of opc and op"),
    ("unknown_key.yaml", "pin_1", None, "did you mean 'pin1'"),
    ("impu_outside.yaml", "impu", 2, "host 'badims.example.com' is not inside"),
    ("impu_ip_host.yaml", "impu", 2, "IPv4 address"),
    ("empty_impu.yaml", "impu", None, "at least one IMPU"),
]


@pytest.mark.parametrize(("name", "field", "record", "fragment"), BAD_FILES)
def test_bad_example_files(name: str, field: str, record: int | None, fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(BAD / name)
    (problem,) = info.value.problems
    assert problem.field == field
    assert problem.record == record
    assert fragment in problem.message
    assert str(BAD / name) in str(info.value)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bad_utf8.yaml", "not UTF-8"),
        ("not_mapping.yaml", "not a mapping"),
        ("not_yaml.yaml", "not valid YAML"),
    ],
)
def test_unreadable_example_files(name: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        load_profile(BAD / name)


def test_every_bad_file_is_tested() -> None:
    tested = {n for n, *_ in BAD_FILES} | {"bad_utf8.yaml", "not_mapping.yaml", "not_yaml.yaml"}
    assert {p.name for p in BAD.iterdir()} == tested


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, profile, field, fragment of the message)
    ("iccid-missing", with_(iccid=DROP), "iccid", "required"),
    ("iccid-18", with_(iccid="898821100000043001"), "iccid", "19 or 20"),
    ("iccid-21", with_(iccid="898821100000043001000"), "iccid", "19 or 20"),
    ("iccid-number", with_(iccid=8988211000000430010), "iccid", "quoted string"),
    ("iccid-null", with_(iccid=None), "iccid", "not null"),
    ("iccid-luhn-20", with_(iccid="89441100000000000018"), "iccid", "Luhn"),
    ("imsi-number", with_(imsi=1010123456789), "imsi", "quoted string"),
    ("imsi-16", with_(imsi="0010101234567890"), "imsi", "6 to 15"),
    ("imsi-missing-needed", with_(imsi=DROP, domain=DROP), "imsi", "required to derive domain"),
    ("mnc-length", with_(mnc_length=4), "mnc_length", "2 or 3"),
    ("impi-no-at", with_(impi="alice"), "impi", "no '@realm'"),
    ("impi-empty-user", with_(impi="@ims.example.com"), "impi", "empty username"),
    ("impi-space", with_(impi="al ice@ims.example.com"), "impi", "whitespace"),
    ("impi-empty", with_(impi=""), "impi", "must not be empty"),
    ("impi-number", with_(impi=5), "impi", "must be a string"),
    ("impi-outside", with_(impi="alice@example.com"), "impi", "realm 'example.com'"),
    ("impu-not-list", with_(impu="sip:alice@ims.example.com"), "impu", "must be a list"),
    ("impu-entry", with_(impu=["sip:a@ims.example.com", 5]), "impu", "entry 2"),
    ("impu-dup", with_(impu=["tel:+1", "tel:+1"]), "impu", "duplicate of record 1"),
    ("impu-ipv6", with_(impu=["sip:a@[2001:db8::1]"]), "impu", "IPv6"),
    ("impu-scheme", with_(impu=["mailto:a@ims.example.com"]), "impu", "scheme 'mailto'"),
    ("domain-outside", with_(domain="example.com"), "domain", "not inside"),
    ("domain-ip", with_(domain="192.0.2.1"), "domain", "IPv4"),
    ("domain-empty", with_(domain=""), "domain", "must not be empty"),
    ("pcscf-bad", with_(pcscf=["pcscf..example.com"]), "pcscf", "empty label"),
    ("pcscf-not-list", with_(pcscf="192.0.2.1"), "pcscf", "must be a list"),
    ("pcscf-no-service", with_(pcscf=["192.0.2.1"], ist=[2]), "ist", "neither service 1 nor 5"),
    ("ist-23", with_(ist=[1, 23]), "ist", "not an ISIM service number"),
    ("ist-0", with_(ist=[0]), "ist", "not an ISIM service number"),
    ("ist-str", with_(ist=["1"]), "ist", "not an ISIM service number"),
    ("ist-not-list", with_(ist=1), "ist", "must be a list"),
    ("k-missing", with_(k=DROP), "k", "required"),
    ("k-33", with_(k=K1 + "0"), "k", "32 hex digits"),
    ("k-nonhex", with_(k="x" * 32), "k", "32 hex digits"),
    ("k-number", with_(k=0), "k", "quoted string"),
    ("no-opc-op", with_(opc=DROP), "opc", "required"),
    ("op-short", with_(opc=DROP, op=OP1[:-2]), "op", "32 hex digits"),
    ("sqn-11", with_(sqn="ff9bb4d0b5e"), "sqn", "12 hex digits"),
    ("sqn-number", with_(sqn=0), "sqn", "quoted string"),
    ("ind-bits", with_(sqn_ind_bits=17), "sqn_ind_bits", "0..16"),
    ("delta-0", with_(sqn_delta=0), "sqn_delta", "must be in 1.."),
    ("delta-str", with_(sqn_delta="268435456"), "sqn_delta", "integer"),
    ("limit-0", with_(sqn_limit=0), "sqn_limit", "1.."),
    ("pin1-3", with_(pin1="123"), "pin1", "4 to 8"),
    ("pin1-9", with_(pin1="123456789"), "pin1", "4 to 8"),
    ("pin1-number", with_(pin1=1234), "pin1", "quoted string"),
    ("pin2-letters", with_(pin2="12a4"), "pin2", "4 to 8"),
    ("puk1-7", with_(puk1="1234567"), "puk1", "8 decimal digits"),
    ("puk2-9", with_(puk2="123456789"), "puk2", "8 decimal digits"),
    ("pin1-enabled", with_(pin1_enabled="yes"), "pin1_enabled", "true or false"),
    ("adm1-7", with_(adm1="1234567"), "adm1", "8 decimal digits or 16 hex digits"),
    ("adm1-number", with_(adm1=12345678), "adm1", "quoted string"),
    ("ad-256", with_(ad=256), "ad", "0..255"),
    ("ad-name", with_(ad="approval"), "ad", "type_approval"),
    ("sizes-ef", with_(sizes={"EF.IMPV": {"records": 2}}), "sizes", "did you mean 'EF.IMPU'"),
    ("sizes-attr", with_(sizes={"EF.IMPI": {"records": 2}}), "sizes", "unknown key 'records'"),
    ("sizes-range", with_(sizes={"EF.IMPU": {"records": 255}}), "sizes", "1..254"),
    ("sizes-type", with_(sizes=[1]), "sizes", "must be a mapping"),
    ("impi-too-big", with_(sizes={"EF.IMPI": {"size": 16}}), "impi", "EF.IMPI holds 16"),
    ("impu-too-many", with_(sizes={"EF.IMPU": {"records": 1}}), "impu", "EF.IMPU has 1"),
    ("impu-too-long", with_(sizes={"EF.IMPU": {"record_length": 20}}), "impu", "holds 20"),
    ("label-long", with_(label="L" * 17), "label", "too long"),
    ("label-empty", with_(label=""), "label", "must not be empty"),
    ("trust-missing", with_(trust_domains=DROP), "trust_domains", "required"),
    ("trust-empty", with_(trust_domains=[]), "trust_domains", "at least one"),
    ("trust-str", with_(trust_domains="ims.example.com"), "trust_domains", "must be a list"),
    ("trust-bad", with_(trust_domains=["ims..com"]), "trust_domains", "empty label"),
    ("unknown", with_(trust_domain=["x.com"]), "trust_domain", "did you mean 'trust_domains'"),
]


@pytest.mark.parametrize(("case", "data", "field", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_one_clear_problem(case: str, data: dict[str, Any], field: str, fragment: str) -> None:
    problems = problems_of(data)
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].field == field
    assert fragment in problems[0].message, problems[0].message


def test_all_problems_are_reported_together() -> None:
    problems = problems_of(with_(iccid="1", k="2", pin1="x", impu=["sip:a@evil.com"], typo=1))
    assert {p.field for p in problems} == {"iccid", "k", "pin1", "impu", "typo"}


def test_trust_problem_names_file_and_record() -> None:
    (p,) = problems_of(with_(impu=["sip:a@ims.example.com", "tel:+1", "sip:bob@evil.com"]))
    assert (p.field, p.file, p.record) == ("impu", "EF.IMPU", 3)
    assert str(p) == (
        "EF.IMPU record 3: 'sip:bob@evil.com': host 'evil.com' is not inside trust domain(s) "
        "ims.example.com"
    )


def test_not_a_mapping() -> None:
    (p,) = problems_of(["trust_domains"])
    assert "mapping" in p.message


def test_problem_where() -> None:
    assert Problem("k", "m").where == "k"
    assert Problem("impi", "m", "EF.IMPI").where == "EF.IMPI"
    assert str(Problem("impu", "m", "EF.IMPU", 2)) == "EF.IMPU record 2: m"
    assert Problem("impu", "m", "EF.IMPU", 2).to_dict() == {
        "field": "impu",
        "file": "EF.IMPU",
        "record": 2,
        "message": "m",
    }


def test_error_hierarchy() -> None:
    assert issubclass(InputError, IsimError) and issubclass(ProfileError, IsimError)


def test_keys_are_the_public_contract() -> None:
    for key in (
        "trust_domains",
        "iccid",
        "imsi",
        "mnc_length",
        "impi",
        "impu",
        "domain",
        "pcscf",
        "ist",
        "k",
        "opc",
        "op",
        "sqn",
        "pin1",
        "pin1_enabled",
        "puk1",
        "adm1",
        "pin2",
        "puk2",
        "sqn_ind_bits",
        "sqn_delta",
        "sqn_limit",
        "sizes",
        "ad",
        "label",
    ):
        assert key in KEYS


# --- secrets ---------------------------------------------------------------------------------

SECRETS = {
    "k": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "opc": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "pin1": "97531",
    "puk1": "86420864",
    "pin2": "24680",
    "puk2": "13579135",
    "adm1": "fedcba9876543210",
}


def test_repr_hides_secrets() -> None:
    p = profile_from_mapping(with_(**SECRETS))
    text = repr(p) + str(p)
    for value in SECRETS.values():
        assert value not in text
    assert "0f1e2d3c" not in text and "fedcba98" not in text
    assert "iccid='8988211000000430010'" in text  # not secret


def test_error_messages_do_not_echo_secrets() -> None:
    bad = {
        "k": SECRETS["k"] + "z",
        "opc": "z" + SECRETS["opc"],
        "pin1": "9753x",
        "adm1": "fedcba987654321z",
        "puk1": "8642086",
    }
    problems = problems_of(with_(**bad))
    text = "\n".join(str(p) for p in problems)
    assert len(problems) == len(bad)
    for value in bad.values():
        assert value[:-1] not in text and value[1:] not in text


def test_to_dict_round_trip_and_secret_free_by_default() -> None:
    p = load_profile(EXAMPLES / "alice.yaml")
    assert profile_from_mapping(p.to_dict(secrets=True)) == p
    public = p.to_dict()
    for key in ("k", "opc", "op", "pin1", "puk1", "pin2", "puk2", "adm1"):
        assert key not in public
    assert K1 not in json.dumps(public)
    ts48 = load_profile(EXAMPLES / "ts48.yaml")
    assert profile_from_mapping(ts48.to_dict(secrets=True)) == ts48


def test_profile_is_frozen_and_hashable() -> None:
    p = profile_from_mapping(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.imsi = "1"  # type: ignore[misc]
    assert hash(p) == hash(profile_from_mapping(copy.deepcopy(BASE)))
    assert isinstance(p, Profile)


# --- reading files ---------------------------------------------------------------------------


def test_json_profile(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(BASE), encoding="utf-8")
    assert load_profile(path) == profile_from_mapping(BASE)


def test_yaml_flow_mapping_starting_with_brace() -> None:
    text = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in BASE.items()) + ", label: X}"
    assert parse_profile(text.encode()).label == "X"


def test_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        parse_profile(b'{"trust_domains": [}')


@pytest.mark.parametrize(
    "raw",
    [
        b"trust_domains: [a.com]\ntrust_domains: [b.com]\n",
        b'{"trust_domains": ["a.com"], "trust_domains": ["b.com"]}',
    ],
)
def test_duplicate_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(raw)
    (p,) = info.value.problems
    assert p.field == "trust_domains" and "duplicate key" in p.message


def test_utf8_bom_and_u_labels() -> None:
    text = "\ufeff" + json.dumps(
        with_(
            trust_domains=["bücher.example"],
            impi="a@ims.bücher.example",
            impu=["sip:a@xn--bcher-kva.example"],
            domain="bücher.EXAMPLE",
        ),
        ensure_ascii=False,
    )
    p = parse_profile(text.encode("utf-8"))
    assert p.trust_domains == ("xn--bcher-kva.example",)
    assert p.domain == "bücher.EXAMPLE"  # stored as written (ASCII case is DNS case)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"# nothing\n", "empty"),
        (b"just a string\n", "a string"),
        (b"- 1\n- 2\n", "a list"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a: !!python/object:os.system x\n", "not valid YAML"),
        (b"a: [1\n", "not valid YAML"),
        (b"x" * ((1 << 20) + 1), "larger than"),
    ],
)
def test_input_errors(raw: bytes, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        parse_profile(raw, source="t")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_profile(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="directory"):
        load_profile(tmp_path)


# --- robustness ------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from([*KEYS, "typo"]), JSONISH, max_size=5),
    drops=st.sets(st.sampled_from(sorted(BASE))),
)
def test_any_mapping_gives_a_profile_or_a_profile_error(
    changes: dict[str, Any], drops: set[str]
) -> None:
    data = {k: v for k, v in copy.deepcopy(BASE).items() if k not in drops} | changes
    try:
        profile_from_mapping(data)
    except ProfileError as exc:
        assert exc.problems
        assert all(isinstance(p, Problem) and p.field and p.message for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_a_profile_or_an_isim_error(raw: bytes) -> None:
    with contextlib.suppress(IsimError):  # anything else (TypeError...) fails the test
        parse_profile(raw)


TEMPLATE_KEYS = [k for k in KEYS if k not in ("iccid", "imsi", "impi", "impu", "k", "opc")]


def _verdict(rules: ProfileRules, data: dict[str, Any]) -> tuple[Any, list[str]]:
    values, problems = rules.check(data)
    return (None if problems else values), sorted(map(str, problems))


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from([*KEYS, "typo"]), JSONISH, max_size=4),
    shared=st.sets(st.sampled_from(TEMPLATE_KEYS), max_size=6),
    extra=st.dictionaries(st.sampled_from(TEMPLATE_KEYS), JSONISH, max_size=3),
)
def test_a_template_checks_like_the_merged_profile(
    changes: dict[str, Any], shared: set[str], extra: dict[str, Any]
) -> None:
    """Checked over a template (its field checks run once), a row gets exactly the values
    and the problems of the merged mapping checked alone."""
    data = copy.deepcopy(BASE) | {"pcscf": ["pcscf.ims.example.com"], "ist": [1, 2]} | changes
    base = {k: data.pop(k) for k in list(data) if k in shared}
    base |= {k: v for k, v in extra.items() if k not in data}
    try:
        rules = ProfileRules(base)
    except ProfileError as exc:  # the template itself is bad: so is the merged profile
        merged = ProfileRules().check(base | data)[1]
        assert {str(p) for p in exc.problems} <= {str(p) for p in merged}
        return
    assert _verdict(rules, data) == _verdict(ProfileRules(), base | data)


@settings(max_examples=200, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(KEYS), JSONISH, max_size=3))
def test_known_valid_gives_the_same_values(changes: dict[str, Any]) -> None:
    """`known_valid=True` skips only checks that change no value."""
    data = copy.deepcopy(BASE) | changes
    values, problems = ProfileRules().check(data)
    if problems:
        return
    assert ProfileRules().check(data, known_valid=True) == (values, [])


def test_known_valid_skips_the_verdict_only() -> None:
    """...and does skip them (so the test above can tell)."""
    outside = with_(impu=["sip:alice@evil.example"])
    assert ProfileRules().check(outside)[1]
    values, problems = ProfileRules().check(outside, known_valid=True)
    assert problems == [] and values["impu"] == ("sip:alice@evil.example",)


def test_values_equal_as_before_but_one_and_true_differ() -> None:
    """Values that compare equal to a valid one (True == 1.0 == 1) are still refused."""
    data = {**BASE, "pcscf": ["pcscf.ims.example.com"], "ist": [1, 2]}
    for ist in ([True], [1.0]):
        with pytest.raises(ProfileError, match="entry 1: not an ISIM service number"):
            profile_from_mapping({**data, "ist": ist})
        with pytest.raises(ProfileError, match="entry 1: not an ISIM service number"):
            ProfileRules({"ist": ist})
    assert profile_from_mapping({**data, "ist": [1]}).ist == (1,)


def test_every_profile_field_has_its_default_in_profile_checks() -> None:
    # Profile states no defaults (it is filled by _new_profile): each field's default is
    # profile_checks.DEFAULTS, the one place; a lone profile of the required keys gets them
    from isim.profile.checks import DEFAULTS

    names = {f.name for f in dataclasses.fields(Profile)}
    assert names == set(DEFAULTS) | {"source"}
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(Profile))
    p = profile_from_mapping(BASE)
    assert (p.pin1, p.sqn_ind_bits, p.label) == (DEFAULTS["pin1"], DEFAULTS["sqn_ind_bits"],
                                                 DEFAULTS["label"])
