"""The USIM on the UICC engine, in process (`Emulator.transmit`): AUTHENTICATE in the 3G and
GSM contexts with TS 35.208 test set 1 (spec-digest-wave2 2.3), sync and MAC failures,
malformed data, the SQN array shared with the ISIM, USIM-only / ISIM-only cards, and the
write guard on EF.IMSI / EF.AD."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isim.card.emulator import Emulator, image_identity_problems
from isim.card.image import build_image, load_image
from isim.codecs import codec_for
from isim.codecs.usim import UsimAdministrativeData
from isim.profile.model import Profile, load_profile, profile_from_mapping
from specs.layout import layout

ROOT = Path(__file__).resolve().parent.parent
ALICE = ROOT / "examples" / "alice.yaml"

RAND = "23553cbe9637a89d218ae64dae47bf35"
AUTN = "55f328b43577b9b94a9ffac354dfafb3"  # SQN ff9bb4d0b607, AMF b9b9
RES = "a54211d5e3ba50bf"
CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"
IK = "f769bcd751044604127672711c6d3441"
KC = "eae4be823af9a08b"  # c3(CK, IK)
SRES = "46f8416a"  # c2(RES)
AUTS = "ba853f3c123ccf44e93596e355c6"  # SQN_MS ff9bb4d0b607, MAC-S with AMF 0000
UMTS = f"0088008122 10{RAND} 10{AUTN}"
GSM = f"0088008011 10{RAND}"
UMTS_OK = f"db08{RES}10{CK}10{IK}"
USIM_AID = (layout().applications["ADF.USIM"].aid or b"").hex()
ISIM_AID = (layout().applications["ADF.ISIM"].aid or b"").hex()
VERIFY_ADM1 = "0020000A08" + b"12345678".hex()


@functools.cache
def _alice() -> Profile:
    return load_profile(ALICE)


def card(**changes: object) -> Emulator:
    return Emulator.open(build_image(dataclasses.replace(_alice(), **changes)))


def tx(emu: Emulator, apdu: str) -> tuple[str, int]:
    r = emu.transmit(bytes.fromhex(apdu.replace(" ", "")))
    return r[:-2].hex(), int.from_bytes(r[-2:], "big")


def select(emu: Emulator, aid: str) -> int:
    return tx(emu, f"00A4040C{len(aid) // 2:02X}{aid}")[1]


def test_3g_context_with_kc_when_gsm_access_is_on() -> None:
    emu = card()
    assert select(emu, USIM_AID) == 0x9000
    assert tx(emu, UMTS) == (UMTS_OK + "08" + KC, 0x9000)


def test_3g_context_without_service_27_has_no_kc_and_no_gsm_context() -> None:
    emu = card(ust=(20, 33, 85))
    select(emu, USIM_AID)
    assert tx(emu, UMTS) == (UMTS_OK, 0x9000)
    assert tx(emu, GSM) == ("", 0x9864)  # security context not supported


def test_gsm_context_sres_and_kc_consume_no_sqn() -> None:
    emu = card()
    select(emu, USIM_AID)
    assert tx(emu, GSM) == (f"04{SRES}08{KC}", 0x9000)
    assert tx(emu, GSM) == (f"04{SRES}08{KC}", 0x9000)
    assert tx(emu, UMTS)[1] == 0x9000  # the SQN is still fresh


def test_sync_failure_gives_auts_and_mac_failure_9862() -> None:
    emu = card()
    select(emu, USIM_AID)
    assert tx(emu, UMTS)[1] == 0x9000
    assert tx(emu, UMTS) == (f"dc0e{AUTS}", 0x9000)  # replay: SQN_MS = ff9bb4d0b607
    bad_mac = AUTN[:-2] + "00"
    assert tx(emu, f"0088008122 10{RAND} 10{bad_mac}") == ("", 0x9862)


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        (f"0088008121 10{RAND} 10{AUTN[:-2]}", 0x6700),  # AUTN one byte short
        (f"0088008122 11{RAND} 10{AUTN}"[:-2] + "00", 0x6A80),  # RAND length 17
        (f"0088008122 10{RAND} 0F{AUTN}", 0x6A80),  # AUTN length byte 15
        (f"0088008111 10{RAND[:-2]}", 0x6700),  # 3G context with RAND only
        (f"0088008010 10{RAND[:-2]}", 0x6700),  # GSM: RAND one byte short
        (f"0088008011 11{RAND}", 0x6A80),  # GSM: length byte 17
        (f"0088018022 10{RAND} 10{AUTN}", 0x6A86),  # P1 not 00
        (f"0088008222 10{RAND} 10{AUTN}", 0x9864),  # VGCS/VBS context
        ("0088008100", 0x6700),
    ],
)
def test_malformed_authenticate_data(apdu: str, sw: int) -> None:
    emu = card()
    select(emu, USIM_AID)
    assert tx(emu, apdu) == ("", sw)
    assert tx(emu, UMTS)[1] == 0x9000  # nothing consumed


@pytest.mark.parametrize(("first", "second"), [(USIM_AID, ISIM_AID), (ISIM_AID, USIM_AID)])
def test_one_sqn_array_for_both_applications(first: str, second: str) -> None:
    emu = card()
    select(emu, first)
    assert tx(emu, UMTS)[0].startswith(UMTS_OK)
    select(emu, second)
    assert tx(emu, UMTS) == (f"dc0e{AUTS}", 0x9000)  # never replayed through the other


def test_shared_sqn_survives_the_state_file(tmp_path: Path) -> None:
    image = build_image(_alice())
    state = tmp_path / "card.state"
    emu = Emulator.open(image, state_path=state)
    select(emu, USIM_AID)
    assert tx(emu, UMTS)[1] == 0x9000
    emu.close()  # the state file is locked for an emulator's lifetime
    again = Emulator.open(image, state_path=state)
    select(again, ISIM_AID)
    assert tx(again, UMTS) == (f"dc0e{AUTS}", 0x9000)
    assert load_image(state).usim == image.usim


def _profile(**changes: object) -> Profile:
    data = _alice().to_dict(secrets=True)
    for key in ("impi", "impu", "domain", "pcscf", "ist", "label"):
        data.pop(key, None)
    data.update(changes)
    return profile_from_mapping(data)


def test_usim_only_card() -> None:
    profile = _profile(applications=["usim"])
    image = build_image(profile)
    assert image.isim["aid"] is None and image.usim is not None
    assert [a["name"] for a in image.card["adfs"]] == ["ADF.USIM"]
    emu = Emulator.open(image)
    assert select(emu, ISIM_AID) == 0x6A82
    assert select(emu, USIM_AID) == 0x9000
    assert tx(emu, UMTS)[0].startswith(UMTS_OK)
    dir_records = emu.card.ef("MF/EF.DIR").records
    template = codec_for("EF.DIR").decode(dir_records[0])
    assert template.aid.hex() == USIM_AID and template.label == "USIM"
    assert codec_for("EF.DIR").decode(dir_records[1]) is None


def test_isim_only_card_has_no_usim() -> None:
    image = build_image(dataclasses.replace(_alice(), applications=("isim",)))
    assert image.usim is None
    emu = Emulator.open(image)
    assert select(emu, USIM_AID) == 0x6A82
    assert select(emu, ISIM_AID) == 0x9000


def _update(emu: Emulator, fid: str, body: bytes) -> int:
    select(emu, USIM_AID)
    assert tx(emu, VERIFY_ADM1)[1] == 0x9000
    assert tx(emu, f"00A4000C02{fid}")[1] == 0x9000
    return tx(emu, f"00D60000{len(body):02X}{body.hex()}")[1]


def test_write_guard_on_a_usim_only_card_keeps_derived_identities_trusted() -> None:
    emu = Emulator.open(build_image(_profile(
        applications=["usim"], trust_domains=["ims.mnc001.mcc001.3gppnetwork.org"]
    )))
    imsi = emu.card.ef("ADF.USIM/EF.IMSI")
    before = imsi.body
    other = codec_for("EF.IMSI").encode("001020123456789")  # ims.mnc002...: untrusted
    assert _update(emu, "6F07", other) == 0x6A80
    assert imsi.body == before
    assert "derived from the IMSI" in (emu.card.applications[imsi.parent].last_rejection or "")
    same_plmn = codec_for("EF.IMSI").encode("001019999999999")
    assert _update(emu, "6F07", same_plmn) == 0x9000 and imsi.body == same_plmn
    ad = emu.card.ef("ADF.USIM/EF.AD")
    three = codec_for("ADF.USIM/EF.AD").encode(UsimAdministrativeData(mnc_length=3))
    assert _update(emu, "6FAD", three) == 0x6A80  # ims.mnc019.mcc001...: untrusted
    assert ad.body != three


def test_write_guard_refuses_malformed_imsi_even_with_an_isim() -> None:
    emu = card()
    imsi = emu.card.ef("ADF.USIM/EF.IMSI")
    before = imsi.body
    bad_parity = bytes.fromhex("080110100000000010")  # 15 digits, parity says even
    assert _update(emu, "6F07", bad_parity) == 0x6A80 and imsi.body == before
    ok = codec_for("EF.IMSI").encode("999990000000001")  # another PLMN: the ISIM is used
    assert _update(emu, "6F07", ok) == 0x9000


def test_emulator_refuses_a_usim_only_image_outside_the_trust_domains() -> None:
    image = build_image(_profile(applications=["usim"]))
    image.isim["trust_domains"] = ["example.net"]
    problems = image_identity_problems(image)
    assert problems and all("derived from the IMSI" in p for p in problems)


@given(p2=st.sampled_from([0x80, 0x81, 0x82, 0x84]), data=st.binary(max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_authenticate_data_gives_a_status_word(p2: int, data: bytes) -> None:
    emu = _fuzz_card()
    if not data:
        return
    out, sw = tx(emu, f"008800{p2:02X}{len(data):02X}{data.hex()}")
    assert sw in {0x9000, 0x6700, 0x6A80, 0x9862, 0x9864}
    assert sw == 0x9000 or out == ""



@functools.cache
def _fuzz_card() -> Emulator:
    """One card for every example: what is accepted only moves its SQN array on."""
    emu = card()
    select(emu, USIM_AID)
    return emu
