"""`isim register --card` against a scripted loopback TLS peer: the trust check before any SIP
byte, the AKAv1-MD5 answer, sync and MAC failures, and every malformed answer of the issue
(exit 1 or 2 with a clear message, never a traceback or a hang). SIPp behind stunnel4 with the
card in pcscd is tests/test_e2e_register.py."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certs import PKI, Issued, write_pem
from fake_pcscf import FakePcscf, Reply, sip_reply
from ims_cards import ALICE, usim_only_profile
from isim.aka.milenage import Milenage
from isim.aka.procedure import generate_vector, resync
from isim.card.emulator import Emulator
from isim.card.image import build_image
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.ims.card import UeCard
from isim.ims.digest import digest_response
from isim.inspect import CardSource
from isim.profile.model import load_profile
from pcsc_stack import PcscStack

PCSCF = "pcscf.ims.example.com"  # alice's EF.P-CSCF record 1, inside ims.example.com
IMPI = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
HOME = "ims.mnc001.mcc001.3gppnetwork.org"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SET1_RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SET1_SQN = 0xFF9BB4D0B607  # fresh for alice (her sqn is one SEQ below)
SET1_RES = bytes.fromhex("a54211d5e3ba50bf")
ALICE_SQN_MS = 0xFF9BB4D0B5E7


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI.create()


@pytest.fixture(scope="module")
def server(pki: PKI) -> Issued:
    return pki.leaf(dns=[PCSCF])


@pytest.fixture
def roots(tmp_path: Path, pki: PKI) -> Path:
    return write_pem(tmp_path / "roots.pem", pki.root)


def nonce(sqn: int = SET1_SQN, rand: bytes = SET1_RAND) -> str:
    return generate_vector(Milenage(K, OPC), rand, sqn).nonce_b64


def challenge(value: str, extra: str = "") -> Reply:
    return sip_reply("401 Unauthorized",
                     f'WWW-Authenticate: Digest realm="{HOME}", nonce="{value}", '
                     f'algorithm=AKAv1-MD5{extra}')


OK = sip_reply("200 OK", "Contact: <sip:ue@127.0.0.1:5061;transport=tls>;expires=3600",
               "Service-Route: <sip:orig@scscf.ims.example.com;lr>",
               f"P-Associated-URI: <sip:alice@ims.example.com>, <sip:{IMPI}>")


def run(peer: FakePcscf, roots: Path, *extra: str, pcscf: str = PCSCF) -> Result:
    return CliRunner().invoke(main, [
        "register", "--card", str(ALICE), "--pcscf", f"{pcscf}:{peer.port}",
        "--resolve", f"{pcscf}:{peer.port}:127.0.0.1", "--roots", str(roots),
        "--timeout", "3", *extra])


def authorization(request: bytes) -> dict[str, str]:
    line = next(x for x in request.decode().split("\r\n") if x.startswith("Authorization:"))
    return dict(re.findall(r'(\w+)="?([^",]*)"?', line.partition("Digest ")[2]))


def expected_response(auth: dict[str, str], password: bytes) -> str:
    return digest_response(username=auth["username"], realm=auth["realm"], password=password,
                           method="REGISTER", uri=auth["uri"], nonce=auth["nonce"],
                           qop=auth.get("qop"), cnonce=auth.get("cnonce"), nc=auth.get("nc"))


def test_registers_with_res(pki: PKI, server: Issued, roots: Path) -> None:
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(nonce(), ', qop="auth"'), OK]) as peer:
        result = run(peer, roots, "--json", "--trace")
    assert result.exit_code == EXIT_OK, result.output
    first, second = (authorization(r) for r in peer.requests)
    assert (first["username"], first["realm"], first["nonce"], first["response"]) == (
        IMPI, HOME, "", "")
    assert second["response"] == expected_response(second, SET1_RES)
    assert second["qop"] == "auth" and second["nc"] == "00000001"
    assert peer.requests[0].startswith(f"REGISTER sip:{HOME} SIP/2.0\r\n".encode())
    assert b"From: <sip:alice@ims.example.com>;tag=" in peer.requests[0]
    # the trace shows both REGISTERs and the 200, never RES nor the response digest
    assert "SIP/2.0 200 OK" in result.stderr and result.stderr.count("REGISTER sip:") == 2
    assert second["response"] not in result.output and SET1_RES.hex() not in result.output
    assert 'response="***"' in result.stderr and 'nonce="", response=""' in result.stderr


def test_text_report(server: Issued, roots: Path) -> None:
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        result = run(peer, roots)
    assert result.exit_code == EXIT_OK, result.output
    assert "expires           3600" in result.stdout
    assert "Service-Route     <sip:orig@scscf.ims.example.com;lr>" in result.stdout
    assert f"P-Associated-URI  <sip:{IMPI}>" in result.stdout
    assert f"realm             {HOME} (equals the home domain)" in result.stdout
    second = authorization(peer.requests[1])
    assert "qop" not in second and second["response"] == expected_response(second, SET1_RES)


def test_outside_trust_domain_sends_nothing(pki: PKI, roots: Path) -> None:
    evil = pki.leaf(dns=["pcscf.evil.example.net"])
    with FakePcscf(evil.cert_pem(), evil.key_pem(), [OK]) as peer:
        result = run(peer, roots, pcscf="pcscf.evil.example.net")
    assert result.exit_code == EXIT_VIOLATION, result.output
    assert "FAIL trust-domain" in result.stderr and peer.requests == []
    assert peer.connections == 1  # it did connect: the refusal is the certificate's


def test_unknown_ca_refused(pki: PKI, roots: Path) -> None:
    stranger = pki.leaf(issuer=pki.other_root, dns=[PCSCF])
    with FakePcscf(stranger.cert_pem(), stranger.key_pem(), [OK]) as peer:
        result = run(peer, roots, "--json")
    assert result.exit_code == EXIT_VIOLATION, result.output
    assert '"finding": "chain"' in result.stdout and peer.requests == []


def test_wildcard_certificate_refused(pki: PKI, roots: Path) -> None:
    wild = pki.leaf(dns=["*.ims.example.com"])
    with FakePcscf(wild.cert_pem(), wild.key_pem(), [OK]) as peer:
        result = run(peer, roots)
    assert result.exit_code == EXIT_VIOLATION and "FAIL identity" in result.stderr
    assert peer.requests == []


def test_sync_failure_sends_auts_once(server: Issued, roots: Path) -> None:
    replayed = nonce(ALICE_SQN_MS)  # the SQN the card already accepted
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(replayed), challenge(nonce()), OK]) as peer:
        result = run(peer, roots, "--json")
    assert result.exit_code == EXIT_OK, result.output
    assert '"resynchronized": true' in result.stdout
    _, with_auts, answer = (authorization(r) for r in peer.requests)
    auts = base64.b64decode(with_auts["auts"])
    assert resync(Milenage(K, OPC), SET1_RAND, auts) == ALICE_SQN_MS
    assert with_auts["response"] == expected_response(with_auts, b"")
    assert answer["response"] == expected_response(answer, SET1_RES) and "auts" not in answer


def test_second_sync_failure_stops(server: Issued, roots: Path) -> None:
    replayed = nonce(ALICE_SQN_MS)
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(replayed), challenge(replayed), OK]) as peer:
        result = run(peer, roots)
    assert result.exit_code == EXIT_VIOLATION and "synchronization failure again" in result.stderr
    assert len(peer.requests) == 2


def test_mac_failure_stops(server: Issued, roots: Path) -> None:
    raw = bytearray(base64.b64decode(nonce()))
    raw[-1] ^= 1  # MAC-A
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(base64.b64encode(raw).decode()), OK]) as peer:
        result = run(peer, roots)
    assert result.exit_code == EXIT_VIOLATION and "MAC failure" in result.stderr
    assert len(peer.requests) == 1


@pytest.mark.parametrize(("reply", "code", "message"), [
    (sip_reply("403 Forbidden"), EXIT_VIOLATION, "rejected: 403 Forbidden"),
    (sip_reply("401 Unauthorized"), EXIT_BAD_INPUT, "without WWW-Authenticate"),
    (challenge("@@@"), EXIT_BAD_INPUT, "nonce is not base64"),
    (challenge("QUJD"), EXIT_BAD_INPUT, "nonce holds 3 bytes"),
    (sip_reply("401 Unauthorized", f'WWW-Authenticate: Digest realm="{HOME}", '
               'algorithm=AKAv1-MD5'), EXIT_BAD_INPUT, "no nonce"),
    (sip_reply("401 Unauthorized", f'WWW-Authenticate: Digest realm="{HOME}", nonce="x", '
               'algorithm=MD5'), EXIT_BAD_INPUT, "'MD5' is not AKAv1-MD5"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", EXIT_BAD_INPUT, "not a SIP/2.0 status line"),
    (b"\xff\xfe\r\n\r\n", EXIT_BAD_INPUT, "not UTF-8"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc", EXIT_BAD_INPUT, "closed mid-message"),
    (b"SIP/2.0 401 Unauthorized\r\nVia: x", EXIT_BAD_INPUT, "closed mid-message"),
    (b"SIP/2.0 401 Unauthorized\r\nX: " + b"a" * 20000 + b"\r\n\r\n", EXIT_BAD_INPUT,
     "longer than 16384"),
    (b"SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", EXIT_BAD_INPUT, "limit"),
    ("SIP/2.0 200 OK\r\nContent-Length: \u00b2\r\n\r\n".encode(), EXIT_BAD_INPUT,
     "bad Content-Length"),  # a digit to str.isdigit(), not to int()
    (None, EXIT_BAD_INPUT, "closed by the P-CSCF"),
    (b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n" * 20, EXIT_BAD_INPUT, "provisional"),
    (b"", EXIT_BAD_INPUT, "no complete SIP response within"),
])
def test_bad_answers(server: Issued, roots: Path, reply: Reply, code: int,
                     message: str) -> None:
    hold = message != "closed mid-message"
    with FakePcscf(server.cert_pem(), server.key_pem(), [reply], hold=hold) as peer:
        result = run(peer, roots)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_answer_refused(server: Issued, roots: Path) -> None:
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(nonce()), challenge(nonce(SET1_SQN + 32))]) as peer:
        result = run(peer, roots)
    assert result.exit_code == EXIT_VIOLATION and "refused with 401" in result.stderr


def test_cannot_connect(roots: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    result = CliRunner().invoke(main, [
        "register", "--card", str(ALICE), "--pcscf", f"{PCSCF}:{port}", "--resolve",
        f"{PCSCF}:{port}:127.0.0.1", "--roots", str(roots)])
    assert result.exit_code == EXIT_BAD_INPUT and "cannot connect" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--resolve", "other.example:5061:127.0.0.1"], "does not match"),
    (["--resolve", "x"], "HOST:PORT:ADDRESS"),
    (["--pcscf", "h:0"], "port must be"),
    (["--impu", "tel:+1555"], "not a SIP URI"),
])
def test_bad_arguments(roots: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["register", "--card", str(ALICE), "--roots", str(roots),
                                       *args])
    assert result.exit_code == EXIT_BAD_INPUT and message in result.stderr


def test_bad_card_and_roots(tmp_path: Path, roots: Path) -> None:
    missing = CliRunner().invoke(main, ["register", "--card", str(tmp_path / "none.yaml"),
                                        "--roots", str(roots)])
    assert missing.exit_code == EXIT_BAD_INPUT and "cannot load the card" in missing.stderr
    (tmp_path / "empty.pem").write_text("nothing")
    no_roots = CliRunner().invoke(main, ["register", "--card", str(ALICE), "--roots",
                                         str(tmp_path / "empty.pem")])
    assert no_roots.exit_code == EXIT_BAD_INPUT and "no PEM certificate" in no_roots.stderr


def test_card_in_t0_style_authenticates() -> None:
    """An engine answering 61XX / 6CXX reads and authenticates like one that does not."""
    emu = Emulator.open(build_image(load_profile(ALICE)), t0=True)
    seen: list[int] = []

    def transmit(capdu: bytes) -> bytes:
        rapdu = emu.transmit(capdu)
        seen.append(rapdu[-2])
        return rapdu

    card = UeCard(CardSource("t0", emu.card.power_on(), transmit))
    assert (card.identities.impi, card.identities.home_domain) == (IMPI, HOME)
    assert card.identities.pcscf == [PCSCF, "192.0.2.10"]
    raw = base64.b64decode(nonce())
    result = card.authenticate(raw[:16], raw[16:])
    assert getattr(result, "res", None) == SET1_RES
    assert 0x61 in seen  # the engine did answer in T=0 style



def test_usim_only_card_registers(server: Issued, roots: Path, tmp_path: Path) -> None:
    profile = usim_only_profile(tmp_path / "usim.yaml")
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        result = CliRunner().invoke(main, [
            "register", "--card", str(profile), "--pcscf", f"{PCSCF}:{peer.port}",
            "--resolve", f"{PCSCF}:{peer.port}:127.0.0.1", "--roots", str(roots), "--json"])
    assert result.exit_code == EXIT_OK, result.output
    assert '"application": "USIM"' in result.stdout
    assert f"From: <sip:{IMPI}>;tag=".encode() in peer.requests[0]  # temporary IMPU
    second = authorization(peer.requests[1])
    assert second["username"] == IMPI and second["realm"] == HOME
    assert second["response"] == expected_response(second, SET1_RES)


def test_usim_only_card_needs_pcscf(roots: Path, tmp_path: Path) -> None:
    profile = usim_only_profile(tmp_path / "usim.yaml")
    result = CliRunner().invoke(main, ["register", "--card", str(profile), "--roots",
                                       str(roots)])
    assert result.exit_code == EXIT_BAD_INPUT and "give --pcscf" in result.stderr


def test_no_such_reader(roots: Path, pcsc_stack: PcscStack) -> None:
    # through the suite's pcscd: libpcsclite keeps the first socket a process asks, so a
    # reader lookup before the stack is activated would cut the later tests off from it
    result = CliRunner().invoke(main, ["register", "--reader", "no such reader 4711",
                                       "--roots", str(roots), "--trust-domain", "example.com"])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert result.stderr.startswith("isim register: ") and "Traceback" not in result.output


def test_reader_or_card_required(roots: Path) -> None:
    result = CliRunner().invoke(main, ["register", "--roots", str(roots)])
    assert result.exit_code == EXIT_BAD_INPUT and "--reader N or --card CARD" in result.output


def test_state_file_keeps_the_sqn_between_registrations(server: Issued, roots: Path,
                                                        tmp_path: Path) -> None:
    """`--state`: the card's SQN array persists, as with `isim emulate --state`: the same
    challenge a second time is a replay, answered with AUTS (without it, each run starts from
    the profile and accepts the replay)."""
    state = tmp_path / "alice.state"
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        first = run(peer, roots, "--json", "--state", str(state))
    assert first.exit_code == EXIT_OK, first.output
    assert '"resynchronized": false' in first.stdout and state.exists()
    assert state.stat().st_mode & 0o777 == 0o600
    with FakePcscf(server.cert_pem(), server.key_pem(),
                   [challenge(nonce()), challenge(nonce(SET1_SQN + 32)), OK]) as peer:
        again = run(peer, roots, "--json", "--state", str(state))
    assert again.exit_code == EXIT_OK, again.output
    assert '"resynchronized": true' in again.stdout
    with_auts = authorization(peer.requests[1])
    assert resync(Milenage(K, OPC), SET1_RAND, base64.b64decode(with_auts["auts"])) == SET1_SQN
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        fresh = run(peer, roots, "--json")  # no state: the profile's SQN, the replay passes
    assert fresh.exit_code == EXIT_OK and '"resynchronized": false' in fresh.stdout


def test_state_needs_card(roots: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["register", "--reader", "0", "--state",
                                       str(tmp_path / "s"), "--roots", str(roots),
                                       "--trust-domain", "ims.example.com"])
    assert result.exit_code == EXIT_BAD_INPUT and "--state goes with --card" in result.output


@pytest.fixture
def alice_with_pin1(tmp_path: Path) -> Path:
    text = ALICE.read_text().replace('pin1: "1234"', 'pin1: "8513"')
    path = tmp_path / "alice-pin1.yaml"
    path.write_text(text.replace("pin1_enabled: false", "pin1_enabled: true"))
    return path


def _run_card(peer: FakePcscf, roots: Path, card: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, [
        "register", "--card", str(card), "--pcscf", f"{PCSCF}:{peer.port}",
        "--resolve", f"{PCSCF}:{peer.port}:127.0.0.1", "--roots", str(roots),
        "--timeout", "3", *extra])


def test_pin1_enabled_card_registers_with_pin1(server: Issued, roots: Path,
                                               alice_with_pin1: Path) -> None:
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        result = _run_card(peer, roots, alice_with_pin1, "--pin1", "8513", "--json")
    assert result.exit_code == EXIT_OK, result.output
    assert "8513" not in result.output
    second = authorization(peer.requests[1])
    assert second["response"] == expected_response(second, SET1_RES)


@pytest.mark.parametrize(("extra", "message"), [
    ((), "give --pin1"),
    (("--pin1", "9999"), "is wrong (2 tries left)"),
])
def test_pin1_enabled_card_without_the_right_pin1(server: Issued, roots: Path,
                                                  alice_with_pin1: Path, extra: tuple[str, ...],
                                                  message: str) -> None:
    with FakePcscf(server.cert_pem(), server.key_pem(), [challenge(nonce()), OK]) as peer:
        result = _run_card(peer, roots, alice_with_pin1, *extra)
    assert result.exit_code == EXIT_BAD_INPUT and message in result.output, result.output
    assert "9999" not in result.output and "Traceback" not in result.output
