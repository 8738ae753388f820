"""`isim build PROFILE [-o IMAGE] [--json]`: every EF of the card, and the card image.

Exit codes: 0 built; 1 the profile breaks a format or the trust-domain rule, or a value does
not fit its file; 2 the profile cannot be read. Nothing is written unless everything is valid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from isim.card.contents import card_contents
from isim.card.image import build_image, save_image
from isim.card.statefile import STATE_KEY, new_state_key
from isim.cli import EXIT_OK, main, reporting
from isim.profile.model import load_profile


@main.command("build")
@click.argument("profile", metavar="PROFILE")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False),
              help="Write the card image (JSON, mode 0600) that `isim emulate` loads.")
@click.option("--json", "as_json", is_flag=True, help="Print the EFs as JSON.")
def build(profile: str, output: str | None, as_json: bool) -> None:
    """Encode every EF of the card described by PROFILE."""
    with reporting(profile, "build"):
        prof = load_profile(profile)
        contents = card_contents(prof)
    files = []
    for f in contents:
        data = f.data
        entry = {"df": f.df, "fid": f.spec.fid_hex, "name": f.spec.name}
        if isinstance(data, tuple):
            entry["records"] = [r.hex() for r in data]
        else:
            entry["hex"] = data.hex()
        files.append(entry)
    if output:
        with reporting(output, "build"):
            image = build_image(prof, contents)
            image.isim[STATE_KEY] = new_state_key()  # the key of its state file's MAC
            save_image(Path(output), image)
    if as_json:
        click.echo(json.dumps({"iccid": prof.iccid, "files": files, "image": output}, indent=1))
    else:
        for e in files:
            if "records" in e:
                for n, r in enumerate(e["records"], 1):
                    click.echo(f"{e['df']:9} {e['fid']} {e['name']:18} #{n:<2} {r}")
            else:
                click.echo(f"{e['df']:9} {e['fid']} {e['name']:18}     {e['hex']}")
        if output:
            click.echo(f"card image written to {output} (mode 0600: it holds K, OPc and PINs)",
                       err=True)
    sys.exit(EXIT_OK)
