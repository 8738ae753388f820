"""Full EAP round trips through the whole stack (issue 11 §6), one run, ratios within it.

    eapol_test (pcsc="") -> pcscd -> vpcd -> isim emulate (USIM, T=0)
    eapol_test -> RADIUS -> hostapd -> eap_sim_db -> isim auc-gw -> SQLite

Figures:
* gateway alone: AKA-REQ-AUTH -> AKA-RESP-AUTH over its socket (one committed SQLite
  transaction each), requests/s;
* eapol_test runs/s: one process per full authentication (process start, PC/SC connect and
  the card's USIM selection included);
* authentications/s inside one eapol_test (`-r N`: the first and N more full
  authentications, hostapd configured without pseudonyms or fast re-authentication).

Usage: python tools/bench_eap.py [--runs 10] [--reauths 20] [--method AKA] [--state]
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
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--reauths", type=int, default=20)
    ap.add_argument("--gateway-requests", type=int, default=500)
    ap.add_argument("--method", default="AKA", choices=["AKA", "AKA'", "SIM"])
    ap.add_argument("--state", action="store_true", help="the card with a --state file")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eap-"))
    sock = work / "gw.sock"
    with pcsc_stack(activate=True) as stack, \
            EmulatorProcess(ALICE, vpcd_port=stack.vpcd_port, t0=True,
                            state=work / "card.state" if args.state else None) as emu, \
            AucGwProcess([str(ALICE), "--db", str(work / "sqn.sqlite"), "--quiet"],
                         socket=sock), \
            HostapdRadius(work, gateway_socket=sock, debug=False) as radius:
        emu.wait_inserted(stack.reader_name)
        gw_rate = bench_gateway(sock, args.gateway_requests)

        def one(extra: tuple[str, ...] = ()) -> None:
            result = run_eapol_test(work, args.method, port=radius.port, env=stack.env,
                                    extra=extra)
            if not (result.success and result.mppe_ok):
                raise SystemExit(f"eapol_test failed:\n{result.tail()}\n{radius.log()}")

        one()  # warm up (and check it works)
        t0 = time.perf_counter()
        for _ in range(args.runs):
            one()
        runs_rate = args.runs / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        one(("-r", str(args.reauths)))
        auth_rate = (args.reauths + 1) / (time.perf_counter() - t0)
    print(f"EAP-{args.method} through the whole stack ({'with' if args.state else 'no'} "
          "card state file)")
    print(f"  gateway alone (AKA-REQ-AUTH, SQLite commit each) {gw_rate:10.1f} /s")
    print(f"  eapol_test runs (process per authentication)     {runs_rate:10.1f} /s")
    print(f"  authentications inside one eapol_test (-r {args.reauths:<3})    {auth_rate:10.1f} /s")
    print(f"  ratio authentications / gateway vectors          {auth_rate / gw_rate:10.3f}")


if __name__ == "__main__":
    main()
