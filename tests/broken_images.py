"""Deliberately broken card images, each made from the valid example profile by editing the
image JSON (the engine's dict form), for testing `isim inspect`.

Every builder returns a new `CardImage` with exactly one problem; `BROKEN` lists them with
the one finding `isim inspect` must report. Values are encoded with the project's codecs and
placed by the names and sizes of specs/filesystem.yaml: nothing here restates a FID or size.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isim.card.contents import ISIM_ADF
from isim.card.image import CardImage, build_image, save_image
from isim.codecs import codec_for
from isim.codecs.tlv import encode_tag80
from isim.profile.model import load_profile
from specs.layout import layout

ROOT = Path(__file__).resolve().parents[1]
ALICE = ROOT / "examples" / "alice.yaml"
PAD = b"\xff"


def alice_image() -> CardImage:
    return build_image(load_profile(ALICE))


def write(image: CardImage, path: Path) -> Path:
    save_image(path, image)
    return path


def _copy(image: CardImage) -> CardImage:
    return CardImage(image.iccid, copy.deepcopy(image.card), copy.deepcopy(image.isim),
                     copy.deepcopy(image.usim))


def isim_files(image: CardImage) -> list[dict[str, Any]]:
    for adf in image.card["adfs"]:
        if adf["name"] == ISIM_ADF:
            return adf["files"]  # type: ignore[no-any-return]
    raise KeyError(ISIM_ADF)


def file_node(image: CardImage, name: str) -> dict[str, Any]:
    return next(f for f in isim_files(image) if f["name"] == name)


def _padded(raw: bytes, size: int) -> str:
    assert len(raw) <= size
    return (raw + PAD * (size - len(raw))).hex().upper()


def set_body(image: CardImage, name: str, raw: bytes) -> None:
    node = file_node(image, name)
    node["content"] = _padded(raw, node["size"])


def set_record(image: CardImage, name: str, record: int, raw: bytes) -> None:
    node = file_node(image, name)
    node["content"][record - 1] = _padded(raw, node["record_length"])


def current(image: CardImage, name: str, record: int | None = None) -> Any:
    node = file_node(image, name)
    chunk = node["content"] if record is None else node["content"][record - 1]
    return codec_for(name).decode(bytes.fromhex(chunk))


# -- the broken images -----------------------------------------------------------------------

BAD_IMPU = "sip:mallory@evil.example.net"


def impu_rule_violation(image: CardImage) -> CardImage:
    """IMPU record 3 outside every trust domain."""
    out = _copy(image)
    set_record(out, "EF.IMPU", 3, encode_tag80(BAD_IMPU.encode()))
    return out


def impi_truncated_tlv(image: CardImage) -> CardImage:
    """EF.IMPI's TLV announces more bytes than the file holds."""
    out = _copy(image)
    size = file_node(out, "EF.IMPI")["size"]
    nai = current(out, "EF.IMPI").encode()
    too_long = size + 1
    header = encode_tag80(b"x" * too_long)[:-too_long]  # 80 L announcing size + 1 bytes
    set_body(out, "EF.IMPI", (header + nai)[:size])
    return out


GARBAGE = bytes.fromhex("DEADBEEF")


def impi_garbage_after_tlv(image: CardImage) -> CardImage:
    """Non-FF bytes after EF.IMPI's TLV instead of FF padding."""
    out = _copy(image)
    set_body(out, "EF.IMPI", encode_tag80(current(out, "EF.IMPI").encode()) + GARBAGE)
    return out


def pcscf_missing(image: CardImage) -> CardImage:
    """EF.IST keeps service 1 (P-CSCF address) but EF.P-CSCF is gone."""
    out = _copy(image)
    files = isim_files(out)
    files[:] = [f for f in files if f["name"] != "EF.P-CSCF"]
    return out


def impu_record_length(image: CardImage, delta: int = -28) -> CardImage:
    """EF.IMPU with records of another length than specs/ gives (contents kept)."""
    out = _copy(image)
    node = file_node(out, "EF.IMPU")
    length = node["record_length"] + delta
    node["record_length"] = length
    node["content"] = [_padded(bytes.fromhex(r).rstrip(PAD), length) for r in node["content"]]
    return out


IARI = "urn:urn-7:3gpp-application.ims.iari.example"


def file_with_service_off(image: CardImage, name: str = "EF.UICCIARI") -> CardImage:
    """An EF whose IST service is off (the example card's IST has services 1 and 2)."""
    out = _copy(image)
    df = layout().applications[ISIM_ADF]
    spec = df.files[name]
    assert not set(spec.services) & set(current(out, "EF.IST"))
    codec = codec_for(spec)
    node: dict[str, Any] = {
        "name": spec.name, "fid": spec.fid_hex, "sfi": spec.sfi, "lcsi": "05",
        "structure": spec.structure,
        "arr": {"file": df.files[df.arr_file].fid_hex, "record": spec.arr},
        "record_length": spec.record_length,
        "content": [codec.encode(IARI if i == 0 else None).hex().upper()
                    for i in range(spec.records)],
    }
    isim_files(out).append(node)
    return out


def impi_realm_differs(image: CardImage) -> CardImage:
    """IMPI realm inside a trust domain but not the home network domain."""
    out = _copy(image)
    user = current(out, "EF.IMPI").rpartition("@")[0]
    other = next(d for d in out.isim["trust_domains"]
                 if not current(out, "EF.DOMAIN").endswith(d))
    set_body(out, "EF.IMPI", encode_tag80(f"{user}@{other}".encode()))
    return out


@dataclass(frozen=True)
class Expected:
    """The one finding `isim inspect` must report."""

    level: str
    check: str
    file: str
    record: int | None
    text: str  # a piece of the message


BROKEN: dict[str, tuple[Callable[[CardImage], CardImage], Expected]] = {
    "impu_rule_violation": (impu_rule_violation,
                            Expected("error", "rule", "EF.IMPU", 3, "not inside trust domain")),
    "impi_truncated_tlv": (impi_truncated_tlv,
                           Expected("error", "format", "EF.IMPI", None, "truncated TLV")),
    "impi_garbage_after_tlv": (impi_garbage_after_tlv,
                               Expected("error", "padding", "EF.IMPI", None,
                                        "garbage after the TLV")),
    "pcscf_missing": (pcscf_missing,
                      Expected("error", "services", "EF.P-CSCF", None,
                               "service 1 is on but EF.P-CSCF is missing")),
    "impu_record_length": (impu_record_length,
                           Expected("error", "spec", "EF.IMPU", None, "record length is")),
    "file_with_service_off": (file_with_service_off,
                              Expected("warning", "services", "EF.UICCIARI", None,
                                       "service (10) is off")),
    "impi_realm_differs": (impi_realm_differs,
                           Expected("warning", "identities", "EF.IMPI", None,
                                    "differs from the home network domain")),
}
