"""File selection: SELECT and STATUS (TS 102 221 clauses 8.4-8.5, 11.1.1, 11.1.2).

Decisions where the spec is silent or loose:
* SELECT P2=00 (ISO "return FCI") is answered like P2=04 (FCP); FMD (P2=08) is 6A86.
* P1=08 (path from MF) tolerates a leading 3F00 in the path.
* FID search from the current DF (clause 8.4.1): its children, itself, its parent, the DF
  children of its parent, and the MF; 7FFF is the channel's current application.
* Selecting a deactivated EF succeeds (it becomes current) and answers 6283 (with the FCP
  when asked for).
* SELECT by AID with termination (P2 b7b6 = 10): ends the application session on this
  channel (7FFF no longer resolves), selects the MF, returns no data.
* STATUS P2=01 with no current application: 9000 without data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apdu.files import DF, EF, FID_CURRENT_APP, FID_MF, LCSI_ACTIVATED
from apdu.ins import SELECT_BY_AID, SELECT_BY_FID, SELECT_RETURN_FCP, SELECT_RETURN_NONE
from apdu.sw import (
    SW_FILE_NOT_FOUND,
    SW_INCORRECT_P1_P2,
    SW_OK,
    SW_WARNING_FILE_DEACTIVATED,
    SW_WRONG_LENGTH,
)
from specs.ber import tags, tlv

if TYPE_CHECKING:
    from apdu.channels import Channel
    from apdu.engine import Card

__all__ = ["resolve_fid", "resolve_path", "select", "status"]

_EMPTY = b""
# P2 b5..b3 (clause 11.1.1.2, table 11.2): 001 return FCP, 011 no data; 000 (FCI) -> FCP
_RETURN_FCP = frozenset({0x00, SELECT_RETURN_FCP})
_RETURN_NONE = SELECT_RETURN_NONE


def _select_map(df: DF, mf: DF) -> dict[int, EF | DF]:
    """FID -> node in the search order of clause 8.4.1 (later entries take precedence)."""
    m: dict[int, EF | DF] = {FID_MF: mf}
    parent = df.parent
    if parent is not None:
        for c in parent.children:
            if c.is_df and c.fid is not None:
                m[c.fid] = c
        if parent.fid is not None:
            m[parent.fid] = parent
    if df.fid is not None:
        m[df.fid] = df
    m.update(df.by_fid)
    m[FID_MF] = mf
    return m


def resolve_fid(card: Card, ch: Channel, fid: int) -> EF | DF | None:
    if fid == FID_CURRENT_APP:
        return ch.app
    df = ch.df
    m = df.select_map
    if m is None:
        m = df.select_map = _select_map(df, card.mf)
    return m.get(fid)


def resolve_path(card: Card, ch: Channel, data: bytes, from_mf: bool) -> EF | DF | int | None:
    """Node named by a path (P1=08 from the MF, 09 from the current DF), or an error SW."""
    if not data or len(data) & 1:
        return SW_WRONG_LENGTH
    fids = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
    node: EF | DF | None
    if from_mf:
        node = card.mf
        if fids[0] == FID_MF:
            fids = fids[1:]
        if fids and fids[0] == FID_CURRENT_APP:
            node = ch.app
            fids = fids[1:]
    else:
        node = ch.df
    for fid in fids:
        if node is None or not node.is_df:
            return None
        node = node.by_fid.get(fid)
    return node


def _answer(card: Card, node: EF | DF, want_fcp: bool) -> tuple[bytes, int]:
    sw = SW_OK if node.lcsi == LCSI_ACTIVATED or node.is_df else SW_WARNING_FILE_DEACTIVATED
    return (card.fcp_of(node) if want_fcp else _EMPTY), sw


def _select_aid(card: Card, ch: Channel, p2: int, data: bytes) -> tuple[bytes, int]:
    # clause 11.1.1.2: b8 = 0, b7b6 = 00 activation / 10 termination, b2b1 occurrence
    control = p2 & 0xE0
    ret = p2 & 0x1C
    if control not in (0x00, 0x40) or (ret not in _RETURN_FCP and ret != _RETURN_NONE):
        return _EMPTY, SW_INCORRECT_P1_P2
    if not 1 <= len(data) <= 16:
        return _EMPTY, SW_WRONG_LENGTH
    matches = [adf for adf in card.adfs if adf.aid is not None and adf.aid.startswith(data)]
    if not matches:
        return _EMPTY, SW_FILE_NOT_FOUND
    occurrence = p2 & 0x03
    current = matches.index(ch.app) if ch.app in matches else None
    if occurrence == 0x00:  # first or only
        index = 0
    elif occurrence == 0x01:  # last
        index = len(matches) - 1
    elif occurrence == 0x02:  # next
        index = 0 if current is None else current + 1
    else:  # previous
        index = len(matches) - 1 if current is None else current - 1
    if not 0 <= index < len(matches):
        return _EMPTY, SW_FILE_NOT_FOUND
    adf = matches[index]
    if control == 0x40:  # termination of the application session
        if ch.app is adf:
            ch.app = None
        ch.select(card.mf)
        return _EMPTY, SW_OK
    ch.select(adf)
    return _answer(card, adf, ret != _RETURN_NONE)


def select(card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    # clause 11.1.1 SELECT
    if p1 == SELECT_BY_FID and p2 == _RETURN_NONE and len(data) == 2:  # hot path: no data
        node = resolve_fid(card, ch, (data[0] << 8) | data[1])
        if node is None:
            return _EMPTY, SW_FILE_NOT_FOUND
        ch.select(node)
        return _EMPTY, (
            SW_OK if node.lcsi == LCSI_ACTIVATED or node.is_df else SW_WARNING_FILE_DEACTIVATED
        )
    if p1 == SELECT_BY_AID:
        return _select_aid(card, ch, p2, data)
    if p2 not in _RETURN_FCP and p2 != _RETURN_NONE:
        return _EMPTY, SW_INCORRECT_P1_P2
    want_fcp = p2 != _RETURN_NONE
    found: EF | DF | int | None
    if p1 == SELECT_BY_FID:  # no data selects the MF
        if not data:
            found = card.mf
        elif len(data) != 2:
            return _EMPTY, SW_WRONG_LENGTH
        else:
            found = resolve_fid(card, ch, (data[0] << 8) | data[1])
    elif p1 == 0x01:  # child DF
        if len(data) != 2:
            return _EMPTY, SW_WRONG_LENGTH
        found = ch.df.by_fid.get((data[0] << 8) | data[1])
        if found is not None and not found.is_df:
            found = None
    elif p1 == 0x03:  # parent DF
        if data:
            return _EMPTY, SW_WRONG_LENGTH
        found = ch.df.parent
    elif p1 in (0x08, 0x09):
        found = resolve_path(card, ch, data, p1 == 0x08)
    else:
        return _EMPTY, SW_INCORRECT_P1_P2
    if isinstance(found, int):
        return _EMPTY, found
    if found is None:
        return _EMPTY, SW_FILE_NOT_FOUND
    ch.select(found)
    return _answer(card, found, want_fcp)


def status(card: Card, ch: Channel, p1: int, p2: int, data: bytes, ne: int) -> tuple[bytes, int]:
    # clause 11.1.2 STATUS: P1 00/01/02 (application status indication), P2 response kind
    if data:
        return _EMPTY, SW_WRONG_LENGTH
    if p1 > 0x02:
        return _EMPTY, SW_INCORRECT_P1_P2
    if p2 == 0x00:  # FCP of the current DF
        return card.fcp_of(ch.df), SW_OK
    if p2 == 0x01:  # DF name TLV of the current application
        app = ch.app
        if app is None or app.aid is None:
            return _EMPTY, SW_OK
        return tlv(tags("FcpDataObject")["dfName"], app.aid), SW_OK
    if p2 == SELECT_RETURN_NONE:
        return _EMPTY, SW_OK
    return _EMPTY, SW_INCORRECT_P1_P2
