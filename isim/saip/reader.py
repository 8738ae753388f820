"""A package's PEs -> what the card would hold: its files (by DF, named as in
specs/filesystem.yaml when isim knows them), PINs, PUKs and AKA parameters.

Files of the MF and of the ADFs whose PE specs/saip.yaml names are read; a file isim does not
know, a DF it does not model and every PE it keeps as bytes are listed in `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specs.layout import DFSpec, EFSpec, layout

from .files import FileShape, apply_items, parse_fcp
from .layout import field_key, saip_layout
from .package import PE, Package, PackageError

__all__ = ["AkaEntry", "PackageContent", "PinEntry", "ReadFile", "read_content"]


@dataclass
class ReadFile:
    df: str
    spec: EFSpec
    shape: FileShape
    body: bytes
    pe: str          # the PE and field it came from, for findings: "isim ef-impi"

    @property
    def records(self) -> list[bytes]:
        rlen = self.shape.record_length or self.spec.record_length
        return [self.body[i:i + rlen] for i in range(0, len(self.body), rlen)]


@dataclass
class PinEntry:
    value: bytes
    unblock: int | None
    attributes: int
    pe: str


@dataclass
class AkaEntry:
    df: str | None   # the ADF whose PE it follows
    value: dict[str, Any]
    pe: str


@dataclass
class PackageContent:
    iccid: bytes | None = None
    files: dict[tuple[str, str], ReadFile] = field(default_factory=dict)
    aids: dict[str, bytes] = field(default_factory=dict)
    pins: dict[int, PinEntry] = field(default_factory=dict)
    puks: dict[int, bytes] = field(default_factory=dict)
    aka: list[AkaEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def file(self, df: str, name: str) -> ReadFile | None:
        return self.files.get((df, name))


def _df_spec(name: str) -> DFSpec | None:
    """The MF, an ADF or a DF below an ADF of specs/filesystem.yaml, by name."""
    for df in layout().dfs():
        if df.name == name:
            return df
    return None


def _spec_by_key(df: DFSpec, key: str) -> EFSpec | None:
    for spec in df.files.values():
        if field_key(spec.name) == key:
            return spec
    return None


def _spec_by_fid(df: DFSpec, fid: str) -> EFSpec | None:
    for spec in df.files.values():
        if spec.fid_hex == fid:
            return spec
    return None


class _Reader:
    def __init__(self, package: Package) -> None:
        self.out = PackageContent()
        self.temp_fids: dict[str, str] = {}  # temporary FID of an ADF -> its DF name
        self.last_adf: str | None = None
        self.package = package
        self.skipped: dict[str, list[str]] = {}  # PE -> files not imported

    def skip(self, where: str, what: str) -> None:
        self.skipped.setdefault(where, []).append(what)

    def file(self, pe: PE, df: str, dfspec: DFSpec, spec: EFSpec | None, items: list,
             where: str, implicit_arr: str) -> None:
        fcps = [v for k, v in items if k in ("fileDescriptor", "createFCP")]
        shape = parse_fcp(fcps[0] if fcps else {}, implicit_arr)
        if spec is None and shape.fid is not None:
            spec = _spec_by_fid(dfspec, shape.fid)
        if spec is None:
            self.skip(where, f"{df}/{shape.fid or '?'}")
            return
        rlen = shape.record_length or spec.record_length
        size = shape.size if shape.size is not None else spec.body_size
        try:
            body = apply_items(items, size, fill=shape.fill, repeat=shape.repeat,
                               record_length=rlen if spec.is_record else 0)
        except ValueError as exc:
            raise PackageError(f"{where}: {exc}", source="") from None
        self.out.files[(df, spec.name)] = ReadFile(df, spec, shape, body, where)

    def template_pe(self, pe: PE) -> None:
        lay = saip_layout()
        plan = lay.by_pe(pe.name)
        if plan is None:
            return
        dfspec = _df_spec(plan.df)
        if plan.temporary_fid is not None and pe.name == plan.pe:
            self.last_adf = plan.df
        if dfspec is None:  # an ADF this build of isim does not have (e.g. no USIM yet)
            self.out.notes.append(f"{pe.where}: {plan.df} is not in specs/filesystem.yaml, "
                                  "its files are not imported")
            return
        implicit = lay.implicit_arr["mf" if plan.df == "MF" else "adf_files"]
        names = list(pe.value)[2:]
        for i, fname in enumerate(names):
            items = pe.value[fname]
            where = f"PE {pe.name} {fname} (offset {pe.offset})"
            if i == 0 and pe.name == plan.pe:  # the DF itself: mf, adf-usim, df-df-5gs ...
                self._df_itself(plan.df, dfspec, items)
                continue
            if any(k == "doNotCreate" for k, _ in items):
                continue
            self.file(pe, plan.df, dfspec, _spec_by_key(dfspec, field_key(fname)), items,
                      where, implicit)

    def _df_itself(self, name: str, dfspec: DFSpec, items: list) -> None:
        """Note an ADF's AID and the path (temporary FID, then FIDs) that reaches a DF."""
        fcps = [v for k, v in items if k == "fileDescriptor"]
        fcp = fcps[0] if fcps else {}
        if "dfName" in fcp:
            self.out.aids[name] = fcp["dfName"]
        if dfspec.parent is None:
            if "fileID" in fcp:
                self.temp_fids[fcp["fileID"].hex().upper()] = name
            return
        fid = fcp["fileID"].hex().upper() if "fileID" in fcp else f"{dfspec.fid or 0:04X}"
        for path, df in list(self.temp_fids.items()):
            if df == dfspec.parent:
                self.temp_fids[path + fid] = name

    def generic(self, pe: PE) -> None:
        lay = saip_layout()
        for n, command in enumerate(pe.value["fileManagementCMD"], 1):
            df: str | None = "MF"
            current: list = []
            for kind, value in [*command, ("end", None)]:
                if kind in ("filePath", "createFCP", "end") and current:
                    self._generic_file(pe, n, df, current, lay)
                    current = []
                if kind == "filePath":
                    path = value.hex().upper()
                    df = "MF" if not path else self.temp_fids.get(path)
                elif kind == "createFCP":
                    current = [(kind, value)]
                elif current:
                    current.append((kind, value))

    def _generic_file(self, pe: PE, n: int, df: str | None, items: list, lay: Any) -> None:
        where = f"PE genericFileManagement at offset {pe.offset}"
        dfspec = _df_spec(df) if df else None
        fid = items[0][1].get("fileID", b"").hex().upper()
        if dfspec is None or items[0][1].get("fileDescriptor", b"\x41")[0] & 0x38 == 0x38:
            self.skip(where, f"{df or '?'}/{fid or '?'}")
            return
        implicit = lay.implicit_arr["mf" if df == "MF" else "adf_files"]
        self.file(pe, df, dfspec, None, items, where, implicit)

    def codes(self, pe: PE) -> None:
        if pe.name == "pukCodes":
            for puk in pe.value["pukCodes"]:
                self.out.puks[puk["keyReference"]] = puk["pukValue"]
            return
        kind, value = pe.value["pinCodes"]
        if kind != "pinconfig":
            return  # the PINs of another ADF: already read there
        for pin in value:
            self.out.pins[pin["keyReference"]] = PinEntry(
                pin["pinValue"], pin.get("unblockingPINReference"), pin.get("pinAttributes", 7),
                pe.where)


def read_content(package: Package) -> PackageContent:
    """Raises PackageError for a file whose content does not fit it."""
    r = _Reader(package)
    for pe in package.pes:
        if pe.value is None:
            r.out.notes.append(f"{pe.where}: kept as bytes, not read by isim")
        elif pe.name == "header":
            r.out.iccid = pe.value["iccid"]
        elif pe.name == "genericFileManagement":
            r.generic(pe)
        elif pe.name in ("pinCodes", "pukCodes"):
            r.codes(pe)
        elif pe.name == "akaParameter":
            r.out.aka.append(AkaEntry(r.last_adf, pe.value, pe.where))
        elif pe.name != "end":
            r.template_pe(pe)
    for where, files in r.skipped.items():
        shown = ", ".join(files[:8]) + (f" and {len(files) - 8} more" if len(files) > 8 else "")
        r.out.notes.append(f"{where}: {len(files)} file(s) isim does not model, not "
                           f"imported ({shown})")
    return r.out
