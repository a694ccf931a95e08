"""What the rehearsal checks of a deployed stack, through each service's own API rather than CloudFormation's word:
every resource of the template is in the stack with a physical id, each created resource exists in its service, each
function runs with its layers and its template's variables within Lambda's quotas (which moto does not check: the
variables' 4 KB, 5 layers, 250 MB of code and layers unzipped, measured on the published assets), each event source
mapping reads the stream of its table, the stack's outputs are there, and after ``cdk destroy`` nothing is left but
what the template retains.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from scripts.rehearsal.moto_fixes import left_out

__all__ = ["ENVIRONMENT_BYTES", "LAYERS", "UNZIPPED_BYTES", "DeployedStack", "Services", "StackTemplate", "exists"]

# Lambda's quotas that a deploy trips on and moto does not check:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
ENVIRONMENT_BYTES = 4 * 1024
LAYERS = 5
UNZIPPED_BYTES = 262_144_000  # the function's code and all its layers

# The error codes each service answers for a resource that is not there.
_NOT_FOUND = {
    "404",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NoSuchBucket",
    "NoSuchEntity",
    "NotFound",
    "NotFoundException",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
}

Services = Callable[[str], Any]
"""A boto3 client by service name, on the rehearsal's moto server."""


def _log_group_exists(logs: Any, name: str) -> bool:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(group["logGroupName"] == name for group in groups)


def _layer_version(lambda_: Any, arn: str) -> Any:
    # moto has no GetLayerVersionByArn: arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION
    layer, version = arn.rsplit(":", 1)
    return lambda_.get_layer_version(LayerName=layer, VersionNumber=int(version))


def _alarm_exists(cloudwatch: Any, name: str) -> bool:
    return bool(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"])


# How to ask each service whether a resource is there, by its physical id: a call that raises a not-found error
# when it is not (or returns False). Types not listed are checked through CloudFormation only.
_PROBES: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "AWS::DynamoDB::Table": ("dynamodb", lambda client, name: client.describe_table(TableName=name)),
    "AWS::DynamoDB::GlobalTable": ("dynamodb", lambda client, name: client.describe_table(TableName=name)),
    "AWS::Lambda::Function": ("lambda", lambda client, name: client.get_function(FunctionName=name)),
    "AWS::Lambda::EventSourceMapping": ("lambda", lambda client, uuid: client.get_event_source_mapping(UUID=uuid)),
    "AWS::Lambda::LayerVersion": ("lambda", _layer_version),
    "AWS::SQS::Queue": ("sqs", lambda client, url: client.get_queue_attributes(QueueUrl=url)),
    "AWS::SNS::Topic": ("sns", lambda client, arn: client.get_topic_attributes(TopicArn=arn)),
    "AWS::IAM::Role": ("iam", lambda client, name: client.get_role(RoleName=name)),
    "AWS::Logs::LogGroup": ("logs", _log_group_exists),
    "AWS::SecretsManager::Secret": ("secretsmanager", lambda client, arn: client.describe_secret(SecretId=arn)),
    "AWS::CloudWatch::Alarm": ("cloudwatch", _alarm_exists),
    "AWS::S3::Bucket": ("s3", lambda client, name: client.head_bucket(Bucket=name)),
    "AWS::S3Vectors::VectorBucket": ("s3vectors", lambda client, arn: client.get_vector_bucket(vectorBucketArn=arn)),
    "AWS::S3Vectors::Index": ("s3vectors", lambda client, arn: client.get_index(indexArn=arn)),
}


def exists(services: Services, resource_type: str, physical_id: str) -> bool | None:
    """Whether the resource is in its service; None: no probe for ``resource_type``."""
    if resource_type not in _PROBES:
        return None
    service, probe = _PROBES[resource_type]
    try:
        return probe(services(service), physical_id) is not False
    except ClientError as error:
        if error.response["Error"]["Code"] in _NOT_FOUND:
            return False
        raise


@dataclass(frozen=True)
class StackTemplate:
    """A stack of the cloud assembly: its ``name`` and synthesized ``template``."""

    name: str
    template: Mapping[str, Any]

    @property
    def resources(self) -> dict[str, Mapping[str, Any]]:
        """The template's resources by logical id."""
        return dict(self.template.get("Resources", {}))

    def left_out(self) -> Counter[str]:
        """How many resources of each type the rehearsal leaves out (creates nothing for)."""
        return Counter(resource["Type"] for resource in self.resources.values() if left_out(resource["Type"]))

    def retained(self) -> set[str]:
        """The logical ids CloudFormation keeps on ``cdk destroy`` (DeletionPolicy Retain)."""
        kept = ("Retain", "RetainExceptOnCreate")
        return {logical_id for logical_id, resource in self.resources.items() if resource.get("DeletionPolicy") in kept}


