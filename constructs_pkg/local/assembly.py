"""What the local runner needs from a synthesized CDK app (a cloud assembly, ``cdk.out``).

Reads ``manifest.json``, each stack's template and its asset manifest, and extracts the DynamoDB tables, the
functions (handler, environment, code and layer directories), the DynamoDB event source mappings between them, and
the resources the functions' environments and the mappings' on-failure destinations refer to (what the runner stands
in for them is ``constructs_pkg.local.resource_kinds``'s business). Only what a template states is used: nothing here
imports aws_cdk, so any CDK app's output works.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "TABLE_TYPES",
    "FunctionSpec",
    "LocalApp",
    "MappingSpec",
    "OnFailureSpec",
    "ResourceRef",
    "ResourceSpec",
    "TableSpec",
    "table_spec",
]

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
# The positions a DynamoDB event source mapping can start at (AT_TIMESTAMP is Kinesis only).
_STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON")
# The on-failure destinations a DynamoDB event source mapping supports (Kafka's are not for streams):
# https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
_DESTINATION_KINDS = {"AWS::SQS::Queue": "sqs", "AWS::SNS::Topic": "sns", "AWS::S3::Bucket": "s3"}
# Lambda's own defaults when the template leaves a property out:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html
DEFAULT_BATCH_SIZE = 100
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class ResourceRef:
    """An environment value that refers to a resource of the app (``LocalApp.resources[logical_id]``): ``attribute``
    None for ``{"Ref": id}``, else the ``Fn::GetAtt`` attribute."""

    logical_id: str
    attribute: str | None = None


@dataclass(frozen=True)
class ResourceSpec:
    """A resource of the app as its template declares it: its CloudFormation ``resource_type``, its ``properties``,
    and ``local_name``, the name made from its logical id for a resource that has no name of its own."""

    logical_id: str
    resource_type: str
    local_name: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSpec:
    """A table as the template declares it; ``name`` is its TableName, else its logical id."""

    logical_id: str
    name: str
    key_schema: tuple[Mapping[str, str], ...]
    attribute_definitions: tuple[Mapping[str, str], ...]
    global_secondary_indexes: tuple[Mapping[str, Any], ...] = ()
    local_secondary_indexes: tuple[Mapping[str, Any], ...] = ()
    stream_view_type: str | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: ``handler`` (``module.attribute``), its environment, code directory (None for inline code,
    which ``inline_code`` holds) and the ``python/`` directories of its layers (a layer whose asset has no
    ``python/`` folder is used as it is)."""

    logical_id: str
    name: str
    handler: str
    code_dir: Path | None
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str | ResourceRef] = field(default_factory=dict)
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    inline_code: str | None = None


@dataclass(frozen=True)
class OnFailureSpec:
    """An on-failure destination: ``kind`` is ``sqs``, ``sns`` or ``s3``; ``logical_id`` the resource's (one of
    ``LocalApp.resources``)."""

    kind: str
    logical_id: str


@dataclass(frozen=True)
class MappingSpec:
    """A DynamoDB event source mapping with Lambda's defaults for what the template leaves out.

    Defaults: batch size 100, no batching window, StartingPosition TRIM_HORIZON (the template always states it), no
    filters, no partial batch response, no bisect, retries -1 and record age -1 (both infinite), no
    tumbling window, ParallelizationFactor 1, no on-failure destination.
    """

    logical_id: str
    table_logical_id: str
    function_logical_id: str
    starting_position: str
    batch_size: int = DEFAULT_BATCH_SIZE
    maximum_batching_window_seconds: float = 0
    filter_patterns: tuple[Mapping[str, Any], ...] = ()
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    tumbling_window_seconds: int = 0
    parallelization_factor: int = 1
    on_failure: OnFailureSpec | None = None
    enabled: bool = True


