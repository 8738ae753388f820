"""`isim personalize --out`: validation first, reject file, outputs, interruption."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from isim.cli import main
from isim.personalize.hss import TransportKey
from isim.personalize.sample import write_sample_batch, write_sample_template

ROOT = Path(__file__).resolve().parents[1]
ROWS = 60


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["personalize", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, Path]:
    """(batch.csv with ROWS rows and an empty opc column, template)."""
    path = write_sample_batch(tmp_path / "batch.csv", ROWS)
    rows = _rows(path)
    _write_rows(path, [rows[0] + ["opc"]] + [[*r, ""] for r in rows[1:]])
    return path, write_sample_template(tmp_path / "template.yaml")


def _spoil(path: Path, line: int, column: str, value: str) -> None:
    rows = _rows(path)
    rows[line - 1][rows[0].index(column)] = value
    _write_rows(path, rows)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name)


BAD_ROWS = {
    "bad Luhn": ("iccid", lambda v: v[:-1] + str((int(v[-1]) + 1) % 10), "Luhn"),
    "IMPU outside the trust domain": ("impu", lambda v: "sip:eve@evil.example.com",
                                      "trust domain"),
    "OPc of 31 hex digits": ("opc", lambda v: "a" * 31, "32 hex digits"),
    "duplicate IMSI": ("imsi", None, "same imsi as line 3"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_one_bad_row_writes_nothing_and_is_reported(
        tmp_path: Path, batch: tuple[Path, Path], case: str) -> None:
    path, template = batch
    column, spoil, reason = BAD_ROWS[case]
    rows = _rows(path)
    bad_line = 41
    value = rows[2][rows[0].index("imsi")] if spoil is None else spoil(
        rows[bad_line - 1][rows[0].index(column)])
    _spoil(path, bad_line, column, value)
    out = tmp_path / "out"
    code, stdout, stderr = _run(path, "--template", template, "--out", out)
    assert code == 1
    assert f"line {bad_line}: {column}: " in stderr and reason in stderr
    assert "nothing written" in stderr
    assert not out.exists() and not _leftovers(tmp_path)
    # the same batch with a reject file: every other card is written
    code, stdout, stderr = _run(path, "--template", template, "--out", out,
                                "--reject-file", tmp_path / "rejects.csv", "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    rejected = {bad_line, 3} if spoil is None else {bad_line}
    assert summary["rejected_rows"] == len(rejected)
    assert summary["cards"] == ROWS - len(rejected)
    assert len(list((out / "images").iterdir())) == ROWS - len(rejected)
    reject_rows = _rows(tmp_path / "rejects.csv")
    assert reject_rows[0] == ["line", "column", "file", "record", "reason"]
    assert {int(r[0]) for r in reject_rows[1:]} == rejected
    assert all(r[1] == column for r in reject_rows[1:])
    assert stat.S_IMODE((tmp_path / "rejects.csv").stat().st_mode) == 0o600
    hss_iccids = [r[0] for r in _rows(out / "hss.csv")[1:]]
    batch_rows = _rows(path)[1:]
    assert hss_iccids == [r[0] for n, r in enumerate(batch_rows, 2) if n not in rejected]


def test_non_utf8_row_writes_nothing_and_is_reported(
        tmp_path: Path, batch: tuple[Path, Path]) -> None:
    path, template = batch
    lines = path.read_bytes().split(b"\n")
    lines[9] = lines[9].replace(b"sip:", b"sip:\xc3\x28", 1)  # line 10: invalid UTF-8
    path.write_bytes(b"\n".join(lines))
    out = tmp_path / "out"
    code, _, stderr = _run(path, "--template", template, "--out", out)
    assert code == 1
    assert "line 10: impu: not valid UTF-8" in stderr
    assert not out.exists()
    code, _, _ = _run(path, "--template", template, "--out", out,
                      "--reject-file", tmp_path / "r.csv")
    assert code == 0 and len(list((out / "images").iterdir())) == ROWS - 1


def test_every_bad_row_is_named(tmp_path: Path, batch: tuple[Path, Path]) -> None:
    path, template = batch
    for line in (5, 17, 30):
        _spoil(path, line, "k", "xyz")
    code, stdout, stderr = _run(path, "--template", template, "--out", tmp_path / "o", "--json")
    assert code == 1
    report = json.loads(stdout)
    assert [p["line"] for p in report["problems"]] == [5, 17, 30]
    assert report["rejected_rows"] == 3 and report["rows"] == ROWS
    assert "xyz" not in stdout + stderr  # values are never echoed


def test_outputs_modes_summary_and_transport_key(tmp_path: Path,
                                                 batch: tuple[Path, Path]) -> None:
    path, template = batch
    key_file = tmp_path / "transport.key"
    key_file.write_text("00112233445566778899aabbccddeeff\n")
    out = tmp_path / "out"
    code, stdout, stderr = _run(path, "--template", template, "--out", out,
                                "--transport-key", key_file, "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    import hashlib

    assert summary["batch_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary["cards"] == ROWS and summary["row_numbers"] == "line"
    assert summary["hss_transport"].startswith("AES-GCM")
    assert json.loads((out / "summary.json").read_text())["cards"] == ROWS
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for f in [out / "hss.csv", *(out / "images").iterdir(), *(out / "scripts").iterdir()]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    hss = _rows(out / "hss.csv")
    assert hss[0] == ["iccid", "imsi", "impi", "impu", "k_enc", "opc_enc"]
    key = TransportKey(bytes.fromhex("00112233445566778899aabbccddeeff"))
    batch_rows = _rows(path)
    for line, row in zip(batch_rows[1:], hss[1:], strict=True):
        assert row[0] == line[0] and row[1] == line[1] and row[3] == line[2]
        assert key.decrypt(row[4], row[0], "k").hex() == line[3]
        assert len(key.decrypt(row[5], row[0], "opc")) == 16
    assert line[3] not in stdout + stderr


def test_jobs_keep_row_order(tmp_path: Path, batch: tuple[Path, Path]) -> None:
    path, template = batch
    for jobs, out in ((1, tmp_path / "one"), (3, tmp_path / "three")):
        code, _, stderr = _run(path, "--template", template, "--out", out, "--jobs", jobs)
        assert code == 0, stderr
    assert (tmp_path / "one" / "hss.csv").read_bytes() == (tmp_path / "three" / "hss.csv"
                                                          ).read_bytes()
    names = sorted(p.name for p in (tmp_path / "one" / "scripts").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "three" / "scripts").iterdir())
    for name in names[:5]:
        assert (tmp_path / "one" / "scripts" / name).read_bytes() == (
            tmp_path / "three" / "scripts" / name).read_bytes()


def test_generators_fill_a_batch_of_bare_rows(tmp_path: Path) -> None:
    template = write_sample_template(tmp_path / "t.yaml")
    template.write_text(template.read_text() + "generate:\n  iccid: {first: '898821100000000098'}\n"
                        "  imsi: {first: '001010000000099'}\n  k: random\n  pin1: random\n")
    path = tmp_path / "b.yaml"
    path.write_text("- {}\n- {impu: [sip:bob@ims.example.net]}\n- {}\n")
    code, _stdout, stderr = _run(path, "--template", template, "--out", tmp_path / "o", "--json")
    assert code == 0, stderr
    hss = _rows(tmp_path / "o" / "hss.csv")[1:]
    assert [r[1] for r in hss] == ["001010000000099", "001010000000100", "001010000000101"]
    assert [r[0][:-1] for r in hss] == ["898821100000000098", "898821100000000099",
                                        "898821100000000100"]
    assert hss[1][3] == "sip:bob@ims.example.net"
    assert len({r[4] for r in hss}) == 3  # random K per card


def test_existing_output_and_bad_inputs_exit_2(tmp_path: Path, batch: tuple[Path, Path]) -> None:
    path, template = batch
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert _run(path, "--template", template, "--out", busy)[0] == 2
    assert _run(tmp_path / "nope.csv", "--template", template, "--out", tmp_path / "o")[0] == 2
    assert _run(path, "--template", tmp_path / "nope.yaml", "--out", tmp_path / "o")[0] == 2
    assert _run(path, "--template", template)[0] == 2  # neither --out nor --reader
    assert _run(path, "--template", template, "--out", tmp_path / "o",
                "--transport-key", template)[0] == 2
    bad_template = tmp_path / "bad.yaml"
    bad_template.write_text(template.read_text().replace("pcscf.", "pcscf.."))
    code, _, stderr = _run(path, "--template", bad_template, "--out", tmp_path / "o")
    assert code == 2 and "pcscf" in stderr and "line" not in stderr  # once, not per row
    assert not (tmp_path / "o").exists()
    assert (busy / "x").read_text() == "x"


def _start(args: list[str | Path]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "isim", "personalize", *map(str, args)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_partial(parent: Path, proc: subprocess.Popen[bytes], out: Path) -> Path:
    partial = parent / f".{out.name}.partial-{proc.pid}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        images = partial / "images"  # made just after the partial directory itself
        if images.is_dir() and len(list(images.iterdir())) > 50:
            assert not out.exists()  # the final directory never exists half-written
            return partial
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never started writing")


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("big")
    return write_sample_batch(d / "b.csv", 6000), write_sample_template(d / "t.yaml")


@pytest.mark.parametrize(("sig", "jobs"), [(signal.SIGINT, 1), (signal.SIGTERM, 2),
                                           (signal.SIGINT, 2)])
def test_interrupt_leaves_no_partial_output(tmp_path: Path, big_batch: tuple[Path, Path],
                                            sig: int, jobs: int) -> None:
    out = tmp_path / "out"
    proc = _start([big_batch[0], "--template", big_batch[1], "--out", out, "--jobs", jobs])
    _wait_partial(tmp_path, proc, out)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert b"interrupted" in stderr
    assert not out.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_leaves_only_a_stale_partial_that_is_cleaned(
        tmp_path: Path, big_batch: tuple[Path, Path], jobs: int) -> None:
    out = tmp_path / "out"
    proc = _start([big_batch[0], "--template", big_batch[1], "--out", out, "--jobs", jobs])
    partial = _wait_partial(tmp_path, proc, out)
    proc.kill()
    proc.communicate(timeout=30)
    assert not out.exists()
    assert partial.name in _leftovers(tmp_path)  # hidden, named after DIR and the pid
    # workers die with the parent, so the lock is released and --clean can remove it
    deadline = time.monotonic() + 10
    while _leftovers(tmp_path) and time.monotonic() < deadline:
        code, _, stderr = _run("--clean", "--out", out)
        assert code == 0, stderr
        time.sleep(0.1)
    assert _leftovers(tmp_path) == []


def test_next_run_removes_stale_partials_but_not_live_ones(
        tmp_path: Path, batch: tuple[Path, Path], big_batch: tuple[Path, Path]) -> None:
    path, template = batch
    out = tmp_path / "out"
    stale = tmp_path / ".out.partial-999999999"
    (stale / "images").mkdir(parents=True)
    live_out = tmp_path / "live"
    proc = _start([big_batch[0], "--template", big_batch[1], "--out", live_out])
    try:
        live = _wait_partial(tmp_path, proc, live_out)
        assert _run("--clean", "--out", live_out)[0] == 0
        assert live.exists()  # its lock is held: a live run is never touched
        code, _, stderr = _run(path, "--template", template, "--out", out)
        assert code == 0, stderr
        assert not stale.exists() and out.is_dir()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert not live_out.exists() and _leftovers(tmp_path) == []


def test_batch_changed_between_passes_writes_nothing(tmp_path: Path,
                                                     batch: tuple[Path, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from isim.personalize import run

    path, template = batch
    original = run.validate_batch

    def validate_then_edit(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        with path.open("a", encoding="utf-8") as fh:
            fh.write("")
        os.utime(path)
        text = path.read_text().replace("sip:", "sips:", 1)
        path.write_text(text)
        return result

    monkeypatch.setattr(run, "validate_batch", validate_then_edit)
    code, _, stderr = _run(path, "--template", template, "--out", tmp_path / "o")
    assert code == 2 and "changed" in stderr
    assert not (tmp_path / "o").exists() and _leftovers(tmp_path) == []
