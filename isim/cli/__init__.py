"""The `isim` command line: the only place that knows terminals, arguments and exit codes.

Each subcommand lives in its own module of this package and registers itself on `main`.
"""

from __future__ import annotations

import importlib

import click

# Exit codes shared by every subcommand (public contract).
EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2

SUBCOMMAND_MODULES = (
    "check",
    "build",
    "codec",
    "emulate",
    "aka",
    "personalize",
    "inspect",
    "trust_check",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="isim")
def main() -> None:
    """A software ISIM: build, emulate, personalize and validate IMS cards."""


for _name in SUBCOMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a subcommand not written yet
        if exc.name != f"{__name__}.{_name}":
            raise
