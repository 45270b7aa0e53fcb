"""The provisioner against a small hand-made template, on moto in this process.

The end-to-end tests run the stack's own template; this one pins down each rule the
provisioner follows (names, order, intrinsics, attributes) on resources small enough to
read, so a regression names the rule it broke.
"""

from __future__ import annotations

import json
from typing import Any, cast

import boto3
import pytest

from asyncinfer.local.provision import (
    ACCOUNT_ID,
    Provisioned,
    TemplateError,
    endpoints,
    provision,
)

REGION = "us-east-1"
STACK = "Tiny"

TEMPLATE: dict[str, Any] = {
    "Resources": {
        # Declared before its dead-letter queue: the provisioner must order them.
        "Work": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 120,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]},
                    "maxReceiveCount": 3,
                },
            },
        },
        "Dead": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "tiny-named"}},
        "Generated": {"Type": "AWS::S3::Bucket"},
        "Done": {"Type": "AWS::SNS::Topic"},
        "DoneToWork": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Done"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Work", "Arn"]},
                "RawMessageDelivery": True,
            },
        },
        "Records": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "state", "AttributeType": "S"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "ByState",
                        "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            },
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Config": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "AsyncInferenceConfig": {
                    "OutputConfig": {
                        "S3OutputPath": {"Fn::Join": ["", ["s3://", {"Ref": "Named"}, "/out/"]]},
                        "NotificationConfig": {"SuccessTopic": {"Ref": "Done"}},
                    }
                },
            },
        },
        "Endpoint": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointName": "tiny-endpoint",
                "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
            },
        },
    },
    "Outputs": {
        "QueueUrl": {"Value": {"Ref": "Work"}},
        "TableArn": {"Value": {"Fn::GetAtt": ["Records", "Arn"]}},
        "Where": {"Value": {"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${Named}"}},
        "Second": {
            "Value": {"Fn::Select": [1, {"Fn::Split": ["-", {"Fn::Sub": "a-${AWS::StackName}"}]}]}
        },
        "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
    },
}


def moto_client(service: str) -> Any:
    # boto3-stubs type only literal service names; this one is named at run time.
    return boto3.client(cast(Any, service), REGION)


@pytest.fixture
def provisioned(moto_in_process: None) -> Provisioned:
    return provision(TEMPLATE, STACK, moto_client, REGION)


def test_buckets_keep_a_given_name_and_get_cloudformation_style_names(
    provisioned: Provisioned,
) -> None:
    buckets = {b["Name"] for b in boto3.client("s3", REGION).list_buckets()["Buckets"]}
    assert provisioned.refs["Named"] == "tiny-named"
    generated = provisioned.refs["Generated"]
    assert generated.startswith("tiny-generated-") and generated == generated.lower()
    assert buckets == {"tiny-named", generated}


def test_queue_gets_its_properties_and_a_redrive_policy_to_the_dead_letter_queue(
    provisioned: Provisioned,
) -> None:
    sqs = boto3.client("sqs", REGION)
    attributes = sqs.get_queue_attributes(
        QueueUrl=provisioned.refs["Work"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "120"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned.attributes["Dead"]["Arn"],
        "maxReceiveCount": 3,
    }
    dead = sqs.get_queue_attributes(QueueUrl=provisioned.refs["Dead"], AttributeNames=["All"])
    assert dead["Attributes"]["MessageRetentionPeriod"] == "1209600"


def test_raw_subscription_delivers_the_published_message_itself(provisioned: Provisioned) -> None:
    boto3.client("sns", REGION).publish(TopicArn=provisioned.refs["Done"], Message='{"a": 1}')
    messages = boto3.client("sqs", REGION).receive_message(
        QueueUrl=provisioned.refs["Work"], WaitTimeSeconds=1
    )["Messages"]
    assert [m["Body"] for m in messages] == ['{"a": 1}']


def test_table_gets_its_keys_index_and_ttl(provisioned: Provisioned) -> None:
    dynamodb = boto3.client("dynamodb", REGION)
    name = provisioned.refs["Records"]
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["ByState"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_outputs_resolve_refs_attributes_and_string_functions(provisioned: Provisioned) -> None:
    outputs = provisioned.outputs
    assert outputs["QueueUrl"] == provisioned.refs["Work"]
    assert outputs["TableArn"] == (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{provisioned.refs['Records']}"
    )
    assert outputs["Where"] == f"{REGION}/{ACCOUNT_ID}/tiny-named"
    assert outputs["Second"] == STACK
    # A resource with no local stand-in resolves to a placeholder, not an error.
    assert outputs["RoleArn"] == "local-Role-Arn"


def test_endpoint_config_is_resolved(provisioned: Provisioned) -> None:
    found = endpoints(TEMPLATE, provisioned)
    assert list(found) == ["tiny-endpoint"]
    output = found["tiny-endpoint"]["AsyncInferenceConfig"]["OutputConfig"]
    assert output == {
        "S3OutputPath": "s3://tiny-named/out/",
        "NotificationConfig": {"SuccessTopic": provisioned.refs["Done"]},
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nowhere"}, "Ref to 'Nowhere', which is neither a resource nor a parameter"),
        ({"Fn::GetAtt": ["Nowhere", "Arn"]}, "Fn::GetAtt on 'Nowhere', which is not a template"),
        ({"Fn::If": ["c", "a", "b"]}, "intrinsic Fn::If is not supported by local mode"),
    ],
)
def test_an_unresolvable_value_names_what_it_could_not_resolve(
    moto_in_process: None, value: dict[str, Any], message: str
) -> None:
    template = {"Resources": {}, "Outputs": {"Broken": {"Value": value}}}
    with pytest.raises(TemplateError, match=message):
        provision(template, STACK, moto_client, REGION)
