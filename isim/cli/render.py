"""Terminal rendering of an inspection (`isim inspect` without --json): rich tables built
from what `isim.inspect` returns (only isim/cli touches the terminal).

It never holds a PIN or ADM value: the authentication lines only say what happened.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from isim.inspect.checks import Inspection
from isim.inspect.findings import ERROR
from isim.inspect.reader import EFRead
from specs.ber import PADDING

__all__ = ["render"]

_PAD = bytes([PADDING])
_SHOWN_BYTES = 24  # table cells show this much of a raw value (JSON has it all)


def _short_hex(raw: bytes) -> str:
    data = raw.rstrip(_PAD)
    pad = len(raw) - len(data)
    text = data[:_SHOWN_BYTES].hex().upper()
    if len(data) > _SHOWN_BYTES:
        text += "…"
    if pad:
        text += f" +{pad}xFF" if data else f"{pad}xFF"
    return text


def _rules_text(rules: list[dict[str, Any]]) -> str:
    parts = []
    for rule in rules:
        mode = "/".join(rule.get("operations") or []) or json.dumps(rule.get("command"))
        cond = rule.get("condition")
        parts.append(f"{mode}: {cond if isinstance(cond, str) else ' or '.join(map(str, cond))}")
    return "; ".join(parts)


def _value_text(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, dict) and isinstance(value.get("rules"), list):
        return _rules_text(value["rules"])
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return json.dumps(value, ensure_ascii=False)


def _content_rows(ins: Inspection, ef: EFRead) -> list[tuple[str, str, str]]:
    """(unit, decoded, raw) per non-empty record (at least one row)."""
    dec = ins.decoded.get(ef.name)
    values = dec.json if dec else []
    if ef.records is not None:
        rows = []
        for i, raw in enumerate(ef.records):
            value = values[i] if i < len(values) else None
            if raw.rstrip(_PAD) or i == 0:
                rows.append((f"#{i + 1}", _value_text(value), _short_hex(raw)))
        return rows or [("", "(not read)", "")]
    if ef.body is None:
        return [("", "(not read)", "")]
    return [("", _value_text(values[0] if values else None), _short_hex(ef.body))]


def _fcp_row(ef: EFRead) -> tuple[str, ...]:
    fcp = ef.fcp
    if fcp is None:
        return (ef.name, ef.spec.fid_hex, "?", "?", "?", "?", "?")
    if fcp.record_length is not None:
        size = f"{fcp.records}x{fcp.record_length}"
    else:
        size = str(fcp.size) if fcp.size is not None else "?"
    arr = f"{fcp.arr[0]:04X} #{fcp.arr[1]}" if fcp.arr else (fcp.security or "?")
    life = (fcp.life_cycle or "?").removeprefix("operational (").removesuffix(")")
    return (ef.name, ef.spec.fid_hex, fcp.structure or "?", size,
            "none" if fcp.sfi is None else str(fcp.sfi), arr, life)


def render(ins: Inspection, console: Console, *, source: str, strict: bool = False) -> None:
    card = ins.card
    console.print(f"[bold]{source}[/bold]  ATR {card.atr.hex().upper()}")
    apps = Table(title="EF.DIR applications", title_justify="left")
    for col in ("#", "AID", "label"):
        apps.add_column(col)
    for a in card.applications:
        if a.template:
            apps.add_row(str(a.record), a.template.aid.hex().upper(), a.template.label or "")
        else:
            apps.add_row(str(a.record), Text(a.error or "?", style="red"), "")
    console.print(apps)
    console.print(f"ISIM selected by AID {card.isim_aid.hex().upper()}")
    for event in card.auth_events:
        console.print(f"{event.level}: {event.message}")
    files = Table(title="ADF.ISIM files (FCP)", title_justify="left")
    for col in ("file", "FID", "structure", "size", "SFI", "ARR", "life cycle"):
        files.add_column(col)
    contents = Table(title="contents", title_justify="left")
    contents.add_column("file")
    contents.add_column("rec")
    contents.add_column("decoded", overflow="fold")
    contents.add_column("raw", overflow="fold", max_width=36)
    for ef in card.files:
        files.add_row(*_fcp_row(ef))
        for n, (unit, value, raw) in enumerate(_content_rows(ins, ef)):
            contents.add_row(ef.name if n == 0 else "", unit, value, raw)
    console.print(files)
    console.print(contents)
    if card.absent:
        console.print("absent: " + ", ".join(s.name for s in card.absent))
    _render_usim(ins, console)
    _render_findings(ins, console, strict)


def _render_usim(ins: Inspection, console: Console) -> None:
    usim = ins.card.usim
    if usim is None:
        console.print("no USIM on the card")
        return
    console.print(f"USIM selected by AID {usim.aid.hex().upper()}")
    table = Table(title="ADF.USIM files", title_justify="left")
    for col in ("file", "FID", "decoded", "raw"):
        table.add_column(col, overflow="fold")
    for ef in usim.files:
        dec = ins.usim_decoded.get(ef.name)
        value = _value_text(dec.json[0] if dec and dec.json else None)
        raw = _short_hex(ef.body if ef.body is not None else b"".join(ef.records or []))
        table.add_row(ef.name, ef.spec.fid_hex, value, raw)
    console.print(table)


def _render_findings(ins: Inspection, console: Console, strict: bool) -> None:
    if ins.findings:
        table = Table(title="findings", title_justify="left")
        for col in ("level", "where", "check", "message"):
            table.add_column(col, overflow="fold")
        for f in ins.findings:
            style = "red" if f.level == ERROR else "yellow"
            table.add_row(Text(f.level, style=style), f.where, f.check, f.message)
        console.print(table)
    if ins.trust_domains is not None:
        console.print("trust domains: " + (", ".join(ins.trust_domains) or "(none)"))
    verdict = "PASS" if ins.passed(strict) else "FAIL"
    style = "green" if verdict == "PASS" else "red"
    console.print(f"[{style}]{verdict}[/{style}]: {len(ins.errors)} error(s), "
                  f"{len(ins.warnings)} warning(s){' (strict)' if strict else ''}")
