"""What a package holds -> an isim profile (the mapping `isim.profile.model` validates) and a card
image for `isim inspect`.

Read: ICCID (EF.ICCID, else the header), IMSI (PE-USIM ef-imsi, TS 31.102 4.2.2) and the MNC
length (its EF.AD byte 4), the ISIM's IMPI, IMPUs, home domain, P-CSCFs, IST, EF.AD mode,
the label of its EF.DIR record, file sizes that differ from specs/, PIN1/PIN2/PUKs/ADM1,
and K, OPc and the SQN parameters when the ISIM's algorithm is Milenage. Another algorithm
gives a note and no keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apdu.files import LCSI_ACTIVATED_HEX
from isim.aka.gba import GbaState
from isim.aka.sqn import SqnArray, SqnConfig
from isim.card.contents import ISIM_ADF
from isim.card.image import CardImage
from isim.codecs import codec_for
from isim.codecs.errors import CodecError
from isim.usim.card import usim_member
from isim.usim.contents import USIM_ADF
from specs.layout import layout

from .asn import SQN_INIT_ENTRIES
from .layout import saip_layout
from .package import Package
from .reader import PackageContent, ReadFile, read_content
from .usim_keys import usim_keys

__all__ = ["Extracted", "extract", "package_image"]


_MILENAGE = "milenage"
_ALGORITHMS = {1: "milenage", 2: "tuak", 3: "usim-test-algorithm"}
_DEFAULT_AGE_LIMIT = 1 << 28  # the DEFAULT of sqnDelta / sqnAgeLimit ('000010000000'H)


@dataclass
class Extracted:
    mapping: dict[str, Any]          # profile keys (with secrets)
    content: PackageContent
    milenage: bool
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # profile key -> "PE isim ef-impi"


def _decode(f: ReadFile | None, notes: list[str]) -> Any:
    if f is None:
        return None
    try:
        if f.spec.is_record:
            return [codec_for(f.spec).decode(r) for r in f.records]
        return codec_for(f.spec).decode(f.body)
    except CodecError as exc:
        notes.append(f"{f.pe}: {exc}")
        return None


def _pin_text(value: bytes) -> str:
    return value.rstrip(b"\xff").decode("ascii", "replace")


def _sizes(content: PackageContent) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (df, _), f in content.files.items():
        spec = f.spec
        key = spec.name if df == ISIM_ADF else f"{df}/{spec.name}"
        if df == USIM_ADF or _parent(df) == USIM_ADF:
            continue  # the USIM's file sizes are not profile keys
        if spec.is_record:
            rlen = f.shape.record_length or spec.record_length
            want = {"record_length": rlen, "records": len(f.body) // rlen if rlen else 0}
            have = {"record_length": spec.record_length, "records": spec.records}
        else:
            want, have = {"size": len(f.body)}, {"size": spec.size}
        diff = {k: v for k, v in want.items() if have[k] != v}
        if diff and spec.name not in ("EF.ARR", "EF.DIR"):
            out[key] = diff
    return out


def _parent(df: str) -> str | None:
    return next((d.parent for d in layout().dfs() if d.name == df), None)


def extract(package: Package, trust_domains: list[str] | None = None) -> Extracted:
    c = read_content(package)
    notes = list(c.notes)
    m: dict[str, Any] = {}
    src: dict[str, str] = {}

    def put(key: str, value: Any, f: ReadFile | None) -> None:
        if value is not None:
            m[key] = value
            if f is not None:
                src[key] = f.pe

    iccid_file = c.file("MF", "EF.ICCID")
    iccid = _decode(iccid_file, notes)
    if iccid is None and c.iccid is not None:
        iccid = codec_for("EF.ICCID").decode(c.iccid)
    put("iccid", iccid, iccid_file)
    usim = usim_keys(c, notes)
    apps = [name for name, pe in (("usim", "usim"), ("isim", "isim")) if package.first(pe)]
    if apps:
        m["applications"] = apps
    for key, value in usim.items():  # EF.AD's mode: the ISIM's when it has one
        m.setdefault(key, value)
    for key, (df, ef) in (("imsi", (USIM_ADF, "EF.IMSI")), ("ust", (USIM_ADF, "EF.UST"))):
        if key in usim and c.file(df, ef) is not None:
            src[key] = c.file(df, ef).pe
    f = c.file(ISIM_ADF, "EF.IMPI")
    put("impi", _decode(f, notes), f)
    f = c.file(ISIM_ADF, "EF.IMPU")
    impus = _decode(f, notes)
    put("impu", [u for u in impus if u is not None] if impus else None, f)
    f = c.file(ISIM_ADF, "EF.DOMAIN")
    put("domain", _decode(f, notes), f)
    f = c.file(ISIM_ADF, "EF.P-CSCF")
    pcscf = _decode(f, notes)
    if f is not None:
        put("pcscf", [a.address for a in pcscf if a is not None] if pcscf else [], f)
    f = c.file(ISIM_ADF, "EF.IST")
    ist = _decode(f, notes)
    put("ist", sorted(ist) if ist is not None else None, f)
    f = c.file(ISIM_ADF, "EF.AD")
    ad = _decode(f, notes)
    put("ad", ad.ue_operation_mode if ad is not None else None, f)
    aid = c.aids.get(ISIM_ADF)
    dirs = _decode(c.file("MF", "EF.DIR"), notes) or []
    for tpl in dirs:
        if tpl is not None and aid is not None and tpl.aid == aid and tpl.label:
            m["label"] = tpl.label
    sizes = _sizes(c)
    if sizes:
        m["sizes"] = sizes
    _pins(c, m)
    milenage = _aka(c, m, notes)
    domains = list(trust_domains or ([m["domain"]] if "domain" in m else []))
    m = {"trust_domains": domains, **m}
    return Extracted(m, c, milenage, notes, src)


def _pins(c: PackageContent, m: dict[str, Any]) -> None:
    refs = layout().key_references
    lay = saip_layout()
    for name, ref in (("pin1", refs["PIN1"]), ("pin2", refs["PIN2"])):
        pin = c.pins.get(ref)
        if pin is None:
            continue
        m[name] = _pin_text(pin.value)
        m[f"{name}_enabled"] = pin.attributes != lay.pins["attributes_disabled"]
        if pin.unblock is not None and pin.unblock in c.puks:
            m["puk" + name[-1]] = _pin_text(c.puks[pin.unblock])
    adm = c.pins.get(refs["ADM1"])
    if adm is not None:
        m["adm1"] = adm.value.hex()


def _aid_text(aid: object) -> str:
    return aid.hex().upper() if isinstance(aid, bytes) else "(none)"


def _aka(c: PackageContent, m: dict[str, Any], notes: list[str]) -> bool:
    """K, OPc and the SQN parameters of the ISIM's PE-AKAParameter (else the first)."""
    entries = [a for a in c.aka if a.df == ISIM_ADF] or c.aka
    if not entries:
        notes.append("no PE akaParameter: K and OPc not imported")
        return False
    aka = entries[0]
    kind, conf = aka.value["algoConfiguration"]
    if kind != "algoParameter":  # mappingParameter: the parameters of the NAA it names
        source = conf.get("mappingSource")
        shared = next((a for a in c.aka if a.df is not None and c.aids.get(a.df) == source
                       and a.value["algoConfiguration"][0] == "algoParameter"), None)
        if shared is None:
            notes.append(f"{aka.pe}: shares the algorithm of the NAA {_aid_text(source)}, "
                         "which has no akaParameter of its own: K and OPc not imported")
            return False
        notes.append(f"{aka.pe}: shares the algorithm of {shared.df} ({shared.pe}): its K "
                     "and OPc imported")
        aka = shared
        kind, conf = aka.value["algoConfiguration"]
    for other in c.aka:  # isim's card has one K and OPc for every application
        okind, oconf = other.value["algoConfiguration"]
        if okind == "algoParameter" and other is not aka and (
                oconf.get("key"), oconf.get("opc")) != (conf.get("key"), conf.get("opc")):
            notes.append(f"{other.pe}: {other.df or 'an NAA'} has another K or OPc than "
                         f"{aka.df or 'the NAA imported'}; isim's card has one K and OPc for "
                         "both: those of the ISIM (else the first NAA) imported")
    name = _ALGORITHMS.get(conf["algorithmID"], f"algorithm {conf['algorithmID']}")
    if name != _MILENAGE:
        notes.append(f"{aka.pe}: the algorithm is {name}, not Milenage: K and OPc not "
                     "imported (isim runs Milenage only)")
        return False
    m["k"] = conf["key"].hex()
    m["opc"] = conf["opc"].hex()
    delta = int.from_bytes(aka.value.get("sqnDelta", b""), "big")
    if delta:
        m["sqn_delta"] = delta
    limit = int.from_bytes(aka.value.get("sqnAgeLimit", b""), "big")
    if limit and limit != _DEFAULT_AGE_LIMIT:
        m["sqn_limit"] = limit
    init = aka.value.get("sqnInit") or []
    if len(init) == SQN_INIT_ENTRIES:
        seqs = [int.from_bytes(s, "big") for s in init]
        if len(set(seqs)) == 1:
            m["sqn"] = f"{seqs[0] << 5:012x}"
        else:
            notes.append(f"{aka.pe}: sqnInit differs per IND: the profile starts every IND "
                         "at the highest")
            m["sqn"] = f"{max(seqs) << 5:012x}"
    return True


