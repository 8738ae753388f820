"""A card (its image: file tree, PINs, keys, SQN state) -> the PEs of an eUICC Profile Package.

PE order (clause 8.1; as the TS.48 generic profiles): header, mf, pukCodes, pinCodes (MF:
global PINs and ADM), then per ADF of the card: its template PE (usim / isim), its optional
files PE (opt-usim / opt-isim) when it has such files, pinCodes (its local PINs; a later ADF
shares the first one's by filePath), akaParameter (Milenage, K and OPc); then one
genericFileManagement for the files no template has; end. Which DF goes to which PE, the
template OIDs and the PIN conventions are specs/saip.yaml. docs/saip.md has the choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from isim.aka.sqn import DEFAULT_IND_BITS
from isim.card.image import CardImage

from .asn import SQN_BYTES, SQN_INIT_ENTRIES, encode_pe, fields, mandatory
from .files import arr_reference, content_items, ef_fcp
from .layout import DFPlan, SaipLayout, field_key, saip_layout

__all__ = ["ExportError", "FilePlace", "Outline", "export_image", "image_outline", "image_pes",
           "pe_value", "secret_bodies", "sqn_problem"]

_NOT_CREATED = [("doNotCreate", None)]  # clause 8.3.1: a "created by default" file left out
_LOCAL = 0x80  # key references 81..88 are local (second) PINs: TS 102 221 9.5.1


class ExportError(ValueError):
    """A card this exporter cannot express (a DF with no PE in specs/saip.yaml)."""


@dataclass(frozen=True)
class FilePlace:
    """Where an EF's content went: member `member` of the PE at `pe` (its index in the
    package, the ProfileHeader being 0), whose value is `value(entry)`."""

    pe: int
    member: str
    implicit_arr: str | None  # the `File` value's; None: the header's ICCID (the EF's body)

    def value(self, entry: dict[str, Any]) -> Any:
        if self.implicit_arr is None:
            return _stream(entry)
        return _ef_file(entry, self.implicit_arr)


@dataclass
class Outline:
    """A card's PEs (`image_pes`) and where its per-card parts went (isim.saip.fast: a batch's
    plan)."""

    pes: list[tuple[str, dict[str, Any]]]
    files: list[tuple[dict[str, Any], FilePlace]]  # (EF entry, where); GFM files have none
    secrets: dict[int, str]  # PE index -> its body's key in `secret_bodies`


@dataclass
class _Builder:
    lay: SaipLayout
    pes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gfm: list[list[tuple[str, Any]]] = field(default_factory=list)
    files: list[tuple[dict[str, Any], FilePlace]] = field(default_factory=list)
    secrets: dict[int, str] = field(default_factory=dict)

    def add(self, name: str, body: dict[str, Any], *, secret: str | None = None) -> int:
        """Append a PE, return its index in the package (its PEHeader number: the PEs after
        the ProfileHeader count from 1). `secret`: the body is `secret_bodies(...)[secret]`."""
        number = len(self.pes) + 1
        if secret is not None:
            self.secrets[number] = secret
        self.pes.append((name, pe_value(name, number, body)))
        return number


def pe_value(name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
    """A PE's value: its PEHeader (`number`), then `body`'s members."""
    return {_header_field(name): _pe_header(number), **body}


@lru_cache(maxsize=256)
def _pe_header(identification: int) -> dict[str, int]:
    """A PEHeader value: one object per number (never changed by its users)."""
    return {"identification": identification}


@cache
def _header_field(pe: str) -> str:
    return fields(pe)[0]  # mf-header, pin-Header, aka-header ...


def _stream(ef: dict[str, Any]) -> bytes:
    """The body of an EF entry: content as hex (a card image) or as bytes (isim.saip.fast)."""
    content = ef["content"]
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return bytes.fromhex(content)
    return b"".join(r if isinstance(r, bytes) else bytes.fromhex(r) for r in content)


def _ef_file(ef: dict[str, Any], implicit_arr: str) -> list[tuple[str, Any]]:
    """The `File` value of an EF entry (cached by everything it is made of; callers never
    change it). Its FCP is one object per set of attributes."""
    content = ef["content"]
    count = 0 if isinstance(content, str | bytes) else len(content)
    shape = (ef["name"], ef["fid"], ef.get("sfi"), ef["structure"], ef.get("size"),
             ef.get("record_length"), count, ef["arr"]["file"], ef["arr"]["record"],
             ef.get("lcsi"), implicit_arr)
    key = (shape, content if isinstance(content, str | bytes) else tuple(content))
    found = _FILE_CACHE.get(key)
    if found is None:
        fcp = _FCP_CACHE.get(shape)
        if fcp is None:
            fcp = _FCP_CACHE[shape] = ef_fcp(ef, implicit_arr)
        found = [("fileDescriptor", fcp), *content_items(_stream(ef))]
        if len(_FILE_CACHE) >= _MAX_CACHED:
            _FILE_CACHE.clear()
        _FILE_CACHE[key] = found
    return found


_MAX_CACHED = 4096
_FILE_CACHE: dict[tuple, list[tuple[str, Any]]] = {}  # most EFs are alike on every card
_FCP_CACHE: dict[tuple, dict[str, Any]] = {}  # one per file shape: a few dozen


def _pin_status(pins: dict[str, Any], local: bool) -> bytes:
    """pinStatusTemplateDO: the key references that guard the DF (TS.48 practice: an ADF
    lists its local PIN first, then the global ones)."""
    return _pin_status_of(tuple(pins), local)


@lru_cache(maxsize=16)
def _pin_status_of(keys: tuple[str, ...], local: bool) -> bytes:
    refs = sorted(int(r, 16) for r in keys)
    glob = [r for r in refs if r < _LOCAL]
    return bytes(([r for r in refs if r >= _LOCAL] if local else []) + glob)


def _is_adm(ref: int) -> bool:
    return 0x0A <= ref <= 0x0E or 0x8A <= ref <= 0x8E  # TS 102 221 table 9.3


def _pin_value(pin: dict[str, Any]) -> bytes:
    if "value_hex" in pin:
        return bytes.fromhex(pin["value_hex"])
    return pin["value"].encode("ascii").ljust(8, b"\xff")


def _pin_configs(pins: dict[str, Any], refs: list[int], lay: SaipLayout) -> list[dict]:
    out = []
    for ref in refs:
        pin = pins[f"{ref:02X}"]
        conf: dict[str, Any] = {"keyReference": ref, "pinValue": _pin_value(pin)}
        if pin.get("unblock"):
            conf["unblockingPINReference"] = ref
        if _is_adm(ref):
            conf["pinAttributes"] = lay.pins["attributes_adm"]
            conf["maxNumOfAttemps-retryNumLeft"] = lay.pins["adm_tries"]
        else:
            key = "attributes_enabled" if pin.get("enabled") else "attributes_disabled"
            conf["pinAttributes"] = lay.pins[key]
            conf["maxNumOfAttemps-retryNumLeft"] = lay.pins["pin_tries"]
        out.append(conf)
    return out


def _puk_configs(pins: dict[str, Any], lay: SaipLayout) -> list[dict]:
    return [
        {"keyReference": int(ref, 16), "pukValue": pin["unblock"].encode("ascii").ljust(8, b"\xff"),
         "maxNumOfAttemps-retryNumLeft": lay.pins["puk_tries"]}
        for ref, pin in sorted(pins.items(), key=lambda kv: int(kv[0], 16)) if pin.get("unblock")
    ]


def secret_bodies(pins: dict[str, Any], isim: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bodies of the PEs holding a card's secrets, by role: "puk" (PE-PUKCodes, when a
    PIN has an unblock code), "pin" and "local-pin" (PE-PINCodes of the MF's and of the first
    ADF's PINs, when there are such), "aka" (PE-AKAParameter of every ADF). `pins`, `isim`:
    the card image's sections."""
    lay = saip_layout()
    out: dict[str, dict[str, Any]] = {"aka": _aka(isim, lay)}
    if any(p.get("unblock") for p in pins.values()):
        out["puk"] = {"pukCodes": _puk_configs(pins, lay)}
    glob = sorted(int(r, 16) for r in pins if int(r, 16) < _LOCAL)
    if glob:
        out["pin"] = {"pinCodes": ("pinconfig", _pin_configs(pins, glob, lay))}
    local = sorted(int(r, 16) for r in pins if int(r, 16) >= _LOCAL)
    if local:
        out["local-pin"] = {"pinCodes": ("pinconfig", _pin_configs(pins, local, lay))}
    return out


