"""``eventstream``: the command that runs, benchmarks and operates the system.

Subcommands live next to what they run and are imported lazily, so ``eventstream --help`` stays fast
and a command only loads the libraries it needs.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command; each is loaded only when invoked or listed.
COMMANDS: dict[str, str] = {
    "bench": "eventstream.bench:bench",
    "bootstrap": "eventstream.bootstrap:bootstrap_command",
    "certs": "eventstream.certs:certs",
    "eventstoresvc": "eventstoresvc.cli:eventstoresvc",
    "ordersvc": "ordersvc.cli:ordersvc",
    "token": "eventstream.token:token",
    "up": "eventstream.up:up",
    "worker": "workers.cli:worker",
    "replay": "workers.cli:replay",
    "saga": "workers.cli:saga",
    "dlq": "workers.cli:dlq",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """All subcommand names, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the subcommand ``cmd_name``, or None if there is none."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eventstream")
def main() -> None:
    """Run, benchmark and operate the eventstream order system."""
