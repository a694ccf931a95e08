"""What Lambda checks of a function's role when an event source mapping is created, which moto does not: the rehearsal's
moto refuses a mapping as Lambda does, so a stack whose mapping would be created before its role may read the stream
(an ordering fault: a missing dependency on the role's policy) or send to the on-failure destination fails here too.

Lambda answers CreateEventSourceMapping with InvalidParameterValueException "Cannot access stream ... Please ensure
the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM",
and "The provided execution role does not have permissions to call SendMessage on SQS" (or Publish on SNS) for an
on-failure destination it may not reach: the function's role must hold those permissions when the mapping is created
(https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-eventsourcemapping.html#events-dynamodb-permissions).

For the check to see a role's managed policies, moto's ``AWS::IAM::Role`` (which ignores ``ManagedPolicyArns``)
attaches them; an AWS-managed policy is read from moto's copy of AWS's list, and an ARN that names no policy fails the
role as it fails in AWS.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MappingWithPermissionCheck", "RoleWithManagedPolicies", "missing_permissions"]

STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
# Not scoped to a stream in IAM: granted on "*" (CDK's grantStreamRead does so), or on the stream.
STREAM_LIST_ACTION = "dynamodb:ListStreams"
_DESTINATION_ACTIONS = {"sqs": ("sqs:SendMessage", "SendMessage on SQS"), "sns": ("sns:Publish", "Publish on SNS")}
_AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def _aws_managed_policy(backend: Any, arn: str) -> None:
    """Put the AWS-managed policy ``arn`` in ``backend`` from moto's copy of AWS's list, when it is on the list."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    name = arn.rsplit("/", 1)[1]
    data = json.loads(aws_managed_policies_data).get(name)
    if data is not None:
        policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        if policy.arn == arn:
            backend.managed_policies[arn] = policy


class RoleWithManagedPolicies:
    """moto's ``AWS::IAM::Role``, with ``ManagedPolicyArns`` attached."""

    TYPE = "AWS::IAM::Role"

    @staticmethod
    def cloudformation_type() -> str:
        return RoleWithManagedPolicies.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RoleName"

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        from moto.iam.models import Role

        return Role.has_cfn_attr(attribute)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.iam.models import Role

        role = Role.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        backend = _iam(account_id)
        for arn in cloudformation_json["Properties"].get("ManagedPolicyArns", []):
            if arn.startswith(_AWS_MANAGED_PREFIX) and arn not in backend.managed_policies:
                _aws_managed_policy(backend, arn)
            backend.attach_role_policy(arn, role.name)
        return role

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """As CloudFormation does, detach the role's managed policies before deleting it (IAM refuses otherwise)."""
        from moto.iam.models import Role

        backend = _iam(account_id)
        role = next((role for role in backend.roles.values() if role.name == resource_name), None)
        for arn in list(role.managed_policies) if role else ():
            backend.detach_role_policy(arn, resource_name)
        Role.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)


def _policies(role: Any) -> list[Any]:
    """moto's evaluators of every policy ``role`` holds: inline and managed."""
    from moto.iam.access_control import IAMPolicy

    inline = [IAMPolicy(doc if isinstance(doc, str) else json.dumps(doc)) for doc in role.policies.values()]
    return inline + [IAMPolicy(policy) for policy in role.managed_policies.values()]


def _permits(policies: list[Any], action: str, *resources: str) -> bool:
    """Whether an identity policy allows ``action`` on one of ``resources`` and none denies it (no conditions)."""
    from moto.iam.access_control import PermissionResult

    for resource in resources:
        results = [policy.is_action_permitted(action, resource) for policy in policies]
        if PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results:
            return True
    return False


def missing_permissions(role: Any, source_arn: str, destination_arn: str | None) -> list[str]:
    """Lambda's refusals of a mapping from ``source_arn`` (a DynamoDB stream) with ``destination_arn`` (Default: None)
    on failure, for a function whose role is ``role``; empty when Lambda would create it."""
    policies = _policies(role)
    refusals = []
    stream_readable = all(_permits(policies, action, source_arn) for action in STREAM_READ_ACTIONS) and _permits(
        policies, STREAM_LIST_ACTION, "*", source_arn
    )
    if not stream_readable:
        refusals.append(
            f"Cannot access stream {source_arn}. Please ensure the role can perform the GetRecords, GetShardIterator, "
            f"DescribeStream, and ListStreams Actions on your stream in IAM. (role {role.name})"
        )
    service = destination_arn.split(":")[2] if destination_arn else None
    if destination_arn and service in _DESTINATION_ACTIONS:
        action, call = _DESTINATION_ACTIONS[service]
        if not _permits(policies, action, destination_arn):
            refusals.append(
                f"The provided execution role does not have permissions to call {call} (role {role.name}, "
                f"{destination_arn})"
            )
    return refusals


class MappingPermissionError(Exception):
    """Lambda's InvalidParameterValueException for a mapping its function's role may not run."""


class MappingWithPermissionCheck:
    """moto's ``AWS::Lambda::EventSourceMapping``, refused as Lambda refuses it when the function's role may not read
    its DynamoDB stream or send to its on-failure destination."""

    TYPE = "AWS::Lambda::EventSourceMapping"

    @staticmethod
    def cloudformation_type() -> str:
        return MappingWithPermissionCheck.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        from moto.awslambda.models import EventSourceMapping

        return EventSourceMapping.has_cfn_attr(attribute)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.awslambda.models import EventSourceMapping
        from moto.awslambda.utils import get_backend

        properties = cloudformation_json["Properties"]
        source = properties.get("EventSourceArn", "")
        if ":dynamodb:" in source and "/stream/" in source:
            function = get_backend(account_id, region_name).get_function(properties["FunctionName"])
            role = _iam(account_id).get_role(function.role.rsplit("/", 1)[1])
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            refusals = missing_permissions(role, source, destination)
            if refusals:
                raise MappingPermissionError(f"InvalidParameterValueException: {' '.join(refusals)}")
        return EventSourceMapping.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