def sqn_problem(ind_bits: int) -> str | None:
    """Why a card whose SQNs have `ind_bits` IND bits has no package (None: it has one):
    PE-AKAParameter.sqnInit is one SEQ per IND value, 32 of them."""
    if 1 << ind_bits == SQN_INIT_ENTRIES:
        return None
    return (f"{ind_bits} IND bits: an eUICC Profile Package carries the SQN array of "
            f"{SQN_INIT_ENTRIES.bit_length() - 1} (PE-AKAParameter.sqnInit, "
            f"{SQN_INIT_ENTRIES} entries)")


def _aka(isim: dict[str, Any], lay: SaipLayout) -> dict[str, Any]:
    sqn = isim.get("state", {}).get("sqn", {})
    problem = sqn_problem(sqn.get("ind_bits", DEFAULT_IND_BITS))
    if problem:
        raise ExportError(f"sqn_ind_bits: {problem}")
    body: dict[str, Any] = {"algoConfiguration": ("algoParameter", {
        "algorithmID": lay.algorithm_id, "algorithmOptions": lay.algorithm_options,
        "key": bytes.fromhex(isim["k"]), "opc": bytes.fromhex(isim["opc"])})}
    delta = sqn.get("delta")
    if isinstance(delta, int) and delta < 1 << 43:
        body["sqnDelta"] = delta.to_bytes(SQN_BYTES, "big")
    limit = sqn.get("limit")
    if isinstance(limit, int) and limit < 1 << 43:
        body["sqnAgeLimit"] = limit.to_bytes(SQN_BYTES, "big")
    seq = sqn.get("seq_ms")
    if isinstance(seq, list) and len(seq) == SQN_INIT_ENTRIES:
        body["sqnInit"] = list(_sqn_init(tuple(seq)))
    return body


