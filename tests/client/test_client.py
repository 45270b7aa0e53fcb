"""The Python API end to end: stand-in endpoint -> SNS -> SQS -> real results writer -> table."""

from __future__ import annotations

from collections import Counter

import pytest

from asyncinfer import AsyncInferenceClient, InferenceFailedError
from asyncinfer.errors import ConfigurationError, EndpointNotFoundError, InferenceTimeoutError
from asyncinfer.results import COMPLETED, INDEX_SHARDS, PENDING
from tests.client.standin import aws_client

TIMEOUT = 60  # generous: only a hang would reach it


def make_client(deployment, stack, **kwargs) -> AsyncInferenceClient:
    return AsyncInferenceClient.from_stack(
        stack.name, endpoint_url=deployment.url, poll_interval=0.1, **kwargs
    )


def count_calls(client: AsyncInferenceClient, service: str) -> Counter[str]:
    """Operation names the client's ``service`` client sends (botocore event hook)."""
    calls: Counter[str] = Counter()
    client.aws(service).meta.events.register(
        "before-call", lambda model, **_: calls.update([model.name])
    )
    return calls


def test_predict_returns_deserialised_json(deployment, stack) -> None:
    client = make_client(deployment, stack)
    assert client.predict({"inputs": "I love this"}, timeout=TIMEOUT) == [
        {"label": "POSITIVE", "score": 0.61}
    ]


def test_predict_returns_csv_rows_and_raw_bytes(deployment, stack) -> None:
    client = make_client(deployment, stack)
    assert client.predict("1,2\n3,4\n", content_type="text/csv", timeout=TIMEOUT) == [
        ["3.0"],
        ["7.0"],
    ]
    assert client.predict(b"\x00\x01\x02", timeout=TIMEOUT) == b"\x02\x01\x00"
    assert client.predict({"inputs": "meh"}, deserialize=False, timeout=TIMEOUT).startswith(b"[")


def test_handle_is_pending_until_the_writer_records_the_result(deployment, stack) -> None:
    client = make_client(deployment, stack)
    deployment.endpoint.gate.clear()  # the endpoint holds every request
    handle = client.predict_async(
        {"inputs": "good"}, accept="application/json", custom_attributes="trace=1"
    )
    assert handle.output_location == f"{stack.outputs['OutputPath']}{handle.inference_id}.out"
    assert (handle.failure_location or "").startswith(stack.outputs["FailurePath"])
    assert handle.status() == PENDING
    assert not handle.done()
    record = handle.record()
    assert record is not None
    item = record.item
    assert item["endpointName"] == stack.outputs["EndpointName"]
    assert (
        item["inputLocation"]
        == f"s3://{stack.outputs['InputBucketName']}/requests/{handle.inference_id}"
    )
    assert item["customAttributes"] == "trace=1"
    assert item["accept"] == "application/json"
    assert item["requestContentType"] == "application/json"
    assert item["expiresAt"] > 0
    with pytest.raises(InferenceTimeoutError, match=handle.inference_id):
        handle.result(timeout=0.3)
    deployment.endpoint.gate.set()
    assert handle.result(timeout=TIMEOUT) == [{"label": "POSITIVE", "score": 0.54}]
    assert handle.done()
    assert handle.status() == COMPLETED
    # The writer's record replaced the PENDING one and kept what the notification said.
    final = handle.record()
    assert final is not None
    assert final.item["customAttributes"] == "trace=1"


