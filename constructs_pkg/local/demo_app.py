"""The app ``python -m constructs_pkg.local demo`` runs, shipped in the package so that the demo works from the wheel:
seed 004's basic flow, as the BasicFlow example has it. Orders (PK=CUSTOMER#id, SK=ORDER#id) streams to a handler
(``constructs_pkg/local/demo_handler``) through a filter that lets order items only, and the handler keeps one row per
order in OrderSummaries.

``python -m constructs_pkg.local.demo_app`` synthesizes it into CDK_OUTDIR, as ``cdk synth`` runs an app. The names
below are all the demo needs to know of it; aws_cdk is imported only to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEMO_STACK", "HANDLER_DIR", "ORDERS", "SUMMARIES", "build_app"]

DEMO_STACK = "Demo"
# The construct ids of the two tables: the demo finds them by these, as `run --changes` finds a user's.
ORDERS = "Orders"
SUMMARIES = "OrderSummaries"
HANDLER_DIR = Path(__file__).resolve().parent / "demo_handler"


def build_app(app: Any = None) -> Any:
    """Add the demo stack to ``app`` (Default: - a new ``App``) and return the app."""
    from aws_cdk import App, RemovalPolicy, Stack
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_lambda as lambda_

    from constructs_pkg import StreamFilter, StreamTriggeredTable

    app = app or App()
    stack = Stack(app, DEMO_STACK, description="dynamodb-stream-constructs demo: filter, transform, write")
    summaries = dynamodb.Table(
        stack,
        SUMMARIES,
        partition_key=dynamodb.Attribute(name="customerId", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="orderId", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        removal_policy=RemovalPolicy.DESTROY,
    )
    orders = StreamTriggeredTable(
        stack,
        ORDERS,
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
        removal_policy=RemovalPolicy.DESTROY,
        code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc"]),
        handler="app.handler",
        environment={"SUMMARY_TABLE_NAME": summaries.table_name},
        filters=[StreamFilter.key_prefix("SK", "ORDER#")],
    )
    summaries.grant_write_data(orders.function)
    return app


if __name__ == "__main__":
    build_app().synth()
