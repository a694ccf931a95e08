"""The app's resources on a local run's endpoints: its tables, and whatever its functions and mappings refer to.

``LocalResources`` creates the tables, creates each other resource the first time a function's environment or a
mapping's on-failure destination refers to it (the same logical id is always the same resource), and resolves those
references through the kinds of ``constructs_pkg.local.resource_kinds``. A resource of a kind nobody registered gets a
made-up value instead, with a warning: its name for ``Ref``, a local ARN for an ``Arn`` attribute.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from constructs_pkg.local.assembly import LocalApp, MappingSpec, ResourceRef, ResourceSpec
from constructs_pkg.local.dynamodb_local import REGION
from constructs_pkg.local.endpoints import LocalEndpoints
from constructs_pkg.local.event_source_mapping import OnFailureSender
from constructs_pkg.local.lambda_host import ACCOUNT_ID
from constructs_pkg.local.resource_kinds import LocalResource, ResourceRequest, create_table, resource_kind

__all__ = ["LocalResources", "OnFailureDestination"]

_logger = logging.getLogger(__name__)
# The name properties CloudFormation types commonly use, tried for a type no kind describes: Firehose's
# DeliveryStreamName, OpenSearch's DomainName, AppSync's Name, SES's EmailIdentity.
_GUESSED_NAME_PROPERTIES = ("{type}Name", "Name", "{type}")


@dataclass(frozen=True)
class OnFailureDestination:
    """Where a mapping's on-failure messages go: ``address`` (the queue URL, topic ARN or ``s3://bucket``, for
    reports), and ``send``, which delivers one."""

    address: str
    send: OnFailureSender


class LocalResources:
    """The resources of ``app`` on ``endpoints``, each named ``name_prefix`` (Default: "") + its own name (its name
    property, else the name made from its logical id), made valid for its kind. ``supplied_values`` (Default: - none)
    are values the run supplies for resources, by the environment variable that refers to them: a secret's value.
    """

    def __init__(
        self,
        app: LocalApp,
        endpoints: LocalEndpoints,
        *,
        name_prefix: str = "",
        supplied_values: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.endpoints = endpoints
        self.name_prefix = name_prefix
        self.supplied_values = dict(supplied_values or {})
        self.table_names = {logical_id: name_prefix + table.name for logical_id, table in app.tables.items()}
        # Logical id -> what was created for it.
        self.created: dict[str, LocalResource] = {}
        self._warned: set[tuple[str, str | None]] = set()

    def create_tables(self) -> None:
        """Create every table of the app (on-demand, streams and TTL as the template says); wait until active."""
        client = self.endpoints.client("dynamodb")
        for logical_id, table in self.app.tables.items():
            create_table(client, dataclasses.replace(table, name=self.table_names[logical_id]))
            _logger.info("created table %s", self.table_names[logical_id])

    def value_of(self, ref: ResourceRef, variable: str) -> str | None:
        """What ``ref`` gives, creating its resource first; None (with a warning) when its kind's service has no
        endpoint here, or no value can be made up for it.

        ``variable`` is the environment variable that refers to it: it picks the value in ``supplied_values``.
        """
        spec = self.app.resources.get(ref.logical_id)
        if spec is None:
            _logger.warning(
                "environment %s refers to %s, which the app does not hold; left out", variable, ref.logical_id
            )
            return None
        kind = resource_kind(spec.resource_type)
        if kind is None:
            return self._made_up(spec, ref)
        resource = self.resource(spec.logical_id, supplied_value=self.supplied_values.get(variable))
        if resource is None:
            _logger.warning(
                "%s: no local %s endpoint; environment %s left out", spec.logical_id, kind.service, variable
            )
            return None
        if ref.attribute is None:
            return resource.ref
        if ref.attribute in resource.attributes:
            return resource.attributes[ref.attribute]
        return self._made_up(spec, ref)

    def resource(self, logical_id: str, *, supplied_value: str | None = None) -> LocalResource | None:
        """The resource ``logical_id`` (one of the app's ``resources``), created on first use; None when no kind
        describes its type or no endpoint here serves its kind's service. ``supplied_value`` (Default: None) goes to
        its kind: a secret's value."""
        spec = self.app.resources[logical_id]
        kind = resource_kind(spec.resource_type)
        if kind is None or self.endpoints.url(kind.service) is None:
            return None
        request = ResourceRequest(
            name=kind.valid_name(self.name_prefix + _own_name(spec, kind.name_property)),
            properties=spec.properties,
            client=self.endpoints.client(kind.service),
            supplied_value=supplied_value,
        )
        if logical_id not in self.created:
            self.created[logical_id] = kind.create(request)
            _logger.info("%s (%s) is %s here", logical_id, spec.resource_type, self.created[logical_id].name)
        elif kind.supply is not None:
            kind.supply(request, self.created[logical_id])
        return self.created[logical_id]

    def on_failure_destination(self, mapping: MappingSpec) -> OnFailureDestination | None:
        """Create ``mapping``'s on-failure destination; None when it has none, or its service has no endpoint here."""
        destination = mapping.on_failure
        if destination is None:
            return None
        resource = self.resource(destination.logical_id)
        if resource is None:
            _logger.warning(
                "%s: no local %s endpoint; on-failure messages only logged", mapping.logical_id, destination.kind
            )
            return None
        client = self.endpoints.client(destination.kind)
        if destination.kind == "sqs":
            return OnFailureDestination(
                resource.ref,
                lambda message, _event: client.send_message(QueueUrl=resource.ref, MessageBody=json.dumps(message)),
            )
        if destination.kind == "sns":
            return OnFailureDestination(
                resource.ref, lambda message, _event: client.publish(TopicArn=resource.ref, Message=json.dumps(message))
            )
        # The mapping's UUID in the key is stable for a prefix and mapping, as a deployed mapping's is.
        mapping_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, self.name_prefix + mapping.logical_id))
        return OnFailureDestination(
            f"s3://{resource.ref}",
            lambda message, event: _put_failure_object(client, resource.ref, mapping_uuid, message, event),
        )

    def _made_up(self, spec: ResourceSpec, ref: ResourceRef) -> str | None:
        """A value for a reference no kind answers: the name for Ref, a local ARN for an Arn; else None."""
        service, _, resource_type = spec.resource_type.removeprefix("AWS::").partition("::")
        name = self.name_prefix + _guessed_name(spec, resource_type)
        value: str | None = None
        if ref.attribute is None:
            value = name
        elif ref.attribute.endswith("Arn"):
            value = f"arn:aws:{service.lower()}:{REGION}:{ACCOUNT_ID}:{resource_type.lower()}/{name}"
        if (spec.logical_id, ref.attribute) not in self._warned:
            self._warned.add((spec.logical_id, ref.attribute))
            what = "Ref" if ref.attribute is None else f"Fn::GetAtt {ref.attribute}"
            outcome = "left out" if value is None else f"given {value!r}"
            _logger.warning(
                "%s (%s): the local runner does not create this kind of resource or answer its %s; %s",
                spec.logical_id,
                spec.resource_type,
                what,
                outcome,
            )
        return value


def _own_name(spec: ResourceSpec, name_property: str | None) -> str:
    name = spec.properties.get(name_property) if name_property else None
    return name if isinstance(name, str) else spec.local_name


def _guessed_name(spec: ResourceSpec, resource_type: str) -> str:
    for pattern in _GUESSED_NAME_PROPERTIES:
        name = spec.properties.get(pattern.format(type=resource_type))
        if isinstance(name, str):
            return name
    return spec.local_name


def _put_failure_object(
    s3_client: Any, bucket: str, mapping_uuid: str, message: Mapping[str, Any], event: Mapping[str, Any]
) -> None:
    # The S3 destination keeps the invocation record and the whole event (payload), keyed
    # aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>:
    # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
    now = datetime.now(UTC)
    shard_id = message["DDBStreamBatchInfo"]["shardId"]
    key = f"aws/lambda/{mapping_uuid}/{shard_id}/{now:%Y/%m/%d}/{now:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps({**message, "payload": event}).encode())
