"""Kept so that ``from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event`` goes on working in this
repository's tests: each name lives in the package now (``constructs_pkg.testing``), and the ``dynamodb_local``
fixture is the pytest plugin's (``constructs_pkg.testing.plugin``), which pytest loads through its entry point."""

from __future__ import annotations

from constructs_pkg.local.dynamodb_local import DynamoDBLocal
from constructs_pkg.local.wire import lambda_event
from constructs_pkg.testing.streams import StreamReader

__all__ = ["DynamoDBLocal", "StreamReader", "lambda_event"]
