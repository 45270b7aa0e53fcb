"""Everything local mode runs, started and stopped together.

``LocalMode(...).start()`` starts, on 127.0.0.1:

1. one HTTP server carrying moto (S3, SNS, SQS, DynamoDB...) and the SageMaker runtime
   stand-in, so a single endpoint URL reaches every service;
2. the resources of the synthesized template (``provision.provision``);
3. one model server per distinct stand-in the endpoints' models ask for (a child process
   running ``asyncinfer.local.model_server``, see ``stand_ins``) unless ``model_url`` names
   the user's own container;
4. the endpoint service's workers, and per SQS event source mapping a child process
   running that mapping's own function (``asyncinfer.local.event_source``, with the handler,
   code folder and environment ``functions.queue_consumers`` finds in the template).

It sets ``AWS_ENDPOINT_URL`` and fake credentials in this process's environment, which the
children inherit (a function builds its own boto3 client from the environment, as on
Lambda), writes a
``cdk deploy --outputs-file``-style JSON to ``<state_dir>/outputs.json`` and a description of
the running system to ``<state_dir>/local.json``. ``stop()`` finishes in-flight invocations,
writes their records and stops every thread and child process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, cast

import boto3
from botocore.config import Config

from asyncinfer_runtime.contract import DEFAULT_STACK_NAME
from asyncinfer_runtime.environment import LOCAL_MODE

from . import moto_speedups
from . import provision as prov
from .api_gateway import LocalApi
from .api_template import api_definition
from .control_plane import ControlPlane
from .endpoint_service import EndpointService, EndpointSettings, wsgi_app
from .faults import Faults
from .functions import QueueConsumer, queue_consumers
from .platform_io import StandInPlatform
from .sigv4 import Signer
from .stand_ins import ModelChoice, choose

# An event source's own drain is 30 s; this leaves its function time to finish a batch on top.
EVENT_SOURCE_STOP_SECONDS = 60
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def environment(url: str) -> dict[str, str]:
    """What boto3, the AWS CLI and the asyncinfer client need to reach local mode."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **FAKE_CREDENTIALS,
    }


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


