"""`isim trust-check`: --chain and --connect (loopback TLS server), exit codes 0/1/2, --json."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certs import PKI, Issued, write_pem
from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.cli import trust_check as tc

TRUST = ["3gppnetwork.org"]
HOME = "ims.mnc001.mcc001.3gppnetwork.org"
PCSCF = "pcscf.ims.mnc001.mcc001.3gppnetwork.org"
CARD = tc.CardView(home_domain=HOME, pcscf=["10.0.0.1", PCSCF], trust_domains=TRUST)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI.create()


@pytest.fixture
def card(tmp_path: Path) -> str:
    """A real profile whose first P-CSCF record is an IP address and the second the FQDN."""
    path = tmp_path / "card.yaml"
    path.write_text(
        f"trust_domains: {TRUST}\n"
        "iccid: '8988211000000430010'\nimsi: '001010123456789'\n"
        f"pcscf: ['10.0.0.1', '{PCSCF}']\n"
        "k: 465b5ce8b199b49faa5f0a2ee238a6bc\nopc: cd63cb71954a9f4e48a5994e37a02baf\n",
        encoding="utf-8",
    )
    assert tc.read_card(str(path)) == CARD
    return str(path)


@pytest.fixture
def roots(tmp_path: Path, pki: PKI) -> Path:
    return write_pem(tmp_path / "roots.pem", pki.root)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["trust-check", *args])


# ------------------------------------------------------------------------------ --chain


def test_chain_trusted(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--realm", HOME)
    assert result.exit_code == EXIT_OK, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["PASS"] * 4
    assert lines[-1].endswith(": trusted")
    assert PCSCF in lines[-1]  # default: the card's first FQDN record (skipping the IP)


def test_chain_intermediate_trusted(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    leaf = pki.leaf(issuer=pki.intermediate, dns=[PCSCF])
    chain = write_pem(tmp_path / "chain.pem", leaf, pki.intermediate)
    result = invoke(card, "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_OK, result.output
    assert "SKIP realm:" in result.stdout


def test_chain_not_trusted_name(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=["pcscf9." + HOME]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_VIOLATION, result.output
    assert any(line.startswith("FAIL identity:") for line in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1].endswith(": not trusted")


def test_chain_unknown_root(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(issuer=pki.other_root, dns=[PCSCF]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_VIOLATION
    assert "FAIL chain:" in result.stdout


def test_pcscf_option_overrides_card(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    other = "pcscf2." + HOME
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[other]))
    assert invoke(card, "--chain", str(chain), "--roots", str(roots)).exit_code == 1
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--pcscf", other)
    assert result.exit_code == EXIT_OK, result.output


def test_realm_mismatch_exit_1(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--realm", "ims.example")
    assert result.exit_code == EXIT_VIOLATION
    assert "FAIL realm:" in result.stdout


def test_json_trusted(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(uris=[f"sip:{PCSCF}"]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--json")
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads(result.stdout)
    assert data["trusted"] is True and data["verdict"] == "trusted"
    assert data["pcscf"] == PCSCF
    assert {c["name"]: c["status"] for c in data["checks"]} == {
        "chain": "pass", "identity": "pass", "trust-domain": "pass", "realm": "skip"
    }
    assert data["identities"]["source"] == "SIP URI SAN"


def test_json_not_trusted(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    name = "pcscf.evil.example.net"
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[name]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--pcscf", name, "--json")
    assert result.exit_code == EXIT_VIOLATION
    data = json.loads(result.stdout)
    assert data["trusted"] is False
    assert [c["name"] for c in data["checks"] if c["status"] == "fail"] == ["trust-domain"]


# ------------------------------------------------------------------- cannot decide (2)


def test_unreadable_chain_pem(tmp_path: Path, card: str, roots: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    result = invoke(card, "--chain", str(bad), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "no PEM certificate" in result.output


def test_missing_chain_file(tmp_path: Path, card: str, roots: Path) -> None:
    result = invoke(card, "--chain", str(tmp_path / "absent.pem"), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT


def test_no_roots(tmp_path: Path, pki: PKI, card: str) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    empty = tmp_path / "roots.pem"
    empty.write_text("")
    result = invoke(card, "--chain", str(chain), "--roots", str(empty), "--json")
    assert result.exit_code == EXIT_BAD_INPUT
    data = json.loads(result.stdout)
    assert data["verdict"] == "cannot decide" and "roots" in data["error"]


def test_chain_and_connect_exclusive(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    both = invoke(card, "--chain", str(chain), "--connect", "127.0.0.1:1", "--roots", str(roots))
    assert both.exit_code == EXIT_BAD_INPUT
    assert invoke(card, "--roots", str(roots)).exit_code == EXIT_BAD_INPUT


def test_card_without_fqdn_pcscf(tmp_path: Path, pki: PKI, card: str, roots: Path) -> None:
    only_ip = Path(card).read_text().replace(f", '{PCSCF}'", "")
    assert PCSCF not in only_ip
    Path(card).write_text(only_ip)
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "--pcscf" in result.output


@pytest.mark.parametrize("pcscf", ["10.1.2.3", "bad_name..example"])
def test_bad_pcscf_option(tmp_path: Path, pki: PKI, card: str, roots: Path, pcscf: str) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(card, "--chain", str(chain), "--roots", str(roots), "--pcscf", pcscf)
    assert result.exit_code == EXIT_BAD_INPUT


PROFILE_YAML = f"""\
trust_domains: [{TRUST[0]}]
iccid: "8944100000000000000"
imsi: "001010123456789"
k: "000102030405060708090a0b0c0d0e0f"
opc: "00112233445566778899aabbccddeeff"
pcscf: [10.0.0.1, {PCSCF}]
"""


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A real profile, read through isim.profile.model.load_profile (home domain from the IMSI)."""
    path = tmp_path / "card.yaml"
    path.write_text(PROFILE_YAML)
    return path


