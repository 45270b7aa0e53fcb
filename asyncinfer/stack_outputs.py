"""Find a deployed stack's resources by its CloudFormation outputs.

Two sources, same result: ``describe_stacks`` on the stack name, or the JSON file that
``cdk deploy --outputs-file`` writes (``{"StackName": {"OutputKey": "value"}}``), which
works without CloudFormation read permissions. The output keys are the contract in
docs/design.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from asyncinfer.errors import ConfigurationError, MissingOutputsError, StackNotFoundError
from asyncinfer_runtime.contract import DEFAULT_ENDPOINT, ENDPOINTS_OUTPUT


def _output(key: str, *, required: bool = False) -> Any:
    """A StackOutputs field read from the stack output ``key``.

    Without the required ones the client cannot submit at all; the rest only widen what
    it can do (table waits, failure listing, redrive).
    """
    if required:
        return field(metadata={"output": key, "required": True})
    return field(default=None, metadata={"output": key})


@dataclass(frozen=True, kw_only=True)
class StackOutputs:
    """The outputs the client uses; ``None`` when the stack does not define one."""

    stack_name: str
    endpoint_name: str = _output("EndpointName", required=True)
    input_bucket: str = _output("InputBucketName", required=True)
    output_bucket: str | None = _output("OutputBucketName")
    output_path: str | None = _output("OutputPath")
    failure_path: str | None = _output("FailurePath")
    results_table: str | None = _output("ResultsTableName")
    results_queue_arn: str | None = _output("ResultsQueueArn")
    dead_letter_queue_arn: str | None = _output("DeadLetterQueueArn")
    endpoint_map: str | None = _output(ENDPOINTS_OUTPUT)
    raw: dict[str, str] | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        """Each endpoint's name (what `--endpoint` takes) -> its SageMaker endpoint name.

        A stack without the `Endpoints` output has one endpoint, named `default`.
        """
        if not self.endpoint_map:
            return {DEFAULT_ENDPOINT: self.endpoint_name}
        try:
            mapping = json.loads(self.endpoint_map)
        except json.JSONDecodeError:
            mapping = None
        if not isinstance(mapping, dict) or not mapping:
            raise MissingOutputsError(
                f"stack {self.stack_name!r} has an {ENDPOINTS_OUTPUT} output that is not a JSON "
                f"object of endpoint names; received {self.endpoint_map!r}"
            )
        return {str(name): str(endpoint) for name, endpoint in mapping.items()}

    def endpoint_named(self, name: str | None) -> str:
        """The SageMaker endpoint name of the endpoint `name`; with no name, the stack's
        only endpoint."""
        endpoints = self.endpoints
        if name is None:
            if len(endpoints) == 1:
                return next(iter(endpoints.values()))
            raise ConfigurationError(
                f"stack {self.stack_name!r} has {len(endpoints)} endpoints "
                f"({', '.join(endpoints)}); pass --endpoint NAME to choose one"
            )
        if name not in endpoints:
            raise ConfigurationError(
                f"stack {self.stack_name!r} has no endpoint {name!r}; expected one of "
                f"{', '.join(endpoints)}"
            )
        return endpoints[name]

    @classmethod
    def from_mapping(cls, stack_name: str, outputs: dict[str, str]) -> StackOutputs:
        read = [f for f in fields(cls) if "output" in f.metadata]
        missing = [
            f.metadata["output"]
            for f in read
            if f.metadata.get("required") and not outputs.get(f.metadata["output"])
        ]
        if missing:
            raise MissingOutputsError(
                f"stack {stack_name!r} has no output {', '.join(missing)}; "
                f"expected the outputs of this project's CDK app "
                f"(found: {', '.join(sorted(outputs)) or 'none'})"
            )
        values: dict[str, Any] = {f.name: outputs.get(f.metadata["output"]) for f in read}
        return cls(stack_name=stack_name, raw=dict(outputs), **values)


def outputs_from_cloudformation(cloudformation: Any, stack_name: str) -> StackOutputs:
    """Read the outputs of ``stack_name`` with ``DescribeStacks``."""
    try:
        response = cloudformation.describe_stacks(StackName=stack_name)
    except ClientError as error:
        # CloudFormation reports a missing stack as a ValidationError "does not exist".
        message = error.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise StackNotFoundError(
                f"stack {stack_name!r} was not found in CloudFormation; "
                f"deploy it with `cdk deploy` or pass --stack NAME / --outputs-file FILE"
            ) from None
        raise
    stacks = response.get("Stacks", [])
    if not stacks:
        raise StackNotFoundError(f"stack {stack_name!r} was not found in CloudFormation")
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    return StackOutputs.from_mapping(stack_name, outputs)


def outputs_from_file(path: str | Path, stack_name: str | None = None) -> StackOutputs:
    """Read a ``cdk deploy --outputs-file`` file.

    With one stack in the file the name is optional; with several it picks ``stack_name``.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(
            f"outputs file {str(path)!r} cannot be read: {error.strerror}"
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"outputs file {str(path)!r} is not JSON ({error.msg} at line {error.lineno}); "
            f"expected the file written by `cdk deploy --outputs-file`"
        ) from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise ConfigurationError(
            f"outputs file {str(path)!r} is not a {{StackName: {{OutputKey: value}}}} object"
        )
    if stack_name is None:
        if len(document) != 1:
            raise ConfigurationError(
                f"outputs file {str(path)!r} holds {len(document)} stacks "
                f"({', '.join(sorted(document))}); pass --stack NAME to choose one"
            )
        stack_name = next(iter(document))
    if stack_name not in document:
        raise StackNotFoundError(
            f"stack {stack_name!r} is not in outputs file {str(path)!r} "
            f"(it holds: {', '.join(sorted(document)) or 'no stacks'})"
        )
    outputs = {str(k): str(v) for k, v in document[stack_name].items()}
    return StackOutputs.from_mapping(stack_name, outputs)
