"""EF.IMPI / EF.IMPU / EF.DOMAIN as bytes: decoded strictly, then judged by the one
validation of identities (`isim.identity.trust.check_identities`).

EF.P-CSCF records get the same strict decoding and the same name policy for FQDN addresses
(`pcscf_problems`); the trust rule does not cover them.

Strict: one `80 L value` data object in its shortest coding, UTF-8 text, and nothing but
'FF' after it (a second TLV or left-over bytes of an earlier value are refused: a reader
that stops at the first TLV and one that does not must see the same identity). Used by the
card's write guard (`isim.card.isim_app`), the emulator when it loads an image, and the fuzzers;
`isim inspect` decodes with the same codecs and reports left-over bytes as errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from isim.codecs import codec_for
from isim.codecs.errors import CodecError
from isim.codecs.identities import PcscfAddress
from isim.identity import trust
from isim.identity.names import DomainError, normalized

__all__ = ["IDENTITY_FILES", "PCSCF_FILE", "decode_identity", "identity_file_problems",
           "pcscf_name_problem", "pcscf_problems"]

IDENTITY_FILES = (trust.FILE_IMPI, trust.FILE_IMPU, trust.FILE_DOMAIN)
PCSCF_FILE = "EF.P-CSCF"

Content = bytes | Sequence[bytes] | None  # a body, the records, or None: no such file


def decode_identity(ef: str, raw: bytes) -> str | None:
    """The text of one body or record; None when all FF. Raises `CodecError`."""
    return codec_for(ef).decode(raw)


def identity_file_problems(
    contents: Mapping[str, Content],
    trust_domains: Sequence[str] | None,
    *,
    only: str | None = None,
) -> list[trust.Violation]:
    """Every problem of the three identity files (`only`: of that one file alone).

    A file that is absent or does not decode is reported as such, and not also as "the
    ISIM must hold it"."""
    problems: list[trust.Violation] = []
    values: dict[str, list[str | None]] = {}
    unreadable: set[str] = set()
    for name in IDENTITY_FILES:
        content = contents.get(name)
        if content is None:
            problems.append(trust.Violation(name, None, "", "file missing", missing=True))
            unreadable.add(name)
            values[name] = [None]
            continue
        records = not isinstance(content, (bytes, bytearray))
        units = list(content) if records else [content]
        decoded: list[str | None] = []
        for number, unit in enumerate(units, start=1):
            try:
                decoded.append(decode_identity(name, bytes(unit)))
            except CodecError as exc:
                problems.append(trust.Violation(name, number if records else None, "",
                                                exc.problem))
                decoded.append(None)
                unreadable.add(name)
        values[name] = decoded or [None]
    for v in trust.check_identities(values[trust.FILE_IMPI][0], values[trust.FILE_IMPU],
                                    values[trust.FILE_DOMAIN][0], trust_domains):
        if not (v.missing and v.file in unreadable):
            problems.append(v)
    if only is not None:
        problems = [v for v in problems if v.file == only]
    return problems


def pcscf_name_problem(address: PcscfAddress) -> str | None:
    """Why a P-CSCF address is no name a UE can use (`isim.identity.names`: the FQDN as a UE
    compares it); None for IP addresses and the empty FQDN (`80 00`) of real cards."""
    if address.type != "fqdn" or not address.address:
        return None
    normal = normalized(address.address)
    if isinstance(normal, DomainError):
        return f"FQDN {address.address!r} is not a domain name: {normal}"
    return None


def pcscf_problems(records: Sequence[bytes], first: int = 1) -> list[trust.Violation]:
    """Problems of EF.P-CSCF records (numbered from `first`): strict decoding, then the
    name of an FQDN address."""
    out: list[trust.Violation] = []
    for number, raw in enumerate(records, start=first):
        try:
            value = codec_for(PCSCF_FILE).decode(bytes(raw))
        except CodecError as exc:
            out.append(trust.Violation(PCSCF_FILE, number, "", exc.problem))
            continue
        problem = pcscf_name_problem(value) if value is not None else None
        if problem:
            out.append(trust.Violation(PCSCF_FILE, number, "", problem))
    return out
