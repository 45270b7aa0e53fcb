"""Which function consumes which queue: each SQS event source mapping of the template, with
the function it invokes (its handler, code folder, environment and timeout).

Local mode runs every mapping's own function on its own queue, as Lambda would: the results
writer on the results queue, and any other consumer (an audit queue, a webhook notifier) on
its queue. A function's code is the folder the cloud assembly holds for its asset (the
resource's ``aws:asset:path`` metadata, which ``cdk synth`` records), or its inline
``ZipFile`` source; nothing is looked up in this package or in a repository.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .provision import Provisioned, Resolver, TemplateError

# Lambda's defaults where the template leaves a property out (AWS::Lambda::Function Timeout:
# 3 s; AWS::Lambda::EventSourceMapping BatchSize: 10 for SQS).
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_BATCH_SIZE = 10
# CDK's metadata key for a resource's asset folder in the cloud assembly.
ASSET_PATH_METADATA = "aws:asset:path"


@dataclass(frozen=True)
class LocalFunction:
    """A template's Python function, ready to import: ``handler`` from ``code_dir``."""

    logical_id: str
    handler: str
    code_dir: Path
    environment: dict[str, str]
    timeout_seconds: float

    def arguments(self) -> list[str]:
        """How a child process that runs it is told which function it is (event_source.py,
        function_host.py)."""
        return [
            "--code-dir",
            str(self.code_dir.resolve()),
            "--handler",
            self.handler,
            "--function-name",
            self.logical_id,
            "--timeout-seconds",
            str(self.timeout_seconds),
        ]


@dataclass(frozen=True)
class QueueConsumer:
    """One SQS event source mapping: ``function`` invoked with batches of ``queue_arn``."""

    mapping_id: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: float
    reports_batch_item_failures: bool
    function: LocalFunction


def queue_consumers(
    template: dict[str, Any],
    state: Provisioned,
    *,
    assembly_dir: Path,
    work_dir: Path,
) -> tuple[list[QueueConsumer], list[str]]:
    """The template's SQS event source mappings whose queue local mode provisioned, each with
    its own function; and a sentence for each mapping local mode cannot run (a function that
    is not Python, or not in this template), which it leaves alone.

    ``assembly_dir`` is the template's cloud assembly (asset folders are relative to it);
    ``work_dir`` receives inline and zipped code. A Python function whose code cannot be
    found raises TemplateError naming it.
    """
    resources: dict[str, Any] = template.get("Resources") or {}
    resolve = Resolver(state, resources)
    queue_arns = {attrs["Arn"] for attrs in state.attributes.values() if "QueueUrl" in attrs}
    consumers: list[QueueConsumer] = []
    skipped: list[str] = []
    for mapping_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        properties = resource.get("Properties") or {}
        queue_arn = str(resolve(properties.get("EventSourceArn")))
        if queue_arn not in queue_arns or resolve(properties.get("Enabled", True)) is False:
            continue  # a stream, a queue of another stack, or a mapping turned off
        function_id = _function_id(properties.get("FunctionName"), resources, resolve)
        if function_id is None:
            skipped.append(
                f"event source mapping {mapping_id} invokes a function outside this template "
                f"({resolve(properties.get('FunctionName'))!r}); its queue is not consumed"
            )
            continue
        function_properties = resources[function_id].get("Properties") or {}
        runtime = str(function_properties.get("Runtime", "a container image"))
        if not runtime.startswith("python"):
            skipped.append(
                f"event source mapping {mapping_id} invokes {function_id}, which runs {runtime}; "
                f"local mode runs Python functions only, so its queue is not consumed"
            )
            continue
        consumers.append(
            QueueConsumer(
                mapping_id=mapping_id,
                queue_arn=queue_arn,
                batch_size=int(resolve(properties.get("BatchSize")) or DEFAULT_BATCH_SIZE),
                batching_window_seconds=float(
                    resolve(properties.get("MaximumBatchingWindowInSeconds")) or 0
                ),
                reports_batch_item_failures="ReportBatchItemFailures"
                in (resolve(properties.get("FunctionResponseTypes")) or []),
                function=local_function(
                    function_id, resources[function_id], resolve, assembly_dir, work_dir
                ),
            )
        )
    return consumers, skipped


def _function_id(function_name: Any, resources: dict[str, Any], resolve: Resolver) -> str | None:
    """The logical id of the function a mapping's FunctionName names (a Ref, a GetAtt of its
    Arn, or the FunctionName a function of this template is given), or None."""
    if isinstance(function_name, dict):
        attribute = function_name.get("Fn::GetAtt") or [""]
        target = function_name.get("Ref") or (
            attribute[0] if isinstance(attribute, list) else str(attribute).partition(".")[0]
        )
        if resources.get(str(target), {}).get("Type") == "AWS::Lambda::Function":
            return str(target)
    name = str(resolve(function_name))
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        own_name = (resource.get("Properties") or {}).get("FunctionName")
        if own_name is not None and name.rpartition(":function:")[2] == resolve(own_name):
            return logical_id
    return None


def local_function(
    logical_id: str,
    resource: dict[str, Any],
    resolve: Resolver,
    assembly_dir: Path,
    work_dir: Path,
) -> LocalFunction:
    properties = resource.get("Properties") or {}
    handler = str(resolve(properties.get("Handler")) or "")
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise TemplateError(
            f"function {logical_id}'s Handler must be <module>.<function>; received {handler!r}"
        )
    code_dir = _code_dir(logical_id, resource, resolve, assembly_dir, work_dir)
    # Lambda's Python runtime imports the module with "/" read as "." (a handler may name a
    # file in a subfolder: "folder/module.function").
    module_path = code_dir / Path(*module.replace("/", ".").split("."))
    if not (module_path.with_suffix(".py").is_file() or (module_path / "__init__.py").is_file()):
        raise TemplateError(
            f"function {logical_id}'s handler {handler!r} names module {module!r}, which is "
            f"not in its code folder {code_dir}"
        )
    variables = resolve((properties.get("Environment") or {}).get("Variables") or {})
    return LocalFunction(
        logical_id=logical_id,
        handler=handler,
        code_dir=code_dir,
        environment={str(name): str(value) for name, value in variables.items()},
        timeout_seconds=float(resolve(properties.get("Timeout")) or DEFAULT_TIMEOUT_SECONDS),
    )


def _code_dir(
    logical_id: str,
    resource: dict[str, Any],
    resolve: Resolver,
    assembly_dir: Path,
    work_dir: Path,
) -> Path:
    """The folder Lambda would unpack the function's code into (its asset root)."""
    inline = ((resource.get("Properties") or {}).get("Code") or {}).get("ZipFile")
    if inline is not None:
        # CloudFormation puts inline source in a file named index (AWS::Lambda::Function
        # Code, ZipFile): a Python function's handler is index.<function>.
        folder = work_dir / logical_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.py").write_text(str(resolve(inline)), encoding="utf-8")
        return folder
    asset = (resource.get("Metadata") or {}).get(ASSET_PATH_METADATA)
    if not asset:
        raise TemplateError(
            f"function {logical_id} has no {ASSET_PATH_METADATA} metadata, so local mode "
            f"cannot find its code; synthesize with `cdk synth`, which records it"
        )
    path = assembly_dir / str(asset)
    if path.is_file() and zipfile.is_zipfile(path):
        folder = work_dir / logical_id
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
        return folder
    if not path.is_dir():
        raise TemplateError(
            f"function {logical_id}'s code asset {path} is missing; synthesize the app again"
        )
    return path
