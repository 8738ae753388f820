"""The gateway's vectors against Debian's `osmo-auc-gen` (libosmocore-utils), an independent
Milenage + c2/c3 implementation: RAND, AUTN, IK, CK, RES (AKA-RESP-AUTH), Kc and SRES
(SIM-RESP-AUTH) and the SQN_MS recovered from an AUTS. Fails (never skips) without the tool."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from eap_peers import require_tools
from isim.aka.milenage import Milenage
from isim.aka.procedure import AMF_RESYNC
from isim.network.aucgw import AucGateway
from isim.network.sqn_store import SqnStore
from isim.network.subscribers import Subscriber

IMSI = "001010000000001"


def osmo_auc_gen(*args: str) -> dict[str, str]:
    exe = require_tools("osmo-auc-gen")["osmo-auc-gen"]
    done = subprocess.run([exe, "-3", "-a", "milenage", *args], capture_output=True, text=True,
                          timeout=30, check=True)
    fields = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            fields[key.strip()] = value.strip()
    return fields


@pytest.mark.parametrize("seed", range(4))
def test_vectors_and_triplets_agree_with_osmo_auc_gen(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    k, opc, rand = (rng.randbytes(16) for _ in range(3))
    amf = rng.randbytes(2)
    start = rng.randrange(0, 1 << 40)
    with SqnStore(tmp_path / "sqn.sqlite") as store:
        gw = AucGateway({IMSI: Subscriber(IMSI, k, opc, amf, start)}, store,
                        rand=lambda n: rand[:n])
        aka = gw.handle(f"AKA-REQ-AUTH {IMSI}".encode())
        sim = gw.handle(f"SIM-REQ-AUTH {IMSI} 1".encode())
        sqn = store.current(IMSI)
    assert aka is not None and sim is not None and sqn is not None
    osmo = osmo_auc_gen("-k", k.hex(), "-o", opc.hex(), "-f", amf.hex(), "-s", str(sqn),
                        "-r", rand.hex())
    assert int(osmo["SQN"]) == sqn
    _, imsi, g_rand, autn, ik, ck, res = aka.decode().split(" ")
    assert imsi == IMSI
    assert (g_rand, autn, ik, ck, res) == (
        osmo["RAND"], osmo["AUTN"], osmo["IK"], osmo["CK"], osmo["RES"])
    kc, sres, t_rand = sim.decode().split(" ")[2].split(":")
    assert (kc, sres, t_rand) == (osmo["Kc"], osmo["SRES"], osmo["RAND"])


def test_auts_resync_agrees_with_osmo_auc_gen(tmp_path: Path) -> None:
    rng = random.Random(99)
    k, opc, rand = (rng.randbytes(16) for _ in range(3))
    sqn_ms = rng.randrange(1 << 20, 1 << 40)
    # the card's AUTS for SQN_MS (TS 33.102 6.3.3): (SQN_MS xor AK*) || MAC-S, AMF 0000
    mr = Milenage(k, opc).with_rand(rand)
    ms = sqn_ms.to_bytes(6, "big")
    auts = bytes(a ^ b for a, b in zip(ms, mr.f5star(), strict=True)) + mr.f1star(ms, AMF_RESYNC)
    osmo = osmo_auc_gen("-k", k.hex(), "-o", opc.hex(), "-s", "0", "-r", rand.hex(),
                        "-A", auts.hex())
    assert int(osmo["SQN.MS"]) == sqn_ms
    with SqnStore(tmp_path / "sqn.sqlite") as store:
        gw = AucGateway({IMSI: Subscriber(IMSI, k, opc)}, store)
        assert gw.handle(f"AKA-AUTS {IMSI} {auts.hex()} {rand.hex()}".encode()) is None
        assert store.current(IMSI) == sqn_ms
        assert gw.stats.resyncs == 1
