"""The RealtimeFeed function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lambda_src.contract import (
    DEFAULT_DEADLINE_MARGIN_MS,
    DEFAULT_FEED_CHANNEL,
    DEFAULT_FEED_MAX_CONCURRENCY,
    FeedEnv,
    PipelineEnv,
    RuntimeEnv,
)
from lambda_src.stream_runtime.config import EnvironmentReader

from .messages import ChannelTemplate

__all__ = ["RealtimeFeedConfig"]


@dataclass(frozen=True)
class RealtimeFeedConfig:
    """What the RealtimeFeed construct tells its function; build it with ``from_env``."""

    http_endpoint: str
    channel: ChannelTemplate
    attributes: tuple[str, ...]
    private_attributes: tuple[str, ...]
    max_concurrency: int
    deadline_margin: timedelta

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RealtimeFeedConfig:
        """Read the variables (Default: ``os.environ``); raise one ConfigError naming every variable that is wrong.

        FEED_HTTP_DOMAIN (the Events API's HTTP domain, or an http(s) URL) is required. FEED_CHANNEL Default:
        /items/{PK}. FEED_ATTRIBUTES, FEED_PRIVATE_ATTRIBUTES: attribute names separated by commas (Default: none).
        MAX_CONCURRENCY Default: 8.
        """
        reader = EnvironmentReader(os.environ if environ is None else environ, "RealtimeFeed")
        http_endpoint = reader.http_url(FeedEnv.HTTP_DOMAIN, scheme_implied="https")
        channel_text = reader.text(FeedEnv.CHANNEL, DEFAULT_FEED_CHANNEL)
        try:
            channel = ChannelTemplate.parse(channel_text)
        except ValueError as error:
            reader.problem(f"{FeedEnv.CHANNEL}: {error}")
            channel = ChannelTemplate.parse(DEFAULT_FEED_CHANNEL)
        attributes = reader.names(FeedEnv.ATTRIBUTES)
        private_attributes = reader.names(FeedEnv.PRIVATE_ATTRIBUTES)
        if set(attributes) & set(private_attributes):
            reader.problem(
                f"{FeedEnv.ATTRIBUTES} and {FeedEnv.PRIVATE_ATTRIBUTES} share "
                f"{', '.join(sorted(set(attributes) & set(private_attributes)))}"
            )
        max_concurrency = reader.whole_number(PipelineEnv.MAX_CONCURRENCY, DEFAULT_FEED_MAX_CONCURRENCY, minimum=1)
        deadline_margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
        reader.finish()
        return cls(
            http_endpoint=http_endpoint,
            channel=channel,
            attributes=attributes,
            private_attributes=private_attributes,
            max_concurrency=max_concurrency,
            deadline_margin=deadline_margin,
        )
