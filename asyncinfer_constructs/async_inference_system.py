"""The whole system: payload storage, one results pipeline, and one or more endpoints.

    payload -> input bucket -> endpoint queue -> model -> output/failure bucket
            -> success/error topic -> results queue -> writer -> results table

`AsyncInferenceSystem` composes that flow once and lets each `add_endpoint` plug a model
into it; what the endpoints share (keys, buckets, pipeline, alarm topic, drain, the
dashboard) exists once.
"""

from __future__ import annotations

from typing import Unpack, cast

import jsii
from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from asyncinfer_constructs.encryption import (
    EncryptionKeys,
    allow_cloudwatch_alarms,
    warn_unless_added,
)
from asyncinfer_constructs.endpoint_drain import EndpointDrainProvider
from asyncinfer_constructs.endpoint_props import ENDPOINT_NAME, InferenceEndpointProps
from asyncinfer_constructs.feature_flags import pin_feature_flags
from asyncinfer_constructs.inference_endpoint import InferenceEndpoint
from asyncinfer_constructs.monitoring import alarm_topic
from asyncinfer_constructs.props import ConfigError, default_values, require
from asyncinfer_constructs.results_pipeline import NotificationConsumer, ResultsPipeline
from asyncinfer_constructs.storage import (
    FAILURE_PREFIX,
    OUTPUT_PREFIX,
    PayloadBuckets,
    failure_path,
    output_path,
)
from asyncinfer_constructs.system_props import AsyncInferenceSystemProps
from asyncinfer_runtime.contract import DEFAULT_ENDPOINT, ENDPOINTS_OUTPUT

_BUCKET_SETTINGS = ("data_retention_days", "access_log_retention_days")


