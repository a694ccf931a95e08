"""The resources a function's environment refers to, resolved through the registry of resource kinds: the built-in
kinds on moto and DynamoDB Local, a kind another module registers, and a kind nobody did; and the endpoints value."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dynamodb_local import DynamoDBLocal

from constructs_pkg.local import resource_kinds
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import local_client
from constructs_pkg.local.endpoints import LocalEndpoints, endpoint_variable, running_moto_server
from constructs_pkg.local.resource_kinds import LocalResource, ResourceKind, ResourceRequest, register_resource_kind
from constructs_pkg.local.runner import LocalRunner

# The names of the variables the handler is asked to answer with, and the template that sets them.
VARIABLES = {
    "TABLE_NAME": {"Ref": "Items"},
    "TABLE_ARN": {"Fn::GetAtt": ["Items", "Arn"]},
    "TABLE_STREAM_ARN": {"Fn::GetAtt": ["Items", "StreamArn"]},
    "QUEUE_URL": {"Ref": "Work"},
    "QUEUE_NAME": {"Fn::GetAtt": ["Work", "QueueName"]},
    "TOPIC_ARN": {"Ref": "Events"},
    "TOPIC_NAME": {"Fn::GetAtt": ["Events", "TopicName"]},
    "BUCKET_NAME": {"Ref": "Archive"},
    "BUCKET_ARN": {"Fn::GetAtt": ["Archive", "Arn"]},
    "SECRET_ARN": {"Ref": "ApiKey"},
    "SECRET_ID": {"Fn::GetAtt": ["ApiKey", "Id"]},
    # The runtime's quarantine target names the mapping's on-failure bucket.
    "STREAM_RUNTIME_QUARANTINE": "s3",
    "STREAM_RUNTIME_QUARANTINE_TARGET": {"Ref": "Archive"},
    "SENDER": {"Ref": "Sender"},
    "SENDER_ARN": {"Fn::GetAtt": ["Sender", "Arn"]},
    "DELIVERY_STREAM": {"Ref": "Delivery"},
    "DELIVERY_STREAM_ARN": {"Fn::GetAtt": ["Delivery", "Arn"]},
    "DELIVERY_STREAM_SIZE": {"Fn::GetAtt": ["Delivery", "SizeInMBs"]},
}
TEMPLATE = {
    "Resources": {
        "Items": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            },
        },
        "Work": {"Type": "AWS::SQS::Queue"},
        "Events": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "events"}},
        "Archive": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "Archive.Of_Failures"}},
        "ApiKey": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "from-the-template"}},
        "Sender": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": "orders@example.com"}},
        "Delivery": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {"DeliveryStreamName": "to-lake"}},
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "index.handler",
                "Code": {
                    "ZipFile": "import os\ndef handler(event, context):\n"
                    "    return {name: os.environ[name] for name in event['names'] if name in os.environ}\n"
                },
                "Environment": {"Variables": VARIABLES},
            },
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Items", "StreamArn"]},
                "FunctionName": {"Ref": "Handler"},
                "StartingPosition": "TRIM_HORIZON",
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Archive", "Arn"]}}},
            },
        },
    }
}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def app(tmp_path: Path) -> LocalApp:
    (tmp_path / "Stack.template.json").write_text(json.dumps(TEMPLATE))
    artifacts = {"Stack": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Stack.template.json"}}}
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return LocalApp.from_assembly(tmp_path)


@pytest.fixture
def email_identities(monkeypatch: pytest.MonkeyPatch) -> list[ResourceRequest]:
    """An AWS::SES::EmailIdentity kind, registered as a construct's module would (for this test only); the requests
    it was given."""
    monkeypatch.setattr(resource_kinds, "_KINDS", dict(resource_kinds._KINDS))
    requests: list[ResourceRequest] = []

    def create(request: ResourceRequest) -> LocalResource:
        requests.append(request)
        request.client.verify_email_identity(EmailAddress=request.name)
        arn = f"arn:aws:ses:us-east-1:000000000000:identity/{request.name}"
        return LocalResource(request.name, request.name, {"Arn": arn})

    register_resource_kind(ResourceKind("AWS::SES::EmailIdentity", "ses", create, "EmailIdentity"))
    return requests


def test_every_reference_resolves_to_what_the_runner_created(
    app: LocalApp,
    dynamodb_local: DynamoDBLocal,
    moto_endpoint: str,
    email_identities: list[ResourceRequest],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a runner on DynamoDB Local and moto for an app whose function refers to one resource of every kind
    endpoints = LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint)
    runner = LocalRunner(app, endpoints, table_prefix="kinds-", secret_values={"SECRET_ID": "supplied"})
    runner.create_tables()
    runner.start()

    # WHEN the function answers with its environment
    with caplog.at_level(logging.WARNING, logger="constructs_pkg.local.resources"):
        environment: dict[str, Any] = runner.invoker("Handler")({"names": [*VARIABLES, "AWS_ENDPOINT_URL_SES"]})

    # THEN the table's name, ARN and stream ARN are DynamoDB Local's
    table = local_client(dynamodb_local.endpoint_url, "dynamodb").describe_table(TableName="kinds-Items")["Table"]
    assert (environment["TABLE_NAME"], environment["TABLE_ARN"]) == ("kinds-Items", table["TableArn"])
    assert environment["TABLE_STREAM_ARN"] == table["LatestStreamArn"]
    # AND the queue, topic, bucket and secret are moto's, the bucket's name made valid for S3
    sqs = local_client(moto_endpoint, "sqs")
    assert sqs.get_queue_url(QueueName="kinds-Work")["QueueUrl"] == environment["QUEUE_URL"]
    assert environment["QUEUE_NAME"] == "kinds-Work"
    assert environment["TOPIC_ARN"].endswith(":kinds-events") and environment["TOPIC_NAME"] == "kinds-events"
    assert (environment["BUCKET_NAME"], environment["BUCKET_ARN"]) == (
        "kinds-archive.of-failures",
        "arn:aws:s3:::kinds-archive.of-failures",
    )
    local_client(moto_endpoint, "s3").head_bucket(Bucket=environment["BUCKET_NAME"])
    assert environment["SECRET_ARN"] == environment["SECRET_ID"]
    secrets = local_client(moto_endpoint, "secretsmanager")
    assert secrets.get_secret_value(SecretId=environment["SECRET_ARN"])["SecretString"] == "supplied"
    # AND the quarantine target is the mapping's on-failure bucket: the same resource, by the same logical id
    assert environment["STREAM_RUNTIME_QUARANTINE_TARGET"] == environment["BUCKET_NAME"]
    assert runner.on_failure_destinations["Mapping"] == f"s3://{environment['BUCKET_NAME']}"
    # AND the registered kind made its resource on its service's endpoint, which the function is given
    (request,) = email_identities
    assert (environment["SENDER"], request.name) == ("kinds-orders@example.com", "kinds-orders@example.com")
    assert environment["SENDER_ARN"] == "arn:aws:ses:us-east-1:000000000000:identity/kinds-orders@example.com"
    assert environment["AWS_ENDPOINT_URL_SES"] == moto_endpoint
    # AND the kind nobody registered gets its name and a made-up ARN, an attribute nobody can answer is left out,
    # each with a warning
    assert environment["DELIVERY_STREAM"] == "kinds-to-lake"
    assert (
        environment["DELIVERY_STREAM_ARN"]
        == "arn:aws:kinesisfirehose:us-east-1:000000000000:deliverystream/kinds-to-lake"
    )
    assert "DELIVERY_STREAM_SIZE" not in environment
    warnings = [record.getMessage() for record in caplog.records]
    assert len([warning for warning in warnings if "AWS::KinesisFirehose::DeliveryStream" in warning]) == 3


def test_a_resource_whose_service_has_no_endpoint_is_left_out(app: LocalApp, dynamodb_local: DynamoDBLocal) -> None:
    runner = LocalRunner(app, LocalEndpoints(dynamodb_local.endpoint_url), table_prefix="no-moto-")
    runner.create_tables()

    environment = runner.invoker("Handler")({"names": list(VARIABLES)})

    assert environment["TABLE_NAME"] == "no-moto-Items" and "QUEUE_URL" not in environment
    assert "BUCKET_NAME" not in environment and environment["DELIVERY_STREAM"] == "no-moto-to-lake"


def test_the_endpoints_name_each_service_and_its_variable() -> None:
    endpoints = LocalEndpoints("http://127.0.0.1:8000", {"s3": "http://127.0.0.1:9001"}, others="http://127.0.0.1:5000")

    assert [endpoints.url(service) for service in ("dynamodbstreams", "s3", "sqs")] == [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:9001",
        "http://127.0.0.1:5000",
    ]
    variables = endpoints.function_environment(["s3", "secretsmanager"])
    assert variables["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] == "http://127.0.0.1:8000"
    assert variables["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "http://127.0.0.1:5000"
    assert variables["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9001"
    assert "AWS_ENDPOINT_URL" not in variables and variables["AWS_ACCESS_KEY_ID"] == "local"
    assert endpoint_variable("bedrock-runtime") == "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
    with pytest.raises(LookupError, match="no local endpoint serves sqs"):
        LocalEndpoints("http://127.0.0.1:8000").client("sqs")
