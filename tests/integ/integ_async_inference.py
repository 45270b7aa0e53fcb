#!/usr/bin/env python3
"""Proof in your own account: the whole async flow, end to end, then nothing left behind.

A CDK app with one `IntegTest` (aws-cdk.integ-tests-alpha). Deploying it creates this
project's stack (`AsyncInferenceInteg`, a small CPU instance, removal_policy=destroy) and
an assertion stack whose custom resources, in order:

1. put a good payload (`{"inputs": ...}`, what the default text-classification model reads)
   into the input bucket and InvokeEndpointAsync on it;
2. wait until the results table holds a COMPLETED record for that inference id whose
   `outputLocation` is the one SageMaker answered, and HeadObject that output;
3. put a payload the model rejects (not JSON, sent as application/json) and invoke on it;
4. wait until its record is FAILED;
5. force the dead-letter-queue alarm into ALARM (SetAlarmState) and wait until the alarm's
   action history shows a successful SNS action;
6. invoke a function of the stack under test (tests/integ/signed_caller.py) that calls the
   job API as an IAM principal: a SigV4-signed POST /v1/jobs of the good payload with an
   Idempotency-Key and a `Webhook-Url`, then GET /v1/jobs/{id}; repeated (the same key: the
   same job, never a second inference) until the job is COMPLETED;
7. invoke it again until the job's webhook is DELIVERED and the test stack's receiver (a
   Lambda function URL, tests/integ/webhook_receiver) has recorded the job's event, which it
   does only after the standardwebhooks package verified its signature with the stack's
   signing secret.

A second stack under test (`AsyncInferenceIntegPooled`) holds an endpoint on instance
pools of two types; after the steps above, the chain goes on to prove that it leaves
zero: it waits until the idle endpoint has scaled in to no instance, then submits one
request and waits for its COMPLETED record. AWS says every metric of a pooled endpoint also carries an
`InstanceType` dimension (SageMaker Developer Guide, "Deploy to multiple instance types
with instance pools"); scaling out of zero reads `HasBacklogWithoutCapacity` with the
`EndpointName` dimension alone, so if a pooled async endpoint published it only per
instance type, this request would never be served. Nothing offline can tell: until this
case has run in an account, pools with scale to zero are unverified.

Any failed call or expectation fails the deployment; `make integ` then destroys every
stack either way. The file name follows integ-runner's Python convention (`integ_*.py`),
and its snapshot lives beside it in `integ_async_inference.py.snapshot/`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Run as a script (`python tests/integ/integ_async_inference.py`), Python puts this file's
# folder on sys.path, not the repository root where `stacks/` lives.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import Aws, CfnOutput, Duration, Fn  # noqa: E402
from aws_cdk import aws_dynamodb as dynamodb  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk.integ_tests_alpha import (  # noqa: E402
    AwsApiCall,
    ExpectedResult,
    IApiCall,
    IntegTest,
    Match,
)

from asyncinfer_constructs.functions import RUNTIME_SOURCE, folders_code, package_dir  # noqa: E402
from stacks.async_inference_stack import AsyncInferenceStack  # noqa: E402
from stacks.config import Settings  # noqa: E402

TEST_NAME = "AsyncInference"
# Not the default stack name, so a proof run never touches a user's real deployment.
STACK_NAME = "AsyncInferenceInteg"
SETTINGS = Settings(
    stack_name=STACK_NAME,
    # The smallest general-purpose CPU instance that holds the Hugging Face CPU image and
    # the default ~0.5 GB sentiment model (8 GiB memory).
    instance_type="ml.m5.large",
    max_capacity=1,
    removal_policy="destroy",
    data_retention_days=1,
    results_retention_days=1,
    log_retention_days=1,
)

POOLED_STACK_NAME = "AsyncInferenceIntegPooled"
# Two small CPU types, the same image: ml.m5.large preferred, ml.m5.xlarge when it lacks
# capacity. Otherwise the same throw-away settings, without the job API (the main case
# proves it).
POOLED_SETTINGS = dataclasses.replace(
    SETTINGS,
    stack_name=POOLED_STACK_NAME,
    instance_types=("ml.m5.large", "ml.m5.xlarge"),
    api_enabled=False,
)

GOOD_KEY = "integ/good.json"
# The default model is a Hugging Face text-classification pipeline: it reads {"inputs": ...}.
GOOD_BODY = json.dumps({"inputs": "I love async inference"})
BAD_KEY = "integ/bad.json"
# Sent as application/json but not JSON: the Hugging Face inference toolkit's handler turns
# any error while decoding or predicting into a 400 (PredictionException(str(e), 400) in
# sagemaker_huggingface_inference_toolkit/handler_service.py, `handle`), which SageMaker
# reports as a failed invocation on the error topic.
BAD_BODY = "this is not JSON"
CONTENT_TYPE = "application/json"

# A cold start (instance, image pull, model download from the Hub) takes minutes; if
# autoscaling took the instance away, scale-out from zero adds a few more.
RESULT_TIMEOUT = Duration.minutes(25)
RESULT_INTERVAL = Duration.seconds(30)
# An idle endpoint keeps its first instance until target tracking's low alarm has seen 15
# breaching minutes (docs/scaling.md); CloudFormation waits at most an hour for the
# assertion's custom resource.
IDLE_TIMEOUT = Duration.minutes(45)
IDLE_INTERVAL = Duration.minutes(1)
ALARM_TIMEOUT = Duration.minutes(5)
ALARM_INTERVAL = Duration.seconds(15)

# CloudWatch's alarm history summary for an action it ran: "Successfully executed action
# <ARN>" (a refused publish reads "Failed to execute action <ARN>. Received error: ...").
# HistorySummary is a free-text field (CloudWatch API Reference, AlarmHistoryItem); this
# wording is *unverified* here: if a real run words it otherwise, the wait times out and
# the assertion's failure shows the actual history items.
SNS_ACTION_SUCCEEDED = "^Successfully executed action "
SIGNED_CALLER_CODE = Path(__file__).with_name("signed_caller.py")
SIGNED_CALLER_OUTPUT = "SignedApiCallerName"
IDEMPOTENCY_KEY = "integ-signed-submit"
RECEIVER_SOURCE = Path(__file__).with_name("webhook_receiver")
# A delivery follows the notification within seconds; a receiver's cold start that misses
# the dispatcher's 5-second attempt is retried 5 s later, and so on (docs/webhooks.md).
WEBHOOK_TIMEOUT = Duration.minutes(10)


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags): the integ stack is the app's stack, flag for flag."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def stack_output(stack: cdk.Stack, output_id: str) -> str:
    """The value behind one of the stack's outputs (the contract the client relies on too).

    Read from the assertion stack, the value becomes a cross-stack reference.
    """
    output = stack.node.find_child(output_id)
    assert isinstance(output, CfnOutput), f"{output_id} is not an output of {stack.stack_name}"
    return str(output.value)


class Proof:
    """One chain of API calls against a deployed stack, read through its outputs."""

    def __init__(self, integ: IntegTest, stack: cdk.Stack) -> None:
        self.assertions = integ.assertions
        self.endpoint_name = stack_output(stack, "EndpointName")
        self.input_bucket = stack_output(stack, "InputBucketName")
        self.output_bucket = stack_output(stack, "OutputBucketName")
        self.table_name = stack_output(stack, "ResultsTableName")
        self.data_key_arn = stack_output(stack, "DataKeyArn")
        self.steps: list[IApiCall] = []

    def chain(self, steps: list[IApiCall]) -> None:
        """One step at a time, in this order: each step's custom resource waits for the
        previous one (CloudFormation would otherwise run them in parallel)."""
        self.steps = steps
        for before, after in itertools.pairwise(steps):
            before.next(after)

    def submit(self, key: str, body: str) -> tuple[IApiCall, IApiCall]:
        """PutObject the payload, then InvokeEndpointAsync on its S3 location."""
        upload = self.assertions.aws_api_call(
            "S3", "putObject", {"Bucket": self.input_bucket, "Key": key, "Body": body}
        )
        # The bucket encrypts with the data key (SSE-KMS): writing needs GenerateDataKey.
        # (Amazon S3 User Guide, "Using server-side encryption with AWS KMS keys":
        # permissions for uploading an object.)
        self._allow(upload, ["kms:GenerateDataKey"], [self.data_key_arn])
        invoke = self.assertions.aws_api_call(
            "SageMakerRuntime",
            "invokeEndpointAsync",
            {
                "EndpointName": self.endpoint_name,
                "InputLocation": f"s3://{self.input_bucket}/{key}",
                "ContentType": CONTENT_TYPE,
            },
        )
        return upload, invoke

    def wait_for_record(self, invocation: IApiCall, status: str) -> IApiCall:
        """GetItem the request's record until it is terminal with `status`."""
        expected_item: dict[str, Any] = {"status": {"S": status}}
        if status == "COMPLETED":
            # The record points at the output SageMaker announced for this request.
            expected_item["outputLocation"] = {"S": invocation.get_att_string("OutputLocation")}
        record = self.assertions.aws_api_call(
            "DynamoDB",
            "getItem",
            {
                "TableName": self.table_name,
                "Key": {"inferenceId": {"S": invocation.get_att_string("InferenceId")}},
                "ConsistentRead": True,
            },
        )
        record.expect(ExpectedResult.object_like({"Item": expected_item}))
        waited = record.wait_for_assertions(
            total_timeout=RESULT_TIMEOUT, interval=RESULT_INTERVAL, backoff_rate=1
        )
        # The waiter's own provider makes the call (integ-tests-alpha README: "When executing
        # waitForAssertion(), it is necessary to add an IAM policy using
        # waiterProvider.addToRolePolicy()"). It is granted dynamodb:GetItem from the call's
        # name; the table is encrypted with the data key, so reading needs kms:Decrypt too.
        self._allow(waited, ["kms:Decrypt"], [self.data_key_arn], waiter=True)
        return waited

    @staticmethod
    def _allow(
        call: IApiCall, actions: list[str], resources: list[str], *, waiter: bool = False
    ) -> None:
        assert isinstance(call, AwsApiCall)
        provider = call.waiter_provider if waiter else call.provider
        assert provider is not None, "wait_for_assertions() creates the waiter provider"
        provider.add_to_role_policy({"Effect": "Allow", "Action": actions, "Resource": resources})