class AsyncInferenceSystem(Construct):
    """Keys, payload buckets, the results pipeline, the alarm topic, the drain and the
    dashboard, shared by the endpoints `add_endpoint` adds.

    Bring your own key, buckets or alarm topic by interface, or let the system create
    them, never both: an existing bucket together with the settings of the buckets the
    system would create is refused. Attributes: `key` (data), `topic_key`, `input_bucket`,
    `output_bucket`, `alarm_topic`, `pipeline`, `drain_provider`, `dashboard`, `endpoints`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: AsyncInferenceSystemProps | None = None,
        key: kms.IKey | None = None,
        topic_key: kms.IKey | None = None,
        input_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        """`key` encrypts payloads, outputs, queues, the table and logs; `topic_key` the
        notification topics (and the alarm topic the system creates). Each is created when
        not given. `props` defaults to AsyncInferenceSystemProps()."""
        super().__init__(scope, construct_id)
        pin_feature_flags(self)
        self.props = props = props or AsyncInferenceSystemProps()
        _refuse_both(props, input_bucket, output_bucket, alarm_topic)
        require(
            topic_key is None or topic_key is not key or not isinstance(key, kms.Key),
            "Setting 'topic_key' must be another key than 'key' when that key is created in "
            "this app: the results queue's key policy names the topics that the topic key "
            "encrypts, so one key for both would depend on itself; pass two keys, or only "
            "'key'.",
        )
        removal_policy = RemovalPolicy.RETAIN if props.retain_data else RemovalPolicy.DESTROY
        keys = EncryptionKeys(
            self, "Keys", removal_policy=removal_policy, data=key, notifications=topic_key
        )
        self.key = keys.data
        self.topic_key = keys.notifications

        # 1. Payloads arrive in the input bucket; outputs and failures land in the output
        # bucket.
        if input_bucket is not None and output_bucket is not None:
            self.input_bucket, self.output_bucket = input_bucket, output_bucket
        else:
            payloads = PayloadBuckets(
                self,
                "Payloads",
                key=self.key,
                data_retention_days=props.data_retention_days,
                access_log_retention_days=props.access_log_retention_days,
                removal_policy=removal_policy,
                input_bucket=input_bucket,
                output_bucket=output_bucket,
            )
            self.input_bucket, self.output_bucket = payloads.input, payloads.output

        monitoring = Construct(self, "Monitoring")
        if alarm_topic is None:
            warn_unless_added(
                self,
                allow_cloudwatch_alarms(self.topic_key),
                self.topic_key,
                "this account's CloudWatch alarms (cloudwatch.amazonaws.com) to publish to the "
                "alarm topic it encrypts",
            )
            alarm_topic = _alarm_topic(monitoring, key=self.topic_key, email=props.alarm_email)
        self.alarm_topic = alarm_topic

        # 2. SageMaker announces each outcome on a topic of the pipeline, which turns it
        # into one record of the results table.
        self.pipeline = ResultsPipeline(
            self,
            "Default",
            key=self.key,
            topic_key=self.topic_key,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            props=props,
        )
        # 3. One drain serves every endpoint generation of every endpoint in the stack.
        self.drain_provider = EndpointDrainProvider.of(
            self,
            key=self.key,
            log_retention_days=props.log_retention_days,
            removal_policy=removal_policy,
            alarm_topic=alarm_topic,
        )
        self._removal_policy = removal_policy
        self.endpoints: dict[str, InferenceEndpoint] = {}
        # One dashboard: each endpoint's rows (added with it), then the pipeline's.
        self._endpoint_rows = cloudwatch.Column()
        self.dashboard = cloudwatch.Dashboard(
            monitoring,
            "Dashboard",
            default_interval=Duration.hours(3),
            # jsii's Python stubs miss IWidget's warnings members on Column and Row.
            widgets=[
                [cast(cloudwatch.IWidget, self._endpoint_rows)],
                self.pipeline.dashboard_row(),
            ],
        )
        self._outputs_for: list[str] | None = None
        self.node.add_validation(_OutputsCoverEndpoints(self))

    def add_endpoint(
        self, name: str, props: InferenceEndpointProps | None = None
    ) -> InferenceEndpoint:
        """An endpoint named `name` (lower-case letters, digits and hyphens) on this
        system's buckets, pipeline and alarm topic. `props` defaults to
        InferenceEndpointProps()."""
        require(
            bool(ENDPOINT_NAME.match(name)),
            f"Endpoint name {name!r} must be 1-31 lower-case letters, digits or hyphens, "
            f"starting with a letter.",
        )
        require(
            name not in self.endpoints,
            f"Endpoint name {name!r} is already used in this system; expected a new name "
            f"(have: {', '.join(self.endpoints)}).",
        )
        props = props or InferenceEndpointProps()
        if props.endpoint_name is not None:
            taken = {
                other: endpoint.props.endpoint_name
                for other, endpoint in self.endpoints.items()
                if endpoint.props.endpoint_name == props.endpoint_name
            }
            require(
                not taken,
                f"Setting 'endpoint_name' {props.endpoint_name!r} of endpoint {name!r} is "
                f"already the endpoint_name of {', '.join(repr(o) for o in taken)}; expected "
                f"a name of its own.",
            )
        endpoint = InferenceEndpoint(
            self,
            name,
            pipeline=self.pipeline,
            input_bucket=self.input_bucket,
            output_bucket=self.output_bucket,
            key=self.key,
            alarm_topic=self.alarm_topic,
            drain_provider=self.drain_provider,
            props=props,
            log_retention_days=self.props.log_retention_days,
            removal_policy=self._removal_policy,
        )
        self.endpoints[name] = endpoint
        # A named endpoint's graphs say whose they are; the app's single `default`
        # endpoint keeps the titles its dashboard always had.
        title_prefix = "" if name == DEFAULT_ENDPOINT else f"{name}: "
        for row in endpoint.dashboard_rows(title_prefix):
            self._endpoint_rows.add_widget(cast(cloudwatch.IWidget, cloudwatch.Row(*row)))
        return endpoint

    # --- Wiring for users' own resources -------------------------------------------------

    def add_notification_consumer(self, **consumer: Unpack[NotificationConsumer]) -> None:
        """Deliver every endpoint's success and error notifications to a queue or a function
        as well (ResultsPipeline.add_notification_consumer)."""
        self.pipeline.add_notification_consumer(**consumer)

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read records (table and indexes), the outputs and failure documents they point
        to, and decrypt both."""
        read_objects = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[
                self.output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*"),
                self.output_bucket.arn_for_objects(f"{FAILURE_PREFIX}*"),
            ],
        )
        return self.pipeline.grant_read_records(grantee).combine(read_objects)

    def endpoint(self, name: str) -> InferenceEndpoint:
        """The endpoint added as `name`."""
        if name not in self.endpoints:
            raise ConfigError(
                f"No endpoint named {name!r} in this system; expected one of "
                f"{', '.join(self.endpoints) or 'none (add_endpoint first)'}."
            )
        return self.endpoints[name]

    # --- What the client reads -------------------------------------------------------------

    def add_client_outputs(self, *, endpoint_map: bool = True) -> None:
        """The stack outputs `asyncinfer` finds the system by (docs/design.md): one set per
        stack, with the output keys as logical ids. `EndpointName` is the first
        endpoint's; with `endpoint_map`, `Endpoints` maps each endpoint's name to its
        SageMaker endpoint name (a stack without it has one endpoint, named `default`)."""
        require(
            bool(self.endpoints),
            "add_client_outputs needs at least one endpoint; call add_endpoint first.",
        )
        stack = Stack.of(self)
        first = next(iter(self.endpoints.values()))
        outputs = {
            "EndpointName": (first.endpoint_name, "SageMaker endpoint name"),
            "InputBucketName": (self.input_bucket.bucket_name, "Upload request payloads here"),
            "OutputBucketName": (self.output_bucket.bucket_name, "Holds output/ and failure/"),
            "OutputPath": (output_path(self.output_bucket), "Where successful responses land"),
            "FailurePath": (failure_path(self.output_bucket), "Where error documents land"),
            "SuccessTopicArn": (self.pipeline.success_topic.topic_arn, "Success notifications"),
            "ErrorTopicArn": (self.pipeline.error_topic.topic_arn, "Error notifications"),
            "ResultsTableName": (self.pipeline.table.table_name, "One record per inference"),
            "ResultsQueueUrl": (self.pipeline.queue.queue_url, "Queue feeding the results writer"),
            "ResultsQueueArn": (self.pipeline.queue.queue_arn, "Queue feeding the results writer"),
            "DeadLetterQueueUrl": (
                self.pipeline.dead_letter_queue.queue_url,
                "Unwritable notifications",
            ),
            "DeadLetterQueueArn": (
                self.pipeline.dead_letter_queue.queue_arn,
                "Unwritable notifications",
            ),
            "DataKeyArn": (self.key.key_arn, "KMS key encrypting payloads and results"),
            "AlarmTopicArn": (self.alarm_topic.topic_arn, "Every alarm notifies this topic"),
            "DeadLetterQueueAlarmName": (
                self.pipeline.dead_letter_queue_alarm.alarm_name,
                "Alarm on notifications waiting in the dead-letter queue",
            ),
        }
        if endpoint_map:
            outputs[ENDPOINTS_OUTPUT] = (
                Fn.to_json_string(
                    {name: endpoint.endpoint_name for name, endpoint in self.endpoints.items()}
                ),
                "Each endpoint's name (asyncinfer --endpoint) and its SageMaker endpoint name",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(stack, output_id, value=value, description=description)
        self._outputs_for = list(self.endpoints)


def _alarm_topic(scope: Construct, *, key: kms.IKey, email: str | None) -> sns.Topic:
    return alarm_topic(scope, "AlarmTopic", key=key, email=email)


def _refuse_both(
    props: AsyncInferenceSystemProps,
    input_bucket: s3.IBucket | None,
    output_bucket: s3.IBucket | None,
    topic: sns.ITopic | None,
) -> None:
    """An existing resource and the settings of the one the system would create, never both."""
    defaults = default_values(AsyncInferenceSystemProps)
    if input_bucket is not None and output_bucket is not None:
        for name in _BUCKET_SETTINGS:
            value = getattr(props, name)
            require(
                value == defaults[name],
                f"Setting '{name}' applies only to buckets the system creates; received "
                f"{value!r} together with your own input_bucket and output_bucket (set their "
                f"lifecycle on them instead).",
            )
    if topic is not None:
        require(
            props.alarm_email is None,
            f"Setting 'alarm_email' applies only to the alarm topic the system creates; "
            f"received {props.alarm_email!r} together with your own alarm_topic (subscribe "
            f"the address to that topic instead).",
        )


@jsii.implements(IValidation)
class _OutputsCoverEndpoints:
    """Fails synth when endpoints are added after add_client_outputs ran."""

    def __init__(self, system: AsyncInferenceSystem) -> None:
        self._system = system

    def validate(self) -> list[str]:
        written = self._system._outputs_for
        if written is None or written == list(self._system.endpoints):
            return []
        return [
            f"add_client_outputs ran before endpoint(s) "
            f"{', '.join(n for n in self._system.endpoints if n not in written)} were added; "
            f"call it after the last add_endpoint."
        ]
