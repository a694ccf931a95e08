"""A stack's stream pipelines running for one test: its tables in DynamoDB Local, its event source mappings carried
in-process as ``python -m constructs_pkg.local run`` carries them, its other resources and on-failure destinations on
moto, and its AI providers on stubs. The test writes items, waits until the streams are idle, then reads what each
function was invoked with and returned and what reached the on-failure destinations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.changes import Change, apply_change, parse_change, read_changes
from constructs_pkg.local.endpoints import LocalEndpoints
from constructs_pkg.local.event_source_mapping import RunStats
from constructs_pkg.local.failure_inbox import FailureInbox, FailureMessage
from constructs_pkg.local.lambda_host import FunctionCall
from constructs_pkg.local.names import resolve
from constructs_pkg.local.providers import ProviderSetup, local_providers
from constructs_pkg.local.run_report import RunReport, build_report, count_items
from constructs_pkg.local.runner import LocalRunner
from constructs_pkg.local.stubs.server import StubServer

__all__ = ["LocalPipelines", "construct_paths", "synthesized"]

DEFAULT_TIMEOUT_SECONDS = 60.0
# Long enough for a write made just before to be read on the next poll (four a second), short enough for a test.
DEFAULT_QUIET_SECONDS = 0.5


class LocalPipelines:
    """The stream pipelines of ``app`` (a ``LocalApp``) on ``endpoints``, every name prefixed by ``table_prefix``
    (Default: "") so that one DynamoDB Local and one moto serve many tests. ``stubs`` (Default: - new stubs for the
    providers the functions use) are running provider stubs by the names of
    ``constructs_pkg.local.providers.GIVEN_STUBS``; ``real`` (Default: - none) are providers called for real.
    ``construct_paths`` (Default: - the template's) name the tables and functions as the app does.

    ``start()`` (or ``with``) creates the tables and places each mapping at its starting position; ``close()``
    deletes the tables and stops the stubs it started. Use ``LocalPipelines.of(stack_or_assembly, endpoints)``.
    """

    def __init__(
        self,
        app: LocalApp,
        endpoints: LocalEndpoints,
        *,
        table_prefix: str = "",
        stubs: Mapping[str, StubServer] | None = None,
        real: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.endpoints = endpoints
        self.table_prefix = table_prefix
        self._stubs = dict(stubs or {})
        self._real = tuple(real)
        self._calls: list[FunctionCall] = []
        self._resources = contextlib.ExitStack()
        self._runner: LocalRunner | None = None
        self._providers: ProviderSetup | None = None
        self._inbox: FailureInbox | None = None
        self._changes_applied = 0
        self._counts_before: dict[str, int | None] = {}

    @classmethod
    def of(
        cls,
        source: Any,
        endpoints: LocalEndpoints,
        *,
        stacks: Sequence[str] | None = None,
        table_prefix: str = "",
        stubs: Mapping[str, StubServer] | None = None,
        real: Sequence[str] = (),
    ) -> LocalPipelines:
        """The pipelines of ``source``: an ``aws_cdk.Stack`` (synthesized with its app, as ``cdk synth`` would:
        bundling on), or the path of a cloud assembly (``cdk.out``) and the ``stacks`` to read from it (Default: -
        every stack). Raises ValueError when the stack was synthesized without bundling."""
        if isinstance(source, str | Path):
            app = LocalApp.from_assembly(source, stacks)
        else:
            directory = synthesized(source)
            app = LocalApp.from_assembly(directory, [source.artifact_id])
            app = _with_paths(app, construct_paths(source))
        _check_layers(app)
        return cls(app, endpoints, table_prefix=table_prefix, stubs=stubs, real=real)

    def start(self) -> Self:
        if self._runner is not None:
            return self
        providers = self._resources.enter_context(local_providers(self.app, self._real, stubs=self._stubs))
        runner = LocalRunner(
            self.app,
            self.endpoints,
            table_prefix=self.table_prefix,
            environment_overrides=providers.environment,
            secret_values=providers.secret_values,
            recorder=self._calls.append,
        )
        self._resources.callback(self._delete_tables, runner)
        runner.create_tables()
        runner.start()
        self._inbox = FailureInbox(runner)
        self._counts_before = count_items(runner.dynamodb_client, runner.table_names.values())
        self._runner, self._providers = runner, providers
        return self

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    @property
    def runner(self) -> LocalRunner:
        return self.start()._runner  # type: ignore[return-value]

    @property
    def providers(self) -> ProviderSetup:
        """The providers' stubs (``providers.stubs["anthropic"]``, ...) and where each one's calls go."""
        return self.start()._providers  # type: ignore[return-value]

    @property
    def stats(self) -> RunStats:
        return self.runner.stats

    def table_name(self, table: str) -> str:
        """The name here of the table ``table``: its construct id or path (``Orders``, ``Orders/Table``), logical id
        or name in the template. Raises ``constructs_pkg.local.names.UnknownName`` listing the tables."""
        runner = self.runner
        candidates = {key: (runner.table_names[key], spec.name) for key, spec in self.app.tables.items()}
        return runner.table_names[resolve(table, candidates, self.app.construct_paths, what="table")]

    def put(self, table: str, item: Mapping[str, Any]) -> None:
        """Put ``item`` (plain values: str, numbers, bool, None, lists, dicts, bytes, sets) into ``table``."""
        self.apply([{"put": table, "item": dict(item)}])

    def update(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        set: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
    ) -> None:
        """Set the attributes ``set`` (Default: - none) and remove those named in ``remove`` (Default: - none) of
        the item ``key`` in ``table``."""
        self.apply([{"update": table, "key": dict(key), "set": dict(set or {}), "remove": list(remove)}])

    def delete(self, table: str, key: Mapping[str, Any]) -> None:
        """Delete the item ``key`` from ``table``."""
        self.apply([{"delete": table, "key": dict(key)}])

    def apply(self, changes: str | Path | Iterable[Mapping[str, Any] | str | Change]) -> int:
        """Apply ``changes`` in order: a changes file (JSON lines, as ``run --changes`` reads), or changes as dicts,
        JSON lines or ``Change``s. Returns how many; raises ``ChangeError`` for a malformed or refused one."""
        if isinstance(changes, str | Path):
            parsed = read_changes(changes)
        else:
            parsed = [
                change if isinstance(change, Change) else parse_change(change, where=f"change {index}")
                for index, change in enumerate(changes, start=1)
            ]
        runner = self.runner
        for change in parsed:
            apply_change(change, runner.dynamodb_client, self.table_name(change.table))
        self._changes_applied += len(parsed)
        return len(parsed)

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table`` (a consistent Scan), as plain values: numbers as ``Decimal``, binary as bytes."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        name, client = self.table_name(table), self.runner.dynamodb_client
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = client.scan(**arguments)
            items += [{key: deserializer.deserialize(value) for key, value in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def wait_until_idle(
        self, timeout: float = DEFAULT_TIMEOUT_SECONDS, *, quiet_seconds: float = DEFAULT_QUIET_SECONDS
    ) -> RunStats:
        """Carry the streams until no record arrived for ``quiet_seconds`` (Default: 0.5) and no batch waits.
        Raises TimeoutError after ``timeout`` seconds (Default: 60)."""
        return self.runner.run_until_idle(timeout, quiet_seconds=quiet_seconds)

    def calls(self, function: str | None = None) -> list[FunctionCall]:
        """Every call of a handler so far (its ``event``, ``response`` or ``error``), in order; only those of
        ``function`` (Default: - every function), named by its construct id or path, logical id or name."""
        self.start()
        if function is None:
            return list(self._calls)
        candidates = {key: (spec.name,) for key, spec in self.app.functions.items()}
        key = resolve(function, candidates, self.app.construct_paths, what="function")
        return [call for call in self._calls if call.function == key]

    def failure_messages(self) -> list[FailureMessage]:
        """Every message that reached an on-failure destination: the mappings' after their retries, and the
        stream runtime's quarantined records."""
        self.start()
        assert self._inbox is not None
        return self._inbox.messages()

    @property
    def on_failure(self) -> list[FailureMessage]:
        """The mappings' own on-failure messages (RetryAttemptsExhausted, RecordAgeExceeded), as they reached the
        destinations."""
        return [message for message in self.failure_messages() if not message.quarantined]

    @property
    def quarantined(self) -> list[FailureMessage]:
        """The stream runtime's quarantine messages (a final failure each, with its records in ``payload``)."""
        return [message for message in self.failure_messages() if message.quarantined]

    def report(self) -> RunReport:
        """The run's report, as ``run`` prints it: per function, and each table's items before and after."""
        runner = self.runner
        return build_report(
            runner,
            inbox_messages=self.failure_messages(),
            tables_before=self._counts_before,
            tables_after=count_items(runner.dynamodb_client, runner.table_names.values()),
            changes_applied=self._changes_applied,
            dynamodb_endpoint=self.endpoints.dynamodb,
        )

    @staticmethod
    def _delete_tables(runner: LocalRunner) -> None:
        client = runner.dynamodb_client
        for name in runner.table_names.values():
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=name)


