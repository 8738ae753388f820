"""`isim register` end to end: the card is `isim emulate` behind pcscd + vpcd, the P-CSCF is
Debian's SIPp (sip-tester, built without TLS: plain TCP) behind Debian's stunnel4 as the TLS
endpoint, with a test CA and server certificate made here. SIPp's scenarios
(tests/sipp/*.xml) send the AKAv1-MD5 nonce that `isim aka` made for the emulated card;
SIPp's message log is where the test reads what the client sent.

Fails (never skips) when sipp or stunnel is missing: tools/setup-system installs them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs import PKI, Issued, write_pem
from emulator_proc import ROOT, EmulatorProcess, isim_argv, isim_env
from ims_cards import ALICE, usim_only_profile
from isim.card.image import build_image, save_image
from isim.ims.digest import digest_response
from isim.profile.model import load_profile
from pcsc_stack import PcscStack

pytestmark = pytest.mark.stack

SCENARIOS = Path(__file__).parent / "sipp"
PCSCF = "pcscf.ims.example.com"
HOME = "ims.mnc001.mcc001.3gppnetwork.org"
TRUST = ("--trust-domain", "ims.example.com", "--trust-domain", "3gppnetwork.org")
WAIT = 20.0  # seconds for a peer to start or finish (a bound against hangs, not a speed test)


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{' / '.join(names)} not installed: run tools/setup-system", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (from /proc: no probe connection)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp", encoding="ascii") as table:
        return any(f.split()[1] == want and f.split()[3] == "0A" for f in list(table)[1:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"{what} is not listening on {port} (exit {proc.poll()}):\n{text}")
        time.sleep(0.05)


@dataclass
class Peer:
    """stunnel (TLS on tls_port) in front of SIPp (TCP on sip_port) running one scenario."""

    workdir: Path
    sipp: subprocess.Popen[bytes]
    stunnel: subprocess.Popen[bytes]
    tls_port: int

    @property
    def message_log(self) -> Path:
        return self.workdir / "sipp-messages.log"

    def received(self) -> list[str]:
        """The SIP messages SIPp received, in order."""
        if not self.message_log.exists():
            return []
        text = self.message_log.read_text(errors="replace")
        chunks = re.split(r"-{20,} [^\n]*\n", text)
        return [c.split("\n", 2)[2] for c in chunks if "message received" in c.split("\n", 1)[0]]

    def wait_sipp(self) -> int:
        try:
            return self.sipp.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIPp did not finish its scenario:\n{self.output()}")

    def relayed_nothing(self) -> bool:
        """stunnel closed the session having sent 0 bytes to SIPp (its own log says so)."""
        log = self.workdir / "stunnel.log"
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            match = re.search(r"Connection (?:closed|reset): \d+ byte\(s\) sent to TLS, "
                              r"(\d+) byte\(s\) sent to socket", text)
            if match:
                return match.group(1) == "0"
            time.sleep(0.05)
        pytest.fail(f"stunnel never closed the session:\n{text}")

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in
                         (self.workdir / "sipp.out", self.workdir / "stunnel.log") if p.exists())


@contextlib.contextmanager
def p_cscf(tmp: Path, server: Issued, scenario: str, **keys: str) -> Iterator[Peer]:
    """SIPp on a free TCP port running SCENARIO with -key K V, stunnel on a free TLS port."""
    sipp_bin, stunnel_bin = _tool("sipp"), _tool("stunnel4", "stunnel")
    sip_port, tls_port = free_port(), free_port()
    cert = tmp / "pcscf.pem"
    fd = os.open(cert, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(server.cert_pem() + server.key_pem())
    conf = tmp / "stunnel.conf"
    conf.write_text(f"foreground = yes\npid =\noutput = {tmp / 'stunnel.log'}\n"
                    f"[pcscf]\naccept = 127.0.0.1:{tls_port}\n"
                    f"connect = 127.0.0.1:{sip_port}\ncert = {cert}\n", encoding="utf-8")
    argv = [sipp_bin, "-sf", str(SCENARIOS / scenario), "-t", "t1", "-i", "127.0.0.1",
            "-p", str(sip_port), "-m", "1", "-nostdin", "-timeout", f"{int(WAIT) * 3}s",
            "-timeout_error", "-trace_msg", "-message_file", str(tmp / "sipp-messages.log")]
    for key, value in keys.items():
        argv += ["-key", key, value]
    with open(tmp / "sipp.out", "wb") as sipp_out:
        sipp = subprocess.Popen(argv, cwd=tmp, stdin=subprocess.DEVNULL, stdout=sipp_out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    stunnel = subprocess.Popen([stunnel_bin, str(conf)], cwd=tmp, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    peer = Peer(tmp, sipp, stunnel, tls_port)
    try:
        _wait_listening(sip_port, sipp, tmp / "sipp.out", "SIPp")
        _wait_listening(tls_port, stunnel, tmp / "stunnel.log", "stunnel")
        yield peer
    finally:
        _stop(sipp)
        _stop(stunnel)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI.create()


@dataclass
class Card:
    stack: PcscStack
    state: Path
    application: str  # where the identities come from: "ISIM", or "USIM" (derived)


@pytest.fixture(scope="module", params=["ISIM", "USIM"])
def card(request: pytest.FixtureRequest, pcsc_stack: PcscStack,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Card]:
    """Alice's card in the reader; with "USIM" she has no ISIM (identities from the IMSI)."""
    work = tmp_path_factory.mktemp("register-card")
    profile = ALICE if request.param == "ISIM" else usim_only_profile(work / "usim.yaml")
    image = work / "card.json"
    save_image(image, build_image(load_profile(profile)))
    state = work / "card.state"
    # T=0 style (61XX + GET RESPONSE), the default of `isim emulate` from issue 11 on
    with EmulatorProcess(image, vpcd_port=pcsc_stack.vpcd_port, state=state, t0=True) as emu:
        emu.wait_inserted(pcsc_stack.reader_name)
        yield Card(pcsc_stack, state, request.param)
        assert emu.terminate() == 0, emu.output()
    EmulatorProcess.wait_removed(pcsc_stack.reader_name)


