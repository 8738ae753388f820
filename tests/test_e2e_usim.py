"""The USIM end to end, driven as wpa_supplicant's pcsc_funcs.c / srsUE's pcsc_usim drive a
card (spec-digest-wave2 3.1): pyscard -> pcscd -> vpcd -> `isim emulate` (subprocess).

Each command is sent as a T=0 reader driver sends it: no Le on commands with data, and a
`61XX` answer followed by GET RESPONSE (`send`), so the test holds whether the emulator
answers in the T=0 style or at APDU level; the assertions are on the final data.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from smartcard.System import readers

from emulator_proc import ROOT, EmulatorProcess, isim_argv, isim_env
from isim.card.image import build_image, save_image
from isim.codecs import codec_for
from isim.profile.model import load_profile
from pcsc_stack import PcscStack
from specs.layout import DFSpec, EFSpec, layout

pytestmark = pytest.mark.stack

ALICE = ROOT / "examples" / "alice.yaml"
# TS 35.208 test set 1 and its GSM conversions (spec-digest-wave2 2.3)
RAND = "23553cbe9637a89d218ae64dae47bf35"
AUTN = "55f328b43577b9b94a9ffac354dfafb3"
UMTS_OK = ("db08a54211d5e3ba50bf10b40ba9a3c58b2a05bbf0d987b21bf8cb10f769bcd751044604127672"
           "711c6d3441" "08eae4be823af9a08b")
GSM_OK = "0446f8416a08eae4be823af9a08b"
AUTS = "dc0eba853f3c123ccf44e93596e355c6"


class Reader:
    """A pyscard connection that follows `61XX` with GET RESPONSE, as a T=0 driver does."""

    def __init__(self, name: str) -> None:
        reader = next(r for r in readers() if str(r) == name)
        self.conn = reader.createConnection()
        self.conn.connect()

    def raw(self, apdu: str) -> tuple[bytes, int]:
        data, sw1, sw2 = self.conn.transmit(list(bytes.fromhex(apdu.replace(" ", ""))))
        return bytes(data), sw1 << 8 | sw2

    def send(self, apdu: str) -> tuple[bytes, int]:
        data, sw = self.raw(apdu)
        if sw >> 8 == 0x61:
            data, sw = self.raw(f"00C00000{sw & 0xFF:02X}")
        return data, sw


@pytest.fixture(params=[False, True], ids=["t1", "t0"])
def card(
    request: pytest.FixtureRequest, pcsc_stack: PcscStack, tmp_path: Path
) -> Iterator[Reader]:
    image = tmp_path / "alice.json"
    save_image(image, build_image(load_profile(ALICE)))
    proc = EmulatorProcess(image, vpcd_port=pcsc_stack.vpcd_port, t0=request.param,
                           t1=not request.param).start()
    try:
        proc.wait_inserted(pcsc_stack.reader_name)
        reader = Reader(pcsc_stack.reader_name)
        try:
            yield reader
        finally:
            reader.conn.disconnect()
    finally:
        proc.close()
        EmulatorProcess.wait_removed(pcsc_stack.reader_name)


def _tlv(fcp: bytes, tag: int) -> bytes:
    """A data object of an FCP template (62 L ...), one-byte lengths."""
    assert fcp[0] == 0x62
    i = 2
    while i < len(fcp):
        t, n = fcp[i], fcp[i + 1]
        if t == tag:
            return fcp[i + 2 : i + 2 + n]
        i += 2 + n
    raise KeyError(hex(tag))


def _usim_aid_from_ef_dir(card: Reader) -> bytes:
    """EF.DIR search of pcsc_funcs.c: probe each record's length with Le=FF (6C LL), read
    it, take the first application whose AID has the application code 10 02."""
    fcp, sw = card.send("00A40004022F00")
    assert sw == 0x9000 and fcp[0] == 0x62
    for record in range(1, 10):
        data, sw = card.raw(f"00B2{record:02X}04FF")
        if sw >> 8 == 0x6C:
            length = sw & 0xFF
            data, sw = card.raw(f"00B2{record:02X}04{length:02X}")
        assert sw == 0x9000
        if data[0] == 0x61 and data[2] == 0x4F and data[9:11] == b"\x10\x02":
            return data[4 : 4 + data[3]]
    raise AssertionError("no USIM in EF.DIR")


def _read(card: Reader, fid: str) -> bytes:
    fcp, sw = card.send(f"00A4000402{fid}")
    assert sw == 0x9000, f"{fid}: {sw:04X}"
    size = int.from_bytes(_tlv(fcp, 0x80), "big")
    data, sw = card.send(f"00B00000{size:02X}")
    assert sw == 0x9000 and len(data) == size
    return data


def test_wpa_supplicant_flow_imsi_ad_and_authenticate(card: Reader) -> None:
    fcp, sw = card.send("00A40004023F00")  # SELECT MF, return FCP
    assert sw == 0x9000 and fcp[0] == 0x62
    aid = _usim_aid_from_ef_dir(card)
    assert aid.hex().upper().startswith("A0000000871002")
    fcp, sw = card.send(f"00A40404{len(aid):02X}{aid.hex()}")
    assert sw == 0x9000 and _tlv(fcp, 0x84) == aid
    imsi = _read(card, "6F07")
    digits = [imsi[1] >> 4] + [n for b in imsi[2:] for n in (b & 0xF, b >> 4)]
    assert "".join(str(d) for d in digits if d < 10) == "001010123456789"
    assert _read(card, "6FAD")[3] & 0x0F == 2  # MNC length
    umts = f"0088008122 10{RAND} 10{AUTN}"
    assert card.send(umts) == (bytes.fromhex(UMTS_OK), 0x9000)
    assert card.send(umts) == (bytes.fromhex(AUTS), 0x9000)  # replay: sync failure
    bad = f"0088008122 10{RAND} 10{AUTN[:-2]}00"
    assert card.send(bad) == (b"", 0x9862)  # MAC failure
    assert card.send(f"0088008011 10{RAND}") == (bytes.fromhex(GSM_OK), 0x9000)


def test_partial_aid_select_lands_in_the_usim(card: Reader) -> None:
    fcp, sw = card.send("00A4040405A000000087")  # pcsc_funcs.c's fallback
    assert sw == 0x9000 and _tlv(fcp, 0x84)[:7] == bytes.fromhex("A0000000871002")
    assert _read(card, "6F07")[:2] == bytes.fromhex("0809")  # EF.IMSI, not EF.IST


# -- every USIM file, read as a UE reads it ----------------------------------------------------

# alice plus every key that puts an optional USIM file on the card (EF.MSISDN, EF.SPN, EF.EST
# with UST service 34) and content in the lists, with PIN1 enabled: the files whose READ rule
# is PIN1 (EF.ARR of the ADF) answer 6982 until the client verifies it.
FULL_USIM = {
    "pin1_enabled": True, "msisdn": "+15551234567", "spn": "isim test", "est": [1],
    "ust": [19, 20, 21, 27, 33, 34, 38, 42, 43, 85, 122, 123, 124, 126],
    "ecc": ["112", {"number": "911", "alpha": "Police", "categories": ["police"]}],
    "plmn_act": ["26201"], "oplmn_act": [{"plmn": "310410", "act": ["e-utran"]}],
    "fplmn": ["00102"],
}


@pytest.fixture
def full_usim(pcsc_stack: PcscStack, tmp_path: Path) -> Iterator[tuple[Reader, Path]]:
    """The FULL_USIM profile in `isim emulate` (a subprocess, the default T=0 mode)."""
    profile = tmp_path / "full.yaml"
    profile.write_text(yaml.safe_dump({**yaml.safe_load(ALICE.read_text()), **FULL_USIM}))
    proc = EmulatorProcess(profile, vpcd_port=pcsc_stack.vpcd_port).start()
    try:
        proc.wait_inserted(pcsc_stack.reader_name)
        reader = Reader(pcsc_stack.reader_name)
        try:
            yield reader, profile
        finally:
            reader.conn.disconnect()
    finally:
        proc.close()
        EmulatorProcess.wait_removed(pcsc_stack.reader_name)


def _built_usim_files(profile: Path) -> dict[tuple[str, str], bytes | tuple[bytes, ...]]:
    """`isim build --json` of the profile: (DF, EF) -> body or records, USIM DFs only."""
    done = subprocess.run(isim_argv("build", str(profile), "--json"), env=isim_env(),
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    usim_dfs = {d.name for d in _usim_dfs()}
    return {
        (f["df"], f["name"]): (tuple(bytes.fromhex(r) for r in f["records"]) if "records" in f
                               else bytes.fromhex(f["hex"]))
        for f in json.loads(done.stdout)["files"] if f["df"] in usim_dfs
    }


def _usim_dfs() -> tuple[DFSpec, ...]:
    adf = layout().df("ADF.USIM")
    return (adf, *adf.dfs.values())


def _read_ef(card: Reader, fid: str) -> bytes | tuple[bytes, ...]:
    """SELECT by FID (FCP back), then READ BINARY of the FCP's size or READ RECORD of each
    record (file descriptor: record length, number of records; TS 102 221 11.1.1.4.3)."""
    fcp, sw = card.send(f"00A4000402{fid}")
    assert sw == 0x9000, f"SELECT {fid}: {sw:04X}"
    descriptor = _tlv(fcp, 0x82)
    if descriptor[0] & 0x07 == 0x01:  # transparent
        size = int.from_bytes(_tlv(fcp, 0x80), "big")
        data, sw = card.send(f"00B00000{size:02X}")
        assert sw == 0x9000 and len(data) == size, f"READ BINARY {fid}: {sw:04X}"
        return data
    length, count = int.from_bytes(descriptor[2:4], "big"), descriptor[4]
    records = []
    for n in range(1, count + 1):
        data, sw = card.send(f"00B2{n:02X}04{length:02X}")
        assert sw == 0x9000 and len(data) == length, f"READ RECORD {fid} #{n}: {sw:04X}"
        records.append(data)
    return tuple(records)


def _decode(spec: EFSpec, content: bytes | tuple[bytes, ...]) -> object:
    codec = codec_for(spec)
    if isinstance(content, tuple):
        return [codec.to_json(codec.decode(r)) for r in content]
    return codec.to_json(codec.decode(content))


def test_every_usim_file_read_and_decoded_as_built(
    full_usim: tuple[Reader, Path],
) -> None:
    card, profile = full_usim
    built = _built_usim_files(profile)
    # skip none: the profile puts every file of the USIM's DFs in specs/ on the card
    assert set(built) == {(d.name, e.name) for d in _usim_dfs() for e in d.files.values()}

    fcp, sw = card.send("00A40004023F00")
    assert sw == 0x9000
    aid = _usim_aid_from_ef_dir(card)
    fcp, sw = card.send(f"00A40404{len(aid):02X}{aid.hex()}")
    assert sw == 0x9000 and _tlv(fcp, 0x84) == aid
    # before PIN1: EF.AD (READ always) reads, EF.IMSI (READ PIN1) does not
    assert _read_ef(card, "6FAD") == built[("ADF.USIM", "EF.AD")]
    card.send("00A40004026F07")
    assert card.send("00B0000009") == (b"", 0x6982)
    pin = b"1234".ljust(8, b"\xff").hex()
    assert card.send(f"0020000108{pin}") == (b"", 0x9000)

    read: dict[tuple[str, str], bytes | tuple[bytes, ...]] = {}
    decoded: dict[str, object] = {}
    for df in _usim_dfs():
        card.send(f"00A40404{len(aid):02X}{aid.hex()}")
        if df.fid is not None:  # DF.5GS, DF.GSM-ACCESS below the ADF
            fcp, sw = card.send(f"00A4000402{df.fid:04X}")
            assert sw == 0x9000 and _tlv(fcp, 0x83) == df.fid.to_bytes(2, "big")
        for ef in df.files.values():
            read[(df.name, ef.name)] = content = _read_ef(card, ef.fid_hex)
            assert content == built[(df.name, ef.name)], f"{df.name}/{ef.name}"
            decoded[ef.name] = _decode(ef, content)  # no CodecError on any file
    assert read.keys() == built.keys()

    assert decoded["EF.IMSI"] == {"imsi": "001010123456789"}
    assert decoded["EF.MSISDN"][0] == {"number": "+15551234567", "alpha": ""}
    assert decoded["EF.SPN"]["name"] == "isim test"
    assert decoded["EF.ACC"] == {"classes": [9]}
    assert decoded["EF.EST"] == {"services": [1]}
    assert decoded["EF.FPLMN"] == {"plmns": ["00102"]}
    assert decoded["EF.ECC"][1]["categories"] == ["police"]
    assert decoded["EF.OPLMNwACT"]["entries"] == [{"plmn": "310410", "act": ["e-utran"]}]
    assert decoded["EF.SUCI_Calc_Info"] == {"schemes": [{"scheme": 0, "key_index": 0}],
                                            "keys": []}
    assert decoded["EF.Routing_Indicator"] is not None and decoded["EF.Kc"] is not None
