"""TtlArchiver's handler: each batch's deleted items written to S3, one compressed JSON Lines object per expiry day.

A batch is archived whole or not at all: its objects are written in parallel, each retried with backoff within the
deadline; when one still fails, the objects this attempt wrote are deleted again (a retried batch may be cut
differently, and its objects would then hold the same items twice) and every record of the batch is reported failed,
so the mapping retries it and, in the end, sends it to the on-failure destination (an S3 bucket: the records
themselves, not only their coordinates). A REMOVE without its old image cannot be archived: it is final, and
quarantined with the record itself. Records that are not deletes (a redrive of another function's batch) are skipped
and counted.

Metrics: ``ArchivedTtlDeletes`` and ``ArchivedCallerDeletes`` are timestamped with the hour each item was deleted, so
that an alarm can set them against the table's TimeToLiveDeletedItemCount for the same hour.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lambda_src.providers import ProviderError
from lambda_src.providers.aws import AwsClient
from lambda_src.providers.retry import RetryPolicy, call_with_retries
from lambda_src.stream_runtime import (
    ChangeFailure,
    Deadline,
    EventName,
    ItemChange,
    PermanentError,
    RetryableError,
    get_logger,
    process_item_changes,
    put_metric,
)

from .archive import archive_line, encoded_lines, expiry_day, object_key
from .config import ArchiverConfig

__all__ = [
    "ARCHIVED_CALLER_DELETES_METRIC",
    "ARCHIVED_TTL_DELETES_METRIC",
    "SKIPPED_NOT_DELETES_METRIC",
    "ArchiverHandler",
    "cold_start",
    "handler",
]

ARCHIVED_TTL_DELETES_METRIC = "ArchivedTtlDeletes"
ARCHIVED_CALLER_DELETES_METRIC = "ArchivedCallerDeletes"
SKIPPED_NOT_DELETES_METRIC = "SkippedNotDeletes"
# S3's transient errors beside 5xx: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
S3_RETRYABLE_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"})
# Days a batch may span at once (a backlog of expiries); more are written in turn.
_MAX_PARALLEL_OBJECTS = 8
_MAX_PUT_SECONDS = 30.0
_HOUR = 3600

_logger = get_logger(__name__)


class ArchiverHandler:
    """The handler for one cold start: call it with the Lambda event and context."""

    def __init__(self, config: ArchiverConfig) -> None:
        self.config = config
        self._s3 = AwsClient("s3", retryable_codes=S3_RETRYABLE_CODES, max_connections=_MAX_PARALLEL_OBJECTS)
        self._policy = RetryPolicy()
        self._pool = ThreadPoolExecutor(max_workers=_MAX_PARALLEL_OBJECTS, thread_name_prefix="archive")

    def close(self) -> None:
        """Stop the pool's threads (a Lambda environment never needs to; tests do)."""
        self._pool.shutdown()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        return process_item_changes(event, context, self.archive, deadline_margin=self.config.deadline_margin)

    def archive(self, changes: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        """Write the batch's deleted items, one object per expiry day; the changes that failed, and why."""
        failed: list[ChangeFailure] = []
        objects: dict[str, _ArchiveObject] = {}
        archived: Counter[tuple[str, float]] = Counter()
        skipped = 0
        # Every record, not one per item: an item deleted twice in a batch was two items, each archived.
        records = sorted(((record, change) for change in changes for record in change.records),
                         key=lambda pair: pair[0].sequence_number)  # fmt: skip
        unarchivable: set[int] = set()
        for record, change in records:
            if record.event_name is not EventName.REMOVE:
                skipped += 1
            elif record.old_image is None:
                if id(change) not in unarchivable:
                    unarchivable.add(id(change))
                    failed.append(ChangeFailure(change, PermanentError(
                        "the REMOVE record has no OldImage: the table's stream must be OLD_IMAGE or NEW_AND_OLD_IMAGES"
                    )))  # fmt: skip
            else:
                deleted = record.approximate_creation_time
                deleted_at = deleted.timestamp() if deleted is not None else None
                day = expiry_day(record.raw["dynamodb"]["OldImage"], self.config.ttl_attribute, deleted_at)
                if day not in objects:
                    table = record.table_name or "table"
                    objects[day] = _ArchiveObject(object_key(self.config.prefix, day, table, record.sequence_number))
                objects[day].lines.append(archive_line(record.raw, is_ttl_delete=record.is_ttl_delete,
                                                       ttl_attribute=self.config.ttl_attribute))  # fmt: skip
                hour = deleted_at // _HOUR * _HOUR if deleted_at is not None else 0.0
                archived[("ttl" if record.is_ttl_delete else "caller", hour)] += 1
        if skipped:
            _logger.warning("Skipped records that are not deletes", extra={"records": skipped})
            put_metric(SKIPPED_NOT_DELETES_METRIC, skipped)
        if objects and (error := self._write_all(list(objects.values()), deadline)) is not None:
            return failed + [ChangeFailure(change, error) for change in changes if id(change) not in unarchivable]
        for (deleted_by, hour), count in sorted(archived.items()):
            metric = ARCHIVED_TTL_DELETES_METRIC if deleted_by == "ttl" else ARCHIVED_CALLER_DELETES_METRIC
            put_metric(metric, count, timestamp=hour or None)
        keys = [each.key for each in objects.values()]
        _logger.info("Archived", extra={"items": sum(archived.values()), "keys": keys})
        return failed

    def _write_all(self, objects: Sequence[_ArchiveObject], deadline: Deadline) -> RetryableError | None:
        """Put every object; None when all are written, else the error, with the written ones deleted again."""
        futures = {each.key: self._pool.submit(self._put, each, deadline) for each in objects}
        errors: dict[str, ProviderError] = {}
        for key, future in futures.items():
            try:
                future.result()
            except ProviderError as error:
                errors[key] = error
        if not errors:
            return None
        written = [key for key in futures if key not in errors]
        _logger.error("Batch not archived: it is retried whole",
                      extra={"failedKeys": sorted(errors), "removedKeys": written})  # fmt: skip
        for key in written:
            try:
                self._s3.call(_MAX_PUT_SECONDS, functools.partial(_delete_object, bucket=self.config.bucket, key=key))
            except ProviderError:
                # Left in place: the retry writes the same key again when its batch starts where this one did.
                _logger.warning("Could not remove a partial batch's object", extra={"key": key})
        first_key, first_error = next(iter(errors.items()))
        return RetryableError(f"s3://{self.config.bucket}/{first_key} not written: {first_error}")

    def _put(self, archive_object: _ArchiveObject, deadline: Deadline) -> None:
        body = encoded_lines(archive_object.lines)
        call_with_retries(
            lambda: self._s3.call(
                min(_MAX_PUT_SECONDS, deadline.remaining_seconds()),
                lambda client: client.put_object(
                    Bucket=self.config.bucket, Key=archive_object.key, Body=body, ContentType="application/gzip"
                ),
            ),
            policy=self._policy,
            remaining_seconds=deadline.remaining_seconds,
        )


@dataclass
class _ArchiveObject:
    """One object of a batch: its key (from the day's first record) and its lines."""

    key: str
    lines: list[dict[str, Any]] = field(default_factory=list)


def _delete_object(client: Any, *, bucket: str, key: str) -> None:
    client.delete_object(Bucket=bucket, Key=key)


@functools.cache
def cold_start() -> ArchiverHandler:
    """The function's handler, configured from its environment once."""
    return ArchiverHandler(ArchiverConfig.from_env())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point, ``lambda_src.ttl_archiver.app.handler``."""
    return cold_start()(event, context)