def isim(card: Card, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(isim_argv(*args), env=isim_env(card.stack.env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def vector(card: Card) -> dict[str, str]:
    done = isim(card, "aka", str(card.state), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def register(card: Card, peer: Peer, roots: Path, *extra: str,
             pcscf: str = PCSCF) -> subprocess.CompletedProcess[str]:
    return isim(card, "register", "--reader", card.stack.reader_name,
                "--pcscf", f"{pcscf}:{peer.tls_port}",
                "--resolve", f"{pcscf}:{peer.tls_port}:127.0.0.1",
                "--roots", str(roots), *TRUST, "--json", *extra)


def digest_params(message: str) -> dict[str, str]:
    line = next(x for x in message.splitlines() if x.startswith("Authorization:"))
    return dict(re.findall(r'(\w+)="?([^",]*)"?', line.partition("Digest ")[2]))


def expected(auth: dict[str, str], password: bytes) -> str:
    return digest_response(username=auth["username"], realm=auth["realm"], password=password,
                           method="REGISTER", uri=auth["uri"], nonce=auth["nonce"],
                           qop=auth.get("qop"), cnonce=auth.get("cnonce"), nc=auth.get("nc"))


def _register_once(card: Card, tmp: Path, server: Issued, roots: Path) -> dict[str, str]:
    """One full registration through SIPp; returns the vector it used."""
    v = vector(card)
    with p_cscf(tmp, server, "register_aka.xml", realm=HOME, nonce1=v["nonce"]) as peer:
        done = register(card, peer, roots)
        assert done.returncode == 0, done.stderr + peer.output()
        assert peer.wait_sipp() == 0, peer.output()
        first, second = peer.received()
    report = json.loads(done.stdout)
    assert report["registered"] is True and report["application"] == card.application
    assert report["tls"].startswith(("TLSv1.2 ", "TLSv1.3 "))
    assert report["expires"] == 3600 and report["realm_is_home_domain"] is True
    assert report["service_route"] == [f"<sip:orig@scscf.{HOME};lr>"]
    assert report["p_associated_uri"] == ["<sip:alice@ims.example.com>", "<tel:+15551234567>"]
    impu = ("sip:alice@ims.example.com" if card.application == "ISIM"
            else f"sip:001010123456789@{HOME}")  # the temporary IMPU (TS 23.003 13.4B)
    assert report["impu"] == impu and f"From: <{impu}>;tag=" in first
    initial, answer = digest_params(first), digest_params(second)
    assert (initial["username"], initial["realm"], initial["nonce"], initial["response"]) == (
        "001010123456789@" + HOME, HOME, "", "")
    assert answer["nonce"] == v["nonce"] and answer["qop"] == "auth"
    assert answer["response"] == expected(answer, bytes.fromhex(v["xres"]))
    assert v["xres"] not in done.stdout + done.stderr
    return v


def test_register_through_sipp_behind_stunnel(card: Card, pki: PKI, tmp_path: Path) -> None:
    server = pki.leaf(dns=[PCSCF])
    roots = write_pem(tmp_path / "roots.pem", pki.root)
    _register_once(card, tmp_path, server, roots)


def test_replayed_nonce_resynchronises(card: Card, pki: PKI, tmp_path: Path) -> None:
    server = pki.leaf(dns=[PCSCF])
    roots = write_pem(tmp_path / "roots.pem", pki.root)
    (tmp_path / "first").mkdir()
    used = _register_once(card, tmp_path / "first", server, roots)
    fresh = vector(card)
    with p_cscf(tmp_path, server, "register_resync.xml", realm=HOME, nonce1=used["nonce"],
                nonce2=fresh["nonce"]) as peer:
        done = register(card, peer, roots, "--trace")
        assert done.returncode == 0, done.stderr + peer.output()
        assert peer.wait_sipp() == 0, peer.output()
        _, with_auts, answer = (digest_params(m) for m in peer.received())
    assert json.loads(done.stdout)["resynchronized"] is True
    assert "auts" in with_auts and with_auts["response"] == expected(with_auts, b"")
    auts = base64.b64decode(with_auts["auts"]).hex()
    recovered = isim(card, "aka", str(card.state), "--resync", auts, "--rand", used["rand"],
                     "--json")
    assert recovered.returncode == 0, recovered.stderr
    assert json.loads(recovered.stdout)["sqn_ms"] == used["sqn"]  # SQN recovered from AUTS
    assert answer["response"] == expected(answer, bytes.fromhex(fresh["xres"]))
    assert "auts" not in answer and fresh["xres"] not in done.stderr
    assert 'response="***"' in done.stderr  # the trace masks the digest of RES


@pytest.mark.parametrize("case", ["outside-trust-domain", "unknown-ca"])
def test_refused_p_cscf_receives_nothing(card: Card, pki: PKI, tmp_path: Path,
                                         case: str) -> None:
    if case == "outside-trust-domain":
        name = "pcscf.evil.example.net"
        server, finding = pki.leaf(dns=[name]), "trust-domain"
    else:
        name, server, finding = PCSCF, pki.leaf(issuer=pki.other_root, dns=[PCSCF]), "chain"
    roots = write_pem(tmp_path / "roots.pem", pki.root)
    with p_cscf(tmp_path, server, "register_aka.xml", realm=HOME, nonce1="unused") as peer:
        done = register(card, peer, roots, pcscf=name)
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        assert report["registered"] is False and report["finding"] == finding
        assert peer.relayed_nothing(), peer.output()
        assert peer.received() == []
