"""SearchIndexer: an OpenSearch index kept in step with a table, fenced by stream sequence: nothing moves backwards."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Unpack

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from lambda_src.contract import (
    DEFAULT_SEARCH_MAX_BULK_ACTIONS,
    DEFAULT_SEARCH_MAX_BULK_BYTES,
    SEARCH_DELETED_FIELD,
    SEARCH_SEQUENCE_FIELD,
    SearchEnv,
    SearchService,
)

from .limits import documented
from .stream_filter import StreamFilter
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable

__all__ = ["SearchIndexer"]

# OpenSearch index names: lowercase, no spaces or \ / * ? " < > | , #, not starting with _ - +:
# https://docs.opensearch.org/latest/api-reference/index-apis/create-index/
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,254}")
# The created domain's HTTP payload limit is 10 MiB on small instance types (100 MiB on larger ones).
_SMALL_INSTANCE_PAYLOAD_BYTES = 10 * 1024 * 1024
_DEFAULT_INSTANCE_TYPE = "t3.small.search"


@documented
class SearchIndexer(StreamPipeline):
    """Keeps OpenSearch index ``index`` in step with ``table``: one document per item, its id from the item's key,
    written in ``_bulk`` requests with every item's result checked. Each write is a scripted upsert fenced by the
    change's stream sequence (stored in ``stream_sequence``), so duplicates, retries and redrives of old batches never
    move a document backwards; a REMOVE writes a tombstone (``stream_deleted: true``) that a late older write cannot
    undo; searches add ``must_not term stream_deleted true``. 429, 409 and 5xx are retried within the deadline; a
    mapping conflict (400) is final and quarantined. Requests are signed with SigV4 for the function's role.

    - ``table``: an ``ITable`` with a NEW_IMAGE or NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``index``: the index name (lowercase); created on first use with ``mappings``.
    - ``domain``: an ``IDomain`` to write to; its access policy and fine-grained access control must let the
      function's role write. Default: - a new domain (see below), unless ``collection`` is given.
    - ``collection``: an OpenSearch Serverless ``CfnCollection`` instead of a domain; the construct adds a data access
      policy for the function's role. Default: - none.
    - ``attributes``: the attributes each document holds besides the key. Default: - every attribute.
    - ``mappings``: OpenSearch field mappings (``{"name": {"type": "text"}}``) for the new index.
      Default: - dynamic mapping.
    - ``max_bulk_bytes``: the largest ``_bulk`` request. Default: $DEFAULT_SEARCH_MAX_BULK_BYTES.
    - ``max_bulk_actions``: the most documents per ``_bulk`` request. Default: $DEFAULT_SEARCH_MAX_BULK_ACTIONS.
    - ``item_filter``: which items are indexed; other records never invoke the function. Default: - every item.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them.

    The new domain runs OpenSearch 3.7 on two t3.small.search data nodes in two Availability Zones with 10 GiB gp3
    each, encryption at rest, node-to-node TLS, HTTPS only (TLS 1.2), fine-grained access control with the function's
    role as master user, and a domain access policy for that role alone; it is retained when the stack is deleted.

    Attributes: those of ``StreamPipeline``, and ``domain`` (created or given, None for a collection), ``collection``,
    ``index``.
    """

    HANDLER: ClassVar[str] = "lambda_src.search_indexer.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, dynamodb.StreamViewType.NEW_IMAGE)
    STREAM_VIEW_REASON = "the index holds the item as each change left it"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        index: str,
        domain: opensearch.IDomain | None = None,
        collection: aoss.CfnCollection | None = None,
        attributes: Sequence[str] | None = None,
        mappings: Mapping[str, Any] | None = None,
        max_bulk_bytes: int | None = None,
        max_bulk_actions: int | None = None,
        item_filter: StreamFilter | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        super().__init__(scope, id, table=table, item_filter=item_filter, **options)
        attributes = tuple(attributes or ())
        mappings = dict(mappings or {})
        max_bulk_bytes = DEFAULT_SEARCH_MAX_BULK_BYTES if max_bulk_bytes is None else max_bulk_bytes
        max_bulk_actions = DEFAULT_SEARCH_MAX_BULK_ACTIONS if max_bulk_actions is None else max_bulk_actions
        problems = []
        if not _INDEX_NAME.fullmatch(index):
            problems.append(f"index must be 1 to 255 lowercase letters, digits, '.', '_' or '-', got {index!r}")
        if domain is not None and collection is not None:
            problems.append("give domain or collection, not both")
        reserved = sorted({SEARCH_SEQUENCE_FIELD, SEARCH_DELETED_FIELD} & (set(attributes) | set(mappings)))
        if reserved:
            problems.append(f"{', '.join(reserved)} are the indexer's own fields (its version fence)")
        if not all(isinstance(spec, Mapping) for spec in mappings.values()):
            problems.append("mappings maps each field name to its mapping, e.g. {'title': {'type': 'text'}}")
        if not 1024 <= max_bulk_bytes <= _SMALL_INSTANCE_PAYLOAD_BYTES and domain is None and collection is None:
            problems.append(
                f"max_bulk_bytes must be between 1024 and {_SMALL_INSTANCE_PAYLOAD_BYTES} (the new "
                f"domain's {_DEFAULT_INSTANCE_TYPE} payload limit), got {max_bulk_bytes}"
            )
        elif max_bulk_bytes < 1024:
            problems.append(f"max_bulk_bytes must be at least 1024, got {max_bulk_bytes}")
        if not 1 <= max_bulk_actions <= 10_000:
            problems.append(f"max_bulk_actions must be between 1 and 10000, got {max_bulk_actions}")
        self.refuse(problems)
        self.index = index
        self.collection = collection
        created = domain is None and collection is None
        self.domain = self._new_domain() if created else domain
        if collection is not None:
            endpoint, service = collection.attr_collection_endpoint, SearchService.SERVERLESS
        else:
            assert self.domain is not None
            endpoint, service = self.domain.domain_endpoint, SearchService.DOMAIN
        self.attach_handler(
            environment={
                SearchEnv.ENDPOINT: endpoint,
                SearchEnv.INDEX: index,
                SearchEnv.ATTRIBUTES: ",".join(attributes),
                SearchEnv.MAPPINGS: json.dumps(mappings, separators=(",", ":"), sort_keys=True),
                SearchEnv.SERVICE: str(service),
                SearchEnv.MAX_BULK_BYTES: str(max_bulk_bytes),
                SearchEnv.MAX_BULK_ACTIONS: str(max_bulk_actions),
            }
        )
        role = self.function.role
        assert role is not None
        if collection is not None:
            self._grant_collection(collection, role)
        elif self.domain is not None:
            # Index creation (PUT /index) and _bulk, on this index and the bulk endpoint only.
            self.domain.grant_index_read_write(index, self.function)
            self.domain.grant_path_read_write("_bulk", self.function)
            if created:
                logical_id = Stack.of(self).get_logical_id(self._domain_resource())
                Validations.of(self).acknowledge(
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{index}/*]",
                        reason="The documents of this one index: OpenSearch paths name each document under the index",
                    )
                )
            if created:
                self._open_domain_to(role)

    def _new_domain(self) -> opensearch.Domain:
        self._domain_name = _domain_name(self)
        # Named, so that the domain's own access policy can name its ARN (a GetAtt of itself would be circular).
        domain = opensearch.Domain(
            self,
            "Domain",
            domain_name=self._domain_name,
            version=opensearch.EngineVersion.OPENSEARCH_3_7,
            capacity=opensearch.CapacityConfig(
                data_nodes=2, data_node_instance_type=_DEFAULT_INSTANCE_TYPE, multi_az_with_standby_enabled=False
            ),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=2),
            ebs=opensearch.EbsOptions(volume_size=10, volume_type=ec2.EbsDeviceVolumeType.GP3),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            removal_policy=RemovalPolicy.RETAIN,
        )
        reasons = {
            "AwsSolutions-OS1": "The indexer reaches the domain over its public HTTPS endpoint with SigV4; put the "
            "domain in a VPC (pass your own domain) when the network path must stay private",
            "AwsSolutions-OS3": "Access is limited to the function's role by the domain access policy and fine-grained "
            "access control, not by IP: Lambda has no fixed addresses",
            "AwsSolutions-OS4": "Two data nodes without dedicated masters fit a search index of one table; pass your "
            "own domain for a larger cluster",
            "AwsSolutions-OS9[LogExport::SEARCH_SLOW_LOGS]": "Slow logs need a CloudWatch Logs resource policy; "
            "enable them on the domain when tuning queries",
            "AwsSolutions-OS9[LogExport::INDEX_SLOW_LOGS]": "Slow logs need a CloudWatch Logs resource policy; "
            "enable them on the domain when tuning indexing",
        }
        for rule, reason in reasons.items():
            Validations.of(domain).acknowledge(Acknowledgment(id=rule, reason=reason))
        return domain

    def _domain_resource(self) -> opensearch.CfnDomain:
        assert self.domain is not None
        resource = self.domain.node.default_child
        assert isinstance(resource, opensearch.CfnDomain)
        return resource

    def _open_domain_to(self, role: iam.IRole) -> None:
        """The domain access policy and fine-grained access control of the new domain, for the function's role. Set
        on the template resource: the L2's ``access_policies`` would add a custom resource (a Lambda) to do it."""
        resource = self._domain_resource()
        resource.access_policies = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": role.role_arn},
                    "Action": ["es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost", "es:ESHttpHead"],
                    "Resource": Stack.of(self).format_arn(
                        service="es", resource="domain", resource_name=f"{self._domain_name}/*"
                    ),
                }
            ],
        }
        resource.advanced_security_options = opensearch.CfnDomain.AdvancedSecurityOptionsInputProperty(
            enabled=True,
            internal_user_database_enabled=False,
            master_user_options=opensearch.CfnDomain.MasterUserOptionsProperty(master_user_arn=role.role_arn),
        )

    def _grant_collection(self, collection: aoss.CfnCollection, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[collection.attr_arn])
        )
        policy = [
            {
                "Rules": [
                    {
                        "ResourceType": "index",
                        "Resource": [f"index/{collection.name}/{self.index}"],
                        "Permission": [
                            "aoss:CreateIndex",
                            "aoss:DescribeIndex",
                            "aoss:UpdateIndex",
                            "aoss:ReadDocument",
                            "aoss:WriteDocument",
                        ],
                    }
                ],
                "Principal": [role.role_arn],
            }
        ]
        aoss.CfnAccessPolicy(
            self,
            "DataAccessPolicy",
            name=f"{collection.name}-indexer"[:32],
            type="data",
            policy=Stack.of(self).to_json_string(policy),
        )


def _domain_name(scope: Construct) -> str:
    """A valid domain name from the construct's path: 3 to 28 lowercase letters, digits and hyphens, a letter first."""
    from aws_cdk import Names

    name = re.sub(r"[^a-z0-9-]", "-", Names.unique_resource_name(scope, max_length=27, separator="-").lower())
    return name if name[:1].isalpha() else f"d{name}"
