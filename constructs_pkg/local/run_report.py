"""The report of a local run, per function: invocations, records, failures, what reached the on-failure destinations
(sent by the mapping after its retries, or quarantined by the stream runtime), and each table's item count before
and after. ``run`` prints it and ``--report FILE`` writes it as JSON for CI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FunctionReport", "RunReport", "build_report", "count_items"]


@dataclass(frozen=True)
class FunctionReport:
    """One function of the run: ``invocations`` (``failed_invocations`` of them failed, with ``errors`` counted by
    their text), the distinct ``records`` delivered to it, the records its mappings sent to their on-failure
    destinations after their retries (``sent_on_failure``) and those the stream runtime quarantined
    (``quarantined``)."""

    function: str
    name: str
    handler: str
    mappings: tuple[str, ...]
    invocations: int
    failed_invocations: int
    records: int
    sent_on_failure: int
    quarantined: int
    errors: Mapping[str, int] = field(default_factory=dict)

    @property
    def records_on_failure(self) -> int:
        return self.sent_on_failure + self.quarantined


@dataclass(frozen=True)
class RunReport:
    """A whole run: each function's report, each table's item count ``before`` and ``after`` (None: not counted,
    e.g. on deployed tables), the on-failure messages (``on_failure``: address, condition, function, records, reason)
    and where DynamoDB answered."""

    functions: tuple[FunctionReport, ...]
    tables: Mapping[str, Mapping[str, int | None]]
    on_failure: tuple[Mapping[str, Any], ...] = ()
    changes_applied: int = 0
    dynamodb_endpoint: str | None = None

    @property
    def records_on_failure(self) -> int:
        """Records that reached an on-failure destination, by the mapping or by quarantine."""
        return sum(function.records_on_failure for function in self.functions)

    def lines(self) -> list[str]:
        """The report as ``run`` prints it."""
        lines = [f"applied {self.changes_applied} changes"] if self.changes_applied else []
        for function in self.functions:
            lines.append(
                f"function {function.function} ({function.handler}): {function.invocations} invocations "
                f"({function.failed_invocations} failed), {function.records} records, "
                f"{function.sent_on_failure} sent to the on-failure destination after retries, "
                f"{function.quarantined} quarantined"
            )
            lines += [f"  {count} x {error}" for error, count in sorted(function.errors.items())]
        for message in self.on_failure:
            reason = f": {message['reason']}" if message.get("reason") else ""
            lines.append(
                f"on-failure {message['address']}: {message['condition']}, {message['records']} records of "
                f"{message['function']}{reason}"
            )
        for table, counts in sorted(self.tables.items()):
            before, after = counts.get("before"), counts.get("after")
            if before is not None or after is not None:
                lines.append(f"table {table}: {_count(before)} items before, {_count(after)} after")
        return lines

    def as_json(self) -> dict[str, Any]:
        """The report as ``--report`` writes it."""
        return {
            "dynamodbEndpoint": self.dynamodb_endpoint,
            "changesApplied": self.changes_applied,
            "recordsOnFailure": self.records_on_failure,
            "functions": [
                {
                    **{_camel(name): value for name, value in asdict(function).items()},
                    "recordsOnFailure": function.records_on_failure,
                }
                for function in self.functions
            ],
            "onFailure": [dict(message) for message in self.on_failure],
            "tables": {name: dict(counts) for name, counts in sorted(self.tables.items())},
        }


def build_report(
    runner: Any,
    *,
    inbox_messages: Sequence[Any] | None,
    tables_before: Mapping[str, int | None],
    tables_after: Mapping[str, int | None],
    changes_applied: int = 0,
    dynamodb_endpoint: str | None = None,
) -> RunReport:
    """The report of ``runner``'s run so far.

    ``inbox_messages`` are what ``FailureInbox.messages()`` read from the destinations (None: they were not read,
    as on deployed stacks; the mappings' own messages from the runner's stats stand in). ``tables_before`` and
    ``tables_after`` count items by table name.
    """
    app, stats = runner.app, runner.stats
    by_name = {function.name: key for key, function in app.functions.items()}
    mapping_function = {mapping.logical_id: mapping.function_logical_id for mapping in app.mappings}
    sent: Counter[str] = Counter()
    for message in stats.on_failure_messages:
        sent[_function_of(message.get("requestContext", {}).get("functionArn"), by_name)] += int(
            message.get("DDBStreamBatchInfo", {}).get("batchSize", 0)
        )
    quarantined: Counter[str] = Counter()
    on_failure: list[dict[str, Any]] = []
    for message in inbox_messages or ():
        function = _function_of(message.function_arn, by_name)
        if message.quarantined:
            quarantined[function] += message.records
        on_failure.append(
            {
                "address": message.address,
                "condition": message.condition,
                "function": function,
                "records": message.records,
                "reason": message.reason,
            }
        )
    if inbox_messages is None:
        on_failure = [
            {
                "address": "(printed, not sent)",
                "condition": message.get("requestContext", {}).get("condition"),
                "function": _function_of(message.get("requestContext", {}).get("functionArn"), by_name),
                "records": message.get("DDBStreamBatchInfo", {}).get("batchSize", 0),
                "reason": None,
            }
            for message in stats.on_failure_messages
        ]
    functions = []
    for key in dict.fromkeys(mapping_function[mapping.logical_id] for mapping in app.mappings if mapping.enabled):
        spec = app.functions[key]
        invocations = [call for call in stats.invocations if mapping_function.get(call.mapping) == key]
        functions.append(
            FunctionReport(
                function=key,
                name=spec.name,
                handler=spec.handler,
                mappings=tuple(mapping.logical_id for mapping in app.mappings if mapping.function_logical_id == key),
                invocations=len(invocations),
                failed_invocations=sum(1 for call in invocations if call.failed_from is not None),
                records=len(_distinct_records(invocations)),
                sent_on_failure=sent[key],
                quarantined=quarantined[key],
                errors=dict(Counter(call.error for call in invocations if call.error)),
            )
        )
    tables = {
        name: {"before": tables_before.get(name), "after": tables_after.get(name)}
        for name in dict.fromkeys([*tables_before, *tables_after])
    }
    return RunReport(tuple(functions), tables, tuple(on_failure), changes_applied, dynamodb_endpoint)


def count_items(client: Any, table_names: Iterable[str]) -> dict[str, int | None]:
    """Each table's item count, by a consistent Scan (``Select=COUNT``); None for a table that is not there."""
    counts: dict[str, int | None] = {}
    for name in table_names:
        total = 0
        arguments: dict[str, Any] = {"TableName": name, "Select": "COUNT", "ConsistentRead": True}
        try:
            while True:
                page = client.scan(**arguments)
                total += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except client.exceptions.ResourceNotFoundException:
            counts[name] = None
            continue
        counts[name] = total
    return counts


def _distinct_records(invocations: Iterable[Any]) -> set[tuple[str, str, int]]:
    return {(call.mapping, call.shard_id, sequence) for call in invocations for sequence in call.sequence_numbers}


def _function_of(function_arn: Any, by_name: Mapping[str, str]) -> str:
    name = str(function_arn or "").rpartition(":function:")[2]
    return by_name.get(name, name or "unknown")


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
