"""What the in-account proof asserts, read from its synthesized assertion stack, offline.

integ-tests-alpha turns each assertion into a `Custom::DeployAssert@SdkCall...` resource
whose properties hold the service, the API, its parameters (each JSON-encoded) and the
expected result; `next()` becomes a DependsOn, and `wait_for_assertions()` a Step
Functions state machine that retries the call. These tests read those resources back, so
a broken or weakened integ test fails here without an AWS account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integ.conftest import IntegAssembly

SDK_CALL = "Custom::DeployAssert@SdkCall"


@dataclass(frozen=True)
class Call:
    logical_id: str
    service: str
    api: str
    parameters: dict[str, Any]
    expected: Any
    waiter: dict[str, Any] | None


def decoded(value: Any) -> Any:
    """A parameter as the provider sees it: literal JSON decoded, intrinsics kept."""
    return json.loads(value) if isinstance(value, str) else value


def ordered_calls(template: dict[str, Any]) -> list[Call]:
    resources = template["Resources"]
    calls = {lid: r for lid, r in resources.items() if r["Type"].startswith(SDK_CALL)}
    after = {
        lid: {dep for dep in r.get("DependsOn", []) if dep in calls} for lid, r in calls.items()
    }
    order: list[str] = []
    while len(order) < len(calls):
        ready = [lid for lid in calls if lid not in order and after[lid] <= set(order)]
        # One at a time: two calls ready together would run in parallel.
        assert len(ready) == 1, f"assertions not in one chain; ready together: {ready}"
        order.append(ready[0])
    result = []
    for lid in order:
        properties = calls[lid]["Properties"]
        machine = properties.get("stateMachineArn", {}).get("Ref")
        result.append(
            Call(
                logical_id=lid,
                service=properties["service"],
                api=properties["api"],
                parameters={k: decoded(v) for k, v in properties["parameters"].items()},
                expected=properties.get("expected"),
                waiter=resources[machine]["Properties"] if machine else None,
            )
        )
    return result


# The main case's calls, then the pooled case's (one chain).
MAIN_CALLS = 11


@pytest.fixture(scope="module")
def all_calls(integ_assembly: IntegAssembly) -> list[Call]:
    return ordered_calls(integ_assembly.assertion_stack)


@pytest.fixture(scope="module")
def calls(all_calls: list[Call]) -> list[Call]:
    return all_calls[:MAIN_CALLS]


@pytest.fixture(scope="module")
def stack_output_values(integ_assembly: IntegAssembly) -> dict[str, Any]:
    return {
        name: output["Value"] for name, output in integ_assembly.stack_under_test["Outputs"].items()
    }


def stack_output_reads(fragment: Any) -> list[dict[str, Any]]:
    """Every Fn::GetStackOutput in `fragment` (its OutputName, StackName, Region)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::GetStackOutput" in node:
                found.append(node["Fn::GetStackOutput"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(fragment)
    return found


def references(fragment: Any) -> list[Any]:
    """What each Fn::GetStackOutput in `fragment` reads, as the stack under test defines it."""
    return [read["OutputName"] for read in stack_output_reads(fragment)]


def stacks_read(fragment: Any) -> set[str]:
    """The stacks whose outputs `fragment` reads."""
    return {read["StackName"] for read in stack_output_reads(fragment)}


def reads_output(fragment: Any, output: str, outputs: dict[str, Any]) -> bool:
    """True when `fragment` reads the value the stack exposes as output `output`."""
    return any(outputs[name] == outputs[output] for name in references(fragment))


def attribute_of(fragment: Any, call: Call, attribute: str) -> bool:
    return f'"Fn::GetAtt": ["{call.logical_id}", "apiCallResponse.{attribute}"]' in json.dumps(
        fragment
    )


def expected_text(call: Call) -> str:
    """The expectation as one string; tokens inside (Fn::Join parts) as JSON."""
    if isinstance(call.expected, str):
        return call.expected
    return "".join(
        part if isinstance(part, str) else json.dumps(part) for part in call.expected["Fn::Join"][1]
    )


def test_the_proof_runs_its_calls_in_order(all_calls: list[Call]) -> None:
    assert [(c.service, c.api) for c in all_calls[:MAIN_CALLS]] == [
        ("S3", "putObject"),
        ("SageMakerRuntime", "invokeEndpointAsync"),
        ("DynamoDB", "getItem"),
        ("S3", "headObject"),
        ("S3", "putObject"),
        ("SageMakerRuntime", "invokeEndpointAsync"),
        ("DynamoDB", "getItem"),
        ("CloudWatch", "setAlarmState"),
        ("CloudWatch", "describeAlarmHistory"),
        ("Lambda", "invoke"),
        ("Lambda", "invoke"),
    ]


def test_good_payload_is_what_the_default_model_reads(
    calls: list[Call], stack_output_values: dict[str, Any]
) -> None:
    upload, invoke = calls[0], calls[1]
    assert reads_output(upload.parameters["Bucket"], "InputBucketName", stack_output_values)
    body = json.loads(upload.parameters["Body"])
    assert set(body) == {"inputs"} and isinstance(body["inputs"], str) and body["inputs"]
    assert reads_output(invoke.parameters["EndpointName"], "EndpointName", stack_output_values)
    assert reads_output(invoke.parameters["InputLocation"], "InputBucketName", stack_output_values)
    assert json.dumps(invoke.parameters["InputLocation"]).endswith(
        f'/{upload.parameters["Key"]}\\""]]}}'
    )
    assert invoke.parameters["ContentType"] == "application/json"


def test_bad_payload_is_one_the_model_rejects(calls: list[Call]) -> None:
    upload, invoke = calls[4], calls[5]
    with pytest.raises(json.JSONDecodeError):
        json.loads(upload.parameters["Body"])
    assert upload.parameters["Key"] != calls[0].parameters["Key"]
    assert json.dumps(invoke.parameters["InputLocation"]).endswith(
        f'/{upload.parameters["Key"]}\\""]]}}'
    )
    # Declared as JSON, so the model server tries (and fails) to decode it.
    assert invoke.parameters["ContentType"] == "application/json"


@pytest.mark.parametrize(
    ("invoke_index", "wait_index", "status"), [(1, 2, "COMPLETED"), (5, 6, "FAILED")]
)
def test_each_request_waits_for_its_own_terminal_record(
    calls: list[Call],
    stack_output_values: dict[str, Any],
    invoke_index: int,
    wait_index: int,
    status: str,
) -> None:
    invoke, wait = calls[invoke_index], calls[wait_index]
    assert reads_output(wait.parameters["TableName"], "ResultsTableName", stack_output_values)
    assert attribute_of(wait.parameters["Key"], invoke, "InferenceId")
    assert wait.parameters["ConsistentRead"] is True
    assert f'"status":{{"S":"{status}"}}' in expected_text(wait)
    assert expected_text(wait).startswith('{"$ObjectLike":{"Item":')
    # Retried long enough for a cold start: instance, image pull and model download.
    assert wait.waiter is not None
    retry = json.loads(
        "".join(
            p for p in wait.waiter["DefinitionString"]["Fn::Join"][1] if isinstance(p, str)
        ).replace('"Resource":"', '"Resource":"x')
    )["States"]["framework-isComplete-task"]["Retry"][0]
    assert retry["IntervalSeconds"] * retry["MaxAttempts"] >= 20 * 60


def test_the_completed_record_points_at_the_output_sagemaker_announced(calls: list[Call]) -> None:
    invoke, wait = calls[1], calls[2]
    assert attribute_of(wait.expected, invoke, "OutputLocation")
    assert '"outputLocation":{"S":"' in expected_text(wait)


def test_the_announced_output_exists_encrypted(
    calls: list[Call], stack_output_values: dict[str, Any]
) -> None:
    invoke, head = calls[1], calls[3]
    assert reads_output(head.parameters["Bucket"], "OutputBucketName", stack_output_values)
    assert attribute_of(head.parameters["Key"], invoke, "OutputLocation")
    assert json.loads(head.expected) == {"$ObjectLike": {"ServerSideEncryption": "aws:kms"}}


def test_a_forced_alarm_must_reach_the_alarm_topic(
    calls: list[Call], stack_output_values: dict[str, Any]
) -> None:
    force, history = calls[7], calls[8]
    for call in (force, history):
        assert reads_output(
            call.parameters["AlarmName"], "DeadLetterQueueAlarmName", stack_output_values
        )
    assert force.parameters["StateValue"] == "ALARM"
    assert history.parameters["HistoryItemType"] == "Action"
    assert history.waiter is not None
    expected = history.expected["Fn::Join"][1]
    assert expected[0].endswith('"HistorySummary":{"$StringLike":"^Successfully executed action ')
    assert reads_output(expected[1], "AlarmTopicArn", stack_output_values)


def test_providers_may_use_the_data_key(integ_assembly: IntegAssembly) -> None:
    statements = [
        statement
        for resource in integ_assembly.assertion_stack["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    actions = {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    # Writing to the SSE-KMS input bucket, reading the KMS-encrypted table and output.
    assert {"kms:GenerateDataKey", "kms:Decrypt", "s3:GetObject"} <= actions


def test_the_stack_under_test_is_small_and_leaves_nothing_behind(
    integ_assembly: IntegAssembly,
) -> None:
    case = integ_assembly.test_case
    # Never the user's own stack name.
    assert case["stacks"] == ["AsyncInferenceInteg", "AsyncInferenceIntegPooled"]
    assert case["stackUpdateWorkflow"] is False
    resources = integ_assembly.stack_under_test["Resources"]
    (config,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    assert config["Properties"]["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    stateful = [
        r
        for r in resources.values()
        if r["Type"] in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key")
    ]
    assert len(stateful) >= 5
    for resource in stateful:
        assert resource.get("DeletionPolicy") == "Delete", resource["Type"]
    tables = [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    # The results table, the job API's jobs table, the webhook receiver's records.
    assert len(tables) == 3
    for table in tables:
        assert table["Properties"].get("DeletionProtectionEnabled") is not True
    # Buckets are emptied on delete, or CloudFormation could not remove them.
    assert any(r["Type"] == "Custom::S3AutoDeleteObjects" for r in resources.values())


def test_a_signed_post_is_repeated_until_its_job_is_completed(
    calls: list[Call], integ_assembly: IntegAssembly, stack_output_values: dict[str, Any]
) -> None:
    signed = calls[-2]
    assert reads_output(
        signed.parameters["FunctionName"], "SignedApiCallerName", stack_output_values
    )
    event = (
        json.loads(signed.parameters["Payload"])
        if isinstance(signed.parameters["Payload"], str)
        else signed.parameters["Payload"]
    )
    # The same Idempotency-Key on every attempt: one job, one inference.
    assert event["idempotencyKey"] and event["contentType"] == "application/json"
    assert json.loads(event["body"]) == json.loads(calls[0].parameters["Body"])
    expected = json.loads(expected_text(signed))["$ObjectLike"]["Payload"]["$SerializedJson"]
    answer = expected["$ObjectLike"]
    assert answer["submitStatus"] == 202 and answer["getStatus"] == 200
    assert answer["job"]["$ObjectLike"]["status"] == "COMPLETED"
    assert signed.waiter is not None
    # The caller may call exactly the two methods it needs, signed with its role, and read
    # the receiver's records.
    resources = integ_assembly.stack_under_test["Resources"]
    (policy,) = [
        r
        for lid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and lid.startswith("SignedApiCaller")
    ]
    invoke, read = policy["Properties"]["PolicyDocument"]["Statement"]
    assert invoke["Action"] == "execute-api:Invoke"
    routes = json.dumps(invoke["Resource"])
    assert "/POST/v1/jobs" in routes and "/GET/v1/jobs/*" in routes
    assert read["Action"] == "dynamodb:GetItem"
    assert read["Resource"] == {"Fn::GetAtt": [only(resources, "ReceivedWebhooks"), "Arn"]}


def only(resources: dict[str, Any], prefix: str, kind: str | None = None) -> str:
    """The logical id of the one resource whose id starts with `prefix` (of type `kind`)."""
    (logical_id,) = [
        lid
        for lid, r in resources.items()
        if lid.startswith(prefix) and (kind is None or r["Type"] == kind)
    ]
    return logical_id


def test_the_webhook_must_reach_the_receiver_with_a_valid_signature(
    calls: list[Call], integ_assembly: IntegAssembly, stack_output_values: dict[str, Any]
) -> None:
    signed, webhook = calls[-2], calls[-1]
    # The same job: the same caller, payload and Idempotency-Key, after it COMPLETED.
    assert webhook.parameters["FunctionName"] == signed.parameters["FunctionName"]
    assert webhook.parameters["Payload"] == signed.parameters["Payload"]
    expected = json.loads(expected_text(webhook))["$ObjectLike"]["Payload"]["$SerializedJson"]
    answer = expected["$ObjectLike"]
    job = answer["job"]["$ObjectLike"]
    assert job["status"] == "COMPLETED"
    assert job["webhook"] == {"$ObjectLike": {"status": "DELIVERED"}}
    assert answer["received"] == {"$ObjectLike": {"verified": True, "status": "COMPLETED"}}
    assert webhook.waiter is not None
    # The POST names the receiver's public function URL; the receiver verifies with the
    # stack's signing secret and records in its own table, nothing more.
    resources = integ_assembly.stack_under_test["Resources"]
    receiver = only(resources, "WebhookReceiver", "AWS::Lambda::Function")
    url = only(resources, "WebhookReceiver", "AWS::Lambda::Url")
    assert resources[url]["Properties"] == {
        "AuthType": "NONE",
        "TargetFunctionArn": {"Fn::GetAtt": [receiver, "Arn"]},
    }
    caller = resources[only(resources, "SignedApiCaller", "AWS::Lambda::Function")]
    variables = caller["Properties"]["Environment"]["Variables"]
    assert variables["WEBHOOK_URL"] == {"Fn::GetAtt": [url, "FunctionUrl"]}
    function = resources[receiver]["Properties"]
    assert function["Handler"] == "webhook_receiver.receiver.handler"
    secret = only(resources, "WebhooksSigningSecret", "AWS::SecretsManager::Secret")
    assert function["Environment"]["Variables"]["WEBHOOK_SECRET_ARN"] == {"Ref": secret}
    (policy,) = [
        r
        for lid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and lid.startswith("WebhookReceiver")
    ]
    granted = {
        json.dumps(s["Resource"]): s["Action"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert granted == {
        json.dumps({"Ref": secret}): [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ],
        json.dumps(
            {"Fn::GetAtt": [only(resources, "ReceivedWebhooks"), "Arn"]}
        ): "dynamodb:PutItem",
    }


# --- The pooled case: an idle endpoint on instance pools leaves zero --------------------


@pytest.fixture(scope="module")
def pooled_calls(all_calls: list[Call]) -> list[Call]:
    return all_calls[MAIN_CALLS:]


def test_the_pooled_endpoint_runs_on_two_instance_types(integ_assembly: IntegAssembly) -> None:
    resources = integ_assembly.pooled_stack_under_test["Resources"]
    (config,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    (variant,) = config["Properties"]["ProductionVariants"]
    assert "InstanceType" not in variant
    assert [(pool["InstanceType"], pool["Priority"]) for pool in variant["InstancePools"]] == [
        ("ml.m5.large", 1),
        ("ml.m5.xlarge", 2),
    ]
    # It scales to zero and out of it like the main case's endpoint.
    (target,) = [
        r for r in resources.values() if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    assert target["Properties"]["MinCapacity"] == 0


def test_one_request_on_an_idle_pooled_endpoint_is_served(
    pooled_calls: list[Call], integ_assembly: IntegAssembly
) -> None:
    outputs = {
        name: output["Value"]
        for name, output in integ_assembly.pooled_stack_under_test["Outputs"].items()
    }
    assert [(c.service, c.api) for c in pooled_calls] == [
        ("SageMaker", "describeEndpoint"),
        ("S3", "putObject"),
        ("SageMakerRuntime", "invokeEndpointAsync"),
        ("DynamoDB", "getItem"),
    ]
    idle, upload, invoke, served = pooled_calls
    # The pooled stack's endpoint, bucket and table, not the main case's (same output names).
    for call in pooled_calls:
        assert stacks_read(call.parameters) == {"AsyncInferenceIntegPooled"}, call.api
    # First the endpoint is idle: in service, scaled in to no instance, waited for long
    # enough for target tracking's scale-in after the creation's instance.
    assert reads_output(idle.parameters["EndpointName"], "EndpointName", outputs)
    assert json.loads(expected_text(idle)) == {
        "$ObjectLike": {
            "EndpointStatus": "InService",
            "ProductionVariants": {"$ArrayWith": [{"$ObjectLike": {"CurrentInstanceCount": 0}}]},
        }
    }
    assert idle.waiter is not None
    # Then one request, which must end COMPLETED: something scaled out of zero.
    assert reads_output(upload.parameters["Bucket"], "InputBucketName", outputs)
    assert reads_output(invoke.parameters["EndpointName"], "EndpointName", outputs)
    assert reads_output(served.parameters["TableName"], "ResultsTableName", outputs)
    assert attribute_of(served.parameters["Key"], invoke, "InferenceId")
    assert '"status":{"S":"COMPLETED"}' in expected_text(served)
    assert served.waiter is not None
