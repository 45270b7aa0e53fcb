"""Finding the stack: CloudFormation outputs, an outputs file, and the errors of both."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from asyncinfer import AsyncInferenceClient, MissingOutputsError, StackNotFoundError
from asyncinfer.cli import main
from asyncinfer.errors import ConfigurationError
from asyncinfer.stack_outputs import outputs_from_file
from tests.e2e.client.conftest import STACK, CliResult, assert_one_line_error


def create_stack(deployment, name: str, outputs: dict[str, str]) -> None:
    """A CloudFormation stack in local mode's moto holding just these outputs (local mode
    provisions the template's resources itself and creates no stack)."""
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    deployment.aws("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_from_stack_reads_the_outputs_through_cloudformation(deployment, stack) -> None:
    create_stack(deployment, "Described", stack.outputs)
    client = AsyncInferenceClient.from_stack("Described", endpoint_url=deployment.url)
    assert client.endpoint_name == stack.outputs["EndpointName"]
    assert client.input_bucket == stack.outputs["InputBucketName"]
    assert client.table is not None
    assert client.table.table_name == stack.outputs["ResultsTableName"]


def test_from_stack_reads_an_outputs_file(tmp_path: Path, deployment, stack) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({STACK: stack.outputs, "Other": {"EndpointName": "x"}}))
    client = AsyncInferenceClient.from_stack(STACK, outputs_file=path, endpoint_url=deployment.url)
    assert client.endpoint_name == stack.outputs["EndpointName"]


def test_outputs_file_with_one_stack_needs_no_name(tmp_path: Path, stack) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({STACK: stack.outputs}))
    assert outputs_from_file(path).stack_name == STACK


def test_outputs_file_with_several_stacks_asks_for_a_name(tmp_path: Path, stack) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"A": stack.outputs, "B": stack.outputs}))
    with pytest.raises(ConfigurationError, match="holds 2 stacks"):
        outputs_from_file(path)


def test_outputs_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="is not JSON"):
        outputs_from_file(path)


def test_stack_not_found(deployment) -> None:
    with pytest.raises(StackNotFoundError, match="'NoSuchStack' was not found"):
        AsyncInferenceClient.from_stack("NoSuchStack", endpoint_url=deployment.url)


def test_stack_not_found_in_outputs_file(tmp_path: Path, stack) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({STACK: stack.outputs}))
    with pytest.raises(StackNotFoundError, match="'Elsewhere' is not in outputs file"):
        outputs_from_file(path, "Elsewhere")


def test_cli_stack_not_found_is_one_line(deployment) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--endpoint-url", deployment.url, "--stack", "NoSuchStack", "status", "x"]
    code = main(argv, stdout=out, stderr=err)
    assert_one_line_error(
        CliResult(code, out.getvalue(), err.getvalue()), "'NoSuchStack'", "not found"
    )


def test_cli_missing_outputs_file_is_one_line(tmp_path: Path, cli) -> None:
    result = cli("--outputs-file", str(tmp_path / "absent.json"), "status", "x")
    assert_one_line_error(result, "absent.json", "cannot be read")


def test_missing_outputs(deployment) -> None:
    create_stack(deployment, "HalfStack", {"EndpointName": "endpoint"})
    with pytest.raises(MissingOutputsError, match="has no output InputBucketName") as raised:
        AsyncInferenceClient.from_stack("HalfStack", endpoint_url=deployment.url)
    assert "found: EndpointName" in str(raised.value)
