"""The example app that cdk.json runs: every example stack, checked by cdk-nag's AwsSolutions rules at synth."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from examples.aggregation.stack import AggregationStack
from examples.archive.stack import ArchiveStack
from examples.basic_flow.stack import BasicFlowStack
from examples.content_ai.stack import AwsNativeAiPipelinesStack, SeedAiPipelinesStack
from examples.notifications.stack import NotificationsStack
from examples.realtime_feed.stack import RealtimeFeedStack
from examples.search_index.stack import SearchIndexStack

__all__ = ["build_app"]


def build_app(app: App | None = None) -> App:
    """Add the example stacks to ``app`` (a new one by default), with cdk-nag as a synth-time validation."""
    app = app or App()
    BasicFlowStack(app, "BasicFlow")
    NotificationsStack(app, "Notifications")
    SeedAiPipelinesStack(app, "SeedAiPipelines")
    AwsNativeAiPipelinesStack(app, "AwsNativeAiPipelines")
    RealtimeFeedStack(app, "RealtimeFeed")
    SearchIndexStack(app, "SearchIndex")
    AggregationStack(app, "Aggregation")
    ArchiveStack(app, "Archive")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
