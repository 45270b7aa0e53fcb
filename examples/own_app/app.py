#!/usr/bin/env python3
"""A platform team's own CDK app using the asyncinfer construct library.

Their key and their alarm topic, two models on one results pipeline, and an audit queue
that receives every success and error notification too. Install the library
(`pip install "asyncinfer[cdk]"`, or the wheel), then `cdk synth`.
"""

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from asyncinfer_constructs import AsyncInferenceSystem, InferenceEndpointProps

app = cdk.App()
stack = cdk.Stack(app, "PlatformInference")

key = kms.Key(stack, "PlatformKey", enable_key_rotation=True)
alarms = sns.Topic(stack, "PlatformAlarms", master_key=key, enforce_ssl=True)

system = AsyncInferenceSystem(stack, "Inference", key=key, alarm_topic=alarms)
sentiment = system.add_endpoint(
    "sentiment",
    InferenceEndpointProps(hf_model_id="cardiffnlp/twitter-roberta-base-sentiment", max_capacity=4),
)
system.add_endpoint(
    "tabular",
    InferenceEndpointProps(
        model_source="container",
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/tabular:1",
        instance_type="ml.c5.xlarge",
    ),
)
audit = sqs.Queue(
    stack, "Audit", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, enforce_ssl=True
)
system.add_notification_consumer(queue=audit)

# An application role that submits to the sentiment model and reads every result.
caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
sentiment.grant_submit(caller)
system.grant_read_results(caller)
system.add_client_outputs()

app.synth()
