"""The deploy rehearsal's moto (scripts/rehearsal): each fault of moto's it works around, shown on the rehearsal's moto
server driven by boto3 as the CDK CLI drives it (a change set, then its execution), and the checks it makes of a
deployed stack. The whole rehearsal, the real CDK CLI deploying every example stack, is scripts/deploy-rehearsal,
run by .ci/run."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.rehearsal.deployed import DeployedStack, StackTemplate
from scripts.rehearsal.moto_fixes import creation_order, left_out
from scripts.rehearsal.moto_server import running_rehearsal_moto
from scripts.rehearsal.rehearse import cli_environment, read_stacks, summary_line

REGION = "us-east-1"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
STREAM_READER = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
Services = Callable[[str], Any]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with running_rehearsal_moto() as url:
        yield url


@pytest.fixture(scope="module")
def services(moto_url: str) -> Services:
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=moto_url)
        return clients[service]

    return client


def deploy(services: Services, template: dict[str, Any], **change_set: Any) -> tuple[str, str]:
    """Create a stack as the CDK CLI does (a change set, then its execution); returns (its name, its status)."""
    cloudformation = services("cloudformation")
    name = f"Test{uuid.uuid4().hex[:8]}"
    source = change_set or {"TemplateBody": json.dumps(template)}
    cloudformation.create_change_set(StackName=name, ChangeSetName="deploy", ChangeSetType="CREATE", **source)
    cloudformation.execute_change_set(StackName=name, ChangeSetName="deploy")
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    return name, stack["StackStatus"]


def failure_reasons(services: Services, stack_name: str) -> list[str]:
    events = services("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    return [event["ResourceStatusReason"] for event in events if event["ResourceStatus"].endswith("_FAILED")]


def physical_ids(services: Services, stack_name: str) -> dict[str, str]:
    resources = services("cloudformation").list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return {resource["LogicalResourceId"]: resource["PhysicalResourceId"] for resource in resources}


def stream_table(**properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::GlobalTable",
        "Properties": {
            "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "Replicas": [{"Region": REGION, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}],
            **properties,
        },
    }


def stream_consumer(role: dict[str, Any], mapping: dict[str, Any] | None = None) -> dict[str, Any]:
    """A template: a table's stream read by a function whose role is ``role``, through a mapping (with ``mapping``'s
    properties)."""
    resources = {
        "Table": stream_table(),
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": LAMBDA_TRUST, **role}},
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
                "Handler": "index.handler",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                "FunctionName": {"Ref": "Function"},
                "StartingPosition": "TRIM_HORIZON",
                **(mapping or {}),
            },
        },
    }
    return {"Resources": resources}


def test_moto_reads_a_template_url_on_loopback_as_bucket_127_and_s3s_regional_url_from_its_own_s3(
    services: Services, moto_url: str
) -> None:
    # GIVEN a template in the bootstrap bucket, where the CLI publishes it
    bucket = "cdk-hnb659fds-assets-123456789012-us-east-1"
    services("s3").create_bucket(Bucket=bucket)
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    services("s3").put_object(Bucket=bucket, Key="stack.json", Body=json.dumps(template).encode())

    # WHEN the change set names it at moto's own URL, path-style, as the CLI does with AWS_ENDPOINT_URL set
    with pytest.raises(ClientError, match="The specified bucket does not exist"):
        deploy(services, {}, TemplateURL=f"{moto_url}/{bucket}/stack.json")

    # THEN only S3's regional URL (what the rehearsal has the CLI name through AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION)
    # reaches it; moto reads it from its own S3 and never fetches it
    environment = cli_environment(moto_url, Path("/nowhere"))
    template_url = f"{environment['AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION']}/{bucket}/stack.json"
    assert deploy(services, {}, TemplateURL=template_url)[1] == "CREATE_COMPLETE"


def test_the_cli_environment_keeps_none_of_the_developers_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.example")

    environment = cli_environment("http://127.0.0.1:1", Path("/tmp/rehearsal"))

    assert "AWS_PROFILE" not in environment and "AWS_ENDPOINT_URL_DYNAMODB" not in environment
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_SHARED_CREDENTIALS_FILE"] == "/tmp/rehearsal/no-aws-credentials"


def test_a_stack_made_from_a_change_set_hands_back_its_outputs(services: Services) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}, "Version": {"Value": "33"}},
    }

    name, status = deploy(services, template)

    (stack,) = services("cloudformation").describe_stacks(StackName=name)["Stacks"]
    assert status == "CREATE_COMPLETE"
    assert {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}["Version"] == "33"


def test_the_types_motos_cloudformation_lacks_are_made_in_their_services_and_deleted_with_the_stack(
    services: Services,
) -> None:
    # GIVEN a template of every type moto serves the service of but its CloudFormation cannot create
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}],
    }
    template = {
        "Resources": {
            "Table": stream_table(),
            "Queue": {"Type": "AWS::SQS::Queue"},
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": policy},
            },
            "Topic": {"Type": "AWS::SNS::Topic"},
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": policy},
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Statistic": "Maximum",
                    "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                },
            },
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {}}},
            "VectorBucket": {
                "Type": "AWS::S3Vectors::VectorBucket",
                "Properties": {"VectorBucketName": "rehearsal-vectors"},
            },
            "Index": {
                "Type": "AWS::S3Vectors::Index",
                "Properties": {
                    "VectorBucketArn": {"Fn::GetAtt": ["VectorBucket", "VectorBucketArn"]},
                    "IndexName": "vectors",
                    "DataType": "float32",
                    "Dimension": 1024,
                    "DistanceMetric": "cosine",
                },
            },
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:H4sI"}},
        },
        "Outputs": {
            "StreamArn": {"Value": {"Fn::GetAtt": ["Table", "StreamArn"]}},
            "IndexArn": {"Value": {"Fn::GetAtt": ["Index", "IndexArn"]}},
            "SecretArn": {"Value": {"Ref": "Secret"}},
        },
    }

    # WHEN it is deployed
    name, status = deploy(services, template)

    # THEN each resource is there, as its service describes it, and references to them resolve
    assert status == "CREATE_COMPLETE"
    ids = physical_ids(services, name)
    (stack,) = services("cloudformation").describe_stacks(StackName=name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    table = services("dynamodb").describe_table(TableName=ids["Table"])["Table"]
    assert outputs["StreamArn"] == table["LatestStreamArn"]
    queue = services("sqs").get_queue_attributes(QueueUrl=ids["Queue"], AttributeNames=["Policy"])
    assert json.loads(queue["Attributes"]["Policy"])["Statement"][0]["Effect"] == "Deny"
    topic = services("sns").get_topic_attributes(TopicArn=ids["Topic"])
    assert json.loads(topic["Attributes"]["Policy"])["Statement"][0]["Effect"] == "Deny"
    (alarm,) = services("cloudwatch").describe_alarms(AlarmNames=[ids["Alarm"]])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": ids["Queue"].rsplit("/", 1)[1]}]
    assert services("secretsmanager").get_secret_value(SecretId=outputs["SecretArn"])["SecretString"]
    index = services("s3vectors").get_index(indexArn=outputs["IndexArn"])["index"]
    assert (index["vectorBucketName"], index["dimension"]) == ("rehearsal-vectors", 1024)

    # WHEN the stack is deleted, THEN so are they
    services("cloudformation").delete_stack(StackName=name)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        services("dynamodb").describe_table(TableName=ids["Table"])
    assert services("cloudwatch").describe_alarms(AlarmNames=[ids["Alarm"]])["MetricAlarms"] == []
    with pytest.raises(ClientError, match="NotFound"):
        services("s3vectors").get_vector_bucket(vectorBucketName="rehearsal-vectors")


def test_a_type_nobody_creates_is_left_out_and_references_to_it_still_resolve(services: Services) -> None:
    template = {
        "Resources": {
            "Pipe": {"Type": "AWS::Pipes::Pipe", "Properties": {"Source": "a", "Target": "b", "RoleArn": "c"}},
            "Custom": {
                "Type": "Custom::Backfill",
                "Properties": {"ServiceToken": "arn:aws:lambda:us-east-1:1:function:x"},
            },
            "Parameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "/rehearsal/pipe",
                    "Type": "String",
                    "Value": {"Fn::Join": ["|", [{"Ref": "Pipe"}, {"Fn::GetAtt": ["Pipe", "Arn"]}]]},
                },
            },
        }
    }

    name, status = deploy(services, template)

    assert status == "CREATE_COMPLETE"
    value = services("ssm").get_parameter(Name="/rehearsal/pipe")["Parameter"]["Value"]
    pipe_name, pipe_arn = value.split("|")
    assert pipe_arn == f"arn:aws:pipes:{REGION}:123456789012:{pipe_name}"
    assert StackTemplate(name, template).left_out() == {"AWS::Pipes::Pipe": 1, "Custom::Backfill": 1}
    assert not left_out("AWS::DynamoDB::GlobalTable") and not left_out("AWS::Lambda::Function")


def test_a_mapping_whose_role_cannot_read_the_stream_fails_its_stack_as_lambda_refuses_it(services: Services) -> None:
    # GIVEN a function whose role may do nothing, reading a table's stream
    name, status = deploy(services, stream_consumer(role={}))

    # THEN the stack fails, on the mapping, with Lambda's reason
    assert status == "ROLLBACK_COMPLETE"
    (reason,) = failure_reasons(services, name)
    assert (
        "Cannot access stream" in reason and "GetRecords, GetShardIterator, DescribeStream, and ListStreams" in reason
    )

    # WHEN the role holds the AWS-managed stream reader policy, THEN the mapping is created
    assert deploy(services, stream_consumer(role={"ManagedPolicyArns": [STREAM_READER]}))[1] == "CREATE_COMPLETE"


def test_an_on_failure_queue_the_role_may_not_send_to_fails_the_mapping_and_one_it_may_send_to_after_its_grant_does_not(
    services: Services,
) -> None:
    # GIVEN a mapping sending its failures to a queue, its role able to read the stream but not to send
    template = stream_consumer(
        role={"ManagedPolicyArns": [STREAM_READER]},
        mapping={"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}}},
    )
    template["Resources"]["Failures"] = {"Type": "AWS::SQS::Queue"}

    name, status = deploy(services, template)

    assert status == "ROLLBACK_COMPLETE"
    assert "does not have permissions to call SendMessage on SQS" in failure_reasons(services, name)[0]

    # WHEN the grant is a policy of its own that the mapping depends on (listed after it: the order is the graph's)
    template["Resources"]["Grant"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "send-failures",
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Failures", "Arn"]}}
                ],
            },
        },
    }
    without_dependency = json.loads(json.dumps(template))
    template["Resources"]["Mapping"]["DependsOn"] = ["Grant"]

    # THEN it is created; without the dependency the mapping comes first, as it may in CloudFormation, and fails
    assert deploy(services, template)[1] == "CREATE_COMPLETE"
    assert deploy(services, without_dependency)[1] == "ROLLBACK_COMPLETE"


def test_a_function_runs_with_its_layers_and_a_mappings_stream_keeps_its_records(services: Services) -> None:
    # GIVEN a layer published to S3, as the CLI publishes an asset, and a mapping on the function that uses it
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as layer:
        layer.writestr("python/runtime.py", "VERSION = 1\n")
    services("s3").create_bucket(Bucket="rehearsal-assets")
    services("s3").put_object(Bucket="rehearsal-assets", Key="layer.zip", Body=archive.getvalue())
    template = stream_consumer(role={"ManagedPolicyArns": [STREAM_READER]})
    template["Resources"]["Layer"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {"Content": {"S3Bucket": "rehearsal-assets", "S3Key": "layer.zip"}},
    }
    template["Resources"]["Function"]["Properties"]["Layers"] = [{"Ref": "Layer"}]

    # WHEN it is deployed and an item written
    name, status = deploy(services, template)
    ids = physical_ids(services, name)
    services("dynamodb").put_item(TableName=ids["Table"], Item={"PK": {"S": "one"}})

    # THEN the function has its layer, and the record is in the stream for any reader (moto invoked nothing)
    assert status == "CREATE_COMPLETE"
    configuration = services("lambda").get_function_configuration(FunctionName=ids["Function"])
    assert [layer["Arn"] for layer in configuration["Layers"]] == [ids["Layer"]]
    streams = services("dynamodbstreams")
    stream_arn = services("dynamodb").describe_table(TableName=ids["Table"])["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    assert len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]) == 1


def test_a_resource_moto_fails_to_create_fails_its_stack_with_the_reason(services: Services) -> None:
    template = stream_consumer(role={"ManagedPolicyArns": ["arn:aws:iam::aws:policy/NoSuchPolicy"]})

    name, status = deploy(services, template)

    assert status == "ROLLBACK_COMPLETE"
    assert "NoSuchPolicy does not exist or is not attachable" in failure_reasons(services, name)[0]


def test_the_checks_of_a_deployed_stack_name_a_function_over_lambdas_quotas_and_what_destroy_left(
    services: Services,
) -> None:
    # GIVEN a function with 5 KB of variables and a retained queue, deployed
    template = stream_consumer(role={"ManagedPolicyArns": [STREAM_READER]})
    template["Resources"]["Function"]["Properties"]["Environment"] = {"Variables": {"BIG": "x" * 5000}}
    template["Resources"]["Kept"] = {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain"}
    name, status = deploy(services, template)
    deployed = DeployedStack.read(StackTemplate(name, template), services)

    # THEN the checks name the function, and after the stack's deletion the kept queue is reported as retained
    assert status == "CREATE_COMPLETE"
    assert deployed.problems(services) == [f"{name}/Function: its variables take 5010 bytes, over Lambda's 4096"]
    services("cloudformation").delete_stack(StackName=name)
    left, retained = deployed.left_behind(services)
    assert left == [] and [line.split(" ")[0] for line in retained] == [f"{name}/Kept"]


def test_resources_are_created_after_what_they_depend_on() -> None:
    resources = {
        "Mapping": {"Properties": {"FunctionName": {"Ref": "Function"}}, "DependsOn": "Grant"},
        "Function": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Grant": {"Properties": {"Roles": [{"Ref": "Role"}], "Name": {"Fn::Sub": "${Role.Arn}-${AWS::Region}"}}},
        "Role": {},
    }

    order = creation_order(resources)

    assert order.index("Role") < order.index("Grant") < order.index("Mapping")
    assert order.index("Function") < order.index("Mapping")


def test_the_stacks_are_read_from_the_cloud_assembly_and_the_last_line_counts_them(basic_flow_outdir: Path) -> None:
    (stack,) = read_stacks(basic_flow_outdir)

    assert stack.name == "BasicFlow" and "OrdersTable1F8332C7" in stack.resources
    assert stack.left_out() == {}
    assert (
        summary_line(1, 17, 0) == "deploy rehearsal: 1 stacks deployed, 17 resources created, 0 resource types left out"
    )
