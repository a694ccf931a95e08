"""What the local runner stands in for each kind of CloudFormation resource, keyed by its type.

A ``ResourceKind`` says which service serves the kind (a boto3 service name, looked up in the run's
``LocalEndpoints``), which property names it, how to create it there from its template properties and local name, and
what ``{"Ref": id}`` and each ``{"Fn::GetAtt": [id, attribute]}`` give for what was created. The runner resolves every
reference in a function's environment, and every on-failure destination, through this registry, so a construct that
brings a new kind of resource makes it run locally with ``register_resource_kind``, with no runner change:

    register_resource_kind(ResourceKind("AWS::SES::EmailIdentity", "sesv2", create_email_identity, "EmailIdentity"))

Built in: DynamoDB tables, SQS queues, SNS topics, S3 buckets and Secrets Manager secrets. Ref and attribute values
follow each type's page under https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_pkg.local.assembly import TABLE_TYPES, TableSpec, table_spec

__all__ = [
    "LOCAL_SECRET_VALUE",
    "LocalResource",
    "ResourceKind",
    "ResourceRequest",
    "create_table",
    "register_resource_kind",
    "registered_services",
    "resource_kind",
]

# A Secrets Manager secret the template generates (GenerateSecretString) gets this value locally.
LOCAL_SECRET_VALUE = "local-secret"
_QUEUE_OR_TOPIC_NAME = re.compile(r"[^A-Za-z0-9_-]")
_BUCKET_NAME = re.compile(r"[^a-z0-9.-]")


@dataclass(frozen=True)
class LocalResource:
    """What the runner created for a resource: its ``name``, what ``Ref`` gives, and each ``Fn::GetAtt`` attribute's
    value by attribute name."""

    name: str
    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceRequest:
    """What a kind is asked to create: ``name`` (the local name, already valid for the kind), the template's
    ``properties``, a boto3 ``client`` of the kind's service on its local endpoint, and ``supplied_value``, the value
    the run supplies for the reference at hand (a secret's, from ``LocalRunner``'s ``secret_values``; Default: None)."""

    name: str
    properties: Mapping[str, Any]
    client: Any
    supplied_value: str | None = None


def _same_name(name: str) -> str:
    return name


@dataclass(frozen=True)
class ResourceKind:
    """How the runner stands in for resources of the CloudFormation type ``resource_type``.

    ``service`` is the boto3 service whose local endpoint serves it; ``create`` makes the resource there (once per
    resource and run: it may find it already there) and returns what references to it give; ``name_property`` is the
    property that names it in a template (Default: None: it is always named from its logical id); ``valid_name`` makes
    a valid name of the kind from a wanted one (Default: - the name as it is); ``supply`` takes a value supplied by a
    later reference (Default: None: such values are ignored).
    """

    resource_type: str
    service: str
    create: Callable[[ResourceRequest], LocalResource]
    name_property: str | None = None
    valid_name: Callable[[str], str] = _same_name
    supply: Callable[[ResourceRequest, LocalResource], None] | None = None


_KINDS: dict[str, ResourceKind] = {}


def register_resource_kind(kind: ResourceKind) -> None:
    """Make the runner stand in for ``kind.resource_type`` with ``kind``, in place of any kind registered before."""
    _KINDS[kind.resource_type] = kind


def resource_kind(resource_type: str) -> ResourceKind | None:
    """The kind registered for ``resource_type``; None: the runner has no stand-in for it."""
    return _KINDS.get(resource_type)


def registered_services() -> frozenset[str]:
    """The services the registered kinds need: a function gets an endpoint variable for each that has a URL."""
    return frozenset(kind.service for kind in _KINDS.values())


# --- DynamoDB tables ----------------------------------------------------------------------------------------------


def create_table(client: Any, table: TableSpec) -> None:
    """Create ``table`` (on-demand, streams and TTL as its template says) and wait until it is active."""
    arguments: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": list(table.key_schema),
        "AttributeDefinitions": list(table.attribute_definitions),
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.global_secondary_indexes:
        arguments["GlobalSecondaryIndexes"] = [_index(index) for index in table.global_secondary_indexes]
    if table.local_secondary_indexes:
        arguments["LocalSecondaryIndexes"] = [_index(index) for index in table.local_secondary_indexes]
    if table.stream_view_type:
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    client.create_table(**arguments)
    client.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 0.2})
    if table.ttl_attribute:
        client.update_time_to_live(
            TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
        )


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    """A GSI or LSI for CreateTable: throughput and contributor settings are CloudFormation's, not DynamoDB Local's."""
    return {name: index[name] for name in ("IndexName", "KeySchema", "Projection") if name in index}


def _table(request: ResourceRequest) -> LocalResource:
    # The app's tables are made by LocalRunner.create_tables (or exist already, with --no-create-tables); a table
    # referred to before then is made here, from the same template properties.
    client = request.client
    try:
        description = client.describe_table(TableName=request.name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        create_table(client, table_spec(request.name, request.name, request.properties))
        description = client.describe_table(TableName=request.name)["Table"]
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return LocalResource(request.name, request.name, attributes)


# --- SQS queues, SNS topics, S3 buckets ---------------------------------------------------------------------------


def _queue(request: ResourceRequest) -> LocalResource:
    queue_url = request.client.create_queue(QueueName=request.name)["QueueUrl"]
    # The server's own account, not the runner's: ask the queue.
    answer = request.client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    attributes = {"Arn": answer["Attributes"]["QueueArn"], "QueueName": request.name, "QueueUrl": queue_url}
    return LocalResource(request.name, queue_url, attributes)


def _topic(request: ResourceRequest) -> LocalResource:
    topic_arn = request.client.create_topic(Name=request.name)["TopicArn"]
    return LocalResource(request.name, topic_arn, {"TopicArn": topic_arn, "TopicName": request.name})


def _bucket(request: ResourceRequest) -> LocalResource:
    request.client.create_bucket(Bucket=request.name)
    return LocalResource(request.name, request.name, {"Arn": f"arn:aws:s3:::{request.name}"})


def _queue_or_topic_name(length: int) -> Callable[[str], str]:
    return lambda name: _QUEUE_OR_TOPIC_NAME.sub("-", name)[:length]


def _bucket_name(name: str) -> str:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    return _BUCKET_NAME.sub("-", name.lower())[:63].strip(".-")


# --- Secrets Manager secrets --------------------------------------------------------------------------------------


def _secret(request: ResourceRequest) -> LocalResource:
    template_value = request.properties.get("SecretString")
    value = request.supplied_value or (template_value if isinstance(template_value, str) else LOCAL_SECRET_VALUE)
    client = request.client
    try:
        secret_arn = client.create_secret(Name=request.name, SecretString=value)["ARN"]
    except client.exceptions.ResourceExistsException:
        # Left by an earlier run on the same server, under the same prefix: this run's value replaces its value.
        secret_arn = client.put_secret_value(SecretId=request.name, SecretString=value)["ARN"]
    return LocalResource(request.name, secret_arn, {"Id": secret_arn})


def _supply_secret(request: ResourceRequest, secret: LocalResource) -> None:
    if request.supplied_value is not None:
        request.client.put_secret_value(SecretId=secret.ref, SecretString=request.supplied_value)


for _table_type in TABLE_TYPES:
    register_resource_kind(ResourceKind(_table_type, "dynamodb", _table, "TableName"))
register_resource_kind(ResourceKind("AWS::SQS::Queue", "sqs", _queue, "QueueName", _queue_or_topic_name(80)))
register_resource_kind(ResourceKind("AWS::SNS::Topic", "sns", _topic, "TopicName", _queue_or_topic_name(256)))
register_resource_kind(ResourceKind("AWS::S3::Bucket", "s3", _bucket, "BucketName", _bucket_name))
register_resource_kind(
    ResourceKind("AWS::SecretsManager::Secret", "secretsmanager", _secret, "Name", supply=_supply_secret)
)
