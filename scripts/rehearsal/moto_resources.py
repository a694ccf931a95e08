"""Resource types whose services moto serves but whose CloudFormation it cannot create (moto 5.2 warns "No Moto
CloudFormation support for ..." and skips the resource; a ``Ref`` to it then gives null and an ``Fn::GetAtt`` fails the
stack with "references undefined resource").

The rehearsal's moto server creates each of them through the service's own API on the same server (boto3, so the
template's properties are checked as that API's input), gives ``Ref`` and ``Fn::GetAtt`` what CloudFormation's
reference documents for the type, and deletes it with its stack:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html

``ADDED_TYPES`` maps each type to its class; ``moto_fixes.install`` makes moto's CloudFormation use them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import boto3

__all__ = ["ADDED_TYPES", "CreatedResource", "use_endpoint"]

logger = logging.getLogger(__name__)
_ENDPOINT: dict[str, str] = {}
_CLIENTS_LOCK = threading.Lock()


def use_endpoint(url: str) -> None:
    """The moto server these types call (the one whose CloudFormation creates them)."""
    _ENDPOINT["url"] = url
    _client.cache_clear()


@functools.cache
def _client(service: str, account_id: str, region: str) -> Any:
    """A boto3 client of ``service`` on the rehearsal's moto server, acting in ``account_id`` (moto's
    x-moto-account-id header), so a resource lands in the account of the stack that creates it."""
    with _CLIENTS_LOCK:  # a session is not safe to share between the server's threads while it makes clients
        client = boto3.session.Session().client(
            service,
            endpoint_url=_ENDPOINT["url"],
            region_name=region,
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal",
        )

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    client.meta.events.register("before-sign", in_account)
    return client


class CreatedResource:
    """What moto's CloudFormation asks of a resource it created: its physical id (``Ref``, unless the type's Ref
    gives an attribute), its attributes (``Fn::GetAtt``), and ``delete`` with the stack. A subclass names its type
    (``TYPE``), the property that names it (``NAME_PROPERTY``), and creates it in ``create``."""

    TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str] = ""

    def __init__(self, physical_id: str, attributes: Mapping[str, Any], account_id: str, region: str) -> None:
        self._physical_id = physical_id
        self.attributes = dict(attributes)
        self.account_id = account_id
        self.region = region

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> CreatedResource:
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        raise NotImplementedError

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def get_cfn_attribute(self, attribute: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute]

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Delete what ``create`` made; the stack's deletion retries a resource whose delete raised."""

    def client(self, service: str) -> Any:
        return _client(service, self.account_id, self.region)


class GlobalTable:
    """``AWS::DynamoDB::GlobalTable`` (CDK's ``TableV2``) becomes moto's own ``AWS::DynamoDB::Table`` with the
    replica of the stack's region folded in: Ref gives the table name, GetAtt ``Arn`` and ``StreamArn``. Replicas in
    other regions are not created (moto's CloudFormation works in one region); the rehearsal says so."""

    TYPE = "AWS::DynamoDB::GlobalTable"

    @staticmethod
    def cloudformation_type() -> str:
        return GlobalTable.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TableName"

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in ("Arn", "StreamArn")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Any:
        from moto.dynamodb.models.table import Table

        properties = cloudformation_json.get("Properties", {})
        table_properties = table_properties_of(properties, region_name)
        others = [
            replica.get("Region") for replica in properties.get("Replicas", []) if replica.get("Region") != region_name
        ]
        if others:
            logger.warning("%s: replicas in %s are not created, only the one in %s", resource_name, others, region_name)
        return Table.create_from_cloudformation_json(
            resource_name, {"Properties": table_properties}, account_id, region_name
        )


def table_properties_of(global_table: Mapping[str, Any], region: str) -> dict[str, Any]:
    """An ``AWS::DynamoDB::Table``'s properties for the replica of ``global_table`` in ``region``."""
    shared = (
        "AttributeDefinitions",
        "BillingMode",
        "GlobalSecondaryIndexes",
        "KeySchema",
        "LocalSecondaryIndexes",
        "SSESpecification",
        "StreamSpecification",
        "TableName",
        "TimeToLiveSpecification",
    )
    table = {name: global_table[name] for name in shared if name in global_table}
    replica: Mapping[str, Any] = next(
        (each for each in global_table.get("Replicas", []) if each.get("Region") == region), {}
    )
    for name in ("DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "TableClass", "Tags"):
        if name in replica:
            table[name] = replica[name]
    if "KMSMasterKeyId" in replica.get("SSESpecification", {}):
        table["SSESpecification"] = {**table.get("SSESpecification", {}), **replica["SSESpecification"]}
    return table


class QueuePolicy(CreatedResource):
    """``AWS::SQS::QueuePolicy``: each queue's ``Policy`` attribute. Ref gives a generated id."""

    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        policy = cls(name, {"Queues": list(properties["Queues"])}, account_id, region)
        for queue_url in properties["Queues"]:
            policy.client("sqs").set_queue_attributes(
                QueueUrl=queue_url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )
        return policy

    def delete(self, account_id: str, region_name: str) -> None:
        sqs = self.client("sqs")
        for queue_url in self.attributes["Queues"]:
            with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):  # deleted first: its policy went with it
                sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": ""})


