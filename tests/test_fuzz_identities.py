"""tools/fuzz_identities.py in CI at a bounded size: the guard / check / inspect differential
of issue 12 item 1 over a few thousand random cases, and proof that it can fail."""

from __future__ import annotations

import pytest

import fuzz_identities
import fuzz_isim
from isim.card.isim_app import IsimApplication


def test_differential_fuzz_finds_no_disagreement() -> None:
    result = fuzz_identities.fuzz(2500, seed=12)
    assert result.cases == 2500
    assert result.disagreements == []
    assert 50 < result.accepted < result.cases // 2  # both verdicts are exercised


def test_differential_fuzz_catches_a_lenient_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard that lets everything through (as the issue found it for NUL, spaces, a
    second TLV ...) is caught."""
    monkeypatch.setattr(IsimApplication, "check_update", lambda self, *args: True)
    result = fuzz_identities.fuzz(200, seed=12)
    assert len(result.disagreements) > 20
    assert all("guard True" in line for line in result.disagreements)


def test_fuzz_isim_runs_the_differential(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz_isim.main(["-n", "3000", "--differential", "300", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "rule violations: 0" in out
    assert "differential guard/check/inspect: 300 cases" in out and "0 disagreements" in out
