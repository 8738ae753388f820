"""Full EAP round trips through the whole stack (issue 11 §6), one run, ratios within it.

    eapol_test (pcsc="") -> pcscd -> vpcd -> isim emulate (USIM; T=0, the default)
    eapol_test -> RADIUS -> hostapd -> eap_sim_db -> isim auc-gw -> SQLite
    (hostapd and eapol_test in a private network namespace: tools/netns.py)

Figures:
* gateway alone: AKA-REQ-AUTH -> AKA-RESP-AUTH over its socket (one committed SQLite
  transaction each), requests/s;
* full EAP round trips/s per method: one eapol_test process per full authentication
  (process start, PC/SC connect, the card's USIM selection, EF.IMSI/EF.AD, RADIUS, hostapd,
  the gateway and AUTHENTICATE on the card). eapol_test's own `-r N` is not used: it waits
  100 ms before each re-authentication, so it measures its timer.

Usage: python tools/bench_eap.py [--runs 20] [--state]
Needs root (the private pcscd), hostapd and eapol_test (tools/setup-system).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS.parent), str(TOOLS)]

from aucgw_proc import AucGwProcess, GatewayClient  # noqa: E402
from eap_peers import HostapdRadius, run_eapol_test  # noqa: E402
from emulator_proc import EmulatorProcess  # noqa: E402
from pcsc_stack import pcsc_stack  # noqa: E402

ALICE = TOOLS.parent / "examples" / "alice.yaml"
IMSI = "001010123456789"


def bench_gateway(sock: Path, n: int) -> float:
    with GatewayClient(sock) as client:
        t0 = time.perf_counter()
        for _ in range(n):
            reply = client.request(f"AKA-REQ-AUTH {IMSI}")
            if reply is None or "FAILURE" in reply:
                raise SystemExit(f"gateway: {reply}")
        return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--gateway-requests", type=int, default=500)
    ap.add_argument("--state", action="store_true", help="the card with a --state file")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eap-"))
    sock = work / "gw.sock"
    with pcsc_stack(activate=True) as stack, \
            EmulatorProcess(ALICE, vpcd_port=stack.vpcd_port,
                            state=work / "card.state" if args.state else None) as emu, \
            AucGwProcess([str(ALICE), "--db", str(work / "sqn.sqlite"), "--quiet"],
                         socket=sock), \
            HostapdRadius(work, gateway_socket=sock, debug=False) as radius:
        emu.wait_inserted(stack.reader_name)
        gw_rate = bench_gateway(sock, args.gateway_requests)

        def one(method: str) -> None:
            result = run_eapol_test(work, method, port=radius.port, env=stack.env,
                                    netns=radius.netns)
            if not (result.success and result.mppe_ok):
                raise SystemExit(f"eapol_test failed:\n{result.tail()}\n{radius.log()}")

        rates: dict[str, float] = {}
        for method in ("AKA", "AKA'", "SIM"):
            one(method)  # warm up (and check it works)
            t0 = time.perf_counter()
            for _ in range(args.runs):
                one(method)
            rates[method] = args.runs / (time.perf_counter() - t0)
    print(f"full EAP authentications through the whole stack, {args.runs} runs each "
          f"({'with' if args.state else 'no'} card state file)")
    print(f"  gateway alone (AKA-REQ-AUTH, one SQLite commit each) {gw_rate:8.1f} /s")
    for method, rate in rates.items():
        print(f"  EAP-{method:<5} eapol_test runs{'':22}{rate:8.1f} /s"
              f"  ({rate / gw_rate:.3f}x the gateway)")


if __name__ == "__main__":
    main()
