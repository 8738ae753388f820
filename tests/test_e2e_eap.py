"""EAP-SIM, EAP-AKA and EAP-AKA' end to end (issue 11 §4), all through third-party software:

    eapol_test (pcsc="") -> pcscd -> vpcd -> `isim emulate` (the card's USIM, T=0)
    eapol_test -> RADIUS -> hostapd (driver=none, eap_server=1) -> eap_sim_db=unix:
                 -> `isim auc-gw` (subscribers from the card's profile or an HSS file)

Each method ends in SUCCESS with the MSK of the supplicant equal to the MS-MPPE keys of
hostapd's Access-Accept (eapol_test compares them: "MPPE keys OK: 1  mismatch: 0"). A card
whose SQN is ahead of the gateway's succeeds after the AUTS resynchronisation; a card with
another K gets an EAP-Failure and its state file is unchanged. hostapd's RADIUS server
listens on every address, so hostapd and eapol_test run in a private network namespace
(tools/netns.py; root). The tools missing, or no namespace, is a failure, never a skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from aucgw_proc import AucGwProcess
from eap_peers import EapResult, HostapdRadius, eap_identity, require_tools, run_eapol_test
from emulator_proc import ROOT, EmulatorProcess
from isim.card.image import build_image, load_image, save_image
from isim.cli import main
from isim.personalize.hss import HssRecord, milenage_db_header, milenage_db_line
from isim.profile.model import load_profile
from netns import NETNS_TOOLS, socket_inodes, udp_sockets
from pcsc_stack import PcscStack

pytestmark = pytest.mark.stack

ALICE = ROOT / "examples" / "alice.yaml"
IMSI = "001010123456789"
OTHER_K = "0123456789abcdef0123456789abcdef"


@dataclass
class Network:
    """hostapd + isim auc-gw, serving subscribers from `source` (a card or an HSS file)."""

    workdir: Path
    gateway: AucGwProcess
    radius: HostapdRadius

    def eapol_test(self, stack: PcscStack, method: str) -> EapResult:
        return run_eapol_test(self.workdir, method, port=self.radius.port, env=stack.env,
                              netns=self.radius.netns, timeout=20)

    def explain(self, result: EapResult) -> str:
        return (f"eapol_test:\n{result.tail()}\n--- hostapd:\n{self.radius.log(30)}\n"
                f"--- isim auc-gw:\n{self.gateway.output()}")


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return require_tools("hostapd", "eapol_test", *NETNS_TOOLS)


@contextmanager
def _network(workdir: Path, gateway_args: list[str]) -> Iterator[Network]:
    sock = workdir / "gw.sock"
    with AucGwProcess([*gateway_args, "--db", str(workdir / "sqn.sqlite")],
                      socket=sock) as gw, HostapdRadius(workdir, gateway_socket=sock) as radius:
        yield Network(workdir, gw, radius)


@pytest.fixture(scope="module")
def network(tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Network]:
    """The gateway knows Alice from her profile (her SQN_MS is its starting SQN_HE)."""
    with _network(tmp_path_factory.mktemp("eap"), [str(ALICE)]) as net:
        yield net


@pytest.fixture
def card(pcsc_stack: PcscStack, tmp_path: Path) -> Iterator[tuple[EmulatorProcess, Path]]:
    with _card(pcsc_stack, tmp_path, ALICE.read_text()) as c:
        yield c


@contextmanager
def _card(stack: PcscStack, tmp_path: Path, profile_text: str
          ) -> Iterator[tuple[EmulatorProcess, Path]]:
    profile = tmp_path / "card.yaml"
    profile.write_text(profile_text)
    image = tmp_path / "card.json"
    save_image(image, build_image(load_profile(profile)))
    state = tmp_path / "card.state"
    with EmulatorProcess(image, vpcd_port=stack.vpcd_port, state=state) as emu:
        emu.wait_inserted(stack.reader_name)
        yield emu, state
        assert emu.terminate() == 0, emu.output()
    EmulatorProcess.wait_removed(stack.reader_name)


def _sqn_state(state: Path) -> object:
    return load_image(state).isim["state"]["sqn"]


@pytest.mark.parametrize("method", ["AKA", "AKA'", "SIM"])
def test_method_succeeds_with_the_same_msk(pcsc_stack: PcscStack, network: Network,
                                           card: tuple[EmulatorProcess, Path],
                                           method: str) -> None:
    result = network.eapol_test(pcsc_stack, method)
    assert result.success, network.explain(result)
    assert result.mppe_ok, network.explain(result)  # MSK = the Access-Accept's MPPE keys
    # and the whole 64-byte MSK is the one hostapd derived
    assert result.msk is not None and len(result.msk) == 128
    assert network.radius.msks()[-1] == result.msk
    assert "SCARD: MNC length=2" in result.output  # EF.AD read from the card
    identity = eap_identity(method, IMSI, 2)
    assert f"'{identity}'" in result.output  # the identity built from the card's IMSI
    command = "SIM-REQ-AUTH" if method == "SIM" else "AKA-REQ-AUTH"
    assert f"{command} {IMSI}: " in network.gateway.output()
    if method != "SIM":  # the card accepted the vector: its SQN array moved
        assert _sqn_state(card[1]) != build_image(load_profile(ALICE)).isim["state"]["sqn"]


def test_radius_port_only_in_the_private_namespace(network: Network) -> None:
    """hostapd's RADIUS socket is in its namespace's table, not in the host's (`ss -lun`)."""
    proc = network.radius.proc
    assert proc is not None and proc.poll() is None, network.radius.log()
    inside = udp_sockets(proc.pid)
    radius = {inode for inode, port in inside.items() if port == network.radius.port}
    assert radius and radius <= socket_inodes(proc.pid)  # hostapd holds the RADIUS socket
    assert not socket_inodes(proc.pid) & set(udp_sockets("self"))  # none in the host's


