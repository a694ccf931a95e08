"""Testing a user's own stacks and pipelines: the pytest plugin's helpers (``constructs_pkg.testing.plugin`` holds
its fixtures, loaded by pytest through the ``pytest11`` entry point).

- ``template_snapshot(stack)``: the stack's template made deterministic for a syrupy snapshot.
- ``scrub_asset_hashes(template)``: only the asset hashes replaced.
- ``LocalPipelines``: a stack's pipelines running on DynamoDB Local and moto (what the ``local_pipelines`` fixture
  returns).
- ``StreamReader``: a table's stream read as Lambda reads it; ``lambda_event(records, stream_arn)`` makes the event.
- ``DynamoDBLocal``: what the ``dynamodb_local`` fixture gives.

Nothing here imports aws_cdk on import: tests of handlers alone need no Node.js. Each name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_pkg.local.dynamodb_local import DynamoDBLocal as DynamoDBLocal
    from constructs_pkg.local.wire import lambda_event as lambda_event
    from constructs_pkg.testing.pipelines import LocalPipelines as LocalPipelines
    from constructs_pkg.testing.snapshots import scrub_asset_hashes as scrub_asset_hashes
    from constructs_pkg.testing.snapshots import template_snapshot as template_snapshot
    from constructs_pkg.testing.streams import StreamReader as StreamReader

__all__ = ["DynamoDBLocal", "LocalPipelines", "StreamReader", "lambda_event", "scrub_asset_hashes", "template_snapshot"]

_MODULES = {
    "DynamoDBLocal": "constructs_pkg.local.dynamodb_local",
    "LocalPipelines": "constructs_pkg.testing.pipelines",
    "StreamReader": "constructs_pkg.testing.streams",
    "lambda_event": "constructs_pkg.local.wire",
    "scrub_asset_hashes": "constructs_pkg.testing.snapshots",
    "template_snapshot": "constructs_pkg.testing.snapshots",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
