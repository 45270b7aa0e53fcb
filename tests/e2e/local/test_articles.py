"""The two source articles' own workload on local mode, with no AWS account.

The Hugging Face walkthrough deploys a sentiment model and drives it with the SageMaker
Python SDK v2 (``AsyncPredictor`` with the Hugging Face predictor's default JSON
serializer: ``predict`` and ``predict_async`` + ``get_result`` on ``{"inputs": ...}``)
and then a CSV of ~1,800 tweets; the SDK v3 reaches the same endpoint through
``Endpoint.get`` + ``invoke_async``. Local mode serves the template's model (the sentiment
stand-in), finds itself through DescribeStacks, and the bad files of a batch are named by
their own rows.

The SDK's waits are shortened (``WaiterConfig(delay=1)``): its defaults poll every 15 s,
and it keeps polling the failure path from a non-daemon thread until its attempts run out
even after the output arrived, which would hold the test process for minutes.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from asyncinfer.cli import main
from asyncinfer.local.faults import signing_service_of
from asyncinfer.local.sentiment_model import SentimentModel
from tests.conftest import REPO_ROOT
from tests.support.local_mode import Local, read_s3, start_local, wait_record

pytestmark = [
    pytest.mark.slow,
    # The SDK v2 polls the failure path on a thread of its own after the output arrived.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]
AWS_CLI = Path(sys.executable).parent / "aws"
SDK_V3_PYTHON = REPO_ROOT / ".venv-sagemaker-v3" / "bin" / "python"
MODEL = SentimentModel()
WORDS = ["love", "great", "late again", "lost my bag", "on time", "rude crew", "ok", "thanks"]


def tweets(count: int, seed: int = 7) -> list[str]:
    pick = random.Random(seed).choice
    return [f"@airline flight {n} was {pick(WORDS)}, {pick(WORDS)}" for n in range(count)]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """Local mode as `asyncinfer local up` starts it: no --model, no --model-url."""
    running = start_local(tmp_path_factory.mktemp("articles"))
    yield running
    running.stop()


@pytest.fixture
def environment(local: Local, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment `local up` prints, set as a user would export it."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in local.info["environment"].items():
        monkeypatch.setenv(name, value)
    return dict(local.info["environment"])


@contextlib.contextmanager
def aws_requests_sent_here() -> Iterator[collections.Counter[str]]:
    """Count, by signing service, the AWS requests botocore sends from this process while
    inside (every client's HTTP goes through URLLib3Session.send); they are still sent."""
    sent: collections.Counter[str] = collections.Counter()
    send = URLLib3Session.send

    def counting_send(session: URLLib3Session, request: Any) -> Any:
        sent[signing_service_of(str(request.headers.get("Authorization", "")))] += 1
        return send(session, request)

    URLLib3Session.send = counting_send  # type: ignore[method-assign,assignment]
    try:
        yield sent
    finally:
        URLLib3Session.send = send  # type: ignore[method-assign]


def requests_seen(local: Local) -> dict[str, int]:
    with urllib.request.urlopen(local.url + "/local/faults", timeout=10) as reply:
        return dict(json.loads(reply.read())["requests"])


# -- the SageMaker Python SDK v2, as the walkthrough uses it -------------------------------


@pytest.fixture
def async_predictor(local: Local, environment: dict[str, str]) -> Any:
    import sagemaker
    from sagemaker.huggingface.model import HuggingFacePredictor
    from sagemaker.predictor_async import AsyncPredictor

    session = sagemaker.Session(
        boto_session=boto3.Session(region_name="us-east-1"),
        default_bucket=local.outputs["InputBucketName"],
    )
    # What HuggingFaceModel.deploy(async_inference_config=...) returns: the Hugging Face
    # predictor (JSONSerializer, JSONDeserializer by default) wrapped for async.
    return AsyncPredictor(HuggingFacePredictor(local.outputs["EndpointName"], session))


def test_sdk_v2_predict_with_a_list_of_inputs(async_predictor: Any) -> None:
    from sagemaker.async_inference import WaiterConfig

    data = {"inputs": tweets(4)}
    result = async_predictor.predict(data=data, waiter_config=WaiterConfig(60, 1))
    assert result == [MODEL.classify(text) for text in data["inputs"]]


def test_sdk_v2_predict_async_then_get_result(local: Local, async_predictor: Any) -> None:
    from sagemaker.async_inference import WaiterConfig

    response = async_predictor.predict_async(data={"inputs": "i like you. I love you"})
    assert response.output_path.startswith(local.outputs["OutputPath"])
    result = response.get_result(WaiterConfig(max_attempts=5, delay=1))
    assert result == [
        {"label": "LABEL_2", "score": MODEL.classify("i like you. I love you")["score"]}
    ]


# -- the SageMaker Python SDK v3 ------------------------------------------------------------

SDK_V3_SCRIPT = """
import json, sys, boto3
from sagemaker.core.resources import Endpoint

endpoint_name, bucket, key = sys.argv[1:4]
boto3.client("s3").put_object(
    Bucket=bucket, Key=key, Body=b'{"inputs": "I love async inference"}',
    ContentType="application/json",
)
endpoint = Endpoint.get(endpoint_name=endpoint_name)
response = endpoint.invoke_async(
    input_location=f"s3://{bucket}/{key}", content_type="application/json"
)
print(json.dumps({
    "status": endpoint.endpoint_status,
    "outputPath": endpoint.async_inference_config.output_config.s3_output_path,
    "inferenceId": response.inference_id,
    "outputLocation": response.output_location,
}))
"""


def test_sdk_v3_endpoint_get_then_invoke_async(local: Local, tmp_path: Path) -> None:
    assert SDK_V3_PYTHON.exists(), f"the SDK v3 is not installed at {SDK_V3_PYTHON}; run make setup"
    key = f"v3/{uuid.uuid4()}.json"
    done = subprocess.run(
        [str(SDK_V3_PYTHON), "-c", SDK_V3_SCRIPT, local.outputs["EndpointName"],
         local.outputs["InputBucketName"], key],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **local.info["environment"]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == "InService"
    assert answer["outputPath"] == local.outputs["OutputPath"]
    record = wait_record(local, answer["inferenceId"])
    assert record["status"] == "COMPLETED"
    assert json.loads(read_s3(local, answer["outputLocation"]))[0]["label"] == "LABEL_2"


# -- finding the stack: DescribeStacks, DescribeEndpoint, ListEndpoints ----------------------


def test_the_readme_recipe_finds_the_outputs_with_the_aws_cli(local: Local, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(AWS_CLI), "cloudformation", "describe-stacks", "--stack-name",
         "SageMakerAsyncInference", "--query",
         "Stacks[0].Outputs[?OutputKey=='EndpointName'].OutputValue", "--output", "text"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **local.info["environment"]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == local.outputs["EndpointName"]


def test_asyncinfer_needs_no_outputs_file(
    local: Local, environment: dict[str, str], tmp_path: Path
) -> None:
    request = tmp_path / "request.json"
    request.write_text('{"inputs": "I love async inference"}\n')
    out, err = io.StringIO(), io.StringIO()
    code = main(["submit", str(request), "--wait", "--timeout", "60"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue()) == [MODEL.classify("I love async inference")]


def test_describe_endpoint_and_list_endpoints(local: Local) -> None:
    sagemaker = local.client("sagemaker")
    name = local.outputs["EndpointName"]
    described = sagemaker.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert (
        described["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"]
        == (local.outputs["OutputPath"])
    )
    listed = sagemaker.list_endpoints(NameContains=name[-12:])["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [name]
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_endpoint(EndpointName="no-such-endpoint")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


# -- the walkthrough's CSV of tweets, and bad files -----------------------------------------


def batch(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["batch", *argv, "--timeout", "300"], stdout=out, stderr=err)
    return code, err.getvalue()


def summary_rows(text: str) -> dict[str, str]:
    rows = [line.rsplit("  ", 1) for line in text.splitlines() if "  " in line]
    return {name.strip(): value.strip() for name, value in rows}


def read_output(path: Path) -> dict[int, dict[str, Any]]:
    return {e["line"]: e for e in map(json.loads, path.read_text().splitlines())}


def test_a_csv_of_1800_short_texts_through_batch_with_a_bad_byte_on_row_1000(
    local: Local, environment: dict[str, str], tmp_path: Path
) -> None:
    """The walkthrough's ~1,800 tweets, one a cell saved in Latin-1 (as spreadsheets do):
    that row is named by its own number and every other row is sent and answered."""
    texts = tweets(1800)
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([["text"], *([text] for text in texts)])
    lines = buffer.getvalue().encode().split(b"\r\n")
    lines[999] = lines[999].replace(b"flight", b"vol \xe9t\xe9")  # line 1000 of the file
    source = tmp_path / "tweets.csv"
    source.write_bytes(b"\r\n".join(lines))
    output = tmp_path / "results.jsonl"
    before = requests_seen(local).get("sagemaker", 0)
    code, err = batch(str(source), "--wrap", "inputs", "-o", str(output), "--concurrency", "32")
    assert code == 1, err  # one item failed: the bad row
    entries = read_output(output)
    assert sorted(entries) == list(range(2, 1802))
    assert entries[1000]["status"] == "ERROR"
    assert entries[1000]["error"].startswith("row 1000 of tweets.csv is not UTF-8 (byte ")
    for line, entry in entries.items():
        if line != 1000:
            assert entry["status"] == "COMPLETED"
            # The text itself went out, not {"inputs": {"text": ...}}.
            assert entry["result"] == [MODEL.classify(texts[line - 2])]
    assert requests_seen(local)["sagemaker"] - before == 1799
    rows = summary_rows(err)
    assert (rows["bad rows (not sent)"], rows["completed"], rows["failed"]) == ("1", "1799", "1")


def test_an_unclosed_quote_names_its_row_and_later_rows_are_sent(
    local: Local, environment: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "quote.csv"
    source.write_text(
        'id,text\n1,good trip\n2,fine\n3,"no closing quote\n4,on time\n5,"late, again"\n'
    )
    output = tmp_path / "out.jsonl"
    code, _ = batch(str(source), "--wrap", "inputs", "--column", "text", "-o", str(output))
    assert code == 1
    entries = read_output(output)
    assert entries[4]["error"].startswith("row 4 of quote.csv is not valid CSV (")
    assert {line: e["status"] for line, e in entries.items()} == {
        2: "COMPLETED", 3: "COMPLETED", 4: "ERROR", 5: "COMPLETED", 6: "COMPLETED",
    }  # fmt: skip
    assert entries[6]["result"] == [MODEL.classify("late, again")]


@pytest.mark.parametrize(
    ("name", "content", "argv", "message"),
    [
        ("empty.csv", "", ["batch", "{path}", "--wrap", "inputs"],
         "batch input empty.csv is empty; expected one request per row"),
        ("empty.json", "", ["submit", "{path}"],
         "payload file '{path}' is empty; expected the request body to send"),
        ("two.csv", "id,text\n1,hi\n", ["batch", "{path}", "--wrap", "inputs"],
         "two.csv has 2 columns (id, text); with --wrap inputs pass --column"),
    ],
)  # fmt: skip
def test_files_that_give_no_request_are_one_sentence_before_any_call(
    local: Local,
    environment: dict[str, str],
    tmp_path: Path,
    name: str,
    content: str,
    argv: list[str],
    message: str,
) -> None:
    path = tmp_path / name
    path.write_text(content)
    out, err = io.StringIO(), io.StringIO()
    with aws_requests_sent_here() as sent:
        code = main([a.format(path=path) for a in argv], stdout=out, stderr=err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.getvalue()
    assert lines[0].startswith(f"asyncinfer: error: {message.format(path=path)}")
    # Not even DescribeStacks. Counted in this process, where the CLI runs: local mode's
    # own functions (the results writer, the webhook dispatcher) still work through earlier
    # tests' notifications meanwhile. (S3 is left out: the SDK v2 tests above leave a
    # thread here polling the failure path with HeadObject until its WaiterConfig runs out.)
    for service in ("cloudformation", "sagemaker", "dynamodb"):
        assert sent[service] == 0, service


# -- what local mode's console shows ---------------------------------------------------------


def test_the_console_shows_progress_and_the_records_go_to_their_own_log(local: Local) -> None:
    console = local.log_path.read_text(encoding="utf-8")
    assert '"record written"' not in console  # no JSON line per record on the console
    assert re.search(
        r"^requests: \d+ accepted, \d+ queued or running, \d+ completed", console, re.M
    )
    records = Path(local.info["functionsLog"]).read_text(encoding="utf-8")
    assert records.count('"record written"') >= 1799
    with urllib.request.urlopen(local.info["metricsUrl"], timeout=10) as reply:
        metrics = json.loads(reply.read())[local.outputs["EndpointName"]]
    # CloudWatch's name, not the Developer Guide's misspelling InvocationsProcesssed.
    assert metrics["InvocationsProcessed"] >= 1799
    assert "InvocationsProcesssed" not in metrics