def synthesized(stack: Any) -> Path:
    """The cloud assembly directory of ``stack``'s app, synthesized (once: the CDK keeps the assembly)."""
    from aws_cdk import Stage

    return Path(Stage.of(stack).synth().directory)  # type: ignore[union-attr]


def construct_paths(stack: Any) -> dict[str, str]:
    """Logical id -> construct path of every CloudFormation resource of ``stack``, from its construct tree."""
    from aws_cdk import CfnResource, Stack

    paths = {}
    for construct in stack.node.find_all():
        if isinstance(construct, CfnResource) and Stack.of(construct).node.path == stack.node.path:
            paths[str(stack.resolve(construct.logical_id))] = str(construct.node.path)
    return paths


def _with_paths(app: LocalApp, paths: Mapping[str, str]) -> LocalApp:
    import dataclasses

    return dataclasses.replace(app, construct_paths={**paths, **app.construct_paths})


def _check_layers(app: LocalApp) -> None:
    """Refuse an app whose stream runtime layer was staged without bundling: its functions could not import it."""
    for function in app.functions.values():
        for layer in function.layer_dirs:
            if (layer / "stream_runtime").is_dir() and (layer / "contract.py").is_file():
                raise ValueError(
                    f"{function.logical_id}: its stream runtime layer was staged without bundling (the app's "
                    "aws:cdk:bundling-stacks context leaves this stack out), so its handler cannot import lambda_src; "
                    "build the stack in an App with bundling on (the default: it copies files, no Docker)"
                )
