"""The runtime file tree of the card (TS 102 221 clause 8): MF, ADFs, DFs and EFs.

Nodes are plain objects with __slots__; the engine mutates contents and LCSI in place and
the JSON-able form below round-trips everything persistent.

Node dict schema (as used inside `Card.to_dict()`):

    DF / ADF / MF:
      {"name": "MF", "fid": "3F00" | null, "lcsi": "05",
       "arr": {"file": "2F06", "record": 1} | null,   # FCP tag 8B: EF.ARR FID + record
       "aid": "A000...",  "label": "ISIM",            # ADFs only
       "structure": "df",                             # only required for DFs nested in "files"
       "files": [ <EF or DF dict>, ... ]}             # children in FCP/listing order
    EF:
      {"name": "EF.DIR", "fid": "2F00", "sfi": 30 | null, "lcsi": "05",
       "structure": "transparent" | "linear_fixed" | "cyclic",
       "arr": {"file": "2F06", "record": 1} | null,
       transparent:  "size": 10, "content": "<hex, exactly size bytes>"
       record EFs:   "record_length": 38, "content": ["<hex, record_length bytes>", ...]}
                     (one string per record, record 1 first; the count is the record count)

An EF may say "secret": true (its content is key material, e.g. derived from AUTHENTICATE
results): the engine then flags reads and updates of it for masking in traces.
"sfi": null means the EF has no SFI (FCP "88 00"). "arr": null means no access rule: every
access condition is then NEVER (fail closed). "lcsi" is the Life Cycle Status Integer
(TS 102 221 clause 11.1.1.4.9): 05 operational activated, 04 operational deactivated.
"""

from __future__ import annotations

from typing import Any

from specs.layout import STRUCTURES

__all__ = [
    "DF",
    "EF",
    "FID_CURRENT_APP",
    "FID_MF",
    "LCSI_ACTIVATED",
    "LCSI_ACTIVATED_HEX",
    "LCSI_CREATION",
    "LCSI_DEACTIVATED",
    "LCSI_INITIALISATION",
    "LCSI_TERMINATION",
    "MAX_RECORDS",
    "MAX_RECORD_LENGTH",
    "MAX_TRANSPARENT_SIZE",
    "STRUCTURES",
    "df_from_dict",
    "ef_from_dict",
    "node_to_dict",
]

# TS 102 221 clause 11.1.1.4.9, table 11.6
# TS 102 221 clause 11.1.1.4.9, table 11.6: life cycle status integer
LCSI_CREATION = 0x01
LCSI_INITIALISATION = 0x03
LCSI_DEACTIVATED = 0x04
LCSI_ACTIVATED = 0x05
LCSI_ACTIVATED_HEX = f"{LCSI_ACTIVATED:02X}"  # as card dicts write it
LCSI_TERMINATION = 0x0C  # 0C..0F
_LCSI_VALUES = frozenset(
    {LCSI_CREATION, LCSI_INITIALISATION, LCSI_DEACTIVATED, LCSI_ACTIVATED}
    | set(range(LCSI_TERMINATION, 0x10))
)
# size limits of an EF (TS 102 221 clause 11.1.3 / 11.1.5): READ BINARY takes a 15-bit offset,
# records are numbered 01..FE, a record length is one byte
MAX_TRANSPARENT_SIZE = 0x7FFF
MAX_RECORDS = 254
MAX_RECORD_LENGTH = 255
# reserved FIDs (TS 102 221 clause 8.4): the MF, the current application's ADF, and FFFF
FID_MF = 0x3F00
FID_CURRENT_APP = 0x7FFF
_RESERVED_FIDS = frozenset({FID_MF, FID_CURRENT_APP, 0xFFFF})


