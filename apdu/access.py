"""File access: READ/UPDATE BINARY, READ/UPDATE/SEARCH RECORD, DEACTIVATE/ACTIVATE FILE
(TS 102 221 clauses 11.1.3-11.1.7, 11.1.14-11.1.15), access rules (clause 9.2.7) and the
application write guard.

Order of checks for every command: parameters and lengths -> no EF (6986) -> structure
(6981) -> deactivated EF (6283; not for ACTIVATE) -> access condition (6982) -> range
(6B00 / 6A83 / 6700) -> write guard (6A80).

Decisions where the spec is loose:
* READ BINARY: offset >= size -> 6B00. Le = 00 (or no Le) reads what is there up to 256
  bytes (9000); an explicit Le beyond the end returns the bytes up to the end with 6282.
* UPDATE BINARY: offset >= size -> 6B00; offset + Lc > size -> 6700.
* READ RECORD with an explicit Le other than the record length -> 6CXX (XX = record length).
  Absolute mode leaves the record pointer alone; next/previous move it (wrapping on cyclic
  EFs, 6A83 past the end of linear fixed EFs).
* UPDATE RECORD: Lc must equal the record length (6700). Cyclic EFs accept only PREVIOUS
  (writes the oldest record, which becomes record 1), else 6A86.
* SEARCH RECORD: simple search matches a record containing the pattern anywhere; enhanced
  search (P2 b3..b1 = 110) -> 6A81. No match: 6282, record pointer unchanged; a match sets
  the pointer to the first record found. Pattern longer than a record -> 6700.
* ACTIVATE / DEACTIVATE FILE apply to EFs only (a DF -> 6A81); repeating them is 9000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apdu.arr import Condition as ArrCondition
from apdu.arr import decode_rule
from apdu.files import DF, EF, LCSI_ACTIVATED, LCSI_DEACTIVATED
from apdu.ins import RECORD_ABSOLUTE, RECORD_NEXT, RECORD_PREVIOUS
from apdu.select import resolve_fid, resolve_path
from apdu.sw import (
    SW_COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE,
    SW_FILE_NOT_FOUND,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INCORRECT_DATA,
    SW_INCORRECT_P1_P2,
    SW_NO_EF_SELECTED,
    SW_OK,
    SW_RECORD_NOT_FOUND,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WARNING_END_OF_FILE,
    SW_WARNING_FILE_DEACTIVATED,
    SW_WRONG_LE,
    SW_WRONG_LENGTH,
    SW_WRONG_P1_P2,
)

if TYPE_CHECKING:
    from apdu.channels import Channel
    from apdu.engine import Card

__all__ = ["ACTIVATE", "DEACTIVATE", "READ", "UPDATE", "allowed", "load_rules"]

_EMPTY = b""
# indices into a cached rule tuple; names as in apdu.arr / specs (AM_DO bits b1, b2, b5, b4)
READ, UPDATE, ACTIVATE, DEACTIVATE = 0, 1, 2, 3
_OPERATIONS = ("read", "update", "activate", "deactivate")

Condition = tuple[tuple[int, ...], ...] | None  # None: always; else OR of ANDs; (): never
_NEVER: Condition = ()
_ALL_NEVER = (_NEVER, _NEVER, _NEVER, _NEVER)


def _dnf(cond: ArrCondition) -> Condition:
    """apdu.arr's Condition -> None (always) or a tuple of alternatives of key references."""
    if any(not alt for alt in cond.alternatives):
        return None
    return tuple(tuple(sorted(alt)) for alt in cond.alternatives)


def _arr_file(ef: EF | DF) -> EF | None:
    """The EF.ARR named by the node's 8B reference: in its DF, then up the tree (clause 9.2.7)."""
    if ef.arr is None:
        return None
    fid = ef.arr[0]
    df: DF | None = ef if ef.is_df else ef.parent  # type: ignore[assignment]
    while df is not None:
        node = df.by_fid.get(fid)
        if node is not None and not node.is_df and not node.transparent:
            return node
        df = df.parent
    return None


def load_rules(card: Card, ef: EF) -> tuple[Condition, ...]:
    arr_ef = _arr_file(ef)
    rules = _ALL_NEVER
    if arr_ef is not None and ef.arr is not None and ef.arr[1] <= len(arr_ef.records):
        card.arr_files.add(arr_ef)
        try:
            rule = decode_rule(arr_ef.records[ef.arr[1] - 1])
            rules = tuple(_dnf(rule.condition(op)) for op in _OPERATIONS)
        except Exception:  # a malformed rule record: fail closed
            rules = _ALL_NEVER
    card.rule_cache[ef] = rules
    return rules


def allowed(card: Card, ef: EF, op: int) -> bool:
    rules = card.rule_cache.get(ef)
    if rules is None:
        rules = load_rules(card, ef)
    cond = rules[op]
    if cond is None:
        return True
    satisfied = card.pins.satisfied
    for conj in cond:
        for ref in conj:
            if ref not in satisfied:
                break
        else:
            return True
    return False


