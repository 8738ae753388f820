"""Cheaper encodings (ICCID BCD, cached batch-wide checks) give the bytes and problems of the
reference paths."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isim.card import contents
from isim.codecs import codec_for
from isim.profile import sizes as profile_sizes
from isim.profile.model import profile_from_mapping
from specs.layout import layout


def _iccid_reference(value: str) -> bytes:
    digits = value + "F" * (len(value) % 2)
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def _spec(name: str):
    for df in layout().dfs():
        for spec in df.files.values():
            if spec.name == name:
                return spec
    raise KeyError(name)


@given(st.text("0123456789", min_size=1, max_size=20))
def test_iccid_codec_matches_the_reference_bcd(value: str) -> None:
    spec = _spec("EF.ICCID")
    codec = codec_for(spec)
    ref = _iccid_reference(value)
    assert codec._encode(value, spec.size) == ref


@given(st.lists(st.integers(0, 10**19 - 1), min_size=1, max_size=5), st.booleans())
def test_card_contents_iccid_impi_match_codecs(numbers: list[int], sizes: bool) -> None:
    from isim.personalize.generate import luhn_digit

    for n in numbers:
        body = f"{n:018d}"[:18]
        data = {
            "trust_domains": ["3gppnetwork.org", "ims.example.net"],
            "iccid": body + luhn_digit(body),
            "imsi": "00101" + f"{n:010d}"[-10:],
            "impu": ["sip:alice@ims.example.net", "tel:+15550000"],
            "pcscf": ["pcscf.ims.example.net"],
            "k": "00" * 16,
            "op": "11" * 16,
        }
        if sizes:
            data["sizes"] = {"EF.IMPI": {"size": 120}}
        profile = profile_from_mapping(data)
        card = contents.card_contents(profile)
        for f in card:
            codec = codec_for(f.spec)
            if f.spec.name in ("EF.IMPI", "EF.DOMAIN"):
                assert f.data == codec.encode(getattr(profile, f.spec.name[3:].lower()),
                                              f.spec.size)
            elif f.spec.name == "EF.ICCID":
                assert f.data == codec.encode(profile.iccid, f.spec.size)
                assert f.data == _iccid_reference(profile.iccid).ljust(f.spec.size, b"\xff")
            elif f.spec.name == "EF.IMPU":
                want = [codec.encode(u, f.spec.record_length) for u in profile.impu]
                assert list(f.data[: len(want)]) == want
        # twice: the memoized plan and contents give the same result
        assert contents.card_contents(profile) == card


def test_pcscf_label_problems_cached_like_uncached() -> None:
    long_label = "L" * 200
    pcscf = ("p" * 300, "10.0.0.1", None)
    c1 = profile_sizes.Checker({})
    profile_sizes._pcscf_label_problems(c1, pcscf, long_label, {})
    assert c1.problems
    assert list(profile_sizes._pcscf_label_cached(pcscf, long_label)) == c1.problems


def _outcome(encode, value: object, size: int | None) -> bytes | str:
    try:
        return encode(value, size)
    except Exception as exc:  # the same error, or the same bytes
        return f"{type(exc).__name__}: {exc}"


@given(st.sampled_from(["IMPI", "IMPU", "DOMAIN"]),
       st.one_of(st.text(max_size=140), st.text("ab.@:", min_size=120, max_size=135),
                 st.none(), st.integers()),
       st.one_of(st.none(), st.integers(0, 260)))
def test_identity_text_fast_path_is_the_generic_encoding(ef: str, value: object,
                                                         size: int | None) -> None:
    from isim.codecs.base import Codec

    codec = codec_for(ef)
    assert _outcome(codec.encode, value, size) == _outcome(
        lambda v, s: Codec.encode(codec, v, s), value, size)