@dataclass(frozen=True)
class LocalApp:
    """The tables, functions and DynamoDB event source mappings of one or more stacks of a cloud assembly.

    Each resource is known by its logical id, or by ``Stack/LogicalId`` when several stacks were read (two stacks may
    use the same logical ids, as CloudFormation allows), and a table, function, queue, topic or secret without a name
    of its own is named after it (``Stack-LogicalId`` then). ``origins`` gives each table's and function's stack, by
    its CloudFormation name (the ``stackName``, else the artifact id), and logical id; ``stack_names`` are the
    CloudFormation names of the stacks read; ``warnings`` lists what could not be carried over. ``resources`` holds
    every resource a function's environment or a mapping's on-failure destination refers to, tables included.
    ``construct_paths`` gives a table's or function's construct path (``Stack/Orders/Table/Resource``) where the
    template's ``aws:cdk:path`` metadata states it (``cdk synth`` writes it), so that each can be named as in the app.
    """

    tables: Mapping[str, TableSpec]
    functions: Mapping[str, FunctionSpec]
    mappings: tuple[MappingSpec, ...]
    warnings: tuple[str, ...] = ()
    stack_names: tuple[str, ...] = ()
    origins: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    resources: Mapping[str, ResourceSpec] = field(default_factory=dict)
    construct_paths: Mapping[str, str] = field(default_factory=dict)

    def starting_at(self, position: str) -> LocalApp:
        """This app with every mapping's StartingPosition replaced by ``position`` (LATEST or TRIM_HORIZON).

        Raises ValueError for another position.
        """
        if position not in _STARTING_POSITIONS:
            raise ValueError(f"position must be one of {', '.join(_STARTING_POSITIONS)}, got {position!r}")
        mappings = tuple(dataclasses.replace(mapping, starting_position=position) for mapping in self.mappings)
        return dataclasses.replace(self, mappings=mappings)

    @classmethod
    def from_assembly(cls, path: str | Path, stack_names: Sequence[str] | None = None) -> LocalApp:
        """Read the cloud assembly in ``path``: every stack, or only ``stack_names`` (Default: - every stack).

        Raises ValueError naming the stacks asked for that the assembly does not hold.
        """
        root = Path(path)
        manifest = json.loads((root / "manifest.json").read_text())
        stacks = {
            name: artifact
            for name, artifact in manifest.get("artifacts", {}).items()
            if artifact.get("type") == "aws:cloudformation:stack"
        }
        if stack_names:
            missing = sorted(set(stack_names) - set(stacks))
            if missing:
                raise ValueError(f"stack_names: {missing} not in the assembly at {root} (it holds {sorted(stacks)})")
            stacks = {name: stacks[name] for name in stack_names}
        reader = _TemplateReader()
        stack_names = []
        for name, artifact in stacks.items():
            stack_names.append(artifact["properties"].get("stackName", name))
            ids = _StackIds(name, stack_names[-1], qualified=len(stacks) > 1)
            reader.read_stack(root, ids, artifact, manifest["artifacts"])
        return cls(
            reader.tables,
            reader.functions,
            tuple(reader.mappings),
            tuple(reader.warnings),
            tuple(stack_names),
            reader.origins,
            reader.resources,
            reader.construct_paths,
        )


@dataclass(frozen=True)
class _StackIds:
    """How one stack's resources are known in a ``LocalApp``: by logical id, prefixed by the stack when qualified."""

    stack: str
    deployed_name: str
    qualified: bool

    def key(self, logical_id: str) -> str:
        return f"{self.stack}/{logical_id}" if self.qualified else logical_id

    def name(self, logical_id: str, own_name: Any) -> str:
        """The resource's own name property, else a local name made from its logical id."""
        if isinstance(own_name, str):
            return own_name
        return f"{self.stack}-{logical_id}" if self.qualified else logical_id


