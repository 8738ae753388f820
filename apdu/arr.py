"""EF.ARR record coding: access rules as AM_DO / SC_DO pairs (TS 102 221 clause 9.2.7,
ISO/IEC 7816-4 clause 7.4.3; digest 2.4).

A record holds one or more rules, each an access-mode data object followed by one or more
security-condition data objects, then 'FF' padding:

* AM_DO `80 01 <AM byte>` (EF: b1 read/search, b2 update, b3 write, b4 deactivate,
  b5 activate, b6 terminate, b7 delete) or a command-header AM_DO `8X` where X's bits b4..b1
  say which of CLA, INS, P1, P2 follow (`84 01 D4`: INS D4 = RESIZE).
* SC_DO `90 00` always, `97 00` never, `A4 06 83 01 <key ref> 95 01 08` user authentication
  with a key reference (PIN / ADM), `A0` OR template, `A7` AND template, `AF` NOT template.
  Several SC_DOs after one AM_DO: any one satisfies the rule (OR).

A condition is kept in disjunctive form: a set of alternatives, each the set of key references
that must all be verified. Conditions this module cannot evaluate (NOT templates, secure
messaging CRTs, security condition bytes) are read as `never`: the safe reading for a card.

Pure: no I/O; must not import `isim`. Tags from specs/uicc.asn, TLVs by `specs.ber`.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from specs.ber import BerError, iter_tlvs, tags, tlv

__all__ = [
    "ALWAYS",
    "NEVER",
    "OPERATION_BITS",
    "AccessMode",
    "AccessRule",
    "ArrError",
    "Condition",
    "decode_rule",
    "encode_access_rule",
    "encode_condition",
    "encode_rule",
    "key",
    "parse_rule",
    "rule_from_symbolic",
    "symbolic_condition",
]

# AM byte bits (TS 102 221 tables 9.3 (EF) and 9.4 (DF)); DF aliases share the bits.
OPERATION_BITS: dict[str, int] = {
    "read": 0x01,
    "search": 0x01,
    "update": 0x02,
    "write": 0x04,
    "deactivate": 0x08,
    "activate": 0x10,
    "terminate": 0x20,
    "delete": 0x40,
    "delete_child": 0x01,
    "create_ef": 0x02,
    "create_df": 0x04,
}
_EF_BIT_NAMES = ("read", "update", "write", "deactivate", "activate", "terminate", "delete")

# the data objects of `AccessRuleDataObject` / `CrtDataObject` in specs/uicc.asn
_RULE = tags("AccessRuleDataObject")
_CRT_TAGS = tags("CrtDataObject")
TAG_AM_DO = _RULE["amDo"]  # '80'; '81'..'8F': command header, b4..b1 say CLA, INS, P1, P2
TAG_ALWAYS = _RULE["always"]
TAG_NEVER = _RULE["never"]
TAG_CRT_AUTH = _RULE["crt"]
TAG_OR = _RULE["orTemplate"]
TAG_AND = _RULE["andTemplate"]
TAG_NOT = _RULE["notTemplate"]
TAG_KEY_REFERENCE = _CRT_TAGS["keyReference"]
TAG_USAGE_QUALIFIER = _CRT_TAGS["usageQualifier"]
USAGE_USER_AUTHENTICATION = 0x08  # usage qualifier: user authentication (PIN verification)


class ArrError(ValueError):
    """A malformed EF.ARR record, or a symbolic rule that cannot be encoded."""


@dataclass(frozen=True, slots=True)
class Condition:
    """Security condition: satisfied when every key of at least one alternative is verified.

    `always` has one empty alternative; `never` has none.
    """

    alternatives: tuple[frozenset[int], ...]

    @property
    def kind(self) -> Literal["always", "never", "keys"]:
        if not self.alternatives:
            return "never"
        if any(not alt for alt in self.alternatives):
            return "always"
        return "keys"

    @property
    def key_refs(self) -> tuple[int, ...]:
        """Every key reference mentioned, sorted."""
        return tuple(sorted(set().union(*self.alternatives))) if self.alternatives else ()

    def satisfied(self, verified: Set[int]) -> bool:
        return any(alt <= verified for alt in self.alternatives)

    def __or__(self, other: Condition) -> Condition:
        return _condition(self.alternatives + other.alternatives)

    def __and__(self, other: Condition) -> Condition:
        return _condition(tuple(a | b for a in self.alternatives for b in other.alternatives))


def _condition(alternatives: tuple[frozenset[int], ...]) -> Condition:
    """Normalised: `always` absorbs everything, duplicates and supersets dropped, sorted."""
    if any(not alt for alt in alternatives):
        return ALWAYS
    unique = set(alternatives)
    minimal = [a for a in unique if not any(b < a for b in unique)]
    minimal.sort(key=lambda alt: (len(alt), sorted(alt)))
    return Condition(tuple(minimal))


ALWAYS = Condition((frozenset(),))
NEVER = Condition(())


def key(*refs: int) -> Condition:
    """All of `refs` must be verified."""
    return _condition((frozenset(refs),))


@dataclass(frozen=True, slots=True)
class AccessMode:
    """An AM_DO: an AM byte (`80`) or a command header (`81`..`8F`: CLA, INS, P1, P2)."""

    am_byte: int | None = None
    cla: int | None = None
    ins: int | None = None
    p1: int | None = None
    p2: int | None = None

    @property
    def operations(self) -> tuple[str, ...]:
        """EF operation names of the AM byte's bits."""
        if self.am_byte is None:
            return ()
        return tuple(n for n in _EF_BIT_NAMES if self.am_byte & OPERATION_BITS[n])

    @property
    def is_command(self) -> bool:
        return self.am_byte is None

    def matches_command(self, ins: int, cla: int | None, p1: int | None, p2: int | None) -> bool:
        return (
            self.am_byte is None
            and (self.ins is None or self.ins == ins)
            and (self.cla is None or cla is None or self.cla == cla)
            and (self.p1 is None or p1 is None or self.p1 == p1)
            and (self.p2 is None or p2 is None or self.p2 == p2)
        )


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One EF.ARR record: its (access mode, condition) rules in record order."""

    rules: tuple[tuple[AccessMode, Condition], ...]

    def condition(self, operation: str) -> Condition:
        """The condition for an operation name (`read`, `update`, ...); NEVER if none."""
        try:
            bit = OPERATION_BITS[operation]
        except KeyError:
            raise ArrError(f"unknown operation {operation!r}") from None
        result = NEVER
        for mode, cond in self.rules:
            if mode.am_byte is not None and mode.am_byte & bit:
                result = result | cond
        return result

    def condition_for_command(
        self, ins: int, cla: int | None = None, p1: int | None = None, p2: int | None = None
    ) -> Condition | None:
        """The condition of the command-header rules matching a command; None if none does."""
        found: Condition | None = None
        for mode, cond in self.rules:
            if mode.matches_command(ins, cla, p1, p2):
                found = cond if found is None else found | cond
        return found


# -- decoding -------------------------------------------------------------------------------


def _tlvs(data: bytes, start: int, end: int) -> list[tuple[int, bytes, int]]:
    """(tag, value, end offset) of the TLVs in data[start:end]; stops at 'FF' padding."""
    try:
        return [(tag, bytes(data[v0:v1]), v1) for tag, v0, v1 in iter_tlvs(data, start, end)]
    except BerError as exc:
        raise ArrError(str(exc)) from None


MAX_TEMPLATE_DEPTH = 8  # nested OR/AND templates; deeper records are rejected


def _security_condition(tag: int, value: bytes, depth: int = 0) -> Condition:
    if tag == TAG_ALWAYS:
        return ALWAYS
    if tag == TAG_NEVER:
        return NEVER
    if tag == TAG_CRT_AUTH:
        refs = [v[0] for t, v, _ in _tlvs(value, 0, len(value)) if t == TAG_KEY_REFERENCE and v]
        return key(*refs) if len(refs) == 1 else NEVER
    if tag in (TAG_OR, TAG_AND):
        if depth >= MAX_TEMPLATE_DEPTH:
            raise ArrError(f"security condition templates nested deeper than {depth}")
        inner = [_security_condition(t, v, depth + 1) for t, v, _ in _tlvs(value, 0, len(value))]
        if not inner:
            return NEVER
        result = inner[0]
        for cond in inner[1:]:
            result = (result | cond) if tag == TAG_OR else (result & cond)
        return result
    return NEVER  # NOT template, SM CRTs, security condition byte: not evaluated


def _access_mode(tag: int, value: bytes) -> AccessMode:
    if tag == TAG_AM_DO:
        if len(value) != 1:
            raise ArrError(f"AM_DO 80 must hold one AM byte, not {len(value)}")
        return AccessMode(am_byte=value[0])
    present = [(tag >> shift) & 1 for shift in (3, 2, 1, 0)]  # CLA, INS, P1, P2
    if sum(present) != len(value):
        raise ArrError(f"command-header AM_DO {tag:02X} holds {len(value)} bytes")
    it = iter(value)
    cla, ins, p1, p2 = (next(it) if flag else None for flag in present)
    return AccessMode(cla=cla, ins=ins, p1=p1, p2=p2)


def parse_rule(record: bytes) -> tuple[AccessRule, int]:
    """Decode an EF.ARR record: the rule and the offset where the data objects end."""
    data = bytes(record)
    rules: list[tuple[AccessMode, Condition]] = []
    mode: AccessMode | None = None
    cond = NEVER
    conds = 0
    end = 0
    for tag, value, tlv_end in _tlvs(data, 0, len(data)):
        end = tlv_end
        if TAG_AM_DO <= tag <= TAG_AM_DO | 0x0F:
            if mode is not None:
                rules.append((mode, cond))
            mode, cond, conds = _access_mode(tag, value), NEVER, 0
        elif mode is None:
            raise ArrError(f"security condition {tag:02X} before any access mode")
        else:
            sc = _security_condition(tag, value)
            cond = sc if conds == 0 else cond | sc  # several SC_DOs: OR
            conds += 1
    if mode is not None:
        rules.append((mode, cond))
    return AccessRule(tuple(rules)), end


def decode_rule(record: bytes) -> AccessRule:
    """Decode an EF.ARR record (cached: records repeat across files); ArrError if malformed."""
    return _decode_cached(bytes(record))


@lru_cache(maxsize=4096)
def _decode_cached(record: bytes) -> AccessRule:
    return parse_rule(record)[0]


# -- encoding -------------------------------------------------------------------------------

_USER_AUTHENTICATION = tlv(TAG_USAGE_QUALIFIER, bytes((USAGE_USER_AUTHENTICATION,)))
_ALWAYS = tlv(TAG_ALWAYS, b"")
_NEVER = tlv(TAG_NEVER, b"")


def _crt(ref: int) -> bytes:
    """`A4 06 83 01 <key ref> 95 01 08`: user authentication with one key reference."""
    return tlv(TAG_CRT_AUTH, tlv(TAG_KEY_REFERENCE, bytes((ref,))) + _USER_AUTHENTICATION)


def _encode_alternative(alt: frozenset[int]) -> bytes:
    crts = [_crt(ref) for ref in sorted(alt)]
    return crts[0] if len(crts) == 1 else tlv(TAG_AND, b"".join(crts))


def encode_condition(cond: Condition) -> bytes:
    kind = cond.kind
    if kind == "always":
        return _ALWAYS
    if kind == "never":
        return _NEVER
    parts = [_encode_alternative(alt) for alt in cond.alternatives]
    return parts[0] if len(parts) == 1 else tlv(TAG_OR, b"".join(parts))


def _encode_mode(mode: AccessMode) -> bytes:
    if mode.am_byte is not None:
        return tlv(TAG_AM_DO, bytes((mode.am_byte,)))
    fields = (mode.cla, mode.ins, mode.p1, mode.p2)
    tag = TAG_AM_DO | sum(1 << (3 - i) for i, f in enumerate(fields) if f is not None)
    if tag == TAG_AM_DO:
        raise ArrError("a command-header access mode needs at least one of CLA/INS/P1/P2")
    return tlv(tag, bytes(f for f in fields if f is not None))


def encode_access_rule(rule: AccessRule) -> bytes:
    """The data objects of a rule, unpadded."""
    return b"".join(_encode_mode(m) + encode_condition(c) for m, c in rule.rules)


def _default_key_references() -> Mapping[str, int]:
    from specs.layout import layout  # local: keep this module importable without the YAML

    return layout().key_references


def symbolic_condition(value: str | int, key_references: Mapping[str, int]) -> Condition:
    """`always`, `never`, a key name from specs `key_references` (`PIN1`) or a key ref."""
    if isinstance(value, bool):
        raise ArrError(f"bad condition {value!r}")
    if isinstance(value, int):
        return key(value)
    name = value.strip()
    if name.lower() == "always":
        return ALWAYS
    if name.lower() == "never":
        return NEVER
    refs = {k.upper(): v for k, v in key_references.items()}
    if name.upper() not in refs:
        raise ArrError(f"unknown key reference {value!r}")
    return key(refs[name.upper()])


def rule_from_symbolic(
    rules: Mapping[str, str | int], key_references: Mapping[str, int] | None = None
) -> AccessRule:
    """`{read: PIN1, update: ADM1, ...}` -> AccessRule, operations with one condition grouped
    into one AM byte, in order of first appearance."""
    refs = _default_key_references() if key_references is None else key_references
    grouped: dict[Condition, int] = {}
    for operation, value in rules.items():
        bit = OPERATION_BITS.get(operation)
        if bit is None:
            raise ArrError(f"unknown operation {operation!r}")
        cond = symbolic_condition(value, refs)
        grouped[cond] = grouped.get(cond, 0) | bit
    return AccessRule(tuple((AccessMode(am_byte=bits), c) for c, bits in grouped.items()))


def encode_rule(
    rules: Mapping[str, str | int],
    record_length: int,
    key_references: Mapping[str, int] | None = None,
) -> bytes:
    """An EF.ARR record from the symbolic form of specs/filesystem.yaml, 'FF'-padded."""
    body = encode_access_rule(rule_from_symbolic(rules, key_references))
    if len(body) > record_length:
        raise ArrError(f"access rule is {len(body)} bytes, record is {record_length}")
    return body + b"\xff" * (record_length - len(body))