class TopicPolicy(CreatedResource):
    """``AWS::SNS::TopicPolicy``: each topic's ``Policy`` attribute. Ref and GetAtt ``Id`` give a generated id."""

    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        policy = cls(name, {"Id": name, "Topics": list(properties["Topics"])}, account_id, region)
        for topic_arn in properties["Topics"]:
            policy.client("sns").set_topic_attributes(
                TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(properties["PolicyDocument"])
            )
        return policy


class Alarm(CreatedResource):
    """``AWS::CloudWatch::Alarm``: PutMetricAlarm with the template's properties (CloudFormation's names are the
    API's). Ref gives the alarm name, GetAtt ``Arn`` its ARN."""

    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        alarm = cls(name, {"Arn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"}, account_id, region)
        arguments = {key: value for key, value in properties.items() if key != "AlarmName"}
        alarm.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
        return alarm

    def delete(self, account_id: str, region_name: str) -> None:
        self.client("cloudwatch").delete_alarms(AlarmNames=[self.physical_resource_id])


class Secret(CreatedResource):
    """``AWS::SecretsManager::Secret``: CreateSecret with ``SecretString``, or a value from GetRandomPassword for
    ``GenerateSecretString`` (put under ``GenerateStringKey`` of ``SecretStringTemplate`` when given). Ref and GetAtt
    ``Id`` give its ARN."""

    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        secrets = _client("secretsmanager", account_id, region)
        value = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if value is None and generate is not None:
            template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
            options = {k: v for k, v in generate.items() if k not in ("SecretStringTemplate", "GenerateStringKey")}
            password = secrets.get_random_password(**options)["RandomPassword"]
            value = json.dumps({**json.loads(template), key: password}) if template and key else password
        arguments = {key: properties[key] for key in ("Description", "KmsKeyId", "Tags") if key in properties}
        secret_arn = secrets.create_secret(Name=name, SecretString=value or "", **arguments)["ARN"]
        return cls(secret_arn, {"Id": secret_arn}, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        self.client("secretsmanager").delete_secret(SecretId=self.physical_resource_id, ForceDeleteWithoutRecovery=True)


class VectorBucket(CreatedResource):
    """``AWS::S3Vectors::VectorBucket``: CreateVectorBucket. Ref and GetAtt ``VectorBucketArn`` give its ARN."""

    TYPE = "AWS::S3Vectors::VectorBucket"
    NAME_PROPERTY = "VectorBucketName"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        s3vectors = _client("s3vectors", account_id, region)
        arguments: dict[str, Any] = {}
        if "EncryptionConfiguration" in properties:
            encryption = properties["EncryptionConfiguration"]
            arguments["encryptionConfiguration"] = {
                key: encryption[cfn]
                for key, cfn in (("sseType", "SseType"), ("kmsKeyArn", "KmsKeyArn"))
                if cfn in encryption
            }
        s3vectors.create_vector_bucket(vectorBucketName=name, **arguments)
        bucket = s3vectors.get_vector_bucket(vectorBucketName=name)["vectorBucket"]
        arn = bucket["vectorBucketArn"]
        return cls(
            arn,
            {"VectorBucketArn": arn, "CreationTime": str(bucket.get("creationTime", "")), "Name": name},
            account_id,
            region,
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self.client("s3vectors").delete_vector_bucket(vectorBucketName=self.attributes["Name"])


class VectorIndex(CreatedResource):
    """``AWS::S3Vectors::Index``: CreateIndex in the bucket named by ``VectorBucketArn`` or ``VectorBucketName``.
    Ref and GetAtt ``IndexArn`` give its ARN."""

    TYPE = "AWS::S3Vectors::Index"
    NAME_PROPERTY = "IndexName"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        s3vectors = _client("s3vectors", account_id, region)
        # arn:aws:s3vectors:REGION:ACCOUNT:bucket/NAME
        bucket_name = properties.get("VectorBucketName") or properties["VectorBucketArn"].rsplit("/", 1)[1]
        arguments: dict[str, Any] = {}
        if "MetadataConfiguration" in properties:
            keys = properties["MetadataConfiguration"].get("NonFilterableMetadataKeys", [])
            arguments["metadataConfiguration"] = {"nonFilterableMetadataKeys": keys}
        s3vectors.create_index(
            vectorBucketName=bucket_name,
            indexName=name,
            dataType=properties["DataType"],
            dimension=int(properties["Dimension"]),
            distanceMetric=properties["DistanceMetric"],
            **arguments,
        )
        index = s3vectors.get_index(vectorBucketName=bucket_name, indexName=name)["index"]
        arn = index["indexArn"]
        return cls(arn, {"IndexArn": arn, "CreationTime": str(index.get("creationTime", ""))}, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        self.client("s3vectors").delete_index(indexArn=self.physical_resource_id)


class CdkMetadata(CreatedResource):
    """``AWS::CDK::Metadata``: the CDK's version report, which CloudFormation keeps and creates nothing for."""

    TYPE = "AWS::CDK::Metadata"

    @classmethod
    def create(cls, name: str, properties: Mapping[str, Any], account_id: str, region: str) -> CreatedResource:
        return cls(name, {}, account_id, region)


ADDED_TYPES: dict[str, Any] = {
    kind.TYPE: kind
    for kind in (GlobalTable, QueuePolicy, TopicPolicy, Alarm, Secret, VectorBucket, VectorIndex, CdkMetadata)
}
