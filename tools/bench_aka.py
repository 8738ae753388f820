"""In-process IMS AKA throughput.

Prints three figures:
* card side only: `ims_aka_response` on pre-generated challenges (parse, AK, MAC check, SQN
  check and update, RES/CK/IK, response encoding). Vector generation is NOT included.
* network side only: `generate_vector`.
* both: generate a vector and have the card answer it, per authentication.

Usage: python tools/bench_aka.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apdu.sw import SW_OK
from isim.aka.milenage import Milenage
from isim.aka.procedure import ImsAka, generate_vector, ims_aka_response
from isim.aka.sqn import SqnArray, SqnConfig

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
AMF = b"\x80\x00"


def _rand(i: int) -> bytes:
    return i.to_bytes(16, "big")


def _sqn(i: int, ind_bits: int) -> int:
    # IND steps through the array, SEQ grows: every SQN is fresh in its slot
    n = 1 << ind_bits
    return ((i // n + 1) << ind_bits) | (i % n)


def bench_card(n: int) -> float:
    m = Milenage(K, OPC)
    cfg = SqnConfig()
    datas = []
    for i in range(n):
        v = generate_vector(m, _rand(i), _sqn(i, cfg.ind_bits), AMF)
        datas.append(b"\x10" + v.rand + b"\x10" + v.autn)
    card = ImsAka(Milenage(K, OPC), SqnArray(cfg))
    t0 = time.perf_counter()
    for data in datas:
        _, sw = ims_aka_response(card, data)
        if sw != SW_OK:
            raise SystemExit(f"unexpected SW {sw:04X}")
    return n / (time.perf_counter() - t0)


def bench_network(n: int) -> float:
    m = Milenage(K, OPC)
    t0 = time.perf_counter()
    for i in range(n):
        generate_vector(m, _rand(i), _sqn(i, 5), AMF)
    return n / (time.perf_counter() - t0)


def bench_both(n: int) -> float:
    hss = Milenage(K, OPC)
    cfg = SqnConfig()
    card = ImsAka(Milenage(K, OPC), SqnArray(cfg))
    t0 = time.perf_counter()
    for i in range(n):
        v = generate_vector(hss, _rand(i), _sqn(i, cfg.ind_bits), AMF)
        _, sw = ims_aka_response(card, b"\x10" + v.rand + b"\x10" + v.autn)
        if sw != SW_OK:
            raise SystemExit(f"unexpected SW {sw:04X}")
    return n / (time.perf_counter() - t0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    card = bench_card(n)
    net = bench_network(n)
    both = bench_both(n)
    print(f"card side (AUTHENTICATE data -> response, vectors pre-generated): {card:,.0f} auth/s")
    print(f"network side (generate_vector):                                  {net:,.0f} vec/s")
    print(f"vector generation + card side:                                   {both:,.0f} auth/s")
    print(f"target >= 20,000 auth/s card side: {'met' if card >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