def test_card_ahead_of_the_gateway_succeeds_after_auts(
        tools: dict[str, str], pcsc_stack: PcscStack, tmp_path: Path,
        card: tuple[EmulatorProcess, Path]) -> None:
    """The gateway starts from SQN 0 (an HSS file), the card from ff9bb4d0b5e7."""
    profile = load_profile(ALICE)
    hss = tmp_path / "hss.milenage_db"
    hss.write_text(milenage_db_header() + milenage_db_line(
        HssRecord("", IMSI, "", (), profile.k, profile.opc, 0)))
    with _network(tmp_path, ["--hss", str(hss)]) as net:
        result = net.eapol_test(pcsc_stack, "AKA")
        assert result.success and result.mppe_ok, net.explain(result)
        log = net.gateway.output()
        assert re.search(rf"AKA-AUTS {IMSI}: SQN_MS ff9bb4d0b5e7", log), log
        # the vector after the resync is one SEQ above the card's SQN_MS
        assert f"AKA-REQ-AUTH {IMSI}: vector with SQN ff9bb4d0b607" in log, log
        assert "UMTS authentication failed (AUTN seq# -> AUTS)" in result.output


def test_card_with_another_k_fails_cleanly(pcsc_stack: PcscStack, network: Network,
                                           tmp_path: Path) -> None:
    text = re.sub(r"(?m)^k: .*$", f"k: {OTHER_K}", ALICE.read_text())
    initial = build_image(load_profile(ALICE)).isim["state"]["sqn"]
    with _card(pcsc_stack, tmp_path, text) as (_emu, state):
        result = network.eapol_test(pcsc_stack, "AKA")
        assert not result.success and result.eap_failure, network.explain(result)
        assert result.output.rstrip().endswith("FAILURE")
        assert "UMTS authentication failed (AUTN)" in result.output  # the card said 9862
        assert f"AKA-REQ-AUTH {IMSI}: vector" in network.gateway.output()
        # MAC failure (9862): the card's SQN array is untouched
        assert not state.exists() or _sqn_state(state) == initial


def test_personalized_card_with_the_encrypted_hss_file(
        tools: dict[str, str], pcsc_stack: PcscStack, tmp_path: Path) -> None:
    """The bureau's outputs as an operator uses them: a card image in the reader, the
    gateway reading hss.csv (K and OPc AES-GCM under the transport key)."""
    key = tmp_path / "transport.key"
    key.write_text("00112233445566778899aabbccddeeff\n")
    out = tmp_path / "out"
    batch = ROOT / "examples" / "batch"
    run = CliRunner().invoke(main, ["personalize", str(batch / "batch.csv"), "--template",
                                    str(batch / "template.yaml"), "--out", str(out),
                                    "--transport-key", str(key)])
    assert run.exit_code == 0, run.stderr
    image = out / "images" / "8988211000000000011.json"
    with EmulatorProcess(image, vpcd_port=pcsc_stack.vpcd_port) as emu:
        emu.wait_inserted(pcsc_stack.reader_name)
        with _network(tmp_path, ["--hss", str(out / "hss.csv"), "--transport-key",
                                 str(key)]) as net:
            result = net.eapol_test(pcsc_stack, "AKA")
            assert result.success and result.mppe_ok, net.explain(result)
            assert "AKA-REQ-AUTH 001010000000001: vector" in net.gateway.output()
        assert emu.terminate() == 0, emu.output()
    EmulatorProcess.wait_removed(pcsc_stack.reader_name)