class EF:
    """An elementary file. Transparent: `body`; linear fixed / cyclic: `records`."""

    __slots__ = (
        "arr",
        "body",
        "cyclic",
        "fcp",
        "fid",
        "lcsi",
        "name",
        "parent",
        "record_length",
        "records",
        "secret",
        "sfi",
        "structure",
        "transparent",
    )
    is_df = False

    def __init__(
        self,
        name: str,
        fid: int,
        sfi: int | None,
        structure: str,
        *,
        body: bytes = b"",
        record_length: int = 0,
        records: list[bytes] | None = None,
        lcsi: int = LCSI_ACTIVATED,
        arr: tuple[int, int] | None = None,
        secret: bool = False,
    ) -> None:
        self.name = name
        self.fid = fid
        self.secret = secret  # holds keys (e.g. CK/IK derived by AUTHENTICATE): traces mask it
        self.sfi = sfi
        self.structure = structure
        self.transparent = structure == "transparent"
        self.cyclic = structure == "cyclic"
        self.body = bytes(body)
        self.record_length = record_length
        self.records: list[bytes] = list(records or [])
        self.lcsi = lcsi
        self.arr = arr
        self.parent: DF | None = None
        self.fcp: bytes | None = None  # cached FCP template (apdu.fcp), None = stale

    @property
    def size(self) -> int:
        """Body size in bytes (FCP tag 80)."""
        return len(self.body) if self.transparent else self.record_length * len(self.records)

    def content(self) -> bytes | list[bytes]:
        return self.body if self.transparent else list(self.records)

    def __repr__(self) -> str:
        return f"EF({self.name!r}, {self.fid:04X})"


class DF:
    """A dedicated file: the MF, an ADF (`aid` set) or a DF below them."""

    __slots__ = (
        "aid",
        "arr",
        "by_fid",
        "by_sfi",
        "children",
        "fcp",
        "fid",
        "label",
        "lcsi",
        "name",
        "parent",
        "select_map",
    )
    is_df = True

    def __init__(
        self,
        name: str,
        fid: int | None,
        *,
        aid: bytes | None = None,
        label: str = "",
        lcsi: int = LCSI_ACTIVATED,
        arr: tuple[int, int] | None = None,
    ) -> None:
        self.name = name
        self.fid = fid
        self.aid = aid
        self.label = label
        self.lcsi = lcsi
        self.arr = arr
        self.parent: DF | None = None
        self.children: list[EF | DF] = []
        self.by_fid: dict[int, EF | DF] = {}
        self.by_sfi: dict[int, EF] = {}
        self.fcp: bytes | None = None
        self.select_map: dict[int, EF | DF] | None = None  # SELECT by FID, built lazily

    def add(self, node: EF | DF) -> None:
        if node.fid is not None:
            if node.fid in _RESERVED_FIDS:
                raise ValueError(f"{self.name}/{node.name}: reserved FID {node.fid:04X}")
            if node.fid in self.by_fid:
                raise ValueError(f"{self.name}: duplicate FID {node.fid:04X}")
            self.by_fid[node.fid] = node
        if not node.is_df and node.sfi is not None:
            if node.sfi in self.by_sfi:
                raise ValueError(f"{self.name}: duplicate SFI {node.sfi}")
            self.by_sfi[node.sfi] = node
        node.parent = self
        self.children.append(node)

    def efs(self) -> list[EF]:
        return [c for c in self.children if not c.is_df]

    def find(self, name: str) -> EF | None:
        for c in self.children:
            if not c.is_df and c.name == name:
                return c
        return None

    def total_size(self) -> int:
        """FCP tag 81: the bodies of everything below this DF."""
        return sum(c.total_size() if c.is_df else c.size for c in self.children)

    def __repr__(self) -> str:
        return f"DF({self.name!r})"


# --- dict form -------------------------------------------------------------------------------


def _hex_fid(value: Any, where: str) -> int:
    if not isinstance(value, str) or len(value) != 4:
        raise ValueError(f"{where}: fid must be 4 hex digits")
    return int(value, 16)


def _lcsi(value: Any, where: str) -> int:
    lcsi = int(value, 16) if isinstance(value, str) else int(value)
    if lcsi not in _LCSI_VALUES:
        raise ValueError(f"{where}: invalid LCSI {lcsi:02X}")
    return lcsi


