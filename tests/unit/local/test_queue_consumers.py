"""Which function local mode runs on which queue (asyncinfer/local/functions.py), on a small
hand-made template and cloud assembly: every event source mapping gets its own function,
never the results writer by default."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from asyncinfer.local.event_source import load_handler
from asyncinfer.local.functions import queue_consumers
from asyncinfer.local.provision import Provisioned, TemplateError

QUEUES = {"Results": "results", "Audit": "audit", "Webhook": "webhook", "Node": "node"}


def state() -> Provisioned:
    provisioned = Provisioned(stack_name="Tiny", region="us-east-1")
    for logical_id, name in QUEUES.items():
        arn = f"arn:aws:sqs:us-east-1:123456789012:{name}"
        url = f"http://127.0.0.1/123456789012/{name}"
        provisioned.refs[logical_id] = url
        provisioned.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}
    provisioned.refs["Table"] = "tiny-table"
    return provisioned


def mapping(queue: str, function_name: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionName": function_name,
            **extra,
        },
    }


def function(handler: str, asset: str | None = None, **properties: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Runtime": "python3.14", "Handler": handler, **properties},
    }
    if asset:
        resource["Metadata"] = {"aws:asset:path": asset}
    return resource


def assembly(root: Path) -> Path:
    """A cloud assembly with two function assets, as `cdk synth` leaves them."""
    writer = root / "asset.writer" / "results_writer"
    writer.mkdir(parents=True)
    (writer / "__init__.py").write_text("")
    (writer / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    audit = root / "asset.audit"
    audit.mkdir()
    (audit / "audit.py").write_text("def handler(event, context):\n    return {}\n")
    return root


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Writer": function(
            "results_writer.handler.lambda_handler",
            "asset.writer",
            Timeout=60,
            Environment={"Variables": {"RESULTS_TABLE_NAME": {"Ref": "Table"}}},
        ),
        "WriterMapping": mapping(
            "Results",
            {"Ref": "Writer"},
            BatchSize=100,
            MaximumBatchingWindowInSeconds=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        ),
        "Auditor": function("audit.handler", "asset.audit", FunctionName="tiny-auditor"),
        "AuditMapping": mapping(
            "Audit", "arn:aws:lambda:us-east-1:123456789012:function:tiny-auditor"
        ),
        "Notifier": function(
            "index.handler", Code={"ZipFile": "def handler(e, c):\n    return {}\n"}
        ),
        "WebhookMapping": mapping("Webhook", {"Fn::GetAtt": ["Notifier", "Arn"]}),
        "NodeFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Runtime": "nodejs24.x", "Handler": "index.handler"},
        },
        "NodeMapping": mapping("Node", {"Ref": "NodeFunction"}),
        "ElsewhereMapping": mapping("Node", "someone-elses-function"),
        "StreamMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": "arn:aws:kinesis:::stream/s", "FunctionName": "x"},
        },
    }
}


def test_each_mapping_runs_its_own_function_on_its_own_queue(tmp_path: Path) -> None:
    root = assembly(tmp_path / "cdk.out")
    consumers, skipped = queue_consumers(
        TEMPLATE, state(), assembly_dir=root, work_dir=tmp_path / "work"
    )
    by_queue = {c.queue_arn.rpartition(":")[2]: c for c in consumers}
    assert sorted(by_queue) == ["audit", "results", "webhook"]
    writer = by_queue["results"]
    assert (writer.function.logical_id, writer.function.handler) == (
        "Writer",
        "results_writer.handler.lambda_handler",
    )
    assert writer.function.code_dir == root / "asset.writer"
    assert writer.function.environment == {"RESULTS_TABLE_NAME": "tiny-table"}
    assert writer.function.timeout_seconds == 60
    assert (writer.batch_size, writer.batching_window_seconds) == (100, 1.0)
    assert writer.reports_batch_item_failures
    # Named by ARN: the function of this template with that FunctionName.
    audit = by_queue["audit"]
    assert (audit.function.logical_id, audit.function.handler) == ("Auditor", "audit.handler")
    assert audit.function.code_dir == root / "asset.audit"
    assert (audit.batch_size, audit.function.timeout_seconds) == (10, 3)  # Lambda's defaults
    assert not audit.reports_batch_item_failures
    # Inline code becomes index.py, as CloudFormation names it.
    webhook = by_queue["webhook"].function
    assert webhook.code_dir == tmp_path / "work" / "Notifier"
    assert (webhook.code_dir / "index.py").read_text().startswith("def handler")
    assert skipped == [
        "event source mapping NodeMapping invokes NodeFunction, which runs nodejs24.x; local "
        "mode runs Python functions only, so its queue is not consumed",
        "event source mapping ElsewhereMapping invokes a function outside this template "
        "('someone-elses-function'); its queue is not consumed",
    ]


def test_a_zipped_asset_is_unpacked_for_its_function(tmp_path: Path) -> None:
    archive = tmp_path / "asset.zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("pkg/__init__.py", "")
        zipped.writestr("pkg/consumer.py", "def handler(event, context):\n    return {}\n")
    template = {
        "Resources": {
            "Zipped": function("pkg.consumer.handler", "asset.zipped.zip"),
            "Mapping": mapping("Audit", {"Ref": "Zipped"}),
        }
    }
    (consumer,), _ = queue_consumers(
        template, state(), assembly_dir=tmp_path, work_dir=tmp_path / "work"
    )
    assert (consumer.function.code_dir / "pkg" / "consumer.py").is_file()


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            function("audit.handler"),
            "function Consumer has no aws:asset:path metadata, so local mode cannot find its "
            "code; synthesize with `cdk synth`, which records it",
        ),
        (
            function("audit.handler", "asset.gone"),
            "function Consumer's code asset {root}/asset.gone is missing; synthesize the app again",
        ),
        (
            function("nowhere.handler", "asset.audit"),
            "function Consumer's handler 'nowhere.handler' names module 'nowhere', which is not "
            "in its code folder {root}/asset.audit",
        ),
        (
            function("handler", "asset.audit"),
            "function Consumer's Handler must be <module>.<function>; received 'handler'",
        ),
    ],
)
def test_a_function_whose_code_cannot_be_found_is_one_sentence(
    tmp_path: Path, resource: dict[str, Any], message: str
) -> None:
    root = assembly(tmp_path / "cdk.out")
    template = {
        "Resources": {"Consumer": resource, "Mapping": mapping("Audit", {"Ref": "Consumer"})}
    }
    with pytest.raises(TemplateError) as raised:
        queue_consumers(template, state(), assembly_dir=root, work_dir=tmp_path)
    assert str(raised.value) == message.format(root=root)


def test_the_handler_is_imported_from_its_own_code_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    folder = tmp_path / "asset" / "consumer_pkg"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "entry.py").write_text("def handler(event, context):\n    return {'seen': event}\n")
    # Lambda reads a "/" in the handler's module as a ".".
    handler = load_handler(tmp_path / "asset", "consumer_pkg/entry.handler")
    assert handler({"Records": []}, None) == {"seen": {"Records": []}}
    assert sys.path[0] == str(tmp_path / "asset")