def test_options_are_passed_to_invoke_endpoint_async(deployment, stack) -> None:
    client = make_client(deployment, stack)
    sent: list[dict] = []
    client.aws("sagemaker-runtime").meta.events.register(
        "before-call.sagemaker-runtime.InvokeEndpointAsync",
        lambda params, **_: sent.append(params["headers"]),
    )
    handle = client.predict_async(
        {"inputs": "x"},
        content_type="application/json",
        accept="application/json",
        custom_attributes="a=b",
        inference_id="my-own-id-1",
        request_ttl_seconds=600,
        invocation_timeout_seconds=120,
    )
    assert handle.inference_id == "my-own-id-1"
    headers = sent[0]
    assert headers["X-Amzn-SageMaker-Content-Type"] == "application/json"
    assert headers["X-Amzn-SageMaker-Accept"] == "application/json"
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "a=b"
    assert headers["X-Amzn-SageMaker-Inference-Id"] == "my-own-id-1"
    assert headers["X-Amzn-SageMaker-RequestTTLSeconds"] == "600"
    assert headers["X-Amzn-SageMaker-InvocationTimeoutSeconds"] == "120"
    assert handle.result(timeout=TIMEOUT)[0]["label"] == "NEGATIVE"


def test_failure_raises_with_reason_and_location(deployment, stack) -> None:
    client = make_client(deployment, stack)
    handle = client.predict_async({"inputs": "please FAIL"})
    with pytest.raises(InferenceFailedError) as raised:
        handle.result(timeout=TIMEOUT)
    error = raised.value
    assert error.inference_id == handle.inference_id
    assert "model refused input" in error.reason
    assert error.failure_location == handle.failure_location
    assert handle.status() == "FAILED"


def test_waiting_reads_the_table_not_s3(deployment, stack) -> None:
    client = make_client(deployment, stack)
    s3_calls = count_calls(client, "s3")
    table_calls = count_calls(client, "dynamodb")
    assert client.predict({"inputs": "love"}, timeout=TIMEOUT)[0]["label"] == "POSITIVE"
    assert table_calls["BatchGetItem"] >= 1
    # One upload and one download of the result; no HeadObject polling.
    assert s3_calls == Counter({"PutObject": 1, "GetObject": 1})


def test_result_comes_from_the_notification_body_when_included(deployment) -> None:
    stack = deployment.deploy(include_response_body=True)
    client = make_client(deployment, stack)
    s3_calls = count_calls(client, "s3")
    assert client.predict({"inputs": "great"}, timeout=TIMEOUT)[0]["label"] == "POSITIVE"
    assert "GetObject" not in s3_calls  # the record carried the body


def test_without_a_table_waiting_falls_back_to_s3(deployment) -> None:
    stack = deployment.deploy(with_table=False)
    client = make_client(deployment, stack)
    assert client.table is None
    s3_calls = count_calls(client, "s3")
    assert client.predict({"inputs": "love"}, timeout=TIMEOUT)[0]["label"] == "POSITIVE"
    assert s3_calls["HeadObject"] >= 1
    handle = client.predict_async({"inputs": "FAIL now"})
    with pytest.raises(InferenceFailedError, match="model refused input") as raised:
        handle.result(timeout=TIMEOUT)
    assert raised.value.failure_location == handle.failure_location


def test_map_yields_every_item_with_its_result_or_error(deployment, stack) -> None:
    client = make_client(deployment, stack)
    items = [{"inputs": f"good {i}"} for i in range(25)] + [{"inputs": "FAIL"}]
    outcomes = list(client.map(items, concurrency=4, timeout=TIMEOUT))
    assert sorted(o.key for o in outcomes) == list(range(26))
    failed = [o for o in outcomes if not o.ok]
    assert [o.key for o in failed] == [25]
    assert isinstance(failed[0].error, InferenceFailedError)
    for outcome in outcomes:
        if outcome.ok:
            assert outcome.value[0]["label"] == "POSITIVE"
            assert outcome.item == items[outcome.key]
    assert deployment.gateway.invocations[stack.outputs["EndpointName"]] == 26


def test_pending_write_never_regresses_a_terminal_record(deployment, stack) -> None:
    client = make_client(deployment, stack)
    handle = client.predict_async({"inputs": "love"})
    client.wait(handle, timeout=TIMEOUT)
    assert client.table is not None
    written = client.table.put_pending(
        inference_id=handle.inference_id,
        endpoint_name=client.endpoint_name,
        input_location=handle.input_location,
    )
    assert written is False
    assert handle.status() == COMPLETED


