"""Lambda's DynamoDB event source mappings for a whole app, run on one machine: the app's resources on local
endpoints, each mapping emulated over its table's stream, each function's handler called in this process.

``LocalRunner`` puts three parts together, each handed what it works with: ``LocalResources`` (the tables, queues,
topics, buckets and secrets, and what the functions' environments refer to), ``LocalFunction`` (a handler in a module
sandbox of its own, with its environment) and ``MappingEmulator`` (one mapping's shards, batches and failures). Or it
reads a deployed app's streams (``endpoints=None``) and runs the handlers here with the account's credentials.

One thread polls every shard of every mapping in turn, so a handler's environment can be swapped in around each call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from constructs_pkg.local.assembly import FunctionSpec, LocalApp, ResourceRef

# LocalEndpoints, RunStats and running_moto_server are part of a runner's surface: exported here with it.
from constructs_pkg.local.endpoints import LocalEndpoints, running_moto_server
from constructs_pkg.local.event_source_mapping import MappingEmulator, RunStats
from constructs_pkg.local.lambda_host import FunctionCall, LocalFunction, runtime_environment
from constructs_pkg.local.resource_kinds import registered_services
from constructs_pkg.local.resources import LocalResources
from constructs_pkg.local.ttl import TtlSweeper

__all__ = ["LocalEndpoints", "LocalRunner", "RunStats", "aws_session_environment", "running_moto_server"]

_logger = logging.getLogger(__name__)

# Lambda polls each shard about four times a second: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
POLL_INTERVAL_SECONDS = 0.25
# How often expired items are looked for (DynamoDB's own TTL takes days; this is as soon as it may).
TTL_SWEEP_SECONDS = 1.0
DEFAULT_QUIET_SECONDS = 1.0


class LocalRunner:
    """Runs every enabled DynamoDB event source mapping of ``app`` on ``endpoints``.

    ``endpoints`` (a ``LocalEndpoints``) serve DynamoDB and its Streams API (DynamoDB Local) and the other services
    (moto's server serves them all): the app's tables, on-failure destinations (an SQS queue, SNS topic or S3 bucket)
    and the resources the functions' environments refer to are made there (``resources``), and the functions call
    them with dummy credentials. An on-failure destination whose service has no endpoint only logs its messages (all
    are kept in ``stats``); an environment variable whose resource has none is left out. ``endpoints=None`` reads the
    streams of deployed tables (see ``constructs_pkg.local.deployed.as_deployed``) in the account and region of boto3's
    default session, and runs the functions with that session's credentials and region; nothing is created or sent.

    ``table_prefix`` (Default: "") is put before every table and resource name, so one DynamoDB Local can hold several
    runs. ``clock`` (Default: ``time.time``) is the wall clock record ages and tumbling windows are measured against.
    ``environment_overrides`` (Default: - none) are set on top of every function's environment (the template's
    variables, the runtime's and the local endpoints) whenever it is invoked: point a provider at a local stub with
    them, e.g. ``{"VOYAGE_BASE_URL": "http://127.0.0.1:8001"}``. ``secret_values`` (Default: - none) are the values of
    the secrets the functions' variables refer to, by variable name, e.g. ``{"VOYAGE_API_KEY_SECRET_ARN": key}``; a
    secret none names holds the template's SecretString, else "local-secret".
    ``constructs_pkg.local.providers.local_providers`` makes both for the app's AI providers. ``recorder`` (Default:
    None) is handed a ``FunctionCall`` (event, response or error) after every call of a handler.

    On local endpoints, the items of tables with TTL are deleted as soon as they expire (``constructs_pkg.local.ttl``:
    DynamoDB Local's own sweep deletes about 2 a second), their REMOVE records marked as TTL deletes; ``emulate_ttl``
    (Default: True) False leaves them to DynamoDB Local.
    """

    def __init__(
        self,
        app: LocalApp,
        endpoints: LocalEndpoints | None,
        *,
        table_prefix: str = "",
        clock: Callable[[], float] = time.time,
        environment_overrides: Mapping[str, str] | None = None,
        secret_values: Mapping[str, str] | None = None,
        recorder: Callable[[FunctionCall], None] | None = None,
        emulate_ttl: bool = True,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.endpoints = endpoints
        self.environment_overrides = dict(environment_overrides or {})
        self.clock = clock
        self.stats = RunStats()
        self.resources: LocalResources | None = None
        if endpoints is None:
            import boto3

            session = boto3.session.Session()
            self.dynamodb_client: Any = session.client("dynamodb")
            self.streams_client: Any = session.client("dynamodbstreams")
            self._identity = aws_session_environment(session)
            self.table_names = {logical_id: table_prefix + table.name for logical_id, table in app.tables.items()}
        else:
            self.dynamodb_client = endpoints.client("dynamodb")
            self.streams_client = endpoints.client("dynamodbstreams")
            self._identity = endpoints.function_environment(registered_services())
            self.resources = LocalResources(app, endpoints, name_prefix=table_prefix, supplied_values=secret_values)
            self.table_names = self.resources.table_names
        # Mapping logical id -> its on-failure destination's queue URL, topic ARN or s3://bucket.
        self.on_failure_destinations: dict[str, str] = {}
        self._emulators: list[MappingEmulator] | None = None
        self._functions: dict[str, LocalFunction] = {}
        self._emulate_ttl = emulate_ttl and endpoints is not None
        self.ttl: TtlSweeper | None = None
        self._swept_at = 0.0

    def create_tables(self) -> None:
        """Create every table of the app (on-demand, streams and TTL as the template says); wait until active.

        Raises RuntimeError for a runner on deployed tables.
        """
        if self.resources is None:
            raise RuntimeError("a runner on deployed tables (endpoints=None) creates none")
        self.resources.create_tables()

    def start(self) -> None:
        """Create the on-failure destinations and place each mapping at its starting position (handlers load lazily)."""
        if self._emulators is not None:
            return
        self._emulators = []
        if self._emulate_ttl:
            ttl_attributes = {self.table_names[logical_id]: table.ttl_attribute
                              for logical_id, table in self.app.tables.items() if table.ttl_attribute}  # fmt: skip
            self.ttl = TtlSweeper.of_tables(self.dynamodb_client, ttl_attributes, clock=self.clock)
        for mapping in self.app.mappings:
            if not mapping.enabled:
                continue
            destination = None if self.resources is None else self.resources.on_failure_destination(mapping)
            if destination is not None:
                self.on_failure_destinations[mapping.logical_id] = destination.address
            table_name = self.table_names[mapping.table_logical_id]
            emulator = MappingEmulator(
                mapping,
                self._function(mapping.function_logical_id),
                streams_client=self.streams_client,
                stream_arn=self.dynamodb_client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"],
                stats=self.stats,
                clock=self.clock,
                on_failure=None if destination is None else destination.send,
                ttl=self.ttl,
            )
            emulator.poll()
            self._emulators.append(emulator)

    def poll_once(self) -> bool:
        """One pass over every shard of every mapping; whether any record was read or any handler called."""
        self.start()
        assert self._emulators is not None
        swept = 0
        if self.ttl is not None and time.monotonic() - self._swept_at >= TTL_SWEEP_SECONDS:
            self._swept_at = time.monotonic()
            swept = self.ttl.sweep()
        return any([emulator.poll() for emulator in self._emulators]) or swept > 0

    def run_until_idle(
        self,
        timeout: float = 60.0,
        *,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
        progress: Callable[[RunStats], None] | None = None,
    ) -> RunStats:
        """Poll until no record has arrived for ``quiet_seconds`` (Default: 1) and nothing waits in a batch.

        Raises TimeoutError when that takes longer than ``timeout`` seconds (Default: 60). ``progress`` (Default: -
        none) is called after every pass.
        """
        started = last_progress = time.monotonic()
        while True:
            busy = self.poll_once()
            if busy:
                last_progress = time.monotonic()
            if progress is not None:
                progress(self.stats)
            now = time.monotonic()
            assert self._emulators is not None
            if now - last_progress >= quiet_seconds and all(emulator.idle for emulator in self._emulators):
                return self.stats
            if now - started > timeout:
                raise TimeoutError(f"the streams were still busy after {timeout} s: {self.stats.summary()}")
            # A shard that is behind is read again at once, as Lambda does; only an idle pass waits.
            if not busy:
                time.sleep(POLL_INTERVAL_SECONDS)

    def run_forever(self, progress: Callable[[RunStats], None] | None = None) -> None:
        """Poll until interrupted, calling ``progress`` (Default: - none) after every pass."""
        while True:
            if not self.poll_once():
                time.sleep(POLL_INTERVAL_SECONDS)
            if progress is not None:
                progress(self.stats)

    def invoker(self, function_logical_id: str) -> Callable[[dict[str, Any]], Any]:
        """An ``invoke(event)`` for ``constructs_pkg.local.redrive``: calls the function's handler in this process as
        the mappings do (same loaded module, the template's environment with local endpoints) and returns its response.

        Raises KeyError when the app has no function ``function_logical_id`` that can run locally.
        """
        function = self._function(function_logical_id)

        def invoke(event: dict[str, Any]) -> Any:
            # Through JSON, as Lambda hands an event over: the handler gets a copy of the caller's.
            return function.invoke(json.loads(json.dumps(event)))[1]

        return invoke

    def _function(self, logical_id: str) -> LocalFunction:
        # One LocalFunction per function, shared by its mappings and invokers: one cold start, as one warm sandbox.
        if logical_id not in self._functions:
            spec = self.app.functions[logical_id]
            self._functions[logical_id] = LocalFunction(spec, self._function_environment(spec), recorder=self.recorder)
        return self._functions[logical_id]

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        environment: dict[str, str] = {}
        for name, value in spec.environment.items():
            if not isinstance(value, ResourceRef):
                environment[name] = value
                continue
            if self.resources is None:
                _logger.warning(
                    "%s: environment %s refers to a resource of the template; left out", spec.logical_id, name
                )
                continue
            resolved = self.resources.value_of(value, name)
            if resolved is not None:
                environment[name] = resolved
        # The template's variables, then what the Lambda runtime sets, the region, credentials and local endpoints.
        return {**environment, **runtime_environment(spec), **self._identity, **self.environment_overrides}


def aws_session_environment(session: Any) -> dict[str, str]:
    """A boto3 session's credentials and region as a function's environment variables.

    Raises ValueError when boto3's credential chain finds none.
    """
    credentials = session.get_credentials()
    if credentials is None:
        raise ValueError("no AWS credentials found by boto3's default chain (environment, profile, SSO, ...)")
    frozen = credentials.get_frozen_credentials()
    environment = {
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        # Empty when the credentials have none: no placeholder token may be signed with real keys.
        "AWS_SESSION_TOKEN": frozen.token or "",
    }
    if session.region_name:
        environment["AWS_REGION"] = environment["AWS_DEFAULT_REGION"] = session.region_name
    return environment
