"""Create the template's buckets, queues, topics, subscriptions and tables in a moto server.

Everything comes from the synthesized CloudFormation template (``cdk.out/<stack>.template.json``):
resource properties are resolved (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and
pseudo parameters) against the resources created here, so what runs locally is what
``cdk deploy`` would create. Physical names follow CloudFormation's pattern
(``<stack>-<logicalId>-<suffix>``) unless the template names the resource.

Ignored locally (moto does not enforce them, see docs/local-mode.md): KMS encryption
properties, bucket logging/lifecycle/ownership/public-access settings, policies, PITR and
deletion protection. Resource types without a local stand-in (IAM, KMS, Lambda, CloudWatch,
autoscaling) are skipped; a Ref to one resolves to a placeholder string.
"""

from __future__ import annotations

import json
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account


class TemplateError(ValueError):
    """The template holds something local mode cannot resolve; the message names it."""


@dataclass
class Provisioned:
    """What was created: physical ids and attributes per logical id, plus the stack outputs."""

    stack_name: str
    region: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    endpoint_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Model name -> its container's environment (HF_TASK, HF_MODEL_ID, MMS_* ...).
    model_environments: dict[str, dict[str, str]] = field(default_factory=dict)


def physical_name(stack: str, logical_id: str, *, lower: bool = False, limit: int = 80) -> str:
    suffix = secrets.token_hex(6).upper()
    name = f"{stack}-{logical_id}"[: limit - len(suffix) - 1] + f"-{suffix}"
    return name.lower() if lower else name


class Resolver:
    """Resolves CloudFormation intrinsic functions against the provisioned state."""

    def __init__(self, state: Provisioned, resources: dict[str, Any]) -> None:
        self.state = state
        self.resources = resources

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.state.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": self.state.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.state.region}:{ACCOUNT_ID}:"
            f"stack/{self.state.stack_name}/local",
        }.get(name)

    def ref(self, name: str) -> str:
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.state.refs:
            return self.state.refs[name]
        if name in self.resources:
            # A resource with no local stand-in (role, key, function): its id only matters
            # for properties local mode ignores.
            return f"local-{name}"
        raise TemplateError(f"Ref to {name!r}, which is neither a resource nor a parameter")

    def get_att(self, logical_id: str, attribute: str) -> str:
        found = self.state.attributes.get(logical_id, {}).get(attribute)
        if found is not None:
            return found
        if logical_id in self.resources:
            return f"local-{logical_id}-{attribute}"
        raise TemplateError(f"Fn::GetAtt on {logical_id!r}, which is not a template resource")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self(item) for key, item in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in self(items))
        if key == "Fn::Select":
            index, items = arg
            return self(items)[int(self(index))]
        if key == "Fn::Split":
            separator, text = arg
            return str(self(text)).split(separator)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
        if key.startswith("Fn::") or key == "Condition":
            raise TemplateError(f"intrinsic {key} is not supported by local mode")
        return {key: self(arg)}

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)


