"""The state file under attack: links, a second emulator, re-sealed content, loose modes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from isim.card.emulator import Emulator, StateError
from isim.card.image import CardImage, build_image, load_image, save_image
from isim.fileio import SymlinkRefused
from isim.profile.model import load_profile

ROOT = Path(__file__).resolve().parent.parent
ALICE = ROOT / "examples" / "alice.yaml"
ADM1_WRONG = bytes.fromhex("0020000A08") + b"99999999"
ADM1_QUERY = bytes.fromhex("0020000A")


@pytest.fixture(scope="module")
def alice() -> CardImage:
    return build_image(load_profile(ALICE))


def _reseal(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with write access does: edit and recompute the SHA-256."""
    doc = json.loads(path.read_bytes())
    doc.pop("sha256")
    change(doc)
    image = CardImage(doc["iccid"], doc["card"], doc["isim"])
    path.write_bytes(image.to_json())


def test_a_symlinked_state_path_is_refused_unless_asked(alice, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    link = tmp_path / "s.state"
    link.symlink_to(victim)
    with pytest.raises(SymlinkRefused, match="--state-follow-symlink"):
        Emulator.open(alice, state_path=link)
    assert not victim.exists()
    emu = Emulator.open(alice, state_path=link, follow_symlink=True)
    emu.close()
    assert victim.exists() and link.is_symlink()


def test_a_second_emulator_on_the_same_state_is_refused(alice, tmp_path: Path) -> None:
    state = tmp_path / "s.state"
    first = Emulator.open(alice, state_path=state)
    with pytest.raises(StateError, match=f"pid {os.getpid()}"):
        Emulator.open(alice, state_path=state)
    first.close()
    Emulator.open(alice, state_path=state).close()  # free again


def test_second_emulate_process_exits_2_naming_the_holder(alice, tmp_path: Path) -> None:
    image, state = tmp_path / "a.img", tmp_path / "s.state"
    save_image(image, alice)
    holder = Emulator.open(load_image(image), state_path=state)
    try:
        r = subprocess.run([sys.executable, "-m", "isim", "emulate", str(image), "--state",
                            str(state), "--vpcd", "127.0.0.1:9"], capture_output=True,
                           text=True, timeout=60, cwd=ROOT)
    finally:
        holder.close()
    assert r.returncode == 2, r.stderr
    assert f"pid {os.getpid()}" in r.stderr and "Traceback" not in r.stderr


def test_resealed_state_with_reset_pin_counter_is_refused(alice, tmp_path: Path) -> None:
    state = tmp_path / "s.state"
    emu = Emulator.open(alice, state_path=state)
    assert emu.transmit(ADM1_WRONG) == b"\x63\xc2"
    emu.close()

    def reset(doc: dict) -> None:
        for pin in doc["card"]["pins"].values():
            pin.pop("tries", None)

    _reseal(state, reset)
    with pytest.raises(StateError, match="MAC"):
        Emulator.open(alice, state_path=state)


def test_resealed_state_with_wider_trust_domains_is_refused(alice, tmp_path: Path) -> None:
    state = tmp_path / "s.state"
    Emulator.open(alice, state_path=state).close()
    _reseal(state, lambda doc: doc["isim"]["trust_domains"].append("evil.example"))
    with pytest.raises(StateError):
        Emulator.open(alice, state_path=state)


def test_state_whose_trust_domains_differ_from_the_image_is_refused(alice, tmp_path: Path
                                                                    ) -> None:
    """Even a correctly sealed state (same derived key) may not override the image."""
    state = tmp_path / "s.state"
    domains = [*alice.isim["trust_domains"], "evil.example"]
    wider = CardImage(alice.iccid, alice.card, {**alice.isim, "trust_domains": domains})
    Emulator.open(wider, state_path=state, allow_rule_violations=True).close()
    with pytest.raises(StateError, match="trust domains differ"):
        Emulator.open(alice, state_path=state)


def test_the_state_key_of_an_image_never_reaches_the_state(tmp_path: Path) -> None:
    image, state = tmp_path / "a.img", tmp_path / "s.state"
    from click.testing import CliRunner

    from isim.cli import main

    assert CliRunner().invoke(main, ["build", str(ALICE), "-o", str(image)]).exit_code == 0
    key = load_image(image).isim["state_key"]
    Emulator.open(load_image(image), state_path=state).close()
    assert key not in state.read_text()
    # a state sealed under the image's key is refused with an image of another key
    with pytest.raises(StateError, match="MAC"):
        Emulator.open(build_image(load_profile(ALICE)), state_path=state)


def test_world_readable_state_gets_0600_with_a_warning(alice, tmp_path: Path, caplog) -> None:
    state = tmp_path / "s.state"
    Emulator.open(alice, state_path=state).close()
    os.chmod(state, 0o666)
    Emulator.open(alice, state_path=state).close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert "0666" in caplog.text


def test_state_dev_zero_is_refused_not_read(alice, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(StateError, match="not a regular file"):
            Emulator.open(alice, state_path=path)
        assert not path.with_name(f".{path.name}.lock").exists()  # nothing created beside it


def test_an_unsealed_state_loads_only_when_asked_and_is_sealed_then(alice, tmp_path: Path
                                                                     ) -> None:
    """A state written by an older isim (no MAC): refused, unless the operator vouches."""
    state = tmp_path / "s.state"
    emu = Emulator.open(alice, state_path=state)
    assert emu.transmit(ADM1_WRONG) == b"\x63\xc2"
    emu.close()
    _reseal(state, lambda doc: doc["isim"].pop("state_mac"))
    with pytest.raises(StateError, match="--state-accept-unsealed"):
        Emulator.open(alice, state_path=state)
    Emulator.open(alice, state_path=state, accept_unsealed=True).close()
    again = Emulator.open(alice, state_path=state)  # sealed now: no option needed
    assert again.transmit(ADM1_QUERY) == b"\x63\xc2"  # the counter survived
    again.close()