class LocalMode:
    def __init__(
        self,
        template_path: Path,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        state_dir: Path = Path(".asyncinfer"),
        port: int = 0,
        model_url: str | None = None,
        model_delay_ms: float = 0.0,
        api_port: int = 0,
        model: str | None = None,
    ) -> None:
        """``model``: serve this stand-in (stand_ins.STAND_INS) for every endpoint instead
        of the one its model's environment asks for; ``model_url``: your own container."""
        self.template_path = template_path
        self.stack_name = stack_name
        self.state_dir = state_dir
        self.port = port
        self.model_url = model_url
        self.model_delay_ms = model_delay_ms
        self.model = model
        # Endpoint name -> the stand-in serving it (none with model_url), and its URL.
        self.models: dict[str, ModelChoice] = {}
        self.model_urls: dict[str, str] = {}
        self.functions_log = state_dir / "functions.log"
        self.url = ""
        self.outputs_file = state_dir / "outputs.json"
        self.info_file = state_dir / "local.json"
        self.service: EndpointService | None = None
        self.faults = Faults()
        self.event_sources: list[tuple[subprocess.Popen[bytes], str]] = []
        self.consumers: list[QueueConsumer] = []
        self._results_sqs: Any = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._model_processes: list[subprocess.Popen[str]] = []
        self.control_plane: ControlPlane | None = None
        self.provisioned: prov.Provisioned | None = None
        self.api_port = api_port
        self.api: LocalApi | None = None

    # -- start ----------------------------------------------------------------------------

    def start(self) -> LocalMode:
        template = prov.load_template(self.template_path)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_server()
            # A service-specific endpoint inherited from the caller (AWS_ENDPOINT_URL_DYNAMODB,
            # ...) would win over AWS_ENDPOINT_URL and send the functions elsewhere.
            for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
                del os.environ[name]
            os.environ.update(environment(self.url))
            # Every function local mode runs inherits it (what only local mode allows).
            os.environ[LOCAL_MODE] = "1"
            session = boto3.session.Session(region_name=REGION)
            config = Config(max_pool_connections=64, retries={"mode": "standard"})
            clients: dict[str, Any] = {}

            def aws(service: str) -> Any:
                if service not in clients:
                    # boto3-stubs type only literal service names; this one is named at run time.
                    clients[service] = session.client(
                        cast(Any, service), endpoint_url=self.url, config=config
                    )
                return clients[service]

            self.provisioned = prov.provision(template, self.stack_name, aws, REGION)
            prov.publish_stack(template, self.provisioned, aws("cloudformation"))
            configs = prov.endpoint_configs(template, self.provisioned)
            if not configs:
                raise prov.TemplateError(
                    f"{self.template_path} has no AWS::SageMaker::Endpoint to serve locally"
                )
            self.control_plane = ControlPlane(configs, REGION)
            self._start_models(prov.endpoint_models(template, self.provisioned))
            settings = [
                EndpointSettings.from_config(name, config) for name, (_, config) in configs.items()
            ]
            self.service = EndpointService(
                settings,
                model_url=self.model_urls,
                platform=StandInPlatform(REGION),
                region=REGION,
            )
            self.service.start()
            self._start_event_sources(template, aws)
            self._start_api(template)
            self._write_files()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        moto_speedups.apply()
        # One log line per AWS call would bury the console's own messages.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_app = moto_speedups.dispatcher()
        app = wsgi_app(lambda: self.service, moto_app, self.faults, lambda: self.control_plane)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws", daemon=True
        )
        self._server_thread.start()

    def _start_models(self, environments: dict[str, dict[str, str]]) -> None:
        """A container per endpoint: ``model_url``, or one stand-in process per distinct
        stand-in and request limit the endpoints' models ask for."""
        if self.model_url:
            self.model_urls = dict.fromkeys(environments, self.model_url)
            return
        self.models = {
            name: choose(environment, name, self.model)
            for name, environment in environments.items()
        }
        started: dict[ModelChoice, str] = {}
        for name, choice in self.models.items():
            key = ModelChoice(choice.stand_in, choice.max_request_bytes, "")
            if key not in started:
                started[key] = self._start_model_server(choice)
            self.model_urls[name] = started[key]

    def _start_model_server(self, choice: ModelChoice) -> str:
        command = [
            sys.executable,
            "-m",
            "asyncinfer.local.model_server",
            "--port",
            "0",
            "--state-dir",
            str(self.state_dir),
            "--delay-ms",
            str(self.model_delay_ms),
            "--model",
            choice.stand_in,
        ]
        if choice.max_request_bytes is not None:
            command += ["--max-request-bytes", str(choice.max_request_bytes)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self._model_processes.append(process)
        assert process.stdout is not None
        # Training on first run takes seconds; the child prints its URL once it listens.
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the model server exited before it started; see its output above")
        url = str(json.loads(line)["modelServer"])
        wait_for(url + "/ping", timeout=60)
        return url

    def _start_event_sources(self, template: dict[str, Any], aws: Any) -> None:
        """One process per SQS event source mapping, running the mapping's own function."""
        assert self.provisioned is not None
        # Found (and their code checked) before any child starts: a missing handler is one
        # error at start-up, not a child that dies on its first import.
        self.consumers, skipped = queue_consumers(
            template,
            self.provisioned,
            assembly_dir=self.template_path.parent,
            work_dir=self.state_dir / "functions",
        )
        for reason in skipped:
            print(f"local mode: {reason}", file=sys.stderr)
        queue_urls: dict[str, str] = {
            attrs["Arn"]: attrs["QueueUrl"]
            for attrs in self.provisioned.attributes.values()
            if "QueueUrl" in attrs
        }
        for consumer in self.consumers:
            if not consumer.reports_batch_item_failures:
                print(
                    f"local mode: event source mapping {consumer.mapping_id} has no "
                    f"ReportBatchItemFailures",
                    file=sys.stderr,
                )
            function = consumer.function
            command = [
                sys.executable,
                "-m",
                "asyncinfer.local.event_source",
                "--queue-url",
                queue_urls[consumer.queue_arn],
                "--queue-arn",
                consumer.queue_arn,
                *function.arguments(),
                "--batch-size",
                str(consumer.batch_size),
                "--batching-window-seconds",
                str(consumer.batching_window_seconds),
                "--region",
                REGION,
                "--parent-pid",
                str(os.getpid()),
            ]
            # This process's environment carries the stand-in endpoint and credentials; the
            # function's own variables come on top, as Lambda sets them. Its log lines (the
            # results writer's: one JSON line per record) go to a file, not the console.
            environment = {**os.environ, **function.environment}
            with self.functions_log.open("a", encoding="utf-8") as log:
                process = subprocess.Popen(command, env=environment, stdout=log)
            self.event_sources.append((process, queue_urls[consumer.queue_arn]))
        self._results_sqs = aws("sqs")

    def _start_api(self, template: dict[str, Any]) -> None:
        """The template's REST API, served by its own function (local/api_gateway.py),
        signed requests checked against the credentials local mode prints."""
        assert self.provisioned is not None
        definition = api_definition(
            template,
            self.provisioned,
            assembly_dir=self.template_path.parent,
            work_dir=self.state_dir / "functions",
        )
        if definition is None:
            return
        signer = Signer(
            FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], REGION
        )
        try:
            api = LocalApi(
                definition,
                signer=signer,
                environment=dict(os.environ),
                port=self.api_port,
                log=self.functions_log,
            )
        except prov.TemplateError as error:
            print(f"local mode: the job API is not served: {error}", file=sys.stderr)
            return
        self.api = api.start()

    def _write_files(self) -> None:
        assert self.provisioned is not None
        outputs = {self.stack_name: self.provisioned.outputs}
        self.outputs_file.write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
        info = {
            "endpointUrl": self.url,
            "modelUrl": next(iter(self.model_urls.values())),
            "models": {
                name: {
                    "url": url,
                    "standIn": self.models[name].stand_in if name in self.models else None,
                }
                for name, url in self.model_urls.items()
            },
            "metricsUrl": self.url + "/local/metrics",
            "faultsUrl": self.url + "/local/faults",
            "outputsFile": str(self.outputs_file.resolve()),
            "functionsLog": str(self.functions_log.resolve()),
            "stackName": self.stack_name,
            "environment": environment(self.url),
            # Which function consumes which queue: each mapping's own handler.
            "eventSources": [
                {
                    "queueArn": consumer.queue_arn,
                    "function": consumer.function.logical_id,
                    "handler": consumer.function.handler,
                    "codeDir": str(consumer.function.code_dir.resolve()),
                }
                for consumer in self.consumers
            ],
            "pid": os.getpid(),
        }
        if self.api is not None:
            info["apiUrl"] = self.api.url
        # Written last: its presence tells other processes that local mode is ready.
        tmp = self.info_file.with_name("local.json.partial")
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.info_file)

    # -- stop -----------------------------------------------------------------------------

    def stop(self) -> dict[str, int]:
        """Stop everything; in-flight invocations finish and their records are written."""
        summary = {"accepted": 0, "notified": 0, "queuedNotStarted": 0, "resultsQueueLeft": 0}
        self.info_file.unlink(missing_ok=True)
        if self.api is not None:
            # First: no new job may arrive while the endpoint drains.
            self.api.stop()
            self.api = None
        if self.service is not None:
            summary["queuedNotStarted"] = self.service.stop()
            summary["accepted"] = self.service.counters["accepted"]
            summary["notified"] = self.service.counters["notified"]
        for process, queue_url in self.event_sources:
            # Sent after the endpoint stopped: each function drains what the last invocations
            # published (up to its --drain-seconds), then exits.
            process.terminate()
            try:
                process.wait(timeout=EVENT_SOURCE_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            attributes = self._results_sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            summary["resultsQueueLeft"] += sum(int(value) for value in attributes.values())
        self.event_sources = []
        for model_process in self._model_processes:
            model_process.terminate()
            try:
                model_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                model_process.kill()
                model_process.wait(timeout=10)
        self._model_processes = []
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=10)
        return summary

    def __enter__(self) -> LocalMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