@dataclass
class DeployedStack:
    """``stack`` as deployed: each logical id's type and physical id, read back with ListStackResources."""

    stack: StackTemplate
    account: str
    region: str
    physical_ids: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, stack: StackTemplate, services: Services) -> DeployedStack:
        (described,) = services("cloudformation").describe_stacks(StackName=stack.name)["Stacks"]
        # arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID
        _, _, _, region, account, _ = described["StackId"].split(":", 5)
        deployed = cls(stack, account, region)
        pages = services("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack.name)
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource.get("LogicalResourceId"):
                    deployed.physical_ids[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
                    deployed.types[resource["LogicalResourceId"]] = resource.get("ResourceType", "")
        return deployed

    @property
    def created(self) -> dict[str, str]:
        """Logical id -> physical id of the resources the rehearsal created (not left out)."""
        return {
            logical_id: self.physical_ids[logical_id]
            for logical_id, resource in self.stack.resources.items()
            if self.physical_ids.get(logical_id) and not left_out(resource["Type"])
        }

    def problems(self, services: Services) -> list[str]:
        """What is wrong with the deployed stack, each problem a line naming the resource."""
        name = self.stack.name
        # A resource with a condition may be left out by it (CDK's CDKMetadataAvailable, in regions without it).
        problems = [
            f"{name}/{logical_id} ({resource['Type']}): not in the deployed stack"
            for logical_id, resource in self.stack.resources.items()
            if not self.physical_ids.get(logical_id) and "Condition" not in resource
        ]
        for logical_id, physical_id in self.created.items():
            resource_type = self.stack.resources[logical_id]["Type"]
            if exists(services, resource_type, physical_id) is False:
                problems.append(f"{name}/{logical_id} ({resource_type}): {physical_id} is not in its service")
        problems += self._function_problems(services)
        problems += self._mapping_problems(services)
        problems += self._output_problems(services)
        return problems

    def left_behind(self, services: Services) -> tuple[list[str], list[str]]:
        """After ``cdk destroy``: (the resources still there that the template does not retain, those it retains)."""
        retained = self.stack.retained()
        still_there = [
            (logical_id, physical_id)
            for logical_id, physical_id in self.created.items()
            if exists(services, self.stack.resources[logical_id]["Type"], physical_id)
        ]
        described = [
            f"{self.stack.name}/{logical_id} ({self.stack.resources[logical_id]['Type']} {physical_id})"
            for logical_id, physical_id in still_there
        ]
        return (
            [line for line, (logical_id, _) in zip(described, still_there, strict=True) if logical_id not in retained],
            [line for line, (logical_id, _) in zip(described, still_there, strict=True) if logical_id in retained],
        )

    def _function_problems(self, services: Services) -> list[str]:
        problems = []
        for logical_id, physical_id in self.created.items():
            if self.stack.resources[logical_id]["Type"] != "AWS::Lambda::Function":
                continue
            properties = self.stack.resources[logical_id].get("Properties", {})
            configuration = services("lambda").get_function_configuration(FunctionName=physical_id)
            where = f"{self.stack.name}/{logical_id}"
            layers = len(configuration.get("Layers", []))
            if layers != len(properties.get("Layers", [])):
                problems.append(
                    f"{where}: runs with {layers} layers, the template gives it {len(properties['Layers'])}"
                )
            if layers > LAYERS:
                problems.append(f"{where}: {layers} layers, Lambda takes at most {LAYERS}")
            variables = configuration.get("Environment", {}).get("Variables", {})
            wanted = set(properties.get("Environment", {}).get("Variables", {}))
            if wanted != set(variables):
                problems.append(f"{where}: variables {sorted(variables)}, the template's {sorted(wanted)}")
            size = len(json.dumps(variables, separators=(",", ":")).encode())
            if size > ENVIRONMENT_BYTES:
                problems.append(f"{where}: its variables take {size} bytes, over Lambda's {ENVIRONMENT_BYTES}")
            unzipped = self._unzipped_code_bytes(services, properties)
            if unzipped > UNZIPPED_BYTES:
                problems.append(f"{where}: code and layers unzip to {unzipped} bytes, over Lambda's {UNZIPPED_BYTES}")
        return problems

    def _unzipped_code_bytes(self, services: Services, function: Mapping[str, Any]) -> int:
        """The size of the function's code and its layers (those of this stack) once unzipped, read from the assets
        the CLI published."""
        locations = [function.get("Code", {})]
        for layer in function.get("Layers", []):
            if isinstance(layer, dict) and layer.get("Ref") in self.stack.resources:
                locations.append(self.stack.resources[layer["Ref"]].get("Properties", {}).get("Content", {}))
        total = 0
        for location in locations:
            bucket, key = location.get("S3Bucket"), location.get("S3Key")
            if isinstance(bucket, dict) and "Fn::Sub" in bucket:
                bucket = (
                    bucket["Fn::Sub"].replace("${AWS::AccountId}", self.account).replace("${AWS::Region}", self.region)
                )
            if isinstance(bucket, str) and isinstance(key, str):
                archive = services("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
                with zipfile.ZipFile(io.BytesIO(archive)) as entries:
                    total += sum(entry.file_size for entry in entries.infolist())
        return total

    def _mapping_problems(self, services: Services) -> list[str]:
        problems = []
        for logical_id, physical_id in self.created.items():
            resource = self.stack.resources[logical_id]
            source = resource.get("Properties", {}).get("EventSourceArn")
            if resource["Type"] != "AWS::Lambda::EventSourceMapping" or not isinstance(source, dict):
                continue
            table_id, attribute = source.get("Fn::GetAtt", [None, None])
            if attribute != "StreamArn" or table_id not in self.physical_ids:
                continue
            mapping = services("lambda").get_event_source_mapping(UUID=physical_id)
            table = services("dynamodb").describe_table(TableName=self.physical_ids[table_id])["Table"]
            if mapping["EventSourceArn"] != table.get("LatestStreamArn"):
                problems.append(
                    f"{self.stack.name}/{logical_id}: reads {mapping['EventSourceArn']}, not the stream of "
                    f"{table['TableName']} ({table.get('LatestStreamArn')})"
                )
        return problems

    def _output_problems(self, services: Services) -> list[str]:
        wanted = set(self.stack.template.get("Outputs", {}))
        (described,) = services("cloudformation").describe_stacks(StackName=self.stack.name)["Stacks"]
        deployed = {output["OutputKey"] for output in described.get("Outputs") or []}
        missing = sorted(wanted - deployed)
        return [f"{self.stack.name}: outputs {missing} are not in the deployed stack"] if missing else []