def _arr(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    record = int(value["record"])
    if not 1 <= record <= MAX_RECORDS:
        raise ValueError(f"{where}: ARR record {record} out of range")
    return _hex_fid(value["file"], where + ".arr"), record


def ef_from_dict(d: dict[str, Any], where: str = "") -> EF:
    name = str(d["name"])
    where = f"{where}/{name}"
    structure = d.get("structure")
    if structure not in STRUCTURES:
        raise ValueError(f"{where}: unknown structure {structure!r}")
    sfi = d.get("sfi")
    if sfi is not None and not (isinstance(sfi, int) and 1 <= sfi <= 30):
        raise ValueError(f"{where}: SFI must be 1..30 or null")
    common: dict[str, Any] = {
        "lcsi": _lcsi(d.get("lcsi", LCSI_ACTIVATED), where),
        "arr": _arr(d.get("arr"), where),
        "secret": d.get("secret", False) is True,
    }
    fid = _hex_fid(d["fid"], where)
    if structure == "transparent":
        body = bytes.fromhex(d["content"])
        size = int(d.get("size", len(body)))
        if len(body) != size or not 1 <= size <= MAX_TRANSPARENT_SIZE:
            raise ValueError(
                f"{where}: content must be exactly size (1..{MAX_TRANSPARENT_SIZE}) bytes"
            )
        return EF(name, fid, sfi, structure, body=body, **common)
    record_length = int(d["record_length"])
    records = [bytes.fromhex(r) for r in d["content"]]
    if not 1 <= record_length <= MAX_RECORD_LENGTH or not 1 <= len(records) <= MAX_RECORDS:
        raise ValueError(
            f"{where}: record_length 1..{MAX_RECORD_LENGTH} and 1..{MAX_RECORDS} records required"
        )
    if any(len(r) != record_length for r in records):
        raise ValueError(f"{where}: every record must be record_length bytes")
    return EF(name, fid, sfi, structure, record_length=record_length, records=records, **common)


def df_from_dict(d: dict[str, Any], where: str = "") -> DF:
    name = str(d["name"])
    where = f"{where}/{name}"
    fid = d.get("fid")
    aid = d.get("aid")
    df = DF(
        name,
        _hex_fid(fid, where) if fid is not None else None,
        aid=bytes.fromhex(aid) if aid else None,
        label=str(d.get("label", "")),
        lcsi=_lcsi(d.get("lcsi", LCSI_ACTIVATED), where),
        arr=_arr(d.get("arr"), where),
    )
    if df.aid is not None and not 1 <= len(df.aid) <= 16:
        raise ValueError(f"{where}: AID must be 1..16 bytes")
    for child in d.get("files", []):
        if child.get("structure") == "df":
            df.add(df_from_dict(child, where))
        else:
            df.add(ef_from_dict(child, where))
    return df


def node_to_dict(node: EF | DF) -> dict[str, Any]:
    arr = None if node.arr is None else {"file": f"{node.arr[0]:04X}", "record": node.arr[1]}
    if node.is_df:
        out: dict[str, Any] = {
            "name": node.name,
            "structure": "df",
            "fid": None if node.fid is None else f"{node.fid:04X}",
            "lcsi": f"{node.lcsi:02X}",
            "arr": arr,
        }
        if node.aid is not None:
            out["aid"] = node.aid.hex().upper()
            out["label"] = node.label
        out["files"] = [node_to_dict(c) for c in node.children]
        return out
    out = {
        "name": node.name,
        "fid": f"{node.fid:04X}",
        "sfi": node.sfi,
        "structure": node.structure,
        "lcsi": f"{node.lcsi:02X}",
        "arr": arr,
    }
    if node.secret:
        out["secret"] = True
    if node.transparent:
        out["size"] = len(node.body)
        out["content"] = node.body.hex().upper()
    else:
        out["record_length"] = node.record_length
        out["content"] = [r.hex().upper() for r in node.records]
    return out