def _guard(card: Card, ef: EF, record: int | None, new: bytes, content: Any) -> bool:
    """Ask the ADF's application (if any) whether `ef` may take `content`."""
    owner = card.owner_of(ef)
    if owner is None:
        return True
    adf, app = owner

    def file_contents(name: str) -> bytes | list[bytes]:
        if name == ef.name:
            return content if isinstance(content, bytes) else list(content)
        node = card.find_in(adf, name)
        if node is None:
            raise KeyError(name)
        return node.content()

    if app.check_update(ef.name, record, bytes(new), file_contents) is True:
        return True
    card.note_refusal(app, ef.name)  # for the engine's WriteRefused event
    return False


def _written(card: Card, ef: EF) -> None:
    card.mark_changed()
    if ef in card.arr_files:
        card.rule_cache.clear()


# --- transparent EFs ---------------------------------------------------------------------------


def _binary_target(ch: Channel, p1: int, p2: int) -> tuple[EF, int] | int:
    # clause 11.1.3.2: P1 b8=1 -> b5..b1 SFI and P2 offset; else 15-bit offset
    if p1 & 0x80:
        if p1 & 0x60:
            return SW_INCORRECT_P1_P2
        sfi = p1 & 0x1F
        if sfi:
            ef = ch.df.by_sfi.get(sfi)
            if ef is None:
                return SW_FILE_NOT_FOUND
            if ef is not ch.ef:
                ch.ef = ef
                ch.record = 0
        ef = ch.ef
        offset = p2
    else:
        ef = ch.ef
        offset = (p1 << 8) | p2
    if ef is None:
        return SW_NO_EF_SELECTED
    if not ef.transparent:
        return SW_COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE
    if ef.lcsi != LCSI_ACTIVATED:
        return SW_WARNING_FILE_DEACTIVATED
    return ef, offset


