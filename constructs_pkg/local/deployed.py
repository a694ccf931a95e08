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
    deployed = _physical_ids(app.stack_names, session.client("cloudformation"))
    physical = {key: deployed[origin] for key, origin in app.origins.items() if origin in deployed}
    missing = sorted(key for key in (*app.tables, *app.functions) if key not in physical)
    if missing:
        stacks = ", ".join(app.stack_names)
        raise ValueError(f"not in the deployed stacks {stacks}: {', '.join(missing)}; deploy the app again?")
    lambda_client = session.client("lambda")
    tables = {key: dataclasses.replace(table, name=physical[key]) for key, table in app.tables.items()}
    functions = {}
    for key, function in app.functions.items():
        configuration = lambda_client.get_function_configuration(FunctionName=physical[key])
        environment = configuration.get("Environment", {}).get("Variables", {})
        functions[key] = dataclasses.replace(function, name=physical[key], environment=environment)
    return dataclasses.replace(app, tables=tables, functions=functions)


def _physical_ids(stack_names: tuple[str, ...], cloudformation: Any) -> dict[tuple[str, str], str]:
    """(stack name, logical id) -> physical id, for every resource of the stacks."""
    from botocore.exceptions import ClientError

    physical: dict[tuple[str, str], str] = {}
    for stack_name in stack_names:
        try:
            for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
                for resource in page["StackResourceSummaries"]:
                    if "PhysicalResourceId" in resource:
                        physical[(stack_name, resource["LogicalResourceId"])] = resource["PhysicalResourceId"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationError":
                raise ValueError(f"stack {stack_name} is not deployed here: {error}") from None
            raise
    return physical
