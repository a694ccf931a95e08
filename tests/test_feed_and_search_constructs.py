"""RealtimeFeed and SearchIndexer at synth: what they create and grant, and each argument they refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk.assertions import Match, Template
from conftest import function_properties, new_stack

from constructs_pkg import RealtimeFeed, SearchIndexer

PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)
SK = dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING)


def _table(stack: Stack, view: dynamodb.StreamViewType = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES) -> dynamodb.Table:
    return dynamodb.Table(stack, "Table", partition_key=PK, sort_key=SK, stream=view)


def test_a_new_events_api_with_iam_for_the_publisher_and_an_api_key_for_subscribers() -> None:
    stack = new_stack()
    feed = RealtimeFeed(stack, "Feed", table=_table(stack), channel="/chats/{PK}", private_attributes=["userId"])
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::AppSync::Api",
        {
            "EventConfig": {
                "DefaultPublishAuthModes": [{"AuthType": "AWS_IAM"}],
                "DefaultSubscribeAuthModes": [{"AuthType": "API_KEY"}],
            }
        },
    )
    template.has_resource_properties("AWS::AppSync::ChannelNamespace", {"Name": "chats"})
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": "appsync:EventPublish"})])}},
    )
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["FEED_CHANNEL"] == "/chats/{PK}" and variables["FEED_PRIVATE_ATTRIBUTES"] == "userId"
    assert feed.subscription_channel == "/chats/*" and feed.api_key is not None


def test_cognito_subscribers_and_a_given_api() -> None:
    stack = new_stack()
    pool = cognito.UserPool(stack, "Users")
    RealtimeFeed(stack, "Feed", table=_table(stack), user_pool=pool)
    Template.from_stack(stack).has_resource_properties(
        "AWS::AppSync::Api", {"EventConfig": {"DefaultSubscribeAuthModes": [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]}}
    )
    other = new_stack()
    iam = appsync.AppSyncAuthProvider(authorization_type=appsync.AppSyncAuthorizationType.IAM)
    api = appsync.EventApi(
        other,
        "Mine",
        api_name="mine",
        authorization_config=appsync.EventApiAuthConfig(
            auth_providers=[iam], default_publish_auth_mode_types=[appsync.AppSyncAuthorizationType.IAM]
        ),
    )
    feed = RealtimeFeed(other, "Feed", table=_table(other), api=api)
    assert feed.api is api and feed.namespace is None
    assert len(Template.from_stack(other).find_resources("AWS::AppSync::Api")) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"channel": "items/{PK}"}, r"channel: a channel starts with '/'"),
        ({"channel": "/items/{room}"}, r"names attribute 'room', which is not a key attribute of table .* \(PK, SK\)"),
        ({"channel": "/items/{PK}", "private_attributes": ["PK"]}, r"names private attribute 'PK'"),
        ({"attributes": ["a"], "private_attributes": ["a"]}, r"attributes and private_attributes share a"),
        ({"max_concurrency": 0}, r"max_concurrency must be between 1 and 64"),
        ({"function": None}, r"function are set by the pipeline itself"),
    ],
)
def test_the_feed_refuses(arguments: dict[str, Any], message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        RealtimeFeed(stack, "Feed", table=_table(stack), **arguments)


def test_a_channel_on_a_non_key_attribute_needs_old_images_for_removes() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"a REMOVE on a NEW_IMAGE stream carries only the key"):
        RealtimeFeed(
            stack,
            "Feed",
            table=_table(stack, dynamodb.StreamViewType.NEW_IMAGE),
            channel="/r/{room}",
            attributes=["room"],
        )
    other = new_stack()
    with pytest.raises(ValueError, match=r"streams KEYS_ONLY; the feed publishes the item"):
        RealtimeFeed(other, "Feed", table=_table(other, dynamodb.StreamViewType.KEYS_ONLY))


def test_the_new_domain_is_encrypted_tls_only_with_fine_grained_access_for_the_function_role() -> None:
    stack = new_stack()
    indexer = SearchIndexer(stack, "Search", table=_table(stack), index="products", mappings={"name": {"type": "text"}})
    template = Template.from_stack(stack)
    role = stack.get_logical_id(indexer.function.role.node.default_child)  # type: ignore[union-attr]
    template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "EncryptionAtRestOptions": {"Enabled": True},
            "NodeToNodeEncryptionOptions": {"Enabled": True},
            "DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
            "AdvancedSecurityOptions": {
                "Enabled": True,
                "MasterUserOptions": {"MasterUserARN": {"Fn::GetAtt": [role, "Arn"]}},
            },
            "AccessPolicies": {"Statement": [Match.object_like({"Principal": {"AWS": {"Fn::GetAtt": [role, "Arn"]}}})]},
        },
    )
    variables = function_properties(template)["Environment"]["Variables"]
    assert (
        json.loads(variables["SEARCH_MAPPINGS"]) == {"name": {"type": "text"}} and variables["SEARCH_SERVICE"] == "es"
    )
    template.resource_count_is("AWS::Lambda::Function", 1)  # no custom resource for the access policy


def test_a_given_domain_and_a_serverless_collection() -> None:
    stack = new_stack()
    domain = opensearch.Domain.from_domain_endpoint(stack, "Mine", "https://search-mine-abc.us-east-1.es.amazonaws.com")
    indexer = SearchIndexer(stack, "Search", table=_table(stack), index="products", domain=domain)
    assert indexer.domain is domain
    Template.from_stack(stack).resource_count_is("AWS::OpenSearchService::Domain", 0)
    other = new_stack()
    collection = aoss.CfnCollection(other, "Collection", name="products", type="SEARCH")
    SearchIndexer(other, "Search", table=_table(other), index="products", collection=collection)
    template = Template.from_stack(other)
    template.has_resource_properties("AWS::OpenSearchServerless::AccessPolicy", {"Type": "data"})
    assert function_properties(template)["Environment"]["Variables"]["SEARCH_SERVICE"] == "aoss"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"index": "Products"}, r"index must be 1 to 255 lowercase letters"),
        ({"attributes": ["stream_sequence"]}, r"stream_sequence are the indexer's own fields"),
        ({"mappings": {"name": "text"}}, r"mappings maps each field name to its mapping"),
        ({"max_bulk_bytes": 20 * 1024 * 1024}, r"max_bulk_bytes must be between 1024 and 10485760"),
        ({"max_bulk_actions": 0}, r"max_bulk_actions must be between 1 and 10000"),
    ],
)
def test_the_indexer_refuses(arguments: dict[str, Any], message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        SearchIndexer(stack, "Search", table=_table(stack), **{"index": "products", **arguments})
