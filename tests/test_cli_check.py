"""`isim check PROFILE...`: exit codes, output lines, --json, and that it writes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BAD = EXAMPLES / "bad"
UNREADABLE = ("bad_utf8.yaml", "not_mapping.yaml", "not_yaml.yaml")
INVALID = sorted(p.name for p in BAD.iterdir() if p.name not in UNREADABLE)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args], input=stdin)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_exit_codes_are_the_shared_constants() -> None:
    assert (EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT) == (0, 1, 2)


def test_valid_profiles_exit_0() -> None:
    alice, ts48 = str(EXAMPLES / "alice.yaml"), str(EXAMPLES / "ts48.yaml")
    code, out, err = run(alice, ts48)
    assert code == EXIT_OK
    assert out.splitlines() == [f"{alice}: valid", f"{ts48}: valid"]
    assert err == ""


def test_quiet() -> None:
    code, out, _ = run("-q", str(EXAMPLES / "alice.yaml"))
    assert (code, out) == (EXIT_OK, "")


def test_violation_exit_1_one_line_per_problem() -> None:
    path = str(BAD / "impu_outside.yaml")
    code, out, err = run(path)
    assert code == EXIT_VIOLATION
    assert out.splitlines() == [
        f"{path}: EF.IMPU record 2: 'sip:alice@badims.example.com': host 'badims.example.com' "
        "is not inside trust domain(s) ims.example.com"
    ]
    assert err == ""


@pytest.mark.parametrize("name", INVALID)
def test_each_bad_profile_exits_1_with_one_line(name: str) -> None:
    path = str(BAD / name)
    code, out, _ = run(path)
    assert code == EXIT_VIOLATION
    (line,) = out.splitlines()
    assert line.startswith(f"{path}: ")


def test_field_problem_line_names_the_field() -> None:
    path = str(BAD / "bad_luhn.yaml")
    _, out, _ = run(path)
    assert out == f"{path}: iccid: Luhn check digit is wrong (ITU-T E.118)\n"


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_exits_2_message_on_stderr(name: str) -> None:
    path = str(BAD / name)
    code, out, err = run(path)
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith(f"{path}: ") and len(err.splitlines()) == 1


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "missing.yaml"))
    assert code == EXIT_BAD_INPUT and "no such file" in err and out == ""


def test_unreadable_wins_over_violation() -> None:
    code, out, err = run(
        str(EXAMPLES / "alice.yaml"), str(BAD / "bad_luhn.yaml"), str(BAD / "bad_utf8.yaml")
    )
    assert code == EXIT_BAD_INPUT
    assert "Luhn" in out and "valid" in out
    assert "not UTF-8" in err


def test_no_argument_is_a_usage_error() -> None:
    assert run()[0] == 2


def test_stdin() -> None:
    text = (EXAMPLES / "alice.yaml").read_text(encoding="utf-8")
    assert run("-", stdin=text)[0] == EXIT_OK
    code, out, _ = run("-", stdin=text.replace('"8988211000000430010"', '"8988211000000430011"'))
    assert code == EXIT_VIOLATION and out.startswith("-: iccid: ")


def test_json_report() -> None:
    good, bad, broken = (
        str(EXAMPLES / "alice.yaml"),
        str(BAD / "impu_outside.yaml"),
        str(BAD / "not_mapping.yaml"),
    )
    code, out, _ = run("--json", good, bad)
    assert code == EXIT_VIOLATION
    doc = json.loads(out)
    assert doc["valid"] is False
    assert [p["path"] for p in doc["profiles"]] == [good, bad]
    assert doc["profiles"][0] == {"path": good, "valid": True, "readable": True, "problems": []}
    (problem,) = doc["profiles"][1]["problems"]
    assert problem == {
        "field": "impu",
        "file": "EF.IMPU",
        "record": 2,
        "message": "'sip:alice@badims.example.com': host 'badims.example.com' is not inside "
        "trust domain(s) ims.example.com",
    }
    code, out, err = run("--json", broken)
    assert code == EXIT_BAD_INPUT
    (entry,) = json.loads(out)["profiles"]
    assert entry["readable"] is False and entry["valid"] is False
    assert "not a mapping" in entry["error"] and "not a mapping" in err
    code, out, _ = run("--json", good)
    assert code == EXIT_OK and json.loads(out)["valid"] is True


def test_secrets_never_printed() -> None:
    profile = (EXAMPLES / "alice.yaml").read_text(encoding="utf-8")
    profile = profile.replace('iccid: "8988211000000430010"', 'iccid: "1"')
    profile = profile.replace("opc: cd63cb71954a9f4e48a5994e37a02baf", "opc: cd63cb71954a9f4e48")
    for args in (["-"], ["--json", "-"]):
        _, out, err = run(*args, stdin=profile)
        assert "465b5ce8" not in out + err and "cd63cb71" not in out + err
        assert "opc" in out and "iccid" in out


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def test_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "examples").rglob("*.yaml"))
    for args in (files, ["--json", *files]):
        assert run(*args)[0] == EXIT_BAD_INPUT
    assert _snapshot(tmp_path) == before


def test_real_process_exit_codes(tmp_path: Path) -> None:
    """Through a real interpreter: the exit status the shell sees, no traceback."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c", "from isim.cli import main; main()", "check"]
    for path, code in (
        (EXAMPLES / "alice.yaml", EXIT_OK),
        (BAD / "impu_ip_host.yaml", EXIT_VIOLATION),
        (BAD / "bad_utf8.yaml", EXIT_BAD_INPUT),
    ):
        proc = subprocess.run(
            [*cmd, str(path)], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
        )
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