class _TemplateReader:
    def __init__(self) -> None:
        self.tables: dict[str, TableSpec] = {}
        self.functions: dict[str, FunctionSpec] = {}
        self.mappings: list[MappingSpec] = []
        self.warnings: list[str] = []
        self.origins: dict[str, tuple[str, str]] = {}
        self.resources: dict[str, ResourceSpec] = {}
        self.construct_paths: dict[str, str] = {}

    def read_stack(self, root: Path, ids: _StackIds, artifact: Mapping[str, Any], artifacts: Mapping[str, Any]) -> None:
        template = json.loads((root / artifact["properties"]["templateFile"]).read_text())
        resources: dict[str, Any] = template.get("Resources", {})
        assets = _asset_dirs(root, artifact, artifacts)
        for logical_id, resource in resources.items():
            if resource.get("Type") in TABLE_TYPES:
                self.tables[ids.key(logical_id)] = _table(ids, logical_id, resource.get("Properties", {}))
                self.origins[ids.key(logical_id)] = (ids.deployed_name, logical_id)
                self._keep_path(ids, logical_id, resource)
        for logical_id, resource in resources.items():
            if resource.get("Type") == "AWS::Lambda::Function":
                function = self._function(ids, logical_id, resource, resources, root, assets)
                if function is not None:
                    self.functions[ids.key(logical_id)] = function
                    self.origins[ids.key(logical_id)] = (ids.deployed_name, logical_id)
                    self._keep_path(ids, logical_id, resource)
        for logical_id, resource in resources.items():
            if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
                mapping = self._mapping(ids, logical_id, resource.get("Properties", {}), resources)
                if mapping is not None:
                    self.mappings.append(mapping)

    def _keep_path(self, ids: _StackIds, logical_id: str, resource: Mapping[str, Any]) -> None:
        path = resource.get("Metadata", {}).get("aws:cdk:path")
        if isinstance(path, str):
            self.construct_paths[ids.key(logical_id)] = path

    def _function(
        self,
        ids: _StackIds,
        logical_id: str,
        resource: Mapping[str, Any],
        resources: Mapping[str, Any],
        root: Path,
        assets: Mapping[str, Path],
    ) -> FunctionSpec | None:
        where = f"{ids.stack}/{logical_id}"
        properties = resource.get("Properties", {})
        handler = properties.get("Handler")
        code = properties.get("Code", {})
        inline_code = code.get("ZipFile") if isinstance(code.get("ZipFile"), str) else None
        code_dir = _asset_dir(resource, code, root, assets)
        if not isinstance(handler, str) or (code_dir is None and inline_code is None):
            self.warnings.append(f"{where}: no Handler or no code asset directory; it cannot run locally")
            return None
        layer_dirs: list[Path] = []
        for layer in properties.get("Layers", []):
            layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
            layer_resource = resources.get(layer_id or "", {})
            content = layer_resource.get("Properties", {}).get("Content", {})
            layer_dir = _asset_dir(layer_resource, content, root, assets)
            if layer_dir is None:
                self.warnings.append(f"{where}: layer {layer} has no local asset; left out")
                continue
            # Lambda's Python runtimes put a layer's python/ folder on sys.path:
            # https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths
            layer_dirs.append(layer_dir / "python" if (layer_dir / "python").is_dir() else layer_dir)
        environment: dict[str, str | ResourceRef] = {}
        for key, value in properties.get("Environment", {}).get("Variables", {}).items():
            resolved = self._environment_value(ids, value, resources)
            if resolved is None:
                self.warnings.append(f"{where}: environment {key}={json.dumps(value)} is left out")
            else:
                environment[key] = resolved
        return FunctionSpec(
            logical_id=ids.key(logical_id),
            name=ids.name(logical_id, properties.get("FunctionName")),
            handler=handler,
            code_dir=code_dir,
            layer_dirs=tuple(layer_dirs),
            environment=environment,
            timeout_seconds=int(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(properties.get("MemorySize", DEFAULT_MEMORY_MB)),
            inline_code=inline_code,
        )

    def _environment_value(self, ids: _StackIds, value: Any, resources: Mapping[str, Any]) -> str | ResourceRef | None:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return str(value)
        logical_id = _referenced_id(value)
        if logical_id is None or not isinstance(value, Mapping) or len(value) != 1:
            return None
        # A parameter or a pseudo parameter (AWS::Region, ...) is no resource.
        if logical_id not in resources:
            return None
        self._keep_resource(ids, logical_id, resources)
        attribute = value.get("Fn::GetAtt")
        return ResourceRef(ids.key(logical_id), None if attribute is None else _attribute_name(attribute))

    def _keep_resource(self, ids: _StackIds, logical_id: str, resources: Mapping[str, Any]) -> None:
        resource = resources[logical_id]
        self.resources[ids.key(logical_id)] = ResourceSpec(
            logical_id=ids.key(logical_id),
            resource_type=str(resource.get("Type", "")),
            local_name=ids.name(logical_id, None),
            properties=resource.get("Properties", {}),
        )

    def _mapping(
        self, ids: _StackIds, logical_id: str, properties: Mapping[str, Any], resources: Mapping[str, Any]
    ) -> MappingSpec | None:
        where = f"{ids.stack}/{logical_id}"
        table_id = ids.key(_referenced_id(properties.get("EventSourceArn")) or "")
        if table_id not in self.tables:
            # Kinesis, SQS, Kafka and tables outside the stacks read are not this runner's to emulate.
            self.warnings.append(f"{where}: its event source is not a DynamoDB table of the app; skipped")
            return None
        function_id = ids.key(_referenced_id(properties.get("FunctionName")) or "")
        if function_id not in self.functions:
            self.warnings.append(f"{where}: its function cannot run locally; skipped")
            return None
        on_failure = None
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination is not None:
            destination_id = _referenced_id(destination)
            kind = _DESTINATION_KINDS.get(resources.get(destination_id or "", {}).get("Type", ""))
            if destination_id is None or kind is None:
                self.warnings.append(f"{where}: on-failure destination {destination} is not emulated")
            else:
                self._keep_resource(ids, destination_id, resources)
                on_failure = OnFailureSpec(kind, ids.key(destination_id))
        filters = properties.get("FilterCriteria", {}).get("Filters", [])
        return MappingSpec(
            logical_id=ids.key(logical_id),
            table_logical_id=table_id,
            function_logical_id=function_id,
            starting_position=properties.get("StartingPosition", "TRIM_HORIZON"),
            batch_size=int(properties.get("BatchSize", DEFAULT_BATCH_SIZE)),
            maximum_batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
            filter_patterns=tuple(json.loads(entry["Pattern"]) for entry in filters),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            bisect_batch_on_function_error=bool(properties.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(properties.get("MaximumRecordAgeInSeconds", -1)),
            tumbling_window_seconds=int(properties.get("TumblingWindowInSeconds", 0)),
            parallelization_factor=int(properties.get("ParallelizationFactor", 1)),
            on_failure=on_failure,
            enabled=bool(properties.get("Enabled", True)),
        )


def _table(ids: _StackIds, logical_id: str, properties: Mapping[str, Any]) -> TableSpec:
    return table_spec(ids.key(logical_id), ids.name(logical_id, properties.get("TableName")), properties)


def table_spec(logical_id: str, name: str, properties: Mapping[str, Any]) -> TableSpec:
    """The table ``properties`` (an AWS::DynamoDB::Table's in a template) declare, named ``name``."""
    stream = properties.get("StreamSpecification") or {}
    ttl = properties.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id=logical_id,
        name=name,
        key_schema=tuple(properties.get("KeySchema", [])),
        attribute_definitions=tuple(properties.get("AttributeDefinitions", [])),
        global_secondary_indexes=tuple(properties.get("GlobalSecondaryIndexes", [])),
        local_secondary_indexes=tuple(properties.get("LocalSecondaryIndexes", [])),
        stream_view_type=stream.get("StreamViewType"),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
    )


def _referenced_id(value: Any) -> str | None:
    """The logical id in ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attribute]}``."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            return str(attribute[0])
        if isinstance(attribute, str):
            return attribute.split(".", 1)[0]
    return None


def _attribute_name(attribute: Any) -> str:
    """The attribute of ``Fn::GetAtt``: ``[id, attribute]`` or ``"id.attribute"``."""
    if isinstance(attribute, list):
        return str(attribute[1]) if len(attribute) > 1 else ""
    return str(attribute).split(".", 1)[-1]


def _asset_dirs(root: Path, artifact: Mapping[str, Any], artifacts: Mapping[str, Any]) -> dict[str, Path]:
    """Object key -> directory, from the stack's asset manifests (the ``cdk:asset-manifest`` artifacts it needs)."""
    dirs: dict[str, Path] = {}
    for dependency in _asset_manifests(artifact, artifacts):
        manifest = json.loads((root / dependency).read_text())
        for asset in manifest.get("files", {}).values():
            source = asset.get("source", {}).get("path")
            if source is None:
                continue
            for destination in asset.get("destinations", {}).values():
                dirs[destination.get("objectKey", "")] = root / source
    return dirs


def _asset_manifests(artifact: Mapping[str, Any], artifacts: Mapping[str, Any]) -> Iterable[str]:
    for dependency in artifact.get("dependencies", []):
        other = artifacts.get(dependency, {})
        if other.get("type") == "cdk:asset-manifest":
            yield other["properties"]["file"]


def _asset_dir(
    resource: Mapping[str, Any], code: Mapping[str, Any], root: Path, assets: Mapping[str, Path]
) -> Path | None:
    """A function's code or a layer's content on disk: the asset metadata's path, else the asset manifest's."""
    metadata_path = resource.get("Metadata", {}).get("aws:asset:path")
    if isinstance(metadata_path, str) and (root / metadata_path).is_dir():
        return root / metadata_path
    key = code.get("S3Key")
    if isinstance(key, str) and key in assets and assets[key].is_dir():
        return assets[key]
    return None