def test_read_card_from_profile(profile: Path) -> None:
    assert tc.read_card(str(profile)) == CARD


def test_real_profile_trusted(tmp_path: Path, pki: PKI, profile: Path, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(str(profile), "--chain", str(chain), "--roots", str(roots),
                    "--realm", HOME.upper())
    assert result.exit_code == EXIT_OK, result.output


def test_invalid_profile_cannot_decide(tmp_path: Path, pki: PKI, roots: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PROFILE_YAML.replace(TRUST[0], "ims.example.com"))  # breaks the rule
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(str(bad), "--chain", str(chain), "--roots", str(roots), "--json")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "trust domain" in json.loads(result.stdout)["error"]


def test_reader_card_not_wired_yet(tmp_path: Path, pki: PKI, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke("reader:0", "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT


def test_card_image_not_wired_yet(tmp_path: Path, pki: PKI, roots: Path) -> None:
    image = tmp_path / "card.json"
    image.write_text(json.dumps({"format": "isim-card-image/1"}))
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(str(image), "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "card image" in result.output


def test_unreadable_card(tmp_path: Path, pki: PKI, roots: Path) -> None:
    chain = write_pem(tmp_path / "chain.pem", pki.leaf(dns=[PCSCF]))
    result = invoke(str(tmp_path / "absent.yaml"), "--chain", str(chain), "--roots", str(roots))
    assert result.exit_code == EXIT_BAD_INPUT


@pytest.mark.parametrize(
    ("text", "expected"),
    [("pcscf.example:5061", ("pcscf.example", 5061)), ("127.0.0.1:443", ("127.0.0.1", 443)),
     ("[::1]:5061", ("::1", 5061))],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert tc.parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["pcscf.example", "host:", ":5061", "host:99999", "h:x"])
def test_parse_hostport_bad(text: str) -> None:
    with pytest.raises(tc.CannotDecide):
        tc.parse_hostport(text)


# --------------------------------------------------------------------------- --connect


class LoopbackTLSServer:
    """A TLS server on 127.0.0.1 (ephemeral port) in a thread; records the SNI it saw."""

    def __init__(self, tmp_path: Path, leaf: Issued, *extra: Issued) -> None:
        certfile = write_pem(tmp_path / "server-chain.pem", leaf, *extra)
        keyfile = tmp_path / "server-key.pem"
        keyfile.write_bytes(leaf.key_pem())
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.context.sni_callback = self._sni
        self.server_names: list[str | None] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _sni(self, sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        self.server_names.append(name)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    servers: list[LoopbackTLSServer] = []

    def start(leaf: Issued, *extra: Issued) -> LoopbackTLSServer:
        server = LoopbackTLSServer(tmp_path, leaf, *extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_connect_trusted_with_intermediate(
    serve, pki: PKI, card: str, roots: Path
) -> None:
    # Trusted only if the intermediate sent by the server was collected too.
    server = serve(pki.leaf(issuer=pki.intermediate, dns=[PCSCF]), pki.intermediate)
    result = invoke(card, "--connect", server.address, "--roots", str(roots), "--realm", HOME)
    assert result.exit_code == EXIT_OK, result.output
    assert f"tls://{server.address}" in result.stdout
    assert server.server_names == [PCSCF]  # SNI = the dialled FQDN


def test_connect_not_trusted_json(serve, pki: PKI, card: str, roots: Path) -> None:
    server = serve(pki.leaf(dns=["*." + HOME]))
    result = invoke(card, "--connect", server.address, "--roots", str(roots), "--json")
    assert result.exit_code == EXIT_VIOLATION, result.output
    data = json.loads(result.stdout)
    assert data["chain_source"] == f"tls://{server.address}"
    identity = next(c for c in data["checks"] if c["name"] == "identity")
    assert identity["status"] == "fail" and "wildcard" in identity["detail"]


def test_connect_refused(card: str, roots: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    result = invoke(card, "--connect", f"127.0.0.1:{port}", "--roots", str(roots), "--json")
    assert result.exit_code == EXIT_BAD_INPUT
    assert json.loads(result.stdout)["verdict"] == "cannot decide"


def test_connect_not_tls(card: str, roots: Path) -> None:
    """A peer that closes without a handshake: cannot decide."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_close() -> None:
        conn, _ = listener.accept()
        conn.close()

    thread = threading.Thread(target=accept_and_close, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        result = invoke(card, "--connect", f"127.0.0.1:{port}", "--roots", str(roots),
                        "--timeout", "5")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert result.exit_code == EXIT_BAD_INPUT


def test_connect_bad_address(card: str, roots: Path) -> None:
    assert invoke(card, "--connect", "nowhere", "--roots", str(roots)).exit_code == 2