@lru_cache(maxsize=64)  # the same SQN for most cards of a batch
def _sqn_init(seq: tuple[int, ...]) -> tuple[bytes, ...]:
    return tuple(int(s).to_bytes(SQN_BYTES, "big") for s in seq)


def _df_pes(b: _Builder, plan: DFPlan, node: dict[str, Any], first_file: list[tuple],
            implicit_arr: str, path: bytes) -> list[dict[str, Any]]:
    """The DF's PE (and its optional files PE); returns the DFs below it (their own PEs)."""
    efs = [ef for ef in node["files"] if "files" not in ef]
    (main, optional, generic), where = _df_values(plan, efs, first_file, implicit_arr, path)
    at = b.add(plan.pe, main)
    opt_at = b.add(plan.opt_pe or "", optional) if optional is not None else -1
    if generic is not None:
        b.gfm.append(generic)
    own = plan.pe_fields().values()
    b.files += [(ef, FilePlace(at if member in own else opt_at, member, implicit_arr))
                for ef, member in zip(efs, where, strict=True) if member is not None]
    return [ef for ef in node["files"] if "files" in ef]  # DFs below an ADF (DF.5GS ...)


_DFValues = tuple[dict[str, Any], dict[str, Any] | None, list[tuple[str, Any]] | None]


def _df_values(plan: DFPlan, efs: list[dict[str, Any]], first_file: list[tuple],
               implicit_arr: str, path: bytes) -> tuple[_DFValues, list[str | None]]:
    """(the DF's PE body, its optional files PE body or None, its genericFileManagement
    command or None), and the PE member of each EF (None: genericFileManagement)."""
    own, opt = plan.pe_fields(), plan.opt_fields()
    main: dict[str, Any] = {"templateID": plan.template, next(iter(own.values())): first_file}
    optional: dict[str, Any] = {"templateID": plan.opt_template}
    generic: list[tuple[str, Any]] = []
    where: list[str | None] = []
    for ef in efs:
        key_ef = field_key(ef["name"])
        if key_ef in own:
            main[own[key_ef]] = _ef_file(ef, implicit_arr)
            where.append(own[key_ef])
        elif key_ef in opt:
            optional[opt[key_ef]] = _ef_file(ef, implicit_arr)
            where.append(opt[key_ef])
        else:  # no template has it: created by a genericFileManagement command
            generic += [("createFCP", ef_fcp(ef, implicit_arr)),
                        *content_items(_stream(ef))]
            where.append(None)
    for name in fields(plan.pe)[2:]:  # a default file this card does not have
        if name in mandatory(plan.pe) and name not in main:
            main[name] = _NOT_CREATED
    values: _DFValues = (main, optional if len(optional) > 1 and plan.opt_pe else None,
                         [("filePath", path), *generic] if generic else None)
    return values, where


def _sub_df_pes(b: _Builder, lay: SaipLayout, node: dict[str, Any], pins: dict[str, Any],
                adf_path: bytes) -> None:
    plan = lay.dfs.get(node["name"])
    if plan is None:
        raise ExportError(f"{node['name']}: no PE in specs/saip.yaml for this DF")
    fid = bytes.fromhex(node["fid"])
    implicit = lay.implicit_arr["adf_files"]
    fcp = {"fileID": fid, "securityAttributesReferenced": arr_reference(node["arr"], implicit),
           "pinStatusTemplateDO": _pin_status(pins, local=True)}
    _df_pes(b, plan, node, [("fileDescriptor", fcp)], implicit, adf_path + fid)


