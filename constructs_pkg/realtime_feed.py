"""RealtimeFeed: each change of a table pushed to AppSync Events subscribers, in order per item, never dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Unpack

from aws_cdk import Acknowledgment, CfnElement, Expiration, Names, Stack, Token, Validations
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambda_src.contract import (
    DEFAULT_FEED_BATCH_SIZE,
    DEFAULT_FEED_CHANNEL,
    DEFAULT_FEED_MAX_CONCURRENCY,
    FeedEnv,
    PipelineEnv,
)
from lambda_src.realtime_feed.messages import ChannelTemplate

from .limits import documented
from .stream_filter import StreamFilter
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable
from .table_facts import key_attributes_of, stream_view_type_of

__all__ = ["RealtimeFeed"]


@documented
class RealtimeFeed(StreamPipeline):
    """Publishes every change of ``table`` to an AppSync Events API, one message per item and batch, on a channel built
    from the item's attributes: a REMOVE as a delete, an item over the event size limit as a "changed, fetch it"
    notice with its key. Five events per publish; each event's outcome checked; a failed publish fails its item's
    records (a refusal is quarantined, the rest retried), never a silent drop. Each message carries the item's key,
    the event name and its ``sequence`` (40 digits, text order is number order), so a client drops duplicates and
    late messages by keeping the highest sequence it applied per key.

    - ``table``: an ``ITable`` with a NEW_IMAGE or NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``api``: an ``IEventApi`` with IAM among its auth providers, holding the channel's namespace.
      Default: - a new Events API: IAM for this publisher, an API key for subscribers, or the ``user_pool``'s
      users, and the channel's namespace.
    - ``user_pool``: subscribers sign in with this Cognito user pool instead of an API key; only for a new API.
      Default: - an API key.
    - ``api_key_expires``: when the new API's key expires, e.g. ``Expiration.after(Duration.days(365))`` (AppSync
      allows up to 365 days; subscribers are refused once it has). Default: - AppSync's 7 days from creation.
    - ``channel``: the channel path, each segment after the namespace a literal or a whole ``{attribute}``, naming key
      attributes or ``attributes``. Default: $DEFAULT_FEED_CHANNEL.
    - ``attributes``: the attributes a message's ``item`` holds. Default: - every attribute but ``private_attributes``.
    - ``private_attributes``: attributes never published. Default: - none.
    - ``max_concurrency``: channels published at once. Default: $DEFAULT_FEED_MAX_CONCURRENCY.
    - ``item_filter``: which items are published; other records never invoke the function. Default: - every item.
    - ``batch_size``: records per invocation, as ``StreamTrigger`` takes it; larger than its default so that a
      backlog is published in fuller requests (no batching window: a quiet stream is published at once).
      Default: $DEFAULT_FEED_BATCH_SIZE.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them.

    Attributes: those of ``StreamPipeline``, and ``api``, ``namespace`` (the ``ChannelNamespace`` created, or None),
    ``channel`` (the template), ``subscription_channel`` (the wildcard that receives every channel of the template,
    e.g. ``/items/*``), ``api_key`` (the subscribers' ``CfnApiKey`` of a new API, or None).
    """

    HANDLER: ClassVar[str] = "lambda_src.realtime_feed.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, dynamodb.StreamViewType.NEW_IMAGE)
    STREAM_VIEW_REASON = "the feed publishes the item as each change left it"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        api: appsync.IEventApi | None = None,
        user_pool: cognito.IUserPool | None = None,
        api_key_expires: Expiration | None = None,
        channel: str | None = None,
        attributes: Sequence[str] | None = None,
        private_attributes: Sequence[str] | None = None,
        max_concurrency: int | None = None,
        item_filter: StreamFilter | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        # The library's default, then the user's value: a backlog is published in fuller requests.
        options = {"batch_size": DEFAULT_FEED_BATCH_SIZE, **options}
        super().__init__(scope, id, table=table, item_filter=item_filter, **options)
        channel = DEFAULT_FEED_CHANNEL if channel is None else channel
        attributes = tuple(attributes or ())
        private_attributes = tuple(private_attributes or ())
        max_concurrency = DEFAULT_FEED_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        problems = self._problems(channel, attributes, private_attributes, api, user_pool)
        self.refuse(problems + self.max_concurrency_problems(max_concurrency))
        template = ChannelTemplate.parse(channel)
        self.channel = template.text
        self.subscription_channel = template.subscription
        self.namespace: appsync.ChannelNamespace | None = None
        self.api_key: appsync.CfnApiKey | None = None
        self.api = api if api is not None else self._new_api(template.namespace, user_pool, api_key_expires)
        self.attach_handler(
            environment={
                FeedEnv.HTTP_DOMAIN: self.api.http_dns,
                FeedEnv.CHANNEL: template.text,
                FeedEnv.ATTRIBUTES: ",".join(attributes),
                FeedEnv.PRIVATE_ATTRIBUTES: ",".join(private_attributes),
                PipelineEnv.MAX_CONCURRENCY: str(max_concurrency),
            }
        )
        self.api.grant_publish(self.function)
        resource = self._api_resource()
        if resource is not None:
            Validations.of(self).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:appsync:<AWS::Region>:<AWS::AccountId>:apis/"
                    f"<{Stack.of(self).get_logical_id(resource)}.ApiId>/channelNamespace/*]",
                    reason="Publishing to the API's channels: a channel is named by the item, so the grant covers "
                    "the API's namespaces (what EventApi.grant_publish grants)",
                )
            )

    def _api_resource(self) -> Any:
        child = self.api.node.default_child if isinstance(self.api, appsync.EventApi) else None
        return child if isinstance(child, CfnElement) else None

    def _problems(
        self,
        channel: str,
        attributes: tuple[str, ...],
        private_attributes: tuple[str, ...],
        api: appsync.IEventApi | None,
        user_pool: cognito.IUserPool | None,
    ) -> list[str]:
        problems = []
        try:
            template = ChannelTemplate.parse(channel)
        except ValueError as error:
            return [f"channel: {error}"]
        shared = sorted(set(attributes) & set(private_attributes))
        if shared:
            problems.append(f"attributes and private_attributes share {', '.join(shared)}")
        keys = key_attributes_of(self.table)
        view_type = stream_view_type_of(self.table)
        for name in template.attributes:
            if name in private_attributes:
                problems.append(f"channel {channel!r} names private attribute {name!r}: its value would be public")
            elif keys is not None and name not in keys and name not in attributes:
                problems.append(
                    f"channel {channel!r} names attribute {name!r}, which is not a key attribute of table "
                    f"{self.table.node.path} ({', '.join(keys)}) nor one of attributes: every item must hold it"
                )
            elif keys is not None and name not in keys and view_type == dynamodb.StreamViewType.NEW_IMAGE.value:
                problems.append(
                    f"channel {channel!r} names non-key attribute {name!r}: a REMOVE on a NEW_IMAGE stream carries "
                    "only the key, so the table needs NEW_AND_OLD_IMAGES"
                )
        if api is not None and user_pool is not None:
            problems.append("user_pool applies to a new API only; configure the given api's auth providers instead")
        if (
            api is not None
            and not Token.is_unresolved(api.auth_provider_types)
            and appsync.AppSyncAuthorizationType.IAM not in api.auth_provider_types
        ):
            problems.append("api must have IAM among its auth providers: the feed publishes with its role")
        return problems

    def _new_api(
        self, namespace: str, user_pool: cognito.IUserPool | None, api_key_expires: Expiration | None
    ) -> appsync.EventApi:
        iam = appsync.AppSyncAuthProvider(authorization_type=appsync.AppSyncAuthorizationType.IAM)
        if user_pool is not None:
            subscribers = appsync.AppSyncAuthProvider(
                authorization_type=appsync.AppSyncAuthorizationType.USER_POOL,
                cognito_config=appsync.AppSyncCognitoConfig(user_pool=user_pool),
            )
        else:
            subscribers = appsync.AppSyncAuthProvider(
                authorization_type=appsync.AppSyncAuthorizationType.API_KEY,
                api_key_config=appsync.AppSyncApiKeyConfig(expires=api_key_expires),
            )
        api = appsync.EventApi(
            self,
            "Api",
            api_name=Names.unique_resource_name(self, max_length=50, separator="-"),
            authorization_config=appsync.EventApiAuthConfig(
                auth_providers=[iam, subscribers],
                connection_auth_mode_types=[iam.authorization_type, subscribers.authorization_type],
                default_publish_auth_mode_types=[iam.authorization_type],
                default_subscribe_auth_mode_types=[subscribers.authorization_type],
            ),
        )
        self.namespace = api.add_channel_namespace(namespace)
        keys = api.api_keys
        self.api_key = next(iter(keys.values())) if keys else None
        return api
