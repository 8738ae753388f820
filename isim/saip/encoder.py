"""PEs encoded as asn1tools does, faster (isim.saip.fast: the packages of a batch).

The same bytes as `asn.encode_pe` (tests/test_saip_fast.py): a PE is asn1tools' encoding of
its members one after the other, under its tag and length (X.690 8.9), each member encoded
by asn1tools' own `encode_member`. `PackageEncoder` keeps a member's encoding by its value,
so what is the same on every card is encoded once. A key or PIN is never kept: a member
holding one (PE-PINCodes' and PE-PUKCodes' lists, PE-AKAParameter's algoConfiguration) is
encoded once with placeholders of the secrets' lengths, kept cut around them, and each
card's secrets go between the pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

from asn1tools.codecs.ber import encode_length_definite

from .asn import spec, strip_default_sqn_init

__all__ = ["PackageEncoder", "encode_file", "member_parts"]

_SECRET_MEMBERS = frozenset({"pinCodes", "pukCodes", "algoConfiguration"})
_SECRET_FIELDS = frozenset({"pinValue", "pukValue", "key", "opc"})
_MAX_KEPT = 8192
_MARK = b"\xa5\x5a\xc3"  # a placeholder: _MARK, its number, then filler to the secret's length


@cache
def _pe_type(name: str) -> Any:
    member = spec().types["ProfileElement"].type.name_to_member[name]
    assert not member.additions  # EXTENSIBILITY IMPLIED, no additions: root members only
    return member


@cache
def _members(name: str) -> tuple[tuple[Any, str, bool], ...]:
    """(member, its name, whether it holds secrets) of a PE's type, in order."""
    return tuple((m, m.name, m.name in _SECRET_MEMBERS) for m in _pe_type(name).root_members)


@dataclass(frozen=True)
class _Shape:
    """A PE with a given set of members: what encoding one needs."""

    seq: Any  # the PE's asn1tools type
    tag: bytes
    members: tuple[tuple[Any, str, bool], ...]  # the members given, as `_members`


@cache
def _shape(name: str, keys: tuple[str, ...]) -> _Shape:
    """A PE with these keys. An absent member is OPTIONAL or DEFAULT (DER encodes nothing
    for it); a mandatory one missing raises asn1tools' error; keys that are no member are
    ignored (as asn1tools does)."""
    given = frozenset(keys)
    seq = _pe_type(name)
    for member, mname, _ in _members(name):
        if mname not in given and not member.optional and not member.has_default():
            seq.encode_member(member, {}, bytearray())  # raises
    return _Shape(seq, bytes(seq.tag), tuple(m for m in _members(name) if m[1] in given))


_SCALARS = frozenset({bytes, str, int, bool, type(None)})


def _freeze(value: Any) -> Any:
    """A hashable form of a value (dicts and lists as tuples)."""
    kind = type(value)
    if kind is dict:
        return tuple([(k, v if type(v) in _SCALARS else _freeze(v)) for k, v in value.items()])
    if kind is list or kind is tuple:
        return tuple([v if type(v) in _SCALARS else _freeze(v) for v in value])
    return value


