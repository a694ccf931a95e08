"""TtlArchiver: its synth-time checks and defaults, and end to end in the local runner (DynamoDB Local, S3 on moto):
expiring items archived exactly once through a failing S3 that recovers, a poison record quarantined with itself,
and the archive restored into a table with ``python -m constructs_pkg.local restore``."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from conftest import new_stack, synth_like_app
from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event

from constructs_pkg import StreamFilter, TtlArchiver
from constructs_pkg.local.archive_restore import archived_lines
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.reindex import scanned_items
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from constructs_pkg.local.stubs.s3_proxy import S3Proxy
from lambda_src.contract import ArchiverEnv
from lambda_src.ttl_archiver.archive import day_of_key

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400


def _sessions(stack: Stack, view: dynamodb.StreamViewType = dynamodb.StreamViewType.OLD_IMAGE, **options: Any) -> Any:
    return dynamodb.Table(
        stack,
        "Sessions",
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        stream=view,
        removal_policy=RemovalPolicy.DESTROY,
        **({"time_to_live_attribute": "expiresAt"} | options),
    )


# --- synth time ---------------------------------------------------------------------------------------------------


def test_the_archiver_creates_a_safe_bucket_with_a_glacier_rule_and_reads_ttl_deletes_in_large_batches() -> None:
    stack = new_stack()
    archiver = TtlArchiver(stack, "Archiver", table=_sessions(stack))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "archive-bucket/"}),
            "BucketEncryption": Match.any_value(),
            "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicPolicy": True}),
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like(
                        {
                            "Prefix": "archive/",
                            "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}],
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        }
                    )
                ]
            },
        },
    )
    mapping = next(iter(template.find_resources("AWS::Lambda::EventSourceMapping").values()))["Properties"]
    assert mapping["BatchSize"] == 10_000 and mapping["MaximumBatchingWindowInSeconds"] == 300
    (pattern,) = (json.loads(each["Pattern"]) for each in mapping["FilterCriteria"]["Filters"])
    assert pattern == StreamFilter.ttl_deletes().pattern
    assert "Fn::GetAtt" in mapping["DestinationConfig"]["OnFailure"]["Destination"]
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables[ArchiverEnv.TTL_ATTRIBUTE] == "expiresAt" and variables[ArchiverEnv.PREFIX] == "archive/"
    (gap,) = (alarm for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
              if "TTL deleted more items" in alarm["Properties"]["AlarmDescription"])  # fmt: skip
    expressions = [query.get("Expression") for query in gap["Properties"]["Metrics"]]
    assert "FILL(deleted, 0) - FILL(archived, 0)" in expressions
    assert archiver.archive_gap_alarm in archiver.alarms


def test_caller_deletes_can_join_and_flexible_retrieval_takes_small_objects_too() -> None:
    stack = new_stack()
    TtlArchiver(stack, "Archiver", table=_sessions(stack), include_caller_deletes=True,
                storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90))  # fmt: skip
    template = Template.from_stack(stack)
    mapping = next(iter(template.find_resources("AWS::Lambda::EventSourceMapping").values()))["Properties"]
    (pattern,) = (json.loads(each["Pattern"]) for each in mapping["FilterCriteria"]["Filters"])
    assert pattern == {"eventName": ["REMOVE"]}
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": Match.object_like(
                {
                    "TransitionDefaultMinimumObjectSize": "varies_by_storage_class",
                    "Rules": [
                        Match.object_like({"Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}]})
                    ],
                }
            )
        },
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ttl_attribute": "ttl"}, r"ttl_attribute is 'ttl', but table .*'s TTL is 'expiresAt'"),
        ({"prefix": "archive"}, r"prefix must end with '/'"),
        ({"prefix": "quarantine/"}, r"prefix must end with '/' and not start with aws/ or quarantine/"),
        ({"transition_after": Duration.hours(36)}, r"transition_after must be whole days .*, got 1.5"),
    ],
)
def test_bad_arguments_are_refused_at_synth(arguments: dict[str, Any], message: str) -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=message):
        TtlArchiver(stack, "Archiver", table=_sessions(stack), **arguments)


def test_a_table_without_ttl_or_old_images_is_refused() -> None:
    stack = new_stack()
    imported = dynamodb.Table.from_table_attributes(stack, "Imported", table_name="t", table_stream_arn="arn:x")
    with pytest.raises(ValueError, match=r"ttl_attribute is required: table .* has no TimeToLiveSpecification"):
        TtlArchiver(stack, "A", table=imported)
    keys_only = _sessions(new_stack(), dynamodb.StreamViewType.KEYS_ONLY)
    with pytest.raises(ValueError, match=r"streams KEYS_ONLY; the archive keeps each deleted item's old image"):
        TtlArchiver(Stack.of(keys_only), "A", table=keys_only)


def test_a_given_bucket_is_checked_and_each_gap_is_a_warning() -> None:
    stack = new_stack()
    bucket = s3.Bucket(stack, "Plain", removal_policy=RemovalPolicy.DESTROY)
    TtlArchiver(stack, "Archiver", table=_sessions(stack), bucket=bucket)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("has no versioning"))
    (warning,) = warnings
    text = warning.entry.data
    for gap in ("server access logs", "TLS-only bucket policy", "lifecycle rule moving archive/"):
        assert gap in text


# --- end to end ---------------------------------------------------------------------------------------------------


class ArchiveTestStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        # Small batches and a short window, so that the run goes through many batches and their retries.
        TtlArchiver(self, "Archiver", table=_sessions(self), batch_size=400, max_batching_window=Duration.seconds(1))


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    ArchiveTestStack(app, "ArchiveTest")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _session(number: int, expires_at: int) -> dict[str, Any]:
    return {
        "PK": {"S": f"SESSION#{number:05d}"},
        "expiresAt": {"N": str(expires_at)},
        "user": {"S": f"user-{number % 97}"},
        # Numbers beyond a float's precision, a binary and a set: the archive must keep them exact.
        "score": {"N": f"{number}.000000000000000000000000000001"},
        "token": {"B": number.to_bytes(4, "big")},
        "tags": {"SS": ["a", f"t{number % 7}"]},
    }


def test_expiring_items_are_archived_exactly_once_through_a_failing_s3_and_restored_as_they_were(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str, tmp_path: Path
) -> None:
    rng = random.Random(20261203)
    app = LocalApp.from_assembly(assembly)
    with S3Proxy(moto_endpoint) as proxy:
        endpoints = LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint)
        overrides = {"AWS_ENDPOINT_URL_S3": proxy.url}
        runner = LocalRunner(app, endpoints, table_prefix="archive-", environment_overrides=overrides)
        runner.create_tables()
        runner.start()
        client = runner.dynamodb_client
        (table,) = runner.table_names.values()
        (destination,) = runner.on_failure_destinations.values()
        bucket = destination.removeprefix("s3://")

        # GIVEN 2,000 sessions that expired over the last five days, 100 that have not, and 100 deleted by a caller,
        # while S3 refuses the first 30 writes (more than one invocation retries)
        now = int(time.time())
        expired = {number: _session(number, now - rng.randrange(5 * DAY) - 60) for number in range(2_000)}
        living = {number: _session(number, now + DAY) for number in range(2_000, 2_100)}
        proxy.fail_next("PUT", 30)
        for chunk in _chunks([*expired.values(), *living.values()], 25):
            client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in chunk]})
        for number in range(2_000, 2_100):
            client.delete_item(TableName=table, Key={"PK": living[number]["PK"]})
        stats = runner.run_until_idle(timeout=300, quiet_seconds=3)

        # THEN S3 failed and recovered, and every expired session is archived exactly once, as it was
        s3 = runner.resources.endpoints.client("s3")  # type: ignore[union-attr]
        lines = list(archived_lines(s3, bucket, "archive/"))
        assert proxy.failed == 30 and stats.failed_invocations > 0
        assert Counter(line["Keys"]["PK"]["S"] for line in lines) == Counter(
            item["PK"]["S"] for item in expired.values()
        )
        by_key = {line["Keys"]["PK"]["S"]: line for line in lines}
        for item in expired.values():
            line = by_key[item["PK"]["S"]]
            assert line["deletedBy"] == "ttl" and line["expiresAt"] == int(item["expiresAt"]["N"])
            assert line["Item"]["score"] == item["score"] and set(line["Item"]["tags"]["SS"]) == set(item["tags"]["SS"])
        keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, Prefix="archive/")["Contents"]]
        assert {day_of_key(key) for key in keys} == {
            time.strftime("%Y-%m-%d", time.gmtime(int(item["expiresAt"]["N"]))) for item in expired.values()
        }
        assert list(scanned_items(client, table)) == []

        # WHEN the archive is restored into an empty table, twice, as the README shows
        restored = f"archive-restored-{rng.randrange(10**6)}"
        client.create_table(TableName=restored, KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")  # fmt: skip
        command = [sys.executable, "-m", "constructs_pkg.local", "restore", "--bucket", bucket, "--table", restored,
                   "--dynamodb-endpoint", dynamodb_local.endpoint_url, "--s3-endpoint", moto_endpoint]  # fmt: skip
        environment = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
        first = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, check=True)
        again = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, check=True)

        # THEN the table holds every expired session as it was, and the second restore overwrote nothing
        assert first.stdout.strip() == f"restored 2000 items into {restored}, 0 kept (the table holds their key)"
        assert again.stdout.strip() == f"restored 0 items into {restored}, 2000 kept (the table holds their key)"
        originals = {item["PK"]["S"]: item for item in expired.values()}
        for item in client.scan(TableName=restored, Limit=50)["Items"]:
            original = originals[item["PK"]["S"]]
            assert set(item.pop("tags")["SS"]) == set(original["tags"]["SS"])
            assert item == {name: value for name, value in original.items() if name != "tags"}
        one = json.dumps({"PK": {"S": "SESSION#00007"}})
        client.delete_item(TableName=restored, Key={"PK": {"S": "SESSION#00007"}})
        single = subprocess.run([*command, "--key", one, "--from-day", "2000-01-01"], cwd=REPO, env=environment,
                                capture_output=True, text=True, check=True)  # fmt: skip
        assert single.stdout.startswith(f"restored 1 items into {restored}")

        # WHEN a batch holds a poison record beside a good one
        stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        # Two callers' deletes, which the mapping filtered out: nothing archived them yet.
        removes = [record for record in StreamReader(runner.streams_client, stream_arn).read()
                   if record["eventName"] == "REMOVE" and "userIdentity" not in record][:2]  # fmt: skip
        event = lambda_event(removes, stream_arn)
        del event["Records"][1]["dynamodb"]["Keys"]
        (function,) = (mapping.function_logical_id for mapping in app.mappings)
        response = runner.invoker(function)(event)

        # THEN the good one is archived, marked as a caller's delete, and the poison record is quarantined, whole
        assert response["batchItemFailures"] == []
        (quarantined,) = s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")["Contents"]
        body = s3.get_object(Bucket=bucket, Key=quarantined["Key"])["Body"].read().decode()
        assert event["Records"][1]["eventID"] in body
        caller_lines = [line for line in archived_lines(s3, bucket, "archive/") if line["deletedBy"] == "caller"]
        assert [line["eventID"] for line in caller_lines] == [event["Records"][0]["eventID"]]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
