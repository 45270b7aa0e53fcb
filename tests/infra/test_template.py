"""Fine-grained assertions on the synthesized templates, one block per part of the system."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from asyncinfer_constructs.dlc_image import DLC_ACCOUNTS
from tests.infra.conftest import Synthesized

Getter = Callable[[str], Synthesized]


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- Model ---------------------------------------------------------------------------------


def test_default_model_is_the_sentiment_model_on_the_cpu_hf_dlc(default: Synthesized) -> None:
    _, model = default.only("AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert container["Environment"]["HF_MODEL_ID"] == "cardiffnlp/twitter-roberta-base-sentiment"
    assert container["Environment"]["HF_TASK"] == "text-classification"
    # Large async payloads and long requests need the model server's limits raised.
    assert container["Environment"]["MMS_MAX_REQUEST_SIZE"] == str(100 * 1024 * 1024)
    assert container["Environment"]["MMS_DEFAULT_RESPONSE_TIMEOUT"] == "900"
    image = container["Image"]["Fn::Join"][1]
    assert image[0] == {
        "Fn::FindInMap": [image[0]["Fn::FindInMap"][0], {"Ref": "AWS::Region"}, "account"]
    }
    assert (
        image[-1] == "/huggingface-pytorch-inference:2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04"
    )
    assert {"Ref": "AWS::URLSuffix"} in image  # .amazonaws.com.cn in China regions


def test_dlc_account_mapping_covers_every_region_for_environment_agnostic_synth(
    default: Synthesized,
) -> None:
    mappings = default.template["Mappings"]
    (mapping,) = mappings.values()
    assert {region: row["account"] for region, row in mapping.items()} == DLC_ACCOUNTS
    assert mapping["af-south-1"]["account"] == "626614931356"
    assert mapping["cn-north-1"]["account"] == "727897471807"
    assert mapping["eu-west-1"]["account"] == "763104351884"
    assert "Environment" not in json.dumps(default.template.get("Metadata", {}))


def test_gpu_instance_selects_the_gpu_image(synthesized: Getter) -> None:
    _, model = synthesized("gpu").only("AWS::SageMaker::Model")
    image = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
    assert image[-1].endswith(":2.6.0-transformers4.51.3-gpu-py312-cu124-ubuntu22.04")


def test_artifact_model_uses_the_given_image_and_artifact(synthesized: Getter) -> None:
    artifact = synthesized("artifact")
    _, model = artifact.only("AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert (
        container["Image"]
        == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    )
    assert container["ModelDataUrl"] == "s3://example-models/sentiment/model.tar.gz"
    assert "HF_MODEL_ID" not in container.get("Environment", {})
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert "Mappings" not in artifact.template


# --- Endpoint config and endpoint ----------------------------------------------------------


def test_endpoint_config_has_async_inference_with_paths_topics_and_concurrency(
    default: Synthesized,
) -> None:
    _, config = default.only("AWS::SageMaker::EndpointConfig")
    async_config = config["Properties"]["AsyncInferenceConfig"]
    output_bucket = default.logical_id_of("/Payloads/Output/Resource")
    output = async_config["OutputConfig"]
    assert output["S3OutputPath"] == {
        "Fn::Join": ["", ["s3://", {"Ref": output_bucket}, "/output/"]]
    }
    assert output["S3FailurePath"] == {
        "Fn::Join": ["", ["s3://", {"Ref": output_bucket}, "/failure/"]]
    }
    assert output["KmsKeyId"] == {
        "Fn::GetAtt": [default.logical_id_of("/Keys/DataKey/Resource"), "Arn"]
    }
    notification = output["NotificationConfig"]
    assert notification["SuccessTopic"] == {
        "Ref": default.logical_id_of("/Notifications/SuccessTopic/Resource")
    }
    assert notification["ErrorTopic"] == {
        "Ref": default.logical_id_of("/Notifications/ErrorTopic/Resource")
    }
    assert notification["IncludeInferenceResponseIn"] == [
        "SUCCESS_NOTIFICATION_TOPIC",
        "ERROR_NOTIFICATION_TOPIC",
    ]
    assert async_config["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 4}
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.m5.xlarge"
    assert "KmsKeyId" not in config["Properties"]


def test_include_inference_response_in_and_volume_key_follow_settings(synthesized: Getter) -> None:
    _, gpu_config = synthesized("gpu").only("AWS::SageMaker::EndpointConfig")
    notification = gpu_config["Properties"]["AsyncInferenceConfig"]["OutputConfig"][
        "NotificationConfig"
    ]
    assert notification["IncludeInferenceResponseIn"] == ["SUCCESS_NOTIFICATION_TOPIC"]
    _, artifact_config = synthesized("artifact").only("AWS::SageMaker::EndpointConfig")
    properties = artifact_config["Properties"]
    assert (
        "IncludeInferenceResponseIn"
        not in properties["AsyncInferenceConfig"]["OutputConfig"]["NotificationConfig"]
    )
    assert properties["KmsKeyId"].startswith("arn:aws:kms:us-east-1:111122223333:key/")


def test_endpoint_waits_for_the_role_policy_and_keeps_scaled_capacity(default: Synthesized) -> None:
    _, endpoint = default.only("AWS::SageMaker::Endpoint")
    policy_id = default.logical_id_of("/Execution/Policy/Resource")
    assert policy_id in endpoint["DependsOn"]
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True
    _, model = default.only("AWS::SageMaker::Model")
    assert policy_id in model["DependsOn"]


# --- S3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["default", "artifact"])
def test_buckets_block_public_access_enforce_tls_encrypt_and_log(
    synthesized: Getter, config: str
) -> None:
    synth = synthesized(config)
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    logs_bucket = synth.logical_id_of("/Payloads/AccessLogs/Resource")
    policies = {
        policy["Properties"]["Bucket"]["Ref"]: policy
        for policy in synth.resources("AWS::S3::BucketPolicy").values()
    }
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        denies = [s for s in statements(policies[logical_id]) if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
        assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies)
        expected = "Retain" if config == "default" else "Delete"
        assert bucket["DeletionPolicy"] == expected
        if logical_id != logs_bucket:
            encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
            assert encryption["BucketKeyEnabled"] is True
            assert properties["LoggingConfiguration"]["DestinationBucketName"] == {
                "Ref": logs_bucket
            }
            (rule,) = properties["LifecycleConfiguration"]["Rules"]
            assert rule["ExpirationInDays"] == 30


def test_data_retention_is_configurable(tmp_path: Any) -> None:
    from tests.infra.conftest import synthesize

    synth = synthesize({"data_retention_days": "7"}, tmp_path)
    input_bucket = synth.template["Resources"][synth.logical_id_of("/Payloads/Input/Resource")]
    assert input_bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 7


# --- SNS -----------------------------------------------------------------------------------


def test_topics_are_encrypted_with_a_customer_key_and_enforce_tls(default: Synthesized) -> None:
    topics = default.resources("AWS::SNS::Topic")
    assert len(topics) == 3  # success, error, alarms
    notifications_key = default.logical_id_of("/Keys/NotificationsKey/Resource")
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [notifications_key, "Arn"]}
    for policy in default.resources("AWS::SNS::TopicPolicy").values():
        denies = [s for s in statements(policy) if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_keys_rotate(default: Synthesized) -> None:
    keys = default.resources("AWS::KMS::Key")
    assert len(keys) == 2
    for key in keys.values():
        assert key["Properties"]["EnableKeyRotation"] is True


# --- Execution role ------------------------------------------------------------------------


def test_execution_role_is_least_privilege(default: Synthesized) -> None:
    policy = default.template["Resources"][default.logical_id_of("/Execution/Policy/Resource")]
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert set(by_sid) == {
        "ReadRequestPayloads",
        "WriteOutputsAndFailures",
        "PublishNotifications",
        "UseEncryptionKeys",
        "EncryptOutputs",
        "PullModelImage",
        "GetRegistryToken",
        "CreateEndpointLogGroup",
        "WriteEndpointLogs",
        "PublishContainerMetrics",
    }
    for sid, statement in by_sid.items():
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), f"{sid} has a wildcard action"
        if statement["Resource"] == "*":
            assert actions in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"]), sid
    input_bucket = default.logical_id_of("/Payloads/Input/Resource")
    output_bucket = default.logical_id_of("/Payloads/Output/Resource")
    assert by_sid["ReadRequestPayloads"]["Action"] == "s3:GetObject"
    assert by_sid["ReadRequestPayloads"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [input_bucket, "Arn"]}, "/*"]]
    }
    assert sorted(map(json.dumps, by_sid["WriteOutputsAndFailures"]["Resource"])) == sorted(
        json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [output_bucket, "Arn"]}, suffix]]})
        for suffix in ("/output/*", "/failure/*")
    )
    publish = by_sid["PublishNotifications"]
    assert publish["Action"] == "sns:Publish"
    assert sorted(r["Ref"] for r in publish["Resource"]) == sorted(
        default.logical_id_of(f"/Notifications/{topic}/Resource")
        for topic in ("SuccessTopic", "ErrorTopic")
    )
    assert by_sid["PublishContainerMetrics"]["Condition"]
    repository = json.dumps(by_sid["PullModelImage"]["Resource"])
    assert ":repository/huggingface-pytorch-inference" in repository
    # Nothing else attached: no managed policies on the role.
    role = default.template["Resources"][default.logical_id_of("/Execution/Role/Resource")]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_artifact_role_reads_exactly_the_model_artifact_and_its_repository(
    synthesized: Getter,
) -> None:
    artifact = synthesized("artifact")
    policy = artifact.template["Resources"][artifact.logical_id_of("/Execution/Policy/Resource")]
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["ReadModelArtifact"]["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":s3:::example-models/sentiment/model.tar.gz"],
        ]
    }
    assert by_sid["PullModelImage"]["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecr:us-east-1:763104351884:repository/pytorch-inference",
            ],
        ]
    }


# --- Scaling -------------------------------------------------------------------------------


def test_scalable_target_allows_zero_and_depends_on_the_endpoint(default: Synthesized) -> None:
    _, target = default.only("AWS::ApplicationAutoScaling::ScalableTarget")
    properties = target["Properties"]
    assert properties["MinCapacity"] == 0
    assert properties["MaxCapacity"] == 2
    assert properties["ServiceNamespace"] == "sagemaker"
    assert properties["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    endpoint_id, _ = default.only("AWS::SageMaker::Endpoint")
    # The GetAtt on the endpoint orders creation after it.
    assert properties["ResourceId"] == {
        "Fn::Join": [
            "",
            ["endpoint/", {"Fn::GetAtt": [endpoint_id, "EndpointName"]}, "/variant/AllTraffic"],
        ]
    }
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(
        properties["RoleARN"]
    )


def test_target_tracking_on_backlog_per_instance(default: Synthesized) -> None:
    policies = default.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    (tracking,) = [
        p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling"
    ]
    configuration = tracking["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == 5
    assert configuration["ScaleInCooldown"] == 600
    assert configuration["ScaleOutCooldown"] == 120
    metric = configuration["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert metric["Namespace"] == "AWS/SageMaker"
    assert metric["Statistic"] == "Average"
    assert [d["Name"] for d in metric["Dimensions"]] == ["EndpointName"]


def test_first_request_on_an_idle_endpoint_scales_out_within_two_minutes(
    default: Synthesized,
) -> None:
    policies = default.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    ((step_id, step),) = [
        (logical_id, p)
        for logical_id, p in policies.items()
        if p["Properties"]["PolicyType"] == "StepScaling"
    ]
    configuration = step["Properties"]["StepScalingPolicyConfiguration"]
    assert configuration["AdjustmentType"] == "ChangeInCapacity"
    assert configuration["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]
    alarms = [
        a
        for a in default.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "HasBacklogWithoutCapacity"
    ]
    (alarm,) = alarms
    properties = alarm["Properties"]
    assert properties["Namespace"] == "AWS/SageMaker"
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["Statistic"] == "Average"
    assert properties["Period"] * properties["EvaluationPeriods"] <= 120
    assert properties["AlarmActions"] == [{"Ref": step_id}]


def test_autoscaling_can_be_turned_off(synthesized: Getter) -> None:
    artifact = synthesized("artifact")
    assert not artifact.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    assert not artifact.resources("AWS::ApplicationAutoScaling::ScalingPolicy")


def test_scaling_follows_settings(synthesized: Getter) -> None:
    gpu = synthesized("gpu")
    _, target = gpu.only("AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["MaxCapacity"] == 4
    (tracking,) = [
        p
        for p in gpu.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["PolicyType"] == "TargetTrackingScaling"
    ]
    assert tracking["Properties"]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 2


# --- Results -------------------------------------------------------------------------------


def test_results_table_is_on_demand_recoverable_expiring_encrypted_and_indexed(
    default: Synthesized,
) -> None:
    table = default.results_table()
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [{"AttributeName": "inferenceId", "KeyType": "HASH"}]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["SSESpecification"]["SSEType"] == "KMS"
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    # Sharded, sparse and narrow: tests/infra/test_results_table.py holds the write budget.
    assert indexes["EndpointHistory"]["KeySchema"] == [
        {"AttributeName": "endpointShard", "KeyType": "HASH"},
        {"AttributeName": "eventTime", "KeyType": "RANGE"},
    ]
    assert indexes["Failures"]["KeySchema"] == [
        {"AttributeName": "failureShard", "KeyType": "HASH"},
        {"AttributeName": "eventTime", "KeyType": "RANGE"},
    ]
    assert properties["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_both_topics_feed_one_queue_with_raw_delivery_and_dead_letters(
    default: Synthesized,
) -> None:
    queue_id = default.logical_id_of("/ResultsWriter/Default/Queue/Resource")
    dlq_id = default.logical_id_of("/ResultsWriter/Default/DeadLetterQueue/Resource")
    template = Template.from_json(default.template)
    # Both topics feed the writer's queue and the webhook dispatcher's (two consumers).
    template.resource_count_is("AWS::SNS::Subscription", 4)
    to_writer = [
        s
        for s in default.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert len(to_writer) == 2
    for topic in ("SuccessTopic", "ErrorTopic"):
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {
                "TopicArn": {"Ref": default.logical_id_of(f"/Notifications/{topic}/Resource")},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]},
                "RawMessageDelivery": True,
                "RedrivePolicy": Match.exact(
                    {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
                ),
            },
        )
    queue = default.template["Resources"][queue_id]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 360
    for queue_logical_id in (queue_id, dlq_id):
        assert "KmsMasterKeyId" in default.template["Resources"][queue_logical_id]["Properties"]


def test_writer_is_batched_reports_partial_failures_and_is_bounded(default: Synthesized) -> None:
    writer_id = default.logical_id_of("/ResultsWriter/Function/Resource")
    mappings = default.resources("AWS::Lambda::EventSourceMapping").values()
    # The writer's, and the webhook dispatcher's two (tests/infra/constructs/test_webhooks.py).
    assert len(mappings) == 3
    (mapping,) = [m for m in mappings if m["Properties"]["FunctionName"] == {"Ref": writer_id}]
    properties = mapping["Properties"]
    assert properties["BatchSize"] == 100
    assert properties["MaximumBatchingWindowInSeconds"] == 1
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"] == {"MaximumConcurrency": 10}
    function = default.template["Resources"][
        default.logical_id_of("/ResultsWriter/Function/Resource")
    ]
    function_properties = function["Properties"]
    assert function_properties["Handler"] == "results_writer.handler.lambda_handler"
    assert function_properties["Runtime"] == "python3.14"
    assert function_properties["TracingConfig"] == {"Mode": "Active"}
    assert function_properties["Environment"]["Variables"]["RESULTS_TABLE_NAME"] == {
        "Ref": default.logical_id_of("/Results/Records/Resource")
    }
    assert function_properties["Environment"]["Variables"]["RESULTS_RETENTION_DAYS"] == "90"
    assert function_properties["Environment"]["Variables"]["RESULTS_INLINE_BODY_MAX_BYTES"] == (
        "4096"
    )


def test_writer_may_only_put_records_and_read_its_queue(default: Synthesized) -> None:
    policy = default.template["Resources"][
        default.logical_id_of("/ResultsWriter/Role/DefaultPolicy/Resource")
    ]
    actions = {action for s in statements(policy) for action in as_list(s["Action"])}
    assert "dynamodb:PutItem" in actions
    assert not {a for a in actions if a.startswith("dynamodb:") and a != "dynamodb:PutItem"}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    assert not {a for a in actions if a.startswith(("s3:", "sns:"))}
    (put,) = [s for s in statements(policy) if s.get("Sid") == "PutResultsRecords"]
    assert put["Resource"] == {
        "Fn::GetAtt": [default.logical_id_of("/Results/Records/Resource"), "Arn"]
    }
    role = default.template["Resources"][default.logical_id_of("/ResultsWriter/Role/Resource")]
    assert "ManagedPolicyArns" not in role["Properties"]


# --- Monitoring ----------------------------------------------------------------------------


def test_alarms_cover_failures_notifications_writer_dead_letters_and_queue_age(
    default: Synthesized,
) -> None:
    alarm_topic = default.logical_id_of("/Monitoring/AlarmTopic/Resource")
    alarms = [a["Properties"] for a in default.resources("AWS::CloudWatch::Alarm").values()]
    # (namespace, metric) -> its alarms: the webhooks watch their own queues and function too.
    watched: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for alarm in alarms:
        watched.setdefault((alarm.get("Namespace"), alarm.get("MetricName")), []).append(alarm)
    for key in [
        ("AWS/SageMaker", "InvocationFailures"),
        ("AWS/SageMaker", "NotificationFailures"),
        ("AWS/Lambda", "Errors"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SageMaker", "ApproximateAgeOfOldestRequest"),
    ]:
        assert key in watched, key
        for alarm in watched[key]:
            assert alarm["AlarmActions"] == [{"Ref": alarm_topic}]
    (oldest,) = watched[("AWS/SageMaker", "ApproximateAgeOfOldestRequest")]
    assert oldest["Threshold"] == 1800
    dlq = default.logical_id_of("/ResultsWriter/Default/DeadLetterQueue/Resource")
    assert [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}] in [
        alarm["Dimensions"] for alarm in watched[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    ]


def test_alarm_email_is_subscribed_when_set(synthesized: Getter, default: Synthesized) -> None:
    emails = [
        s
        for s in synthesized("gpu").resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    ]
    assert [s["Properties"]["Endpoint"] for s in emails] == ["ops@example.com"]
    assert not [
        s
        for s in default.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    ]


def test_dashboard_shows_backlog_instances_processing_failures_and_writer(
    default: Synthesized,
) -> None:
    _, dashboard = default.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in [
        "ApproximateBacklogSize",
        "ApproximateBacklogSizePerInstance",
        "Instances",
        "TotalProcessingTime",
        "InvocationFailures",
        "InvocationsProcessed",  # as local mode publishes it
        "InvocationsProcesssed",  # as the Developer Guide spells it
        "Results writer",
        "AWS/Lambda",
    ]:
        assert needle in body, needle


# --- Outputs -------------------------------------------------------------------------------


def test_outputs_are_the_clients_contract(default: Synthesized) -> None:
    assert set(default.template["Outputs"]) == {
        "EndpointName",
        "InputBucketName",
        "OutputBucketName",
        "OutputPath",
        "FailurePath",
        "SuccessTopicArn",
        "ErrorTopicArn",
        "ResultsTableName",
        "ResultsQueueUrl",
        "ResultsQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "DataKeyArn",
        "AlarmTopicArn",
        "DeadLetterQueueAlarmName",
        # The job API's (docs/api.md); absent with api_enabled=false.
        "ApiUrl",
        "JobsTableName",
        # The webhooks' (docs/webhooks.md); absent with webhooks_enabled=false.
        "WebhookSecretArn",
        "WebhookDeadLetterQueueUrl",
    }


def test_template_is_environment_agnostic_and_unversioned(default: Synthesized) -> None:
    text = json.dumps(default.template)
    assert "AWS::CDK::Metadata" not in text  # version reporting off: reproducible templates
    assert "BootstrapVersion" in text  # the standard synthesizer, so `cdk deploy` works


# --- Cross-service key use -----------------------------------------------------------------


def _key_statements(synth: Synthesized, path: str) -> list[dict[str, Any]]:
    return synth.template["Resources"][synth.logical_id_of(path)]["Properties"]["KeyPolicy"][
        "Statement"
    ]


def test_sns_may_use_the_queue_key_only_for_these_topics(default: Synthesized) -> None:
    # SNS cannot deliver into a KMS-encrypted queue unless the queue key lets it; a
    # classic silent failure of SNS -> SQS fan-out.
    sns_statements = [
        s
        for s in _key_statements(default, "/Keys/DataKey/Resource")
        if s["Principal"] == {"Service": "sns.amazonaws.com"}
    ]
    assert {s["Condition"]["ArnEquals"]["aws:SourceArn"]["Ref"] for s in sns_statements} == {
        default.logical_id_of("/Notifications/SuccessTopic/Resource"),
        default.logical_id_of("/Notifications/ErrorTopic/Resource"),
    }
    for statement in sns_statements:
        assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_cloudwatch_may_publish_alarms_through_the_notifications_key(default: Synthesized) -> None:
    (statement,) = [
        s
        for s in _key_statements(default, "/Keys/NotificationsKey/Resource")
        if s.get("Sid") == "AllowCloudWatchAlarmsToPublish"
    ]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    assert ":alarm:*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
