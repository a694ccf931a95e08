"""CloudWatch metrics as Embedded Metric Format log lines: no API call, no extra permission, no latency."""

from __future__ import annotations

import json
import os
import sys
import time

__all__ = ["METRICS_NAMESPACE", "put_metric"]

METRICS_NAMESPACE = "DynamoStreamConstructs"


def put_metric(name: str, value: float, unit: str = "Count", *, timestamp: float | None = None) -> None:
    """Record ``value`` of metric ``name`` for this function (dimension FunctionName), at ``timestamp`` (epoch
    seconds; CloudWatch takes up to two weeks back. Default: - now).

    The line follows https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    line = {
        "_aws": {
            "Timestamp": int((time.time() if timestamp is None else timestamp) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        "FunctionName": function_name,
        name: value,
    }
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