def provision(
    template: dict[str, Any], stack_name: str, aws: Callable[[str], Any], region: str
) -> Provisioned:
    """Create the template's S3, SQS, SNS and DynamoDB resources with ``aws(service)`` clients."""
    resources: dict[str, Any] = template.get("Resources") or {}
    state = Provisioned(stack_name=stack_name, region=region)
    resolve = Resolver(state, resources)

    def of_type(kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, resource.get("Properties") or {})
            for logical_id, resource in resources.items()
            if resource.get("Type") == kind
        ]

    s3 = aws("s3")
    for logical_id, props in of_type("AWS::S3::Bucket"):
        name = props.get("BucketName") or physical_name(
            stack_name, logical_id, lower=True, limit=63
        )
        name = resolve(name)
        s3.create_bucket(Bucket=name)
        state.refs[logical_id] = name
        state.attributes[logical_id] = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        }

    sqs = aws("sqs")
    queues = of_type("AWS::SQS::Queue")
    # A queue's RedrivePolicy names its dead-letter queue: create queues without one first.
    queues.sort(key=lambda item: "RedrivePolicy" in item[1])
    for logical_id, props in queues:
        fifo = bool(props.get("FifoQueue"))
        name = resolve(props.get("QueueName")) or physical_name(
            stack_name, logical_id, limit=75 if fifo else 80
        )
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, str] = {}
        for prop in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if prop in props:
                value = resolve(props[prop])
                attributes[prop] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(resolve(props["RedrivePolicy"]))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"
        state.refs[logical_id] = url
        state.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    sns = aws("sns")
    for logical_id, props in of_type("AWS::SNS::Topic"):
        name = resolve(props.get("TopicName")) or physical_name(stack_name, logical_id, limit=256)
        arn = sns.create_topic(Name=name)["TopicArn"]
        state.refs[logical_id] = arn
        state.attributes[logical_id] = {"TopicArn": arn, "TopicName": name}

    for logical_id, props in of_type("AWS::SNS::Subscription"):
        attributes = {}
        if props.get("RawMessageDelivery") is not None:
            attributes["RawMessageDelivery"] = str(
                bool(resolve(props["RawMessageDelivery"]))
            ).lower()
        for prop in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
            if prop in props:
                attributes[prop] = json.dumps(resolve(props[prop]))
        if "FilterPolicyScope" in props:
            attributes["FilterPolicyScope"] = resolve(props["FilterPolicyScope"])
        response = sns.subscribe(
            TopicArn=resolve(props["TopicArn"]),
            Protocol=resolve(props["Protocol"]),
            Endpoint=resolve(props["Endpoint"]),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        state.refs[logical_id] = response["SubscriptionArn"]

    dynamodb = aws("dynamodb")
    for logical_id, props in of_type("AWS::DynamoDB::Table"):
        name = resolve(props.get("TableName")) or physical_name(stack_name, logical_id, limit=255)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": resolve(props["KeySchema"]),
            "AttributeDefinitions": resolve(props["AttributeDefinitions"]),
            "BillingMode": resolve(props.get("BillingMode", "PROVISIONED")),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = resolve(props["ProvisionedThroughput"])
        for prop in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
            if prop in props:
                value = resolve(props[prop])
                if prop == "StreamSpecification":
                    value = {"StreamEnabled": True, **value}
                request[prop] = value
        dynamodb.create_table(**request)
        ttl = resolve(props.get("TimeToLiveSpecification"))
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        state.refs[logical_id] = name
        state.attributes[logical_id] = {
            "Arn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}",
            "StreamArn": f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}/stream/local",
        }

    # SageMaker has no moto stand-in used here: names only, for the endpoint service.
    for kind, attribute in (
        ("AWS::SageMaker::Model", "ModelName"),
        ("AWS::SageMaker::EndpointConfig", "EndpointConfigName"),
        ("AWS::SageMaker::Endpoint", "EndpointName"),
    ):
        name_prop = attribute
        for logical_id, props in of_type(kind):
            name = resolve(props.get(name_prop)) or physical_name(stack_name, logical_id, limit=63)
            state.refs[logical_id] = name
            state.attributes[logical_id] = {attribute: name}
    for logical_id, props in of_type("AWS::SageMaker::Model"):
        container = props.get("PrimaryContainer") or (props.get("Containers") or [{}])[0]
        environment = resolve(container.get("Environment") or {})
        state.model_environments[state.refs[logical_id]] = {
            str(key): str(value) for key, value in environment.items()
        }
    for logical_id, props in of_type("AWS::SageMaker::EndpointConfig"):
        state.endpoint_configs[logical_id] = resolve(props)

    for key, output in (template.get("Outputs") or {}).items():
        state.outputs[key] = str(resolve(output["Value"]))
    return state


def endpoints(template: dict[str, Any], state: Provisioned) -> dict[str, dict[str, Any]]:
    """Endpoint name -> its resolved endpoint config properties."""
    return {name: config for name, (_, config) in endpoint_configs(template, state).items()}


def endpoint_configs(
    template: dict[str, Any], state: Provisioned
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Endpoint name -> (its endpoint config's name, the config's resolved properties)."""
    resources = template.get("Resources") or {}
    resolve = Resolver(state, resources)
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SageMaker::Endpoint":
            continue
        config_name = resolve(resource["Properties"]["EndpointConfigName"])
        for config_id, config in state.endpoint_configs.items():
            if state.refs[config_id] == config_name:
                found[state.refs[logical_id]] = (config_name, config)
    return found


def endpoint_models(template: dict[str, Any], state: Provisioned) -> dict[str, dict[str, str]]:
    """Endpoint name -> the container environment of the model its first variant serves."""
    found: dict[str, dict[str, str]] = {}
    for name, config in endpoints(template, state).items():
        variants = config.get("ProductionVariants") or [{}]
        found[name] = state.model_environments.get(str(variants[0].get("ModelName")), {})
    return found


def publish_stack(template: dict[str, Any], state: Provisioned, cloudformation: Any) -> None:
    """A CloudFormation stack named as the template's, holding its resolved outputs.

    So ``DescribeStacks`` (boto3, the AWS CLI, ``asyncinfer`` without ``--outputs-file``)
    answers as after ``cdk deploy``. The stack's own template is a placeholder: its
    resources were created above, each in its own service's stand-in.
    """
    outputs: dict[str, Any] = {}
    for key, output in (template.get("Outputs") or {}).items():
        outputs[key] = {"Value": state.outputs[key]}
        if output.get("Description"):
            outputs[key]["Description"] = output["Description"]
    body = {
        "Description": template.get("Description", "local mode"),
        # CloudFormation requires one resource; moto creates nothing for this type.
        "Resources": {"LocalMode": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    with warnings.catch_warnings():
        # moto warns that it creates nothing for the placeholder resource: as intended.
        warnings.filterwarnings("ignore", message=".*WaitConditionHandle.*")
        cloudformation.create_stack(StackName=state.stack_name, TemplateBody=json.dumps(body))


def load_template(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TemplateError(f"template {path} cannot be read as JSON: {error}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"template {path} is not a JSON object")
    return document
