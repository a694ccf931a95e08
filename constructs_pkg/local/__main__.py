"""``python -m constructs_pkg.local``: run a CDK app's stream pipelines on this machine, or redrive failed batches.

Each subcommand lives in a module of its own with an ``add_command(subparsers)``; ``COMMANDS`` lists them in the order
``--help`` shows them.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

COMMANDS = (
    "constructs_pkg.local.setup_cli",
    "constructs_pkg.local.run_cli",
    "constructs_pkg.local.demo_cli",
    "constructs_pkg.local.redrive_cli",
    "constructs_pkg.local.reindex_cli",
    "constructs_pkg.local.recompute_aggregates_cli",
    "constructs_pkg.local.restore_cli",
    "constructs_pkg.local.search_demo_cli",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (Default: - the process's arguments) and run the subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m constructs_pkg.local", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_command(commands)
    args = parser.parse_args(argv)
    # Not `handler`: that is redrive's --handler option, in the same namespace.
    status: int = args.run_command(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
