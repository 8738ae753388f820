"""Cards for the `isim register` tests: Alice as she is (ISIM + USIM) and Alice without an
ISIM, whose IMS identities are then derived from the USIM's IMSI (TS 23.003 clause 13)."""

from __future__ import annotations

from pathlib import Path

from emulator_proc import ROOT

ALICE = ROOT / "examples" / "alice.yaml"
_ISIM_KEYS = ("impu", "  - sip", "  - tel", "pcscf", "  - pcscf", "  - 192", "ist", "label")


def usim_only_profile(path: Path) -> Path:
    """Alice's profile without the ISIM's keys and with ``applications: [usim]``."""
    keep = [line for line in ALICE.read_text(encoding="utf-8").splitlines()
            if not line.startswith(_ISIM_KEYS)]
    path.write_text("\n".join([*keep, "applications: [usim]", ""]), encoding="utf-8")
    return path
