"""Output of an inspection as data: JSON (`to_json`). The terminal tables are the CLI's
(`isim.cli.render`), built from the same `Inspection`.

It never holds a PIN or ADM value: the authentication lines only say what happened.
"""

from __future__ import annotations

import json
from typing import Any

from .checks import Inspection
from .reader import EFRead

__all__ = ["to_json", "to_json_text"]


def _raw(ef: EFRead) -> Any:
    if ef.records is not None:
        return [r.hex().upper() for r in ef.records]
    return ef.body.hex().upper() if ef.body is not None else None


def _decoded(ins: Inspection, ef: EFRead, decoded: dict[str, Any] | None = None) -> Any:
    dec = (ins.decoded if decoded is None else decoded).get(ef.name)
    if dec is None:
        return None
    return dec.json if ef.records is not None else (dec.json[0] if dec.json else None)


def to_json(ins: Inspection, *, source: str, strict: bool = False) -> dict[str, Any]:
    card = ins.card
    return {
        "source": source,
        "atr": card.atr.hex().upper(),
        "applications": [
            {"record": a.record,
             "aid": a.template.aid.hex().upper() if a.template else None,
             "label": a.template.label if a.template else None,
             "error": a.error}
            for a in card.applications
        ],
        "isim": {"aid": card.isim_aid.hex().upper(), "in_ef_dir": card.isim_in_dir,
                 "fcp": card.isim_fcp.hex().upper()},
        "trust_domains": list(ins.trust_domains) if ins.trust_domains is not None else None,
        "authentication": [{"level": e.level, "message": e.message} for e in card.auth_events],
        "files": [
            {"name": ef.name, "fid": ef.spec.fid_hex,
             "fcp": ef.fcp.to_json() if ef.fcp else None,
             "raw": _raw(ef), "decoded": _decoded(ins, ef), "read_error": ef.read_error}
            for ef in card.files
        ],
        "absent": [s.name for s in card.absent],
        "usim": _usim_json(ins),
        "findings": [f.to_json() for f in ins.findings],
        "summary": {"errors": len(ins.errors), "warnings": len(ins.warnings),
                    "strict": strict, "passed": ins.passed(strict)},
    }


def _usim_json(ins: Inspection) -> dict[str, Any] | None:
    usim = ins.card.usim
    if usim is None:
        return None
    return {
        "aid": usim.aid.hex().upper(), "in_ef_dir": usim.in_dir, "fcp": usim.fcp.hex().upper(),
        "files": [
            {"name": ef.name, "fid": ef.spec.fid_hex,
             "fcp": ef.fcp.to_json() if ef.fcp else None, "raw": _raw(ef),
             "decoded": _decoded(ins, ef, ins.usim_decoded), "read_error": ef.read_error}
            for ef in usim.files
        ],
        "absent": [s.name for s in usim.absent],
    }


def to_json_text(ins: Inspection, *, source: str, strict: bool = False) -> str:
    return json.dumps(to_json(ins, source=source, strict=strict), indent=2, ensure_ascii=False)
