"""Every PE isim writes decodes in pycrate (an independent SAIP decoder, its own compiled
TCA module), and every file body there (MF, ISIM, USIM, DF.5GS, DF.GSM-ACCESS, files of
genericFileManagement) equals what `isim build` gives."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml
from click.testing import CliRunner
from pycrate_asn1dir import eUICCPP_IFTv3 as pycrate_saip

from isim.card.contents import card_contents
from isim.card.image import build_image
from isim.cli import main
from isim.profile.model import load_profile, profile_from_mapping
from isim.saip.export import export_image
from isim.saip.files import apply_items
from isim.saip.layout import field_key, saip_layout
from specs.layout import layout

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples/ts48.yaml"


def _pycrate_pes(data: bytes) -> list[tuple[str, dict]]:
    pe = pycrate_saip.PEDefinitions.ProfileElement
    out, offset = [], 0
    while offset < len(data):
        pe.from_der(data[offset:])
        encoded = pe.to_der()
        assert data[offset:offset + len(encoded)] == encoded  # same bytes back
        out.append(pe.get_val())
        offset += len(encoded)
    return out


def _check(profile) -> None:
    data = export_image(build_image(profile))
    pes = _pycrate_pes(data)
    assert pes[0][0] == "header" and pes[-1][0] == "end"
    bodies = {}
    temp = {bytes.fromhex(p.temporary_fid): p.df for p in saip_layout().dfs.values()
            if p.temporary_fid}
    for name, value in pes:
        if name == "genericFileManagement":  # files of no template: filePath, createFCP
            for command in value["fileManagementCMD"]:
                df = "MF"
                for i, (kind, item) in enumerate(command):
                    if kind == "filePath":
                        df = temp.get(item, "MF")
                    elif kind == "createFCP":
                        spec = next(s for d in layout().dfs() if d.name == df
                                    for s in d.files.values() if s.fid == int.from_bytes(
                                        item["fileID"], "big"))
                        rest = []
                        for k, v in command[i + 1:]:
                            if k in ("filePath", "createFCP"):
                                break
                            rest.append((k, v))
                        size = int.from_bytes(item["efFileSize"], "big")
                        bodies[df, field_key(spec.name)] = apply_items(rest, size)
            continue
        plan = saip_layout().by_pe(name)
        if plan is None:
            continue
        for field, items in value.items():
            if not isinstance(items, list):
                continue
            fcp = dict(items[0][1]) if items[0][0] == "fileDescriptor" else {}
            if "efFileSize" not in fcp:
                continue
            size = int.from_bytes(fcp["efFileSize"], "big")
            bodies[plan.df, field_key(field)] = apply_items(items, size)
    contents = card_contents(profile)
    checked = 0
    for f in contents:
        key = (f.df, field_key(f.spec.name))
        if key in bodies:
            want = f.data if isinstance(f.data, bytes) else b"".join(f.data)
            assert bodies[key] == want, f.spec.name
            checked += 1
    assert checked == sum(1 for _ in contents)  # every file of the card


def test_example_package_decodes_in_pycrate() -> None:
    _check(load_profile(EXAMPLE))


def test_profile_variants_decode_in_pycrate() -> None:
    base = yaml.safe_load(EXAMPLE.read_text())
    for extra in ({"ist": [1, 2, 8, 21]}, {"pin1_enabled": True, "pcscf": []},
                  {"sizes": {"EF.IMPU": {"records": 5}}, "sqn": "0000000000a0"},
                  {"msisdn": "+15551234", "spn": "Op", "ecc": ["112"], "fplmn": ["00102"]},
                  {"applications": ["isim"]}):
        _check(profile_from_mapping(base | extra))
    usim_only = {k: v for k, v in base.items()
                 if k not in ("impi", "impu", "domain", "pcscf", "ist", "label")}
    _check(profile_from_mapping(usim_only | {"applications": ["usim"]}))


def test_personalize_format_saip(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "personalize", str(ROOT / "examples/batch/batch.csv"), "--template",
        str(ROOT / "examples/batch/template.yaml"), "--out", str(out), "--format", "saip",
        "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    images = sorted((out / "images").iterdir())
    packages = sorted((out / "saip").iterdir())
    assert [p.stem for p in packages] == [p.stem for p in images] and packages
    for image_path, package in zip(images, packages, strict=True):
        assert stat.S_IMODE(package.stat().st_mode) == 0o600
        from isim.card.image import load_image

        assert export_image(load_image(image_path)) == package.read_bytes()
        _pycrate_pes(package.read_bytes())
