"""The app as it is deployed in an AWS account, for the local runner to read a deployed stream (``run --aws``).

Each table gets its physical name and each function its physical name and the environment it runs with there, read
from CloudFormation (ListStackResources) and Lambda (GetFunctionConfiguration) with the caller's boto3 session. The
mappings keep the template's settings: start a debugging session at the stream's tip with
``as_deployed(app, session).starting_at("LATEST")`` rather than replay the last 24 hours through a handler whose
writes are real.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from constructs_pkg.local.assembly import LocalApp

__all__ = ["as_deployed"]


def as_deployed(app: LocalApp, session: Any) -> LocalApp:
    """``app`` with the physical names and deployed environments of its stacks in ``session``'s account and region.

    Raises ValueError naming a stack that is not deployed, or a table or function the deployed stack does not hold.
    """
    physical = _physical_ids(app.stack_names, session.client("cloudformation"))
    missing = sorted(logical_id for logical_id in (*app.tables, *app.functions) if logical_id not in physical)
    if missing:
        stacks = ", ".join(app.stack_names)
        raise ValueError(f"not in the deployed stacks {stacks}: {', '.join(missing)}; deploy the app again?")
    lambda_client = session.client("lambda")
    tables = {
        logical_id: dataclasses.replace(table, name=physical[logical_id]) for logical_id, table in app.tables.items()
    }
    functions = {}
    for logical_id, function in app.functions.items():
        configuration = lambda_client.get_function_configuration(FunctionName=physical[logical_id])
        environment = configuration.get("Environment", {}).get("Variables", {})
        functions[logical_id] = dataclasses.replace(function, name=physical[logical_id], environment=environment)
    return dataclasses.replace(app, tables=tables, functions=functions)


def _physical_ids(stack_names: tuple[str, ...], cloudformation: Any) -> dict[str, str]:
    from botocore.exceptions import ClientError

    physical: dict[str, str] = {}
    for stack_name in stack_names:
        try:
            for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
                for resource in page["StackResourceSummaries"]:
                    if "PhysicalResourceId" in resource:
                        physical[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationError":
                raise ValueError(f"stack {stack_name} is not deployed here: {error}") from None
            raise
    return physical
