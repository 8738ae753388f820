"""Atomic writes never follow a planted link and never reuse a predictable temp name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from isim.fileio import SymlinkRefused, atomic_write, remove_stale_temps


def test_planted_symlink_at_the_old_temp_name_receives_nothing(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    target = tmp_path / "state.json"
    # the temp name of the old code: .NAME.tmp-<pid>
    (tmp_path / f".state.json.tmp-{os.getpid()}").symlink_to(victim)
    atomic_write(target, b"K and OPc")
    assert victim.read_bytes() == b"untouched"
    assert target.read_bytes() == b"K and OPc"
    assert not target.is_symlink()


def test_temp_names_are_not_predictable(tmp_path: Path, monkeypatch) -> None:
    names: list[str] = []
    real_open = os.open

    def spy(path, flags, *args):  # type: ignore[no-untyped-def]
        name = os.path.basename(os.fspath(path))
        if ".tmp-" in name:
            names.append(name)
            assert flags & os.O_EXCL and flags & os.O_NOFOLLOW and flags & os.O_CREAT
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spy)
    atomic_write(tmp_path / "f", b"1")
    atomic_write(tmp_path / "f", b"2")
    assert len(names) == 2 and names[0] != names[1]


def test_a_symlink_at_the_destination_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"old")
    link = tmp_path / "state.json"
    link.symlink_to(elsewhere)
    with pytest.raises(SymlinkRefused, match="symbolic link"):
        atomic_write(link, b"new")
    assert elsewhere.read_bytes() == b"old" and link.is_symlink()
    atomic_write(link, b"new", follow_symlink=True)  # the user said so: write the target
    assert elsewhere.read_bytes() == b"new" and link.is_symlink()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600


def test_stale_temps_of_dead_processes_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    dead = tmp_path / ".s.tmp-999999999-abcdef"
    dead.write_bytes(b"K")
    mine = tmp_path / f".s.tmp-{os.getpid()}-abcdef"
    mine.write_bytes(b"K")
    remove_stale_temps(path)
    assert not dead.exists() and mine.exists()


def test_build_output_through_a_symlink_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from isim.cli import main

    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    out = tmp_path / "alice.img"
    out.symlink_to(victim)
    alice = Path(__file__).resolve().parents[1] / "examples" / "alice.yaml"
    r = CliRunner().invoke(main, ["build", str(alice), "-o", str(out)])
    assert r.exit_code == 2 and "symbolic link" in r.output
    assert victim.read_bytes() == b"untouched"


def test_reject_file_through_a_symlink_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from isim.cli import main
    from test_hostile_inputs import K, write_sample_template

    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    reject = tmp_path / "reject.csv"
    reject.symlink_to(victim)
    batch = tmp_path / "b.csv"
    batch.write_text(f"iccid,imsi,k\n8988211000000000011,001010000000001,{K}\n")
    template = write_sample_template(tmp_path / "t.yaml")
    r = CliRunner().invoke(main, ["personalize", str(batch), "--template", str(template),
                                  "--out", str(tmp_path / "out"), "--reject-file", str(reject)])
    assert r.exit_code == 2 and "symbolic link" in r.output
    assert victim.read_bytes() == b"untouched" and not (tmp_path / "out").exists()
