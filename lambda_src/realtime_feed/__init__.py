"""RealtimeFeed's runtime: the Lambda handler ``lambda_src.realtime_feed.app.handler``, its configuration and messages.

The infrastructure is ``constructs_pkg.RealtimeFeed``; it sets the environment ``RealtimeFeedConfig`` reads.
"""

from __future__ import annotations

from .config import RealtimeFeedConfig
from .messages import ChannelTemplate, FeedMessage, channel_segment, message_for

__all__ = ["ChannelTemplate", "FeedMessage", "RealtimeFeedConfig", "channel_segment", "message_for"]
