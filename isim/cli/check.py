"""`isim check PROFILE...`: validate profiles (formats and the trust-domain rule).

Exit codes: 0 all valid; 1 a profile breaks a rule (one line per problem on stdout:
`<path>: <file or field>: <message>`); 2 an input cannot be read (message on stderr; 2 wins
over 1 when both happen in one run).
Reads only; never writes a file. `-` reads one profile from standard input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from isim.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, main
from isim.errors import InputError, ProfileError
from isim.profile.model import MAX_PROFILE_BYTES, load_profile, parse_profile


def _check_one(path: str) -> dict[str, Any]:
    """{path, valid, readable, problems, error} for one profile; never raises on bad input."""
    report: dict[str, Any] = {"path": path, "valid": False, "readable": True, "problems": []}
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_PROFILE_BYTES + 1)
            parse_profile(raw, source="<stdin>")
        else:
            load_profile(path)
    except InputError as exc:
        report["readable"] = False
        report["error"] = exc.message
    except ProfileError as exc:
        report["problems"] = [p.to_dict() | {"where": p.where} for p in exc.problems]
    else:
        report["valid"] = True
    return report


@main.command("check")
@click.argument("profiles", nargs=-1, required=True, metavar="PROFILE...")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON report.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing for valid profiles.")
def check(profiles: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Validate PROFILE files (YAML or JSON) against the formats and the trust-domain rule."""
    reports = [_check_one(path) for path in profiles]
    code = EXIT_OK
    for r in reports:
        if not r["readable"]:
            click.echo(f"{r['path']}: {r['error']}", err=True)
            code = EXIT_BAD_INPUT
        elif not r["valid"]:
            code = max(code, EXIT_VIOLATION)
    if as_json:
        for r in reports:
            for p in r["problems"]:
                del p["where"]
        doc = {"valid": code == EXIT_OK, "profiles": reports}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for r in reports:
            if r["valid"] and not quiet:
                click.echo(f"{r['path']}: valid")
            for p in r["problems"]:
                click.echo(f"{r['path']}: {p['where']}: {p['message']}")
    sys.exit(code)