def image_pes(image: CardImage) -> list[tuple[str, dict[str, Any]]]:
    """The PEs (alternative, value) of a card image, in package order."""
    return image_outline(image).pes


def image_outline(image: CardImage) -> Outline:
    """The PEs of a card image, in package order, and where its per-card parts went."""
    lay = saip_layout()
    card = image.card
    pins: dict[str, Any] = card.get("pins", {})
    secrets = secret_bodies(pins, image.isim)
    b = _Builder(lay)
    mf = card["mf"]
    iccid = next(f for f in mf["files"] if f["name"] == "EF.ICCID")
    adfs = card.get("adfs", [])
    plans = []
    for node in adfs:
        plan = lay.dfs.get(node["name"])
        if plan is None or plan.temporary_fid is None:
            raise ExportError(f"{node['name']}: no PE in specs/saip.yaml for this ADF")
        plans.append((plan, node))
    mf_status = {"securityAttributesReferenced": arr_reference(mf["arr"], lay.implicit_arr["mf"]),
                 "pinStatusTemplateDO": _pin_status(pins, local=False)}
    _df_pes(b, lay.dfs["MF"], mf, [("fileDescriptor", mf_status)], lay.implicit_arr["mf"], b"")
    # PE-MF was added by _df_pes; the MF's PINs and the PUKs follow it
    for name, role in (("pukCodes", "puk"), ("pinCodes", "pin")):
        if role in secrets:
            b.add(name, secrets[role], secret=role)
    first_adf: bytes | None = None
    for plan, node in plans:
        temp = bytes.fromhex(plan.temporary_fid or "")
        adf_fcp = {"fileID": temp, "dfName": bytes.fromhex(node["aid"]),
                   "securityAttributesReferenced": arr_reference(node["arr"],
                                                                 lay.implicit_arr["adf"]),
                   "pinStatusTemplateDO": _pin_status(pins, local=True)}
        below = _df_pes(b, plan, node, [("fileDescriptor", adf_fcp)],
                        lay.implicit_arr["adf_files"], temp)
        if "local-pin" in secrets and first_adf is None:
            b.add("pinCodes", secrets["local-pin"], secret="local-pin")
            first_adf = temp
        elif "local-pin" in secrets and first_adf is not None:
            b.add("pinCodes", _shared_pins(first_adf))
        b.add("akaParameter", secrets["aka"], secret="aka")
        for sub in below:
            _sub_df_pes(b, lay, sub, pins, temp)
    if b.gfm:
        b.add("genericFileManagement", {"fileManagementCMD": b.gfm})
    b.add("end", _END)
    services, templates = _mandatory_lists(
        (*[p.service for p, _ in plans if p.service], lay.milenage_service),
        tuple([pe for pe, _ in b.pes]))
    header = {
        "major-version": lay.major_version, "minor-version": lay.minor_version,
        "profileType": lay.profile_type, "iccid": _stream(iccid),
        "eUICC-Mandatory-services": services, "eUICC-Mandatory-GFSTEList": templates}
    b.files.append((iccid, FilePlace(0, "iccid", None)))
    return Outline([("header", header), *b.pes], b.files, b.secrets)


_END: dict[str, Any] = {}


@lru_cache(maxsize=64)
def _shared_pins(first_adf: bytes) -> dict[str, Any]:
    """A later ADF's PE-PINCodes: the first ADF's PINs, by path (one object per path)."""
    return {"pinCodes": ("filePath", first_adf)}


@lru_cache(maxsize=64)
def _mandatory_lists(services: tuple[str, ...], pes: tuple[str, ...]
                     ) -> tuple[dict[str, None], list[str]]:
    """The header's service set and template list (eUICC-Mandatory-GFSTEList: the templates
    the PEs use), made once per set (never changed by their users)."""
    lay = saip_layout()
    templates = []
    for pe in pes:
        plan = lay.by_pe(pe)
        if plan is not None:
            templates.append(plan.template if pe == plan.pe else plan.opt_template)
    return dict.fromkeys(services), templates


def export_image(image: CardImage) -> bytes:
    """The DER package of a card image."""
    return b"".join(encode_pe(name, value) for name, value in image_pes(image))