def test_many_outstanding_ids_are_read_with_one_index_query_per_shard(deployment, stack) -> None:
    """Above the BatchGetItem threshold a poll is one Query per index shard plus one
    BatchGetItem per 100 finished ids, not one call per 100 outstanding ids."""
    client = make_client(deployment, stack)
    handles = [client.predict_async({"inputs": f"n{i}"}) for i in range(5)]
    for handle in handles:
        client.wait(handle, timeout=TIMEOUT)
    assert client.table is not None
    calls = count_calls(client, "dynamodb")
    # 500 unknown ids plus the 5 real ones: the shards' queries find the 5.
    pending = {h.inference_id: h.submitted_at for h in handles}
    pending.update({f"unknown-{i}": handles[0].submitted_at for i in range(500)})
    found = client.table.poll(pending, client.endpoint_name)
    assert set(found) == set(pending) - {f"unknown-{i}" for i in range(500)}
    assert calls == Counter({"Query": INDEX_SHARDS, "BatchGetItem": 1})
    # Below it, BatchGetItem in chunks of 100.
    calls.clear()
    assert set(client.table.get_many([*list(pending)[:150]])) == {h.inference_id for h in handles}
    assert calls == Counter({"BatchGetItem": 2})


def test_unprocessed_keys_are_retried(deployment, stack) -> None:
    client = make_client(deployment, stack)
    handle = client.predict_async({"inputs": "x"})
    client.wait(handle, timeout=TIMEOUT)
    table = client.table
    assert table is not None
    dynamodb = table.dynamodb
    real = dynamodb.batch_get_item
    answers: list[int] = []

    def partial(RequestItems):
        keys = RequestItems[table.table_name]["Keys"]
        if not answers:  # first call: answer nothing, hand every key back
            answers.append(0)
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        answers.append(len(keys))
        return real(RequestItems=RequestItems)

    table.dynamodb = type("D", (), {"batch_get_item": staticmethod(partial)})()
    table._sleep = lambda _: None
    assert set(table.get_many([handle.inference_id])) == {handle.inference_id}
    assert answers == [0, 1]


def test_map_writes_pending_records_in_groups_before_invoking(deployment, stack) -> None:
    client = make_client(deployment, stack)
    calls = count_calls(client, "dynamodb")
    order: list[str] = []
    for service in ("dynamodb", "sagemaker-runtime"):
        client.aws(service).meta.events.register(
            "before-call", lambda model, **_: order.append(model.name)
        )
    outcomes = list(
        client.map([{"inputs": f"good {i}"} for i in range(30)], concurrency=20, timeout=TIMEOUT)
    )
    assert len(outcomes) == 30 and all(o.ok for o in outcomes)
    assert calls["PutItem"] == 0  # no per-item PENDING write
    assert calls["BatchWriteItem"] == 2  # 25 + 5
    # Each group's records are written before any of its requests is invoked.
    assert order.index("BatchWriteItem") < order.index("InvokeEndpointAsync")


def test_pending_record_of_a_request_that_was_never_accepted_is_removed(deployment) -> None:
    stack = deployment.deploy()
    client = make_client(deployment, stack)
    del deployment.endpoint.endpoints[stack.outputs["EndpointName"]]
    dynamodb_calls = count_calls(client, "dynamodb")
    with pytest.raises(EndpointNotFoundError):
        list(client.map([{"inputs": "x"}], concurrency=1, timeout=TIMEOUT))
    assert dynamodb_calls["BatchWriteItem"] == 1 and dynamodb_calls["DeleteItem"] == 1
    scan = aws_client("dynamodb", deployment.moto_url).scan(
        TableName=stack.outputs["ResultsTableName"],
        FilterExpression="endpointName = :e",
        ExpressionAttributeValues={":e": {"S": stack.outputs["EndpointName"]}},
    )
    assert scan["Items"] == []


def test_map_refuses_one_inference_id_for_every_item() -> None:
    client = AsyncInferenceClient(endpoint_name="endpoint", input_bucket="bucket")
    with pytest.raises(ConfigurationError, match="every item needs its own id"):
        client.map([1, 2], inference_id="same")
