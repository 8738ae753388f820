#!/usr/bin/env python3
"""Differential fuzzing of EF.IMPI / EF.IMPU / EF.DOMAIN (issue 12 item 1): for random bytes
written to one of them, the card's write guard accepts exactly when `isim check` and
`isim inspect` accept.

    python tools/fuzz_identities.py [-n 100000] [--seed 1]

Each case writes a whole file or record of the alice card (examples/alice.yaml) with the
bytes: TLVs of identities built from good and nasty pieces (NUL, C0/C1 controls, bidi
overrides, zero-width characters, line separators, fullwidth forms, soft hyphens, several
'@', formula leads), wrong tags and lengths, second TLVs and left-over bytes, raw bytes.

* guard:   UPDATE BINARY / UPDATE RECORD after VERIFY ADM1 in the in-process engine
           (accepted: 90 00; the original content is written back after each case);
* check:   `isim.profile.model.profile_from_mapping` of alice's profile with the text the codec
           decodes from the bytes (bytes no text encodes to: refused);
* inspect: `isim.inspect.inspect` judging what `isim inspect` read from the alice image,
           with the file or record holding the bytes.

Exit 1 when any case disagrees (each printed with its three verdicts).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from apdu.engine import Card  # noqa: E402
from isim.card.contents import ISIM_ADF  # noqa: E402
from isim.card.image import build_image, make_card  # noqa: E402
from isim.codecs import CodecError, codec_for  # noqa: E402
from isim.codecs.tlv import encode_tag80  # noqa: E402
from isim.errors import ProfileError  # noqa: E402
from isim.inspect import CardRead, inspect, open_image, read_card  # noqa: E402
from isim.profile.model import profile_from_mapping  # noqa: E402

__all__ = ["NASTY", "Result", "check_accepts", "fuzz", "guard_write", "inspect_accepts",
           "random_case"]

ALICE = ROOT / "examples" / "alice.yaml"
VERIFY_ADM1 = bytes.fromhex("0020000A08") + b"12345678"
TARGETS = (("EF.IMPI", None), ("EF.DOMAIN", None), *(("EF.IMPU", r) for r in range(1, 9)))
NASTY = ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", " ", "\xa0",
         "\u202e", "\u202d", "\u2066", "\u200b", "\u200c", "\u200d", "\ufeff", "\u2028",
         "\u2029", "\u00ad", "\uff0e", "\u3002", "\uff61", "\uff49", "\u3000", "@", "@@", "=",
         "+", "-", "..", "\U000e0001", "\ue000", "\udc80", "\u00dc", "\u2460"]
PIECES = ["alice", "bob", "001010123456789", "+15551234567", "ims", "example", "com",
          "ims.example.com", "IMS.Example.COM", "3gppnetwork.org", "ims.mnc001.mcc001",
          "evil.org", "xn--bcher-kva", "bücher", "org", ".", "@", ":5060", ";user=phone",
          "[::1]", "192.0.2.1"]
HEADS = ["sip:", "sips:", "tel:", "SIP:", "", "", "http://"]


@dataclass
class Result:
    cases: int = 0
    accepted: int = 0
    disagreements: list[str] = field(default_factory=list)


# -- the cases -------------------------------------------------------------------------------


def _text(rng: random.Random) -> str:
    parts = [rng.choice(HEADS)]
    for _ in range(rng.randint(1, 6)):
        parts.append(rng.choice(NASTY) if rng.random() < 0.2 else rng.choice(PIECES))
    if rng.random() < 0.5:  # most near-valid: user@domain inside the trust domains
        user = rng.choice(["alice", "bob", "x", rng.choice(NASTY) + "y"])
        parts = [rng.choice(HEADS), user, "@", rng.choice(["ims.example.com",
                                                           "ims.mnc001.mcc001.3gppnetwork.org"])]
        if rng.random() < 0.5:
            at = rng.randrange(1, len(parts) + 1)
            parts.insert(at, rng.choice(NASTY))
    return "".join(parts)


def random_case(rng: random.Random) -> tuple[str, int | None, bytes]:
    ef, record = rng.choice(TARGETS)
    r = rng.random()
    if r < 0.05:
        raw = rng.randbytes(rng.randrange(40))
    elif r < 0.1:
        raw = b"\xff"
    else:
        raw = encode_tag80(_text(rng).encode("utf-8", "surrogatepass")[:120])
        if rng.random() < 0.1:
            raw = bytes([rng.choice((0x80, 0x81, 0x04, 0xA0))]) + raw[1:]
        if rng.random() < 0.1:
            raw += rng.choice([b"\x00", encode_tag80(b"x@evil.org"), b"\x80\x00", b"\xfe"])
        if rng.random() < 0.05:
            raw = raw[:1] + bytes([0x81]) + raw[1:]  # non-minimal length
    return ef, record, raw[:128]


# -- the verdicts ----------------------------------------------------------------------------


@functools.cache
def _alice() -> tuple[dict[str, Any], Any]:
    data = yaml.safe_load(ALICE.read_text(encoding="utf-8"))
    return data, build_image(profile_from_mapping(data, source=str(ALICE)))


@functools.cache
def _read() -> CardRead:
    source = open_image(_alice()[1])
    return read_card(source.transmit, source.atr)


def _full(ef: str, raw: bytes) -> bytes:
    spec = next(f.spec for f in _read().files if f.name == ef)
    size = spec.record_length if spec.is_record else spec.size
    return (raw + b"\xff" * size)[:size]


def guard_write(send: Callable[[bytes], bytes], aid: bytes, fid: int, record: int | None,
                data: bytes) -> bool:
    """VERIFY ADM1, SELECT the ISIM and the EF, UPDATE the whole body or record with `data`:
    True when the card answered 90 00, False for 6A80 (the guard refused)."""
    for apdu in (VERIFY_ADM1, bytes([0, 0xA4, 4, 0x0C, len(aid)]) + aid,
                 bytes.fromhex("00A4000C02") + fid.to_bytes(2, "big")):
        assert send(apdu)[-2:] == b"\x90\x00", apdu.hex()
    if record is None:
        sw = send(bytes([0, 0xD6, 0, 0, len(data)]) + data)[-2:]
    else:
        sw = send(bytes([0, 0xDC, record, 4, len(data)]) + data)[-2:]
    assert sw in (b"\x90\x00", b"\x6a\x80"), sw.hex()
    return sw == b"\x90\x00"


class _Guard:
    """The alice card after VERIFY ADM1, put back after every accepted write."""

    def __init__(self) -> None:
        image = _alice()[1]
        self.card, _ = make_card(dataclasses.replace(image, card=copy.deepcopy(image.card)))
        self.aid = bytes.fromhex(image.isim["aid"])

    def _send(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)[-2:]

    def update(self, ef: str, record: int | None, data: bytes) -> bool:
        fid = next(f.spec.fid for f in _read().files if f.name == ef)
        return guard_write(self._send, self.aid, fid, record, data)

    def accepts(self, ef: str, record: int | None, data: bytes) -> bool:
        node = Card.find_in(self.card.adf(self.aid), ef)
        assert node is not None
        content = node.content()
        before = bytes(content if record is None else content[record - 1])
        ok = self.update(ef, record, data)
        if ok:
            assert self.update(ef, record, before), "the original content was refused"
        return ok


def check_accepts(ef: str, record: int | None, data: bytes) -> bool:
    try:
        value = codec_for(ef).decode(data)
    except CodecError:
        return False  # no profile text encodes to these bytes
    mapping, image = _alice()
    mapping = dict(mapping)
    if ef == "EF.IMPU":
        assert record is not None
        current = [codec_for(ef).decode(bytes.fromhex(c)) for c in _content(image, ef)]
        current[record - 1] = value
        mapping["impu"] = [v for v in current if v is not None]
    elif value is None:
        return False  # a profile cannot leave out the IMPI or the home domain
    else:
        mapping["impi" if ef == "EF.IMPI" else "domain"] = value
    try:
        profile_from_mapping(mapping)
    except ProfileError:
        return False
    return True


def _content(image: Any, ef: str) -> Any:
    adf = next(a for a in image.card["adfs"] if a["name"] == ISIM_ADF)
    return next(f for f in adf["files"] if f["name"] == ef)["content"]


def inspect_accepts(ef: str, record: int | None, data: bytes) -> bool:
    card = _read()
    files = []
    for f in card.files:
        if f.name == ef:
            if record is None:
                f = dataclasses.replace(f, body=data)
            else:
                records = list(f.records or [])
                records[record - 1] = data
                f = dataclasses.replace(f, records=records)
        files.append(f)
    return inspect(dataclasses.replace(card, files=files), _alice()[1].isim["trust_domains"]
                   ).passed()


# -- the run ---------------------------------------------------------------------------------


def fuzz(n: int, seed: int, corpus: list[tuple[str, int | None, bytes]] | None = None) -> Result:
    rng = random.Random(seed)
    guard = _Guard()
    result = Result()
    cases = list(corpus or []) + [random_case(rng) for _ in range(n)]
    for ef, record, raw in cases:
        data = _full(ef, raw)
        verdicts = (guard.accepts(ef, record, data), check_accepts(ef, record, data),
                    inspect_accepts(ef, record, data))
        result.cases += 1
        result.accepted += verdicts[0]
        if len(set(verdicts)) > 1:
            where = ef if record is None else f"{ef} record {record}"
            result.disagreements.append(
                f"{where} {raw.hex()}: guard {verdicts[0]}, check {verdicts[1]}, "
                f"inspect {verdicts[2]}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="number of cases")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    result = fuzz(args.n, args.seed)
    elapsed = time.perf_counter() - start
    for line in result.disagreements[:50]:
        print(line)
    print(f"{result.cases} cases (seed {args.seed}) in {elapsed:.1f} s: {result.accepted} "
          f"accepted by the guard, {len(result.disagreements)} disagreements")
    return 1 if result.disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