def package_image(ex: Extracted, trust_domains: list[str]) -> CardImage:
    """A card image of exactly the package's MF and ISIM files (for `isim inspect`; it may
    break the rule: the inspection reports it)."""
    lay = layout()
    c = ex.content
    pins: dict[str, Any] = {}
    for ref, pin in c.pins.items():
        key = f"{ref:02X}"
        if ref in (lay.key_references["ADM1"],):
            pins[key] = {"value_hex": pin.value.hex().upper(), "enabled": True}
        elif ref in (lay.key_references["PIN1"], lay.key_references["PIN2"]):
            entry: dict[str, Any] = {"value": _pin_text(pin.value),
                                     "enabled": pin.attributes != saip_layout().pins[
                                         "attributes_disabled"]}
            if pin.unblock in c.puks:
                entry["unblock"] = _pin_text(c.puks[pin.unblock])
            pins[key] = entry
    card: dict[str, Any] = {"pins": pins, "adfs": []}
    nodes: dict[str, dict[str, Any]] = {}
    for df in lay.dfs():
        files = [f for (d, _), f in c.files.items() if d == df.name]
        owner = lay.applications.get(df.parent) if df.parent else df
        arr_fid = (owner or df).files[df.arr_file].fid_hex
        node: dict[str, Any] = {"name": df.name, "fid": f"{df.fid:04X}" if df.fid else None,
                                "lcsi": LCSI_ACTIVATED_HEX,
                                "arr": {"file": arr_fid, "record": df.arr},
                                "files": [_ef_node(f, arr_fid) for f in files]}
        nodes[df.name] = node
        if df is lay.mf:
            card["mf"] = node
        elif df.parent is not None:
            parent = nodes.get(df.parent)
            if parent is not None and files and parent in card["adfs"]:
                node["structure"] = "df"
                parent["files"].append(node)
        elif df.name in c.aids or files:
            node["aid"] = (c.aids.get(df.name) or df.aid or b"").hex().upper()
            node["label"] = ex.mapping.get("label", df.label) if df.name == ISIM_ADF else df.label
            card["adfs"].append(node)
    k = bytes.fromhex(ex.mapping.get("k", "00" * 16))
    opc = bytes.fromhex(ex.mapping.get("opc", "00" * 16))
    has_isim = any(a["name"] == ISIM_ADF for a in card["adfs"])
    has_usim = any(a["name"] == USIM_ADF for a in card["adfs"])
    isim_aid = c.aids.get(ISIM_ADF) or lay.applications[ISIM_ADF].aid or b""
    sqn = SqnArray(SqnConfig(), int(ex.mapping.get("sqn", "0"), 16))
    usim = usim_member(has_usim)
    if usim is not None and USIM_ADF in c.aids:
        usim["aid"] = c.aids[USIM_ADF].hex().upper()
    return CardImage(iccid=str(ex.mapping.get("iccid", "")), card=card, isim={
        "aid": isim_aid.hex().upper() if has_isim else None, "trust_domains": trust_domains,
        "k": k.hex(), "opc": opc.hex(),
        "state": {"sqn": sqn.to_dict(), "gba": GbaState().to_dict()}}, usim=usim)


def _ef_node(f: ReadFile, arr_fid: str) -> dict[str, Any]:
    spec, shape = f.spec, f.shape
    sfi = spec.sfi if shape.sfi is False else shape.sfi
    node: dict[str, Any] = {
        "name": spec.name, "fid": spec.fid_hex, "sfi": sfi, "lcsi": LCSI_ACTIVATED_HEX,
        "structure": shape.structure or spec.structure,
        "arr": {"file": shape.arr_file or arr_fid, "record": shape.arr_record or spec.arr}}
    if spec.is_record:
        node["record_length"] = shape.record_length or spec.record_length
        node["content"] = [r.hex().upper() for r in f.records]
    else:
        node["size"] = len(f.body)
        node["content"] = f.body.hex().upper()
    return node