def read_binary(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if data:
        return _EMPTY, SW_WRONG_LENGTH
    target = _binary_target(ch, p1, p2)
    if type(target) is int:
        return _EMPTY, target
    ef, offset = target  # type: ignore[misc]
    if not allowed(card, ef, READ):
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    body = ef.body
    available = len(body) - offset
    if available <= 0:
        return _EMPTY, SW_WRONG_P1_P2
    if ne == 0 or ne == 256:
        return body[offset : offset + 256], SW_OK
    if ne > available:
        return body[offset:], SW_WARNING_END_OF_FILE
    return body[offset : offset + ne], SW_OK


def update_binary(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if not data:
        return _EMPTY, SW_WRONG_LENGTH
    target = _binary_target(ch, p1, p2)
    if type(target) is int:
        return _EMPTY, target
    ef, offset = target  # type: ignore[misc]
    if not allowed(card, ef, UPDATE):
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    body = ef.body
    if offset >= len(body):
        return _EMPTY, SW_WRONG_P1_P2
    if offset + len(data) > len(body):
        return _EMPTY, SW_WRONG_LENGTH
    new = body[:offset] + data + body[offset + len(data) :]
    if not _guard(card, ef, None, new, new):
        return _EMPTY, SW_INCORRECT_DATA
    if new != body:
        ef.body = new
        _written(card, ef)
    return _EMPTY, SW_OK


# --- record EFs --------------------------------------------------------------------------------


def _record_target(ch: Channel, p2: int) -> EF | int:
    # clause 11.1.5.2: P2 b8..b4 SFI (00000 = current EF)
    sfi = p2 >> 3
    if sfi:
        if sfi == 0x1F:
            return SW_INCORRECT_P1_P2
        ef = ch.df.by_sfi.get(sfi)
        if ef is None:
            return SW_FILE_NOT_FOUND
        if ef is not ch.ef:
            ch.ef = ef
            ch.record = 0
    ef = ch.ef
    if ef is None:
        return SW_NO_EF_SELECTED
    if ef.transparent:
        return SW_COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE
    if ef.lcsi != LCSI_ACTIVATED:
        return SW_WARNING_FILE_DEACTIVATED
    return ef


def _step(ch: Channel, ef: EF, p1: int, mode: int) -> int:
    """Record number for modes 2 (next), 3 (previous), 4 (absolute/current); < 0: -SW."""
    n = len(ef.records)
    if mode == RECORD_ABSOLUTE:
        number = p1 or ch.record
        return number if 1 <= number <= n else -SW_RECORD_NOT_FOUND
    if p1 != 0 or mode not in (RECORD_NEXT, RECORD_PREVIOUS):
        return -SW_INCORRECT_P1_P2
    if mode == RECORD_NEXT:
        number = ch.record + 1
        if number > n:
            number = 1 if ef.cyclic else -SW_RECORD_NOT_FOUND
        return number
    number = ch.record - 1 if ch.record else n
    if number < 1:
        number = n if ef.cyclic else -SW_RECORD_NOT_FOUND
    return number


def read_record(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    if data:
        return _EMPTY, SW_WRONG_LENGTH
    mode = p2 & 0x07
    if mode not in (2, 3, 4):
        return _EMPTY, SW_INCORRECT_P1_P2
    ef = _record_target(ch, p2)
    if type(ef) is int:
        return _EMPTY, ef
    if not allowed(card, ef, READ):  # type: ignore[arg-type]
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    number = _step(ch, ef, p1, mode)  # type: ignore[arg-type]
    if number < 0:
        return _EMPTY, -number
    record = ef.records[number - 1]  # type: ignore[union-attr]
    # wrong Le -> 6CXX before the record pointer moves (in T=0 Le=00 means 256)
    want = (ne or 256) if card.t0 else ne
    if want and want != len(record) and (want != 256 or card.t0):
        return _EMPTY, SW_WRONG_LE | len(record)
    if mode != 4:
        ch.record = number
    return record, SW_OK


def update_record(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    mode = p2 & 0x07
    if mode not in (2, 3, 4):
        return _EMPTY, SW_INCORRECT_P1_P2
    ef = _record_target(ch, p2)
    if type(ef) is int:
        return _EMPTY, ef
    assert isinstance(ef, EF)
    if not allowed(card, ef, UPDATE):
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    if len(data) != ef.record_length:
        return _EMPTY, SW_WRONG_LENGTH
    records = ef.records
    if ef.cyclic:
        if mode != 3 or p1 != 0:
            return _EMPTY, SW_INCORRECT_P1_P2
        number = 1
        new = [bytes(data), *records[:-1]]
    else:
        number = _step(ch, ef, p1, mode)
        if number < 0:
            return _EMPTY, -number
        new = list(records)
        new[number - 1] = bytes(data)
    if not _guard(card, ef, number, data, new):
        return _EMPTY, SW_INCORRECT_DATA
    if new != records:
        ef.records = new
        _written(card, ef)
    if mode != 4:
        ch.record = number
    return _EMPTY, SW_OK


def search_record(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    # clause 11.1.7: P2 b3..b1 100 simple forward, 101 simple backward, 110 enhanced
    mode = p2 & 0x07
    if mode == 6:
        return _EMPTY, SW_FUNCTION_NOT_SUPPORTED
    if mode not in (4, 5):
        return _EMPTY, SW_INCORRECT_P1_P2
    ef = _record_target(ch, p2)
    if type(ef) is int:
        return _EMPTY, ef
    assert isinstance(ef, EF)
    if not data or len(data) > ef.record_length:
        return _EMPTY, SW_WRONG_LENGTH
    if not allowed(card, ef, READ):
        return _EMPTY, SW_SECURITY_STATUS_NOT_SATISFIED
    n = len(ef.records)
    start = p1 or ch.record or (1 if mode == 4 else n)
    if start > n:
        return _EMPTY, SW_RECORD_NOT_FOUND
    order = range(start, n + 1) if mode == 4 else range(start, 0, -1)
    hits = bytes(i for i in order if data in ef.records[i - 1])
    if not hits:
        return _EMPTY, SW_WARNING_END_OF_FILE
    ch.record = hits[0]
    return hits, SW_OK


# --- life cycle --------------------------------------------------------------------------------


def _life_cycle(card: Card, ch: Channel, p1: int, p2: int, data: bytes, activate: bool) -> int:
    # clauses 11.1.14 DEACTIVATE FILE / 11.1.15 ACTIVATE FILE: P1 00 FID (or none), 08, 09
    if p2 != 0:
        return SW_INCORRECT_P1_P2
    node: EF | DF | int | None
    if p1 == 0x00:
        if not data:
            node = ch.ef
            if node is None:
                return SW_NO_EF_SELECTED
        elif len(data) != 2:
            return SW_WRONG_LENGTH
        else:
            node = resolve_fid(card, ch, (data[0] << 8) | data[1])
    elif p1 in (0x08, 0x09):
        node = resolve_path(card, ch, data, p1 == 0x08)
    else:
        return SW_INCORRECT_P1_P2
    if isinstance(node, int):
        return node
    if node is None:
        return SW_FILE_NOT_FOUND
    ch.select(node)
    if node.is_df:
        return SW_FUNCTION_NOT_SUPPORTED
    assert isinstance(node, EF)
    if not allowed(card, node, ACTIVATE if activate else DEACTIVATE):
        return SW_SECURITY_STATUS_NOT_SATISFIED
    lcsi = LCSI_ACTIVATED if activate else LCSI_DEACTIVATED
    if node.lcsi != lcsi:
        node.lcsi = lcsi
        node.fcp = None
        card.mark_changed()
    return SW_OK


def deactivate_file(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    return _EMPTY, _life_cycle(card, ch, p1, p2, data, False)


def activate_file(
    card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int
) -> tuple[bytes, int]:
    return _EMPTY, _life_cycle(card, ch, p1, p2, data, True)
