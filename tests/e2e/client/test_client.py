"""The Python API end to end on local mode: endpoint -> SNS -> SQS -> results writer -> table."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from asyncinfer import AsyncInferenceClient, InferenceFailedError
from asyncinfer.errors import (
    ConfigurationError,
    EndpointNotFoundError,
    InferenceTimeoutError,
    PayloadTooLargeError,
)
from asyncinfer.payloads import MAX_INLINE_BYTES
from asyncinfer_runtime.contract import COMPLETED, INDEX_SHARDS, PENDING

TIMEOUT = 60  # generous: only a hang would reach it


def make_client(deployment, stack=None, **kwargs) -> AsyncInferenceClient:
    return deployment.client(**kwargs)


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
    stack.faults("PUT", paused=True)  # the endpoint holds every request
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
    assert "inputLocation" not in item  # a small payload went inline: no input object
    assert item["customAttributes"] == "trace=1"
    assert item["accept"] == "application/json"
    assert item["requestContentType"] == "application/json"
    assert item["expiresAt"] > 0
    with pytest.raises(InferenceTimeoutError, match=handle.inference_id):
        handle.result(timeout=0.3)
    stack.faults("PUT", paused=False)
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
    runtime_calls = count_calls(client, "sagemaker-runtime")
    assert client.predict({"inputs": "love"}, timeout=TIMEOUT)[0]["label"] == "POSITIVE"
    assert table_calls["BatchGetItem"] >= 1
    # Inline, and the stack includes the response in the notification (the record
    # carries it): one API call to submit, none to S3 at all, no HeadObject polling.
    assert runtime_calls == Counter({"InvokeEndpointAsync": 1})
    assert s3_calls == Counter()


def test_no_inline_uploads_the_payload_first(deployment, stack) -> None:
    client = make_client(deployment, stack)
    s3_calls = count_calls(client, "s3")
    sent: list[dict] = []
    client.aws("sagemaker-runtime").meta.events.register(
        "before-call.sagemaker-runtime.InvokeEndpointAsync",
        lambda params, **_: sent.append(params),
    )
    handle = client.predict_async({"inputs": "love"}, inline=False)
    assert handle.result(timeout=TIMEOUT)[0]["label"] == "POSITIVE"
    assert s3_calls == Counter({"PutObject": 1})
    assert sent[0]["body"] == b""
    assert sent[0]["headers"]["X-Amzn-SageMaker-InputLocation"] == handle.input_location
    assert handle.input_location == (
        f"s3://{stack.outputs['InputBucketName']}/requests/{handle.inference_id}"
    )
    record = handle.record()
    assert record is not None and record.item["inputLocation"] == handle.input_location


def test_payloads_over_the_inline_limit_go_through_s3_and_back(deployment, stack) -> None:
    """Above 128,000 bytes the payload is uploaded; a reply over 128 KiB is not in the
    notification, so the result is read from the output object."""
    client = make_client(deployment, stack)
    s3_calls = count_calls(client, "s3")
    payload = bytes(range(256)) * 550  # 140,800 bytes, > 128 KiB
    assert client.predict(payload, timeout=TIMEOUT) == payload[::-1]
    assert s3_calls == Counter({"PutObject": 1, "GetObject": 1})
    inline = bytes(MAX_INLINE_BYTES)  # exactly the limit still goes inline
    s3_calls.clear()
    assert client.predict_async(inline).input_location is None
    assert "PutObject" not in s3_calls


def test_forced_inline_payload_over_the_limit_is_refused(deployment, stack) -> None:
    client = make_client(deployment, stack)
    runtime_calls = count_calls(client, "sagemaker-runtime")
    with pytest.raises(PayloadTooLargeError) as raised:
        client.predict_async(bytes(MAX_INLINE_BYTES + 1), inline=True)
    assert str(raised.value) == (
        "payload (bytes) is 128,001 bytes; an inline request (Body) takes at most 128,000 "
        "bytes, so send it through S3 (inline=False / --no-inline)"
    )
    assert runtime_calls == Counter()


def test_output_path_extension_and_filename_name_the_output(deployment, stack) -> None:
    client = make_client(deployment, stack)
    handle = client.predict_async(
        {"inputs": "love"}, s3_output_path_extension="runs/7", filename="tweet.json"
    )
    assert handle.output_location == f"{stack.outputs['OutputPath']}runs/7/tweet.json"
    assert handle.failure_location == (
        f"{stack.outputs['FailurePath']}runs/7/{handle.inference_id}-error.out"
    )
    record = client.wait(handle, timeout=TIMEOUT)
    assert record.output_location == handle.output_location  # the writer's record
    bucket, _, key = handle.output_location[5:].partition("/")
    stored = deployment.aws("s3").get_object(Bucket=bucket, Key=key)
    assert json.loads(stored["Body"].read())[0]["label"] == "POSITIVE"
    failed = client.predict_async({"inputs": "FAIL"}, s3_output_path_extension="runs/7")
    with pytest.raises(InferenceFailedError) as raised:
        failed.result(timeout=TIMEOUT)
    assert raised.value.failure_location == failed.failure_location
    bucket, _, key = (failed.failure_location or "")[5:].partition("/")
    assert deployment.aws("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_without_a_table_waiting_falls_back_to_s3(deployment, stack, tmp_path) -> None:
    client = AsyncInferenceClient.from_stack(
        outputs_file=deployment.outputs_variant(tmp_path, ResultsTableName=None),
        endpoint_url=deployment.url,
        poll_interval=0.1,
    )
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
    before = deployment.accepted()
    outcomes = list(client.map(items, concurrency=4, timeout=TIMEOUT))
    assert sorted(o.key for o in outcomes) == list(range(26))
    failed = [o for o in outcomes if not o.ok]
    assert [o.key for o in failed] == [25]
    assert isinstance(failed[0].error, InferenceFailedError)
    for outcome in outcomes:
        if outcome.ok:
            assert outcome.value[0]["label"] == "POSITIVE"
            assert outcome.item == items[outcome.key]
    assert deployment.accepted() - before == 26


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


def test_pending_record_of_a_request_that_was_never_accepted_is_removed(
    deployment, stack, tmp_path
) -> None:
    missing = "deleted-endpoint"
    client = AsyncInferenceClient.from_stack(
        outputs_file=deployment.outputs_variant(tmp_path, EndpointName=missing),
        endpoint_url=deployment.url,
    )
    dynamodb_calls = count_calls(client, "dynamodb")
    with pytest.raises(EndpointNotFoundError):
        list(client.map([{"inputs": "x"}], concurrency=1, timeout=TIMEOUT))
    assert dynamodb_calls["BatchWriteItem"] == 1 and dynamodb_calls["DeleteItem"] == 1
    scan = deployment.aws("dynamodb").scan(
        TableName=stack.outputs["ResultsTableName"],
        FilterExpression="endpointName = :e",
        ExpressionAttributeValues={":e": {"S": missing}},
    )
    assert scan["Items"] == []


def test_map_refuses_one_inference_id_for_every_item() -> None:
    client = AsyncInferenceClient(endpoint_name="endpoint", input_bucket="bucket")
    with pytest.raises(ConfigurationError, match="every item needs its own id"):
        client.map([1, 2], inference_id="same")
    with pytest.raises(ConfigurationError, match="every item needs its own output file"):
        client.map([1, 2], filename="same.out")


def test_map_sends_small_items_inline_and_large_ones_through_s3(deployment, stack) -> None:
    client = make_client(deployment, stack)
    s3_calls = count_calls(client, "s3")
    large = bytes(MAX_INLINE_BYTES + 10)
    outcomes = list(client.map([b"ab", large, b"cd"], concurrency=2, timeout=TIMEOUT))
    values = {o.key: o.value for o in outcomes}
    assert values == {0: b"ba", 1: large[::-1], 2: b"dc"}
    assert s3_calls["PutObject"] == 1