class AsyncInferenceProof(Proof):
    """The whole flow: a served request, a failed one, and the alarm path."""

    def __init__(self, integ: IntegTest, stack: cdk.Stack) -> None:
        super().__init__(integ, stack)
        self.alarm_name = stack_output(stack, "DeadLetterQueueAlarmName")
        self.alarm_topic_arn = stack_output(stack, "AlarmTopicArn")

        good_upload, good_invocation = self.submit(GOOD_KEY, GOOD_BODY)
        completed = self.wait_for_record(good_invocation, "COMPLETED")
        output_exists = self.head_output(good_invocation)
        bad_upload, bad_invocation = self.submit(BAD_KEY, BAD_BODY)
        failed = self.wait_for_record(bad_invocation, "FAILED")
        forced_alarm = self.force_alarm()
        notified = self.wait_for_sns_action()
        caller = stack_output(stack, SIGNED_CALLER_OUTPUT)
        signed = self.submit_through_the_api(caller)
        received = self.wait_for_the_webhook(caller)

        self.chain(
            [
                good_upload,
                good_invocation,
                completed,
                output_exists,
                bad_upload,
                bad_invocation,
                failed,
                forced_alarm,
                notified,
                signed,
                received,
            ]
        )

    def head_output(self, invocation: IApiCall) -> IApiCall:
        """HeadObject the announced output: it exists, encrypted with the data key."""
        # OutputLocation is s3://<bucket>/output/<name>: split on "/" the key is parts 3 and 4
        # (the stack's output path has exactly one prefix segment, `output`).
        parts = Fn.split("/", invocation.get_att_string("OutputLocation"))
        key = Fn.join("/", [Fn.select(3, parts), Fn.select(4, parts)])
        head = self.assertions.aws_api_call(
            "S3", "headObject", {"Bucket": self.output_bucket, "Key": key}
        )
        head.expect(ExpectedResult.object_like({"ServerSideEncryption": "aws:kms"}))
        # HeadObject is authorized as s3:GetObject (Amazon S3 API Reference, HeadObject).
        self._allow(
            head,
            ["s3:GetObject"],
            [f"arn:{Aws.PARTITION}:s3:::{self.output_bucket}/*"],
        )
        self._allow(head, ["kms:Decrypt"], [self.data_key_arn])
        return head

    def force_alarm(self) -> IApiCall:
        """SetAlarmState to ALARM: CloudWatch runs the alarm's actions on that change."""
        # SetAlarmState "temporarily sets the state of an alarm for testing purposes. When the
        # updated state differs from the previous value, the action configured for the
        # appropriate state is invoked" (CloudWatch API Reference, SetAlarmState). The
        # dead-letter queue is empty during the run, so the alarm is OK or INSUFFICIENT_DATA
        # before, and the next evaluation sets it back.
        return self.assertions.aws_api_call(
            "CloudWatch",
            "setAlarmState",
            {
                "AlarmName": self.alarm_name,
                "StateValue": "ALARM",
                "StateReason": "Integration test: is the alarm topic reachable from CloudWatch?",
            },
        )

    def wait_for_sns_action(self) -> IApiCall:
        """DescribeAlarmHistory(Action) until CloudWatch reports the SNS publish succeeded."""
        history = self.assertions.aws_api_call(
            "CloudWatch",
            "describeAlarmHistory",
            {"AlarmName": self.alarm_name, "HistoryItemType": "Action", "MaxRecords": 10},
        )
        history.expect(
            ExpectedResult.object_like(
                {
                    "AlarmHistoryItems": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    # An ARN has no regex metacharacters but "." (none in
                                    # an SNS topic ARN's partition, region or name).
                                    "HistorySummary": Match.string_like_regexp(
                                        SNS_ACTION_SUCCEEDED + self.alarm_topic_arn
                                    )
                                }
                            )
                        ]
                    )
                }
            )
        )
        waited = history.wait_for_assertions(
            total_timeout=ALARM_TIMEOUT, interval=ALARM_INTERVAL, backoff_rate=1
        )
        # The providers grant each call's own action (cloudwatch:DescribeAlarmHistory) by name.
        return waited

    def submit_through_the_api(self, caller_name: str) -> IApiCall:
        """The signed caller until it reports the job COMPLETED (the endpoint is warm by
        now: the good payload above completed)."""
        return self._call_the_signed_caller_until(
            caller_name,
            {
                "submitStatus": 202,
                "getStatus": 200,
                "job": Match.object_like({"status": "COMPLETED", "endpoint": "default"}),
            },
            RESULT_TIMEOUT,
        )

    def wait_for_the_webhook(self, caller_name: str) -> IApiCall:
        """The signed caller again (the same job) until the job's webhook is DELIVERED and
        the receiver recorded the job's event as verified."""
        return self._call_the_signed_caller_until(
            caller_name,
            {
                "job": Match.object_like(
                    {"status": "COMPLETED", "webhook": Match.object_like({"status": "DELIVERED"})}
                ),
                "received": Match.object_like({"verified": True, "status": "COMPLETED"}),
            },
            WEBHOOK_TIMEOUT,
        )

    def _call_the_signed_caller_until(
        self, caller_name: str, answer: dict[str, Any], timeout: Duration
    ) -> IApiCall:
        """Invoke the signed caller with the good payload and the one Idempotency-Key (the
        same job every time) until its answer is like `answer`."""
        call = self.assertions.invoke_function(
            function_name=caller_name,
            payload=json.dumps(
                {"body": GOOD_BODY, "contentType": CONTENT_TYPE, "idempotencyKey": IDEMPOTENCY_KEY}
            ),
        )
        # Lambda's Invoke answers the function's JSON as a string (the integ-tests-alpha
        # README's invokeFunction example expects `Payload: '200'`): matched as JSON.
        call.expect(
            ExpectedResult.object_like(
                {"Payload": Match.serialized_json(Match.object_like(answer))}
            )
        )
        waited = call.wait_for_assertions(
            total_timeout=timeout, interval=RESULT_INTERVAL, backoff_rate=1
        )
        self._allow(
            waited,
            ["lambda:InvokeFunction"],
            [f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{Aws.ACCOUNT_ID}:function:{caller_name}"],
            waiter=True,
        )
        return waited


class PooledScaleFromZeroProof(Proof):
    """An idle pooled endpoint leaves zero for one request."""

    def __init__(self, integ: IntegTest, stack: cdk.Stack) -> None:
        super().__init__(integ, stack)
        idle = self.wait_until_idle()
        upload, invocation = self.submit(GOOD_KEY, GOOD_BODY)
        served = self.wait_for_record(invocation, "COMPLETED")
        self.chain([idle, upload, invocation, served])

    def wait_until_idle(self) -> IApiCall:
        """DescribeEndpoint until the endpoint is InService with no instance: it has scaled
        in to zero after its creation's instance, as an idle endpoint does."""
        described = self.assertions.aws_api_call(
            "SageMaker", "describeEndpoint", {"EndpointName": self.endpoint_name}
        )
        described.expect(
            ExpectedResult.object_like(
                {
                    "EndpointStatus": "InService",
                    "ProductionVariants": Match.array_with(
                        [Match.object_like({"CurrentInstanceCount": 0})]
                    ),
                }
            )
        )
        # The waiter's provider is granted sagemaker:DescribeEndpoint from the call's name.
        return described.wait_for_assertions(
            total_timeout=IDLE_TIMEOUT, interval=IDLE_INTERVAL, backoff_rate=1
        )


def stack_under_test(app: cdk.App, settings: Settings) -> AsyncInferenceStack:
    return AsyncInferenceStack(
        app,
        settings.stack_name,
        settings=settings,
        description="SageMaker Asynchronous Inference: integration test (deleted after the run)",
        analytics_reporting=False,
    )


def add_webhook_receiver(stack: AsyncInferenceStack) -> tuple[lambda_.FunctionUrl, dynamodb.Table]:
    """A webhook receiver on a public function URL, as a user's would be (the dispatcher
    refuses private addresses), that verifies with the stack's signing secret and records
    what it verified in a table of its own."""
    assert stack.webhooks is not None, "the integ stack deploys the webhooks"
    received = dynamodb.Table(
        stack,
        "ReceivedWebhooks",
        partition_key=dynamodb.Attribute(name="jobId", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    receiver = lambda_.Function(
        stack,
        "WebhookReceiver",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler="webhook_receiver.receiver.handler",
        code=folders_code(RECEIVER_SOURCE, RUNTIME_SOURCE, package_dir("standardwebhooks")),
        timeout=Duration.seconds(10),
        environment={
            "WEBHOOK_SECRET_ARN": stack.webhooks.secret.secret_arn,
            "RECEIVED_TABLE_NAME": received.table_name,
        },
        description="Integration test: receives and verifies the job API's webhooks",
    )
    stack.webhooks.grant_read_secret(receiver)
    received.grant(receiver, "dynamodb:PutItem")
    # Public, as webhook receivers are: the signature is its authentication.
    url = receiver.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    return url, received


def add_signed_caller(stack: AsyncInferenceStack) -> lambda_.Function:
    """A function allowed to call the job API's submit and status methods and to read what
    the webhook receiver recorded, and nothing else."""
    assert stack.job_api is not None, "the integ stack deploys the job API"
    api = stack.job_api.api
    receiver_url, received = add_webhook_receiver(stack)
    caller = lambda_.Function(
        stack,
        "SignedApiCaller",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline(SIGNED_CALLER_CODE.read_text()),
        timeout=Duration.seconds(60),
        environment={
            "API_URL": api.url,
            "WEBHOOK_URL": receiver_url.url,
            "RECEIVED_TABLE_NAME": received.table_name,
        },
        description="Integration test: calls the job API with SigV4",
    )
    caller.add_to_role_policy(
        iam.PolicyStatement(
            actions=["execute-api:Invoke"],
            resources=[
                api.arn_for_execute_api("POST", "/v1/jobs", api.deployment_stage.stage_name),
                api.arn_for_execute_api("GET", "/v1/jobs/*", api.deployment_stage.stage_name),
            ],
        )
    )
    received.grant(caller, "dynamodb:GetItem")
    CfnOutput(stack, SIGNED_CALLER_OUTPUT, value=caller.function_name)
    return caller


def build_integ_app(outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=cdk_json_context(), outdir=outdir, analytics_reporting=False)
    stack = stack_under_test(app, SETTINGS)
    add_signed_caller(stack)
    pooled = stack_under_test(app, POOLED_SETTINGS)
    integ = IntegTest(
        app,
        TEST_NAME,
        test_cases=[stack, pooled],
        # Deploy the current app only. The update workflow (deploy the committed snapshot,
        # then the change) needs region-agnostic snapshots and is off by default anyway.
        stack_update_workflow=False,
        # Asset contents (the results writer's code) change without changing the system.
        diff_assets=False,
    )
    proof = AsyncInferenceProof(integ, stack)
    pooled_proof = PooledScaleFromZeroProof(integ, pooled)
    # One chain: the pooled case starts when the main one is done, by when its endpoint
    # (deployed with the main one) has usually scaled in already.
    proof.steps[-1].next(pooled_proof.steps[0])
    return app


if __name__ == "__main__":
    build_integ_app().synth()
