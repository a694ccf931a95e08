"""Every ``Default:`` the constructs' docstrings and the README's tables state, held against what synthesis produces
when the argument is left out.

Each documented default is found by its argument (a docstring bullet ``- ``name``: ... Default: value.`` or a README
table row under an ``argument | default`` header), and each has a probe here that reads the same fact from the
templates of constructs built with that argument left out. A default that is documented but has no probe, a
``Default:`` the parser cannot place, and a probe whose fact the text does not state all fail.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from conftest import handler_code, new_app

import constructs_pkg
from constructs_pkg import (
    DEFAULT_RUNTIME,
    EmbeddingModel,
    EmbeddingPipeline,
    GroupBy,
    Measure,
    PythonDependencyLayer,
    RealtimeFeed,
    SearchIndexer,
    StreamAggregator,
    StreamTrigger,
    StreamTriggeredTable,
    SummaryEnricher,
    SummaryModel,
    TtlArchiver,
    VectorStore,
)
from constructs_pkg.dependency_layer import ANTHROPIC_REQUIREMENTS
from lambda_src.contract import RuntimeEnv

README = Path(__file__).resolve().parent.parent / "README.md"
PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)
SK = dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING)
HOST = "docs-abc123.svc.aped-4627-b74a.pinecone.io"
# README sections and the docstring each one's tables restate.
_SECTIONS = {
    "StreamTrigger": "StreamTriggerOptions",
    "StreamTriggeredTable": "StreamTriggeredTableOptions",
    "StreamPipeline": "StreamPipeline",
    "EmbeddingPipeline": "EmbeddingPipeline",
    "SummaryEnricher": "SummaryEnricher",
    "RealtimeFeed": "RealtimeFeed",
    "SearchIndexer": "SearchIndexer",
    "StreamAggregator": "StreamAggregator",
    "TtlArchiver": "TtlArchiver",
}
_BULLET = re.compile(r"^(?P<indent>\s*)- ``(?P<name>\w+)``:(?P<text>.*)$")
_HUMAN_DAYS = {1: "one day", 3: "three days", 5: "five days", 7: "one week", 14: "two weeks", 30: "one month"}


# --- what the documentation says -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Documented:
    owner: str
    argument: str
    default: str
    where: str


def _docstring_defaults() -> Iterator[Documented]:
    for name in constructs_pkg.__all__:
        value = getattr(constructs_pkg, name)
        if not inspect.isclass(value):
            continue
        documents = [(name, inspect.getdoc(value) or "")]
        documents += [
            (f"{name}.{member}", inspect.getdoc(function) or "")
            for member, function in vars(value).items()
            if not member.startswith("_") and isinstance(function, staticmethod | classmethod | Callable)  # type: ignore[arg-type]
        ]
        for owner, doc in documents:
            yield from _bullets(owner, doc, where=f"the docstring of {owner}")


def _bullets(owner: str, doc: str, *, where: str) -> Iterator[Documented]:
    lines = doc.splitlines()
    placed = 0
    for index, line in enumerate(lines):
        bullet = _BULLET.match(line)
        if bullet is None:
            continue
        text = [bullet["text"]]
        for following in lines[index + 1 :]:
            if not following.startswith(bullet["indent"] + "  ") or following.strip().startswith("- "):
                break
            text.append(following.strip())
        joined = " ".join(text)
        if "Default:" in joined:
            placed += 1
            yield Documented(owner, bullet["name"], joined.split("Default:", 1)[1], where)
    assert doc.count("Default:") == placed, f"{where} has a Default: outside an argument bullet"


def _readme_defaults() -> Iterator[Documented]:
    section = None
    header: list[str] | None = None
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            section, header = line.removeprefix("## ").strip(), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if set(line) <= set("|-: ") or len(header) < 2 or header[1] != "default":
            continue
        assert section in _SECTIONS, f"README section {section!r} has a default column no docstring backs"
        for argument in cells[0].replace("`", "").split(","):
            if cells[1] and re.fullmatch(r"\w+", argument.strip()):
                yield Documented(_SECTIONS[section], argument.strip(), cells[1], f"README section {section}")


def normalized(text: str) -> str:
    text = text.replace("`", "").strip()
    text = re.sub(r"^-\s*", "", text)
    return " ".join(text.rstrip(".").lower().split())


# --- what synthesis produces ---------------------------------------------------------------------------------------


class Synthesized:
    """The templates of the constructs built with every optional argument left out."""

    def __init__(self) -> None:
        self.trigger = _template(self._trigger)
        self.given_function = _template(self._given_function)
        self.embedding = _template(self._embedding)
        self.native = _template(self._native)
        self.summary = _template(self._summary)
        self.bedrock = _template(self._bedrock)
        self.layer = _template(self._layer)
        self.feed = _template(self._feed)
        self.search = _template(self._search)
        self.aggregator = _template(self._aggregator)
        self.archiver = _template(self._archiver)

    @staticmethod
    def _trigger(stack: Stack) -> None:
        StreamTriggeredTable(stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler")

    @staticmethod
    def _given_function(stack: Stack) -> None:
        table = dynamodb.Table(stack, "Table", partition_key=PK, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        function = lambda_.Function(stack, "Mine", runtime=DEFAULT_RUNTIME, code=handler_code(), handler="app.handler")
        StreamTrigger(stack, "Trigger", table=table, function=function)

    @staticmethod
    def _content(stack: Stack) -> dynamodb.TableV2:
        return dynamodb.TableV2(
            stack, "Content", partition_key=PK, sort_key=SK, dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES
        )

    def _embedding(self, stack: Stack) -> None:
        EmbeddingPipeline(
            stack,
            "Embeddings",
            table=self._content(stack),
            embedding=EmbeddingModel.voyage(),
            vector_store=VectorStore.pinecone(index_host=HOST),
        )

    def _native(self, stack: Stack) -> None:
        EmbeddingPipeline(
            stack,
            "Embeddings",
            table=self._content(stack),
            embedding=EmbeddingModel.titan(),
            vector_store=VectorStore.s3_vectors(),
        )

    def _summary(self, stack: Stack) -> None:
        SummaryEnricher(stack, "Summaries", table=self._content(stack), model=SummaryModel.anthropic())

    def _bedrock(self, stack: Stack) -> None:
        SummaryEnricher(stack, "Summaries", table=self._content(stack), model=SummaryModel.bedrock())

    def _feed(self, stack: Stack) -> None:
        RealtimeFeed(stack, "Feed", table=self._content(stack))

    def _search(self, stack: Stack) -> None:
        SearchIndexer(stack, "Search", table=self._content(stack), index="products")

    def _aggregator(self, stack: Stack) -> None:
        StreamAggregator(
            stack,
            "Aggregates",
            table=self._content(stack),
            group_by=[GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")],
            measures=[Measure.count(), Measure.sum("amount")],
        )

    @staticmethod
    def _archiver(stack: Stack) -> None:
        sessions = dynamodb.TableV2(
            stack,
            "Sessions",
            partition_key=PK,
            dynamo_stream=dynamodb.StreamViewType.OLD_IMAGE,
            time_to_live_attribute="expiresAt",
        )
        TtlArchiver(stack, "Archive", table=sessions)

    @staticmethod
    def _layer(stack: Stack) -> None:
        PythonDependencyLayer(stack, "Layer", requirements_dir=ANTHROPIC_REQUIREMENTS)


def _template(build: Callable[[Stack], None]) -> dict[str, Any]:
    stack = Stack(new_app(), "Defaults")
    build(stack)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def _of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [resource for resource in template["Resources"].values() if resource["Type"] == resource_type]


def _one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = _of_type(template, resource_type)
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def _function(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::Function")


def _mapping(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::EventSourceMapping")


def _table(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::DynamoDB::Table")


def _variables(template: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = _function(template).get("Environment", {}).get("Variables", {})
    return variables


def _seconds(seconds: int) -> str:
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def _mapping_filters(template: dict[str, Any]) -> list[str]:
    return [entry["Pattern"] for entry in _mapping(template).get("FilterCriteria", {}).get("Filters", [])]


def _on_failure(s: Synthesized) -> str:
    queue = _one(s.trigger, "AWS::SQS::Queue")
    (policy,) = [p["Properties"] for p in _of_type(s.trigger, "AWS::SQS::QueuePolicy")]
    tls_only = any(
        statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policy["PolicyDocument"]["Statement"]
    )
    assert queue["SqsManagedSseEnabled"] and tls_only
    days = queue["MessageRetentionPeriod"] // 86_400
    return f"a new SQS queue, encrypted, TLS-only, keeping messages {days} days"


def _quarantine(s: Synthesized) -> str:
    created = RuntimeEnv.QUARANTINE in _variables(s.trigger)
    given = any(
        RuntimeEnv.QUARANTINE in function["Properties"].get("Environment", {}).get("Variables", {})
        for function in _of_type(s.given_function, "AWS::Lambda::Function")
    )
    return f"{created} for a function the construct creates, {given} for function="


def _a_new_secret(template: dict[str, Any]) -> str:
    assert _of_type(template, "AWS::SecretsManager::Secret")
    return "a new secret to fill in"


def _every_item(template: dict[str, Any]) -> str:
    # A pipeline's own filters name event names only; an item filter would name keys or images.
    assert all('"dynamodb"' not in pattern for pattern in _mapping_filters(template))
    return "every item"


def _trigger_probes() -> dict[str, Callable[[Synthesized], str]]:
    return {
        "memory_size": lambda s: str(_function(s.trigger)["MemorySize"]),
        "timeout": lambda s: f"{_function(s.trigger)['Timeout']} seconds",
        "environment": lambda s: "none" if set(_variables(s.trigger)) <= {RuntimeEnv.QUARANTINE,
                                                                          RuntimeEnv.QUARANTINE_TARGET} else "some",
        "architecture": lambda s: _function(s.trigger).get("Architectures", ["x86_64"])[0],
        "log_retention": lambda s: _HUMAN_DAYS[_one(s.trigger, "AWS::Logs::LogGroup")["RetentionInDays"]],
        "layers": lambda s: "the stream runtime layer only"
        if [layer["Ref"][:24] for layer in _function(s.trigger)["Layers"]] == ["DynamoStreamRuntimeLayer"] else "",
        "least_privilege": lambda s: str(not _one(s.trigger, "AWS::IAM::Role").get("ManagedPolicyArns")),
        "starting_position": lambda s: _mapping(s.trigger)["StartingPosition"],
        "batch_size": lambda s: str(_mapping(s.trigger)["BatchSize"]),
        "max_batching_window": lambda s: "none" if "MaximumBatchingWindowInSeconds" not in _mapping(s.trigger) else "",
        "retry_attempts": lambda s: str(_mapping(s.trigger)["MaximumRetryAttempts"]),
        "max_record_age": lambda s: _seconds(_mapping(s.trigger)["MaximumRecordAgeInSeconds"]),
        "bisect_batch_on_error": lambda s: str(_mapping(s.trigger)["BisectBatchOnFunctionError"]),
        "report_batch_item_failures": lambda s: str(
            "ReportBatchItemFailures" in _mapping(s.trigger).get("FunctionResponseTypes", [])
        ),
        "parallelization_factor": lambda s: str(_mapping(s.trigger).get("ParallelizationFactor", 1)),
        "tumbling_window": lambda s: "none" if "TumblingWindowInSeconds" not in _mapping(s.trigger) else "",
        "filters": lambda s: "every record" if not _mapping_filters(s.trigger) else "",
        "filter_encryption": lambda s: "an AWS-owned key" if "KmsKeyArn" not in _mapping(s.trigger) else "",
        "enabled": lambda s: str(_mapping(s.trigger).get("Enabled", True)),
        "metrics_config": lambda s: ", ".join(_mapping(s.trigger)["MetricsConfig"]["Metrics"]),
        "on_failure": _on_failure,
        "quarantine": _quarantine,
        "alarm_topic": lambda s: "none"
        if not any(alarm["Properties"].get("AlarmActions") for alarm in _of_type(s.trigger, "AWS::CloudWatch::Alarm"))
        else "",
        "iterator_age_alarm_threshold": lambda s: _seconds(
            next(alarm["Properties"]["Threshold"] for alarm in _of_type(s.trigger, "AWS::CloudWatch::Alarm")
                 if alarm["Properties"]["MetricName"] == "IteratorAge") // 1000
        ),
        "dashboard": lambda s: str(bool(_of_type(s.trigger, "AWS::CloudWatch::Dashboard"))),
    }  # fmt: skip


def _table_probes() -> dict[str, Callable[[Synthesized], str]]:
    return {
        "sort_key": lambda s: "none" if len(_table(s.trigger)["KeySchema"]) == 1 else "",
        "table_name": lambda s: "generated" if "TableName" not in _table(s.trigger) else "",
        "stream": lambda s: _table(s.trigger)["StreamSpecification"]["StreamViewType"],
        "billing_mode": lambda s: _table(s.trigger)["BillingMode"],
        "point_in_time_recovery": lambda s: str(
            _table(s.trigger)["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        ),
        "encryption": lambda s: "AWS_MANAGED"
        if _table(s.trigger)["SSESpecification"] == {"SSEEnabled": True} else "",
        "time_to_live_attribute": lambda s: "no TTL" if "TimeToLiveSpecification" not in _table(s.trigger) else "",
        "removal_policy": lambda s: next(
            resource["DeletionPolicy"] for resource in _of_type(s.trigger, "AWS::DynamoDB::Table")
        ),
        "deletion_protection": lambda s: str(_table(s.trigger).get("DeletionProtectionEnabled", False)),
        "table_class": lambda s: _table(s.trigger).get("TableClass", "STANDARD"),
    }  # fmt: skip


PROBES: dict[str, dict[str, Callable[[Synthesized], str]]] = {
    "StreamTriggerOptions": _trigger_probes(),
    "StreamTriggeredTableOptions": _table_probes(),
    "StreamPipeline": {
        "memory_size": lambda s: str(_function(s.embedding)["MemorySize"]),
        "timeout": lambda s: f"{_function(s.embedding)['Timeout']} seconds",
        "item_filter": lambda s: _every_item(s.embedding),
    },
    "StreamPipeline.attach_handler": {
        "filters": lambda s: "the item_filter alone" if not _mapping_filters(s.embedding) else "",
        # With none, the on-failure destination is the trigger's own queue.
        "option_defaults": lambda s: "none" if _of_type(s.embedding, "AWS::SQS::Queue") else "",
    },
    "EmbeddingPipeline": {
        "text_attribute": lambda s: _variables(s.embedding)["TEXT_ATTRIBUTE"],
        "metadata_attributes": lambda s: _variables(s.embedding)["METADATA_ATTRIBUTES"] or "none",
        "item_filter": lambda s: _every_item(s.embedding),
        "id_attributes": lambda s: "the table's key schema"
        if _variables(s.embedding)["VECTOR_ID_ATTRIBUTES"] == "PK,SK" else "",
        "max_concurrency": lambda s: _variables(s.embedding)["MAX_CONCURRENCY"],
    },
    "SummaryEnricher": {
        "source_attribute": lambda s: _variables(s.summary)["SOURCE_ATTRIBUTE"],
        "summary_attribute": lambda s: _variables(s.summary)["SUMMARY_ATTRIBUTE"],
        "prompt": lambda s: _variables(s.summary)["PROMPT"],
        "max_tokens": lambda s: _variables(s.summary)["MAX_TOKENS"],
        "item_filter": lambda s: _every_item(s.summary),
        "max_concurrency": lambda s: _variables(s.summary)["MAX_CONCURRENCY"],
    },
    "EmbeddingModel.voyage": {
        "model": lambda s: _variables(s.embedding)["VOYAGE_MODEL"],
        "dimensions": lambda s: _variables(s.embedding)["VOYAGE_DIMENSIONS"],
        "input_type": lambda s: _variables(s.embedding)["VOYAGE_INPUT_TYPE"],
        "api_key_secret": lambda s: _a_new_secret(s.embedding),
    },
    "EmbeddingModel.titan": {"dimensions": lambda s: _variables(s.native)["TITAN_DIMENSIONS"]},
    "VectorStore.pinecone": {
        "namespace": lambda s: "the default namespace" if _variables(s.embedding)["PINECONE_NAMESPACE"] == "" else "",
        "api_key_secret": lambda s: _a_new_secret(s.embedding),
    },
    "VectorStore.s3_vectors": {
        "vector_bucket_name": lambda s: "a new vector bucket and index"
        if _of_type(s.native, "AWS::S3Vectors::VectorBucket") else "",
        "index_name": lambda s: "a new vector bucket and index" if _of_type(s.native, "AWS::S3Vectors::Index") else "",
        "distance_metric": lambda s: _one(s.native, "AWS::S3Vectors::Index")["DistanceMetric"],
    },
    "SummaryModel.anthropic": {
        "model": lambda s: _variables(s.summary)["MODEL_ID"],
        "api_key_secret": lambda s: _a_new_secret(s.summary),
    },
    "SummaryModel.bedrock": {"model_id": lambda s: _variables(s.bedrock)["MODEL_ID"]},
    "PythonDependencyLayer": {
        "runtime": lambda s: _one(s.layer, "AWS::Lambda::LayerVersion")["CompatibleRuntimes"][0],
        "architecture": lambda s: _one(s.layer, "AWS::Lambda::LayerVersion")["CompatibleArchitectures"][0],
        "description": lambda s: '"'
        + _one(s.layer, "AWS::Lambda::LayerVersion")["Description"].replace("anthropic", "<requirements_dir>")
        + '"',
    },
    "PythonDependencyLayer.anthropic": {"architecture": lambda s: _anthropic_layer_architecture(s)},
    "RealtimeFeed": {
        "api": lambda s: "a new Events API" if _event_api_auth(s.feed) == ["API_KEY", "AWS_IAM"] else "",
        "user_pool": lambda s: "an API key" if _of_type(s.feed, "AWS::AppSync::ApiKey") else "",
        "api_key_expires": lambda s: "AppSync's 7 days"
        if "Expires" not in _one(s.feed, "AWS::AppSync::ApiKey") else "",
        "channel": lambda s: _variables(s.feed)["FEED_CHANNEL"],
        "attributes": lambda s: "every attribute" if _variables(s.feed)["FEED_ATTRIBUTES"] == "" else "",
        "private_attributes": lambda s: "none" if _variables(s.feed)["FEED_PRIVATE_ATTRIBUTES"] == "" else "",
        "max_concurrency": lambda s: _variables(s.feed)["MAX_CONCURRENCY"],
        "batch_size": lambda s: str(_mapping(s.feed)["BatchSize"]),
        "item_filter": lambda s: _every_item(s.feed),
    },
    "SearchIndexer": {
        "domain": lambda s: "a new domain" if _of_type(s.search, "AWS::OpenSearchService::Domain") else "",
        "collection": lambda s: "none" if not _of_type(s.search, "AWS::OpenSearchServerless::AccessPolicy") else "",
        "attributes": lambda s: "every attribute" if _variables(s.search)["SEARCH_ATTRIBUTES"] == "" else "",
        "mappings": lambda s: "dynamic mapping" if _variables(s.search)["SEARCH_MAPPINGS"] == "{}" else "",
        "max_bulk_bytes": lambda s: _variables(s.search)["SEARCH_MAX_BULK_BYTES"],
        "max_bulk_actions": lambda s: _variables(s.search)["SEARCH_MAX_BULK_ACTIONS"],
        "item_filter": lambda s: _every_item(s.search),
    },
    "StreamAggregator": {
        "item_filter": lambda s: "every item" if _aggregation(s)["filter"] == [] else "",
        "target": lambda s: "a new table"
        if _of_type(s.aggregator, "AWS::DynamoDB::Table")[-1]["DeletionPolicy"] == "Retain" else "",
        "mark_retention": lambda s: f"{_variables(s.aggregator)['AGGREGATOR_MARK_RETENTION_SECONDS']} seconds",
        "max_concurrency": lambda s: _variables(s.aggregator)["AGGREGATOR_MAX_CONCURRENCY"],
        "batch_size": lambda s: str(_mapping(s.aggregator)["BatchSize"]),
        "tumbling_window": lambda s: f"{_mapping(s.aggregator)['TumblingWindowInSeconds']} seconds",
        "flush_per_window": lambda s: str(_variables(s.aggregator)["AGGREGATOR_FLUSH_PER_WINDOW"] == "true"),
    },
    "TtlArchiver": {
        "ttl_attribute": lambda s: "the table's TimeToLiveSpecification"
        if _variables(s.archiver)["ARCHIVER_TTL_ATTRIBUTE"] == "expiresAt" else "",
        "bucket": lambda s: _archive_bucket(s),
        "prefix": lambda s: f'"{_variables(s.archiver)["ARCHIVER_PREFIX"]}"',
        "include_caller_deletes": lambda s: str('"userIdentity"' not in "".join(_mapping_filters(s.archiver))),
        "storage_class": lambda s: "Glacier Instant Retrieval"
        if _archive_transition(s)["StorageClass"] == "GLACIER_IR" else "",
        "transition_after": lambda s: f"{_archive_transition(s)['TransitionInDays']} days",
        "batch_size": lambda s: str(_mapping(s.archiver)["BatchSize"]),
        "max_batching_window": lambda s: f"{_mapping(s.archiver)['MaximumBatchingWindowInSeconds']} seconds",
        "on_failure": lambda s: "the archive bucket"
        if _mapping(s.archiver)["DestinationConfig"]["OnFailure"]["Destination"]
        == {"Fn::GetAtt": [_archive_bucket_id(s), "Arn"]} else "",
    },
    "GroupBy.attribute": {"name": lambda s: "attribute" if _aggregation(s)["groupBy"][0]["name"] == "store" else ""},
    "GroupBy.time_bucket": {
        "name": lambda s: "bucket" if _aggregation(s)["groupBy"][1]["name"] == "day" else "",
        "epoch_unit": lambda s: _aggregation(s)["groupBy"][1]["epoch_unit"],
    },
    "Measure.count": {"name": lambda s: _aggregation(s)["measures"][0]["name"]},
    "Measure.sum": {"name": lambda s: "attribute" if _aggregation(s)["measures"][1]["name"] == "amount" else ""},
}  # fmt: skip


def _aggregation(s: Synthesized) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(_variables(s.aggregator)["AGGREGATOR_SPEC"])
    return spec


def _archive_bucket_id(s: Synthesized) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, resource in s.archiver["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket" and "LifecycleConfiguration" in resource["Properties"]
    ]
    return logical_id


def _archive_bucket_resource(s: Synthesized) -> dict[str, Any]:
    bucket: dict[str, Any] = s.archiver["Resources"][_archive_bucket_id(s)]
    return bucket


def _archive_bucket(s: Synthesized) -> str:
    bucket = _archive_bucket_resource(s)
    properties = bucket["Properties"]
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert "DestinationBucketName" in properties["LoggingConfiguration"]
    return "a new bucket"


def _archive_transition(s: Synthesized) -> dict[str, Any]:
    (rule,) = _archive_bucket_resource(s)["Properties"]["LifecycleConfiguration"]["Rules"]
    (transition,) = rule["Transitions"]
    return transition


def _event_api_auth(template: dict[str, Any]) -> list[str]:
    providers = _one(template, "AWS::AppSync::Api")["EventConfig"]["AuthProviders"]
    return sorted(provider["AuthType"] for provider in providers)


def _anthropic_layer_architecture(s: Synthesized) -> str:
    (layer,) = [
        resource["Properties"]
        for resource in _of_type(s.summary, "AWS::Lambda::LayerVersion")
        if "anthropic" in resource["Properties"].get("Description", "")
    ]
    architecture: str = layer["CompatibleArchitectures"][0]
    return architecture


DOCUMENTED = [*_docstring_defaults(), *_readme_defaults()]


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    return Synthesized()


def test_the_parsers_find_the_defaults() -> None:
    owners = {documented.owner for documented in DOCUMENTED}
    assert set(PROBES) <= owners
    assert sum(documented.where.startswith("README") for documented in DOCUMENTED) >= 40


@pytest.mark.parametrize("documented", DOCUMENTED, ids=[f"{d.where}:{d.argument}" for d in DOCUMENTED])
def test_a_documented_default_is_what_synthesis_produces(documented: Documented, synthesized: Synthesized) -> None:
    probe = PROBES.get(documented.owner, {}).get(documented.argument)
    assert probe is not None, f"{documented.where} documents a default for {documented.argument} that no probe checks"
    observed = normalized(probe(synthesized))
    assert observed, f"{documented.argument}: synthesis does not show the documented default"
    assert normalized(documented.default).startswith(observed), (
        f"{documented.where}: {documented.argument} is documented as {documented.default.strip()!r}, "
        f"synthesis gives {observed!r}"
    )
