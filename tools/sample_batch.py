"""Synthetic batches for dry runs, tests and benchmarks (streamed: any size, flat memory).

Row n (from 0) gets ICCID body `iccid_first + n` with its Luhn digit, IMSI `imsi_first + n`
(the MSIN counts, never the MCC+MNC), an IMPU list of two (SIP and tel) and a K derived
from n; OPc comes from the template's batch OP.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from isim.personalize.generate import NumberRange

__all__ = ["SAMPLE_TEMPLATE", "write_sample_batch", "write_sample_template"]

SAMPLE_DOMAIN = "ims.example.net"
SAMPLE_TEMPLATE = f"""\
trust_domains: [3gppnetwork.org, {SAMPLE_DOMAIN}]
mnc_length: 2
pcscf: [pcscf.{SAMPLE_DOMAIN}]
ist: [1, 2]
adm1: "88888888"
op: "cdc202d5123e20f62b6d676ac72cb318"
"""


def write_sample_template(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(SAMPLE_TEMPLATE, encoding="utf-8")
    return path


def sample_k(n: int) -> str:
    return hashlib.sha256(n.to_bytes(8, "big")).hexdigest()[:32]


def write_sample_batch(path: str | Path, rows: int, *, iccid_first: str = "898821100000000000",
                       imsi_first: str = "001010000000000", mnc_length: int = 2) -> Path:
    path = Path(path)
    iccids = NumberRange(iccid_first, luhn=True, name="iccid")
    imsis = NumberRange(imsi_first, fixed=3 + mnc_length, name="imsi")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["iccid", "imsi", "impu", "k"])
        for n in range(rows):
            imsi = imsis[n]
            impus = f"sip:{imsi}@{SAMPLE_DOMAIN}|tel:+1555{n:08d}"
            out.writerow([iccids[n], imsi, impus, sample_k(n)])
    return path
