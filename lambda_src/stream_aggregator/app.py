"""StreamAggregator's handler: keeps per-group counts and sums exact, one conditional write per group and batch.

Each record's delta (its new image's contribution minus its old image's, ``spec``) goes to the groups it touches; an
item that moves between groups subtracts from one and adds to the other. Per group the deltas of the batch are summed
into one UpdateItem guarded by the group's high-water mark for the batch's shard (``marks``), so duplicates, retries,
bisection and redrives add each record once. An invalid item contributes nothing, is logged and counted in the
``InvalidItems`` metric, the same rule the recomputation follows. A group whose write fails is reported by the lowest
sequence number of the changes that touch it, for the mapping to retry; the marks make the retry skip what the other
groups already hold.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambda_src.providers import ProviderError
from lambda_src.providers.aws import AwsClient
from lambda_src.stream_runtime import (
    ChangeFailure,
    Deadline,
    ItemChange,
    StreamRecord,
    get_logger,
    process_item_changes,
    put_metric,
)
from lambda_src.stream_runtime.batch import batch_records
from lambda_src.stream_runtime.log import record_context

from .config import AggregatorConfig
from .marks import AggregateWriter, GroupUpdate, OverlapError
from .shards import ShardLocator
from .spec import Contribution, InvalidItemError, group_key
from .window import WindowState

__all__ = [
    "GROUPS_TO_REPAIR_METRIC",
    "INVALID_ITEMS_METRIC",
    "UPDATED_GROUPS_METRIC",
    "AggregatorHandler",
    "cold_start",
    "handler",
]

GROUPS_TO_REPAIR_METRIC = "GroupsToRepair"
INVALID_ITEMS_METRIC = "InvalidItems"
UPDATED_GROUPS_METRIC = "UpdatedGroups"
# The write's transient errors; any other (validation, access denied, a missing table) recurs on every attempt:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
DYNAMODB_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

_logger = get_logger(__name__)


class AggregatorHandler:
    """The handler for one cold start: call it with the Lambda event and context."""

    def __init__(self, config: AggregatorConfig, *, writer: AggregateWriter | None = None) -> None:
        self.config = config
        self.spec = config.spec
        self.writer = writer or AggregateWriter(
            config.spec,
            config.target_table,
            AwsClient("dynamodb", retryable_codes=DYNAMODB_RETRYABLE_CODES, max_connections=config.max_concurrency),
            mark_retention_seconds=config.mark_retention_seconds,
        )
        self.shards = ShardLocator(AwsClient("dynamodbstreams", retryable_codes=(), max_connections=1))
        self._pool = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="aggregate")

    def close(self) -> None:
        """Stop the pool's threads (a Lambda environment never needs to; tests do)."""
        self._pool.shutdown()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        shard_id = event.get("shardId")
        if not shard_id and event.get("Records"):
            raw_records, sequence_numbers = batch_records(event)
            deadline = Deadline.of(context, self.config.deadline_margin)
            shard_id = self.shards.shard_of(
                str(raw_records[0].get("eventSourceARN")), min(sequence_numbers), deadline.remaining_seconds
            )
        if "window" in event and self.config.flush_per_window:
            return self._windowed(event, context, str(shard_id))
        response: dict[str, Any] = dict(
            process_item_changes(
                event,
                context,
                functools.partial(self.apply, shard_id=str(shard_id)),
                deadline_margin=self.config.deadline_margin,
            )
        )
        if "window" in event:
            # Without flush_per_window the window only puts shardId in the event: every batch is written as it comes.
            # A windowed invocation must still return a state: https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
            response["state"] = {}
        return response

    def _windowed(self, event: Mapping[str, Any], context: Any, shard_id: str) -> dict[str, Any]:
        """Sum the batch into the window's state; at the window's end, write each group once. A group that fails to
        be written fails the final invocation, which Lambda retries (the marks skip the groups written before)."""
        window = WindowState.from_event(self.spec, event.get("state"))

        def fold(changes: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
            updates, _touching = self._group_updates(changes)
            window.add(updates.values())
            return []

        response: dict[str, Any] = dict(
            process_item_changes(event, context, fold, deadline_margin=self.config.deadline_margin)
        )
        if not event.get("isFinalInvokeForWindow"):
            response["state"] = window.to_event()
            return response
        deadline = Deadline.of(context, self.config.deadline_margin)
        futures = {
            key: self._pool.submit(self.writer.apply, update, shard_id, deadline.remaining_seconds)
            for key, update in window.groups.items()
        }
        written = 0
        for key, future in futures.items():
            try:
                written += future.result()
            except OverlapError as error:
                # Not retried: it would fail again and hold the shard. The group needs a recomputation.
                _logger.error("Group not updated: it needs recompute-aggregates --repair", extra={"error": str(error)})
                put_metric(GROUPS_TO_REPAIR_METRIC, 1)
            except ProviderError as error:
                _logger.error(
                    "Group not updated: the window's end is retried", extra={"group": key, "error": str(error)}
                )
                raise
        if written:
            put_metric(UPDATED_GROUPS_METRIC, written)
        _logger.info("Window written", extra={"window": event.get("window"), "groups": len(futures), "writes": written})
        response["state"] = {}
        return response

    def apply(self, changes: Sequence[ItemChange], deadline: Deadline, *, shard_id: str) -> list[ChangeFailure]:
        """Write each group the changes touch once; the changes whose groups could not be written."""
        updates, touching = self._group_updates(changes)
        futures = {
            key: self._pool.submit(self.writer.apply, update, shard_id, deadline.remaining_seconds)
            for key, update in updates.items()
        }
        failed: dict[int, ChangeFailure] = {}
        written = 0
        for key, future in futures.items():
            try:
                written += future.result()
            except ProviderError as error:
                _logger.error("Group not updated", extra={"group": key, "error": str(error)})
                for change in touching[key]:
                    failed.setdefault(id(change), ChangeFailure(change, error))
        if written:
            put_metric(UPDATED_GROUPS_METRIC, written)
        _logger.info(
            "Aggregates updated",
            extra={"items": len(changes), "groups": len(updates), "writes": written, "failed": len(failed)},
        )
        return list(failed.values())

    def _group_updates(
        self, changes: Sequence[ItemChange]
    ) -> tuple[dict[str, GroupUpdate], dict[str, list[ItemChange]]]:
        """Each group's update from ``changes`` (the records' deltas in sequence order), and the changes touching it."""
        updates: dict[str, GroupUpdate] = {}
        touching: dict[str, list[ItemChange]] = {}
        invalid = 0
        for change in changes:
            for record in change.records:
                with record_context(record.raw):
                    old, _ = self._contribution(record, record.old_image, "old")
                    new, invalid_new = self._contribution(record, record.new_image, "new")
                invalid += invalid_new
                for contribution, sign in ((old, -1), (new, 1)):
                    if contribution is None or (old is not None and new is not None and old == new):
                        continue
                    key = group_key(contribution.group)
                    update = updates.setdefault(
                        key, GroupUpdate(key, dict(zip(self.spec.group_names, contribution.group, strict=True)), [])
                    )
                    delta = self.spec.add(self.spec.zero, contribution.values, sign)
                    if update.deltas and update.deltas[-1][0] == record.sequence_number:
                        # The same record leaving and entering one group: its two halves are one delta.
                        update.deltas[-1] = (record.sequence_number, self.spec.add(update.deltas[-1][1], delta))
                    else:
                        update.deltas.append((record.sequence_number, delta))
                    if not touching.get(key) or touching[key][-1] is not change:
                        touching.setdefault(key, []).append(change)
        if invalid:
            put_metric(INVALID_ITEMS_METRIC, invalid)
        for update in updates.values():
            update.deltas.sort(key=lambda entry: entry[0])
        return updates, touching

    def _contribution(
        self, record: StreamRecord, image: dict[str, Any] | None, which: str
    ) -> tuple[Contribution | None, int]:
        try:
            return self.spec.contribution(image), 0
        except InvalidItemError as error:
            # Counted as nothing, as recompute-aggregates counts it: the aggregates stay equal to the table's.
            if which == "new":
                _logger.warning(
                    "Invalid item: not counted",
                    extra={"itemIdentifier": str(record.sequence_number), "reason": str(error)},
                )
            return None, 1


@functools.cache
def cold_start() -> AggregatorHandler:
    """The function's handler, configured from its environment once."""
    return AggregatorHandler(AggregatorConfig.from_env())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point, ``lambda_src.stream_aggregator.app.handler``."""
    return cold_start()(event, context)
