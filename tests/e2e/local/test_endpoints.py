"""Each endpoint of the template served by its own model: a template with a second
endpoint whose model is not from the Hugging Face Hub, and a small MMS_MAX_REQUEST_SIZE."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_mode import (
    TEMPLATE_DIR,
    Local,
    csv_rows,
    read_s3,
    start_local,
    wait_record,
)

pytestmark = pytest.mark.slow
STACK_TEMPLATE = "SageMakerAsyncInference.template.json"
LIMIT = 2000  # bytes: the first endpoint's model server refuses larger requests


def of_type(resources: dict[str, Any], kind: str) -> str:
    (found,) = [key for key, value in resources.items() if value["Type"] == kind]
    return found


def two_endpoints(template: dict[str, Any]) -> dict[str, Any]:
    """The stack's template plus an endpoint serving a model without HF_TASK."""
    resources = template["Resources"]
    model = of_type(resources, "AWS::SageMaker::Model")
    config = of_type(resources, "AWS::SageMaker::EndpointConfig")
    endpoint = of_type(resources, "AWS::SageMaker::Endpoint")
    environment = resources[model]["Properties"]["PrimaryContainer"]["Environment"]
    environment["MMS_MAX_REQUEST_SIZE"] = str(LIMIT)
    tabular = copy.deepcopy(resources[model])
    tabular["Properties"]["PrimaryContainer"]["Environment"] = {}
    tabular_config = copy.deepcopy(resources[config])
    variant = tabular_config["Properties"]["ProductionVariants"][0]
    variant["ModelName"] = {"Fn::GetAtt": ["TabularModel", "ModelName"]}
    tabular_endpoint = copy.deepcopy(resources[endpoint])
    tabular_endpoint["Properties"]["EndpointConfigName"] = {
        "Fn::GetAtt": ["TabularConfig", "EndpointConfigName"]
    }
    resources.update(
        TabularModel=tabular, TabularConfig=tabular_config, TabularEndpoint=tabular_endpoint
    )
    return template


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    root = tmp_path_factory.mktemp("endpoints")
    cdk_out = root / "cdk.out"
    shutil.copytree(TEMPLATE_DIR, cdk_out)
    template = json.loads((cdk_out / STACK_TEMPLATE).read_text())
    (cdk_out / STACK_TEMPLATE).write_text(json.dumps(two_endpoints(template)))
    running = start_local(root / "state", cdk_out=cdk_out)
    yield running
    running.stop()


def names(local: Local) -> tuple[str, str]:
    hub = local.outputs["EndpointName"]
    (other,) = [name for name in local.info["models"] if name != hub]
    return hub, other


def invoke(local: Local, endpoint: str, body: bytes, content_type: str) -> dict[str, Any]:
    response = local.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=endpoint, Body=body, ContentType=content_type
    )
    return wait_record(local, str(response["InferenceId"]))


def test_each_endpoint_gets_the_stand_in_its_model_asks_for(local: Local) -> None:
    hub, tabular = names(local)
    assert local.info["models"][hub]["standIn"] == "sentiment"
    assert local.info["models"][tabular]["standIn"] == "xgboost"
    text = invoke(local, hub, b'{"inputs": "I love it"}', "application/json")
    assert json.loads(read_s3(local, text["outputLocation"]))[0]["label"] == "LABEL_2"
    row = invoke(local, tabular, csv_rows(1)[0].encode(), "text/csv")
    assert 0.0 <= float(read_s3(local, row["outputLocation"])) <= 1.0


def test_each_endpoint_is_described_with_its_own_config(local: Local) -> None:
    sagemaker = local.client("sagemaker")
    listed = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert listed == set(names(local))
    configs = {sagemaker.describe_endpoint(EndpointName=n)["EndpointConfigName"] for n in listed}
    assert len(configs) == 2
    by_name: dict[str, Any] = {"MaxResults": 1, "SortBy": "Name", "SortOrder": "Ascending"}
    page = sagemaker.list_endpoints(**by_name)
    assert [e["EndpointName"] for e in page["Endpoints"]] == [min(listed)]
    rest = sagemaker.list_endpoints(**by_name, NextToken=page["NextToken"])
    assert [e["EndpointName"] for e in rest["Endpoints"]] == [max(listed)]
    assert "NextToken" not in rest


def test_a_request_over_the_models_limit_fails_as_the_container_refuses_it(local: Local) -> None:
    hub, _ = names(local)
    body = json.dumps({"inputs": "x" * LIMIT}).encode()  # a little over LIMIT bytes
    record = invoke(local, hub, body, "application/json")
    assert record["status"] == "FAILED"
    assert record["failureReason"].startswith(
        'ClientError: Received client error (413) from primary with message ""'
    )
    small = invoke(local, hub, json.dumps({"inputs": "x" * 100}).encode(), "application/json")
    assert small["status"] == "COMPLETED"