def _mask(value: Any, secrets: list[bytes]) -> Any:
    """`value` with every secret (PIN, PUK, K, OPc) replaced by a numbered placeholder of the
    same length; the secrets, in order, go to `secrets`."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _SECRET_FIELDS and isinstance(v, bytes) and len(v) >= len(_MARK) + 1:
                out[k] = (_MARK + bytes([len(secrets)]) + b"\xc3" * len(v))[:len(v)]
                secrets.append(v)
            else:
                out[k] = _mask(v, secrets)
        return out
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask(v, secrets) for v in value)
    return value


class _NoShortcut(Exception):
    """A secret field that is no OCTET STRING longer than a placeholder."""


@cache
def _split(keys: tuple[str, ...]) -> tuple[Callable[[dict[str, Any]], tuple[Any, ...]],
                                           tuple[str, ...]]:
    """(the values of a dict's non-secret keys, its secret keys in order)."""
    plain = tuple(k for k in keys if k not in _SECRET_FIELDS)
    getter = itemgetter(*plain) if len(plain) > 1 else (lambda v: tuple(v[k] for k in plain))
    return getter, tuple(k for k in keys if k in _SECRET_FIELDS)


def _secret_key(value: Any, secrets: list[bytes]) -> Any:
    """A hashable form of `value` without its secrets, which go to `secrets` in the order
    `_mask` numbers them. Raises _NoShortcut (see there)."""
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        getter, hidden = _split(keys)
        plain = getter(value)
        if not _SCALARS.issuperset(map(type, plain)):
            return _secret_key_walk(value, secrets)
        for k in hidden:  # (all other values are scalars: _mask's order)
            v = value[k]
            if type(v) is not bytes or len(v) <= len(_MARK):
                raise _NoShortcut
            secrets.append(v)
        return keys, plain
    if kind is list or kind is tuple:
        return tuple([v if type(v) in _SCALARS else _secret_key(v, secrets) for v in value])
    return value


def _secret_key_walk(value: dict[str, Any], secrets: list[bytes]) -> Any:
    """`_secret_key` of a dict holding dicts or lists, field by field."""
    out = []
    for k, v in value.items():
        if k in _SECRET_FIELDS:
            if type(v) is not bytes or len(v) <= len(_MARK):
                raise _NoShortcut
            secrets.append(v)
            out.append((k, None))
        elif type(v) in _SCALARS:
            out.append((k, v))
        else:
            out.append((k, _secret_key(v, secrets)))
    return ("walk", tuple(out))


def _is_file(value: list[Any]) -> bool:
    return bool(value) and type(value[0]) is tuple and value[0][0] == "fileDescriptor"


class PackageEncoder:
    """Encodes PEs as `encode_pe` does (isim.saip.fast: the PEs holding secrets): members
    holding no secret are kept by value, those holding one are cut around placeholders."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, Any], bytes] = {}
        self._fcps: dict[int, tuple[Any, bytes]] = {}  # `encode_file`'s
        self._cuts: dict[tuple, list[bytes]] = {}

    def pe(self, name: str, value: dict[str, Any]) -> bytes:
        """One PE's DER."""
        if name == "akaParameter":
            value = strip_default_sqn_init(value)
        shape = _shape(name, tuple(value))
        seq = shape.seq
        parts: list[bytes] = []
        for member, mname, secret in shape.members:
            item = value[mname]
            if secret and not (type(item) is tuple and type(item[1]) is bytes):
                # (a CHOICE of an OCTET STRING, e.g. pinCodes' filePath, holds no secret)
                parts.append(self._secret_member(name, seq, member, value))
            elif type(item) is list and _is_file(item):
                parts.append(encode_file(member, item, self._fcps))
            else:
                parts.append(self._member(name, seq, member, mname, value, item))
        body = b"".join(parts)
        return shape.tag + bytes(encode_length_definite(len(body))) + body

    def _member(self, name: str, seq: Any, member: Any, mname: str, value: dict[str, Any],
                item: Any) -> bytes:
        """A member holding no secret, kept by value."""
        kind = type(item)
        key = (name, mname, item if kind is bytes or kind is str or kind is int
               else _freeze(item))
        found = self._kept.get(key)
        if found is None:
            part = bytearray()
            seq.encode_member(member, value, part)
            found = bytes(part)
            if len(self._kept) >= _MAX_KEPT:
                self._kept.clear()
            self._kept[key] = found
        return found

    def _secret_member(self, name: str, seq: Any, member: Any, value: dict[str, Any]) -> bytes:
        """A member holding secrets: its encoding with placeholders is kept, cut where they
        are, and the card's secrets (of the same lengths: the DER lengths do not change)
        go between the pieces. The pieces hold no secret."""
        secrets: list[bytes] = []
        try:
            key = ("secret", name, member.name, _secret_key(value[member.name], secrets))
        except _NoShortcut:
            key = None
        pieces = self._cuts.get(key) if key is not None and len(secrets) <= 0xFF else None
        if pieces is None and key is not None and len(secrets) <= 0xFF:
            masked = _mask(value[member.name], [])
            part = bytearray()
            seq.encode_member(member, {member.name: masked}, part)
            pieces = _cut(bytes(part), masked, len(secrets))
            if pieces is not None:
                if len(self._cuts) >= _MAX_KEPT:
                    self._cuts.clear()
                self._cuts[key] = pieces
        if pieces is None:  # no shortcut for this shape
            direct = bytearray()
            seq.encode_member(member, value, direct)
            return bytes(direct)
        out = [pieces[0]]
        for secret, piece in zip(secrets, pieces[1:], strict=True):
            out += (secret, piece)
        return b"".join(out)

    def package(self, pes: list[tuple[str, dict[str, Any]]]) -> bytes:
        return b"".join([self.pe(name, value) for name, value in pes])


def encode_file(member: Any, items: list[tuple[str, Any]],
                fcps: dict[int, tuple[Any, bytes]]) -> bytes:
    """A `File` member (SEQUENCE OF CHOICE, X.690 8.10), its items one by one; an FCP seen
    before (in `fcps`, by identity: the FCP object is held there) is not encoded again."""
    content = bytearray()
    choice = member.element_type
    for item in items:
        if item[0] == "fileDescriptor":
            fcp = item[1]
            seen = fcps.get(id(fcp))
            if seen is None or seen[0] is not fcp:
                part = bytearray()
                choice.encode(item, part)
                if len(fcps) >= _MAX_KEPT:
                    fcps.clear()
                seen = fcps[id(fcp)] = (fcp, bytes(part))
            content += seen[1]
        else:
            choice.encode(item, content)
    return bytes(member.tag) + bytes(encode_length_definite(len(content))) + content


def member_parts(name: str, value: dict[str, Any]
                 ) -> tuple[Any, bytes, list[tuple[Any, bytes]]]:
    """A PE's asn1tools type, its tag and its members (asn1tools member, DER), in order: the
    PE's DER is the tag, the length of the members' DER, and their DER (X.690 8.9)."""
    shape = _shape(name, tuple(value))
    parts = []
    for member, _, _ in shape.members:
        part = bytearray()
        shape.seq.encode_member(member, value, part)
        parts.append((member, bytes(part)))
    return shape.seq, shape.tag, parts


def _cut(encoded: bytes, masked: Any, count: int) -> list[bytes] | None:
    """`encoded` cut around placeholders 0..count-1 (each must occur exactly once)."""
    pieces = []
    pos = 0
    for i in range(count):
        mark = _MARK + bytes([i])
        at = encoded.find(mark, pos)
        if at < 0 or encoded.count(mark) != 1:
            return None
        pieces.append(encoded[pos:at])
        length = _placeholder_length(masked, i)
        pos = at + length
    pieces.append(encoded[pos:])
    return pieces


def _placeholder_length(masked: Any, i: int) -> int:
    mark = _MARK + bytes([i])
    stack = [masked]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, bytes) and v.startswith(mark):
            return len(v)
    raise ValueError("placeholder not in the value")
