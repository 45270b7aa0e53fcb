# One entry point for every task. Each target sets up what it needs first, so a fresh
# clone needs nothing but python3 (3.11+), npm and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov pins its own boto3 and packaging, so it gets a venv of its own; so does the
# SageMaker SDK v3, whose sagemaker/__init__.py would replace the SDK v2's (tests only).
CHECKOV_VENV := .venv-checkov
SDK_V3_VENV := .venv-sagemaker-v3
# Put the pinned Node.js (node_modules/.bin/node, a supported release, so jsii prints no
# end-of-life banner) and CDK CLI ahead of anything installed on the machine.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# The CLI's telemetry and notices reach the network; neither has a place in an offline build.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: help setup synth test lint format bench local demo clean openapi \
	test-fast test-infra test-integration test-e2e test-tooling \
	integ integ-destroy integ-snapshot integ-snapshot-update

help:
	@echo "make synth   set up, then cdk synth the default app into cdk.out/"
	@echo "make test    set up, lint, synth, then run the whole test suite (what CI runs)"
	@echo "make test-fast         the unit tier (tests/unit): pure logic, seconds"
	@echo "make test-infra        templates: CDK assertions, snapshots, cdk-nag, cfn-lint, checkov"
	@echo "make test-integration  in-process stand-ins: moto, the writer, the drain, local mode's parts"
	@echo "make test-e2e          local mode from the synthesized template, the CLI end to end"
	@echo "make test-tooling      the repository's plumbing: CI workflow, pins, pre-commit"
	@echo "make lint    ruff (lint + format check) + mypy; the first step of make test"
	@echo "make format  ruff format + ruff check --fix: rewrite the tree the way make lint wants it"
	@echo "make bench   run the benchmarks; figures land in bench/results/"
	@echo "make openapi rewrite lambda/job_api/openapi.json from the job API's routes"
	@echo "make local   run the whole async data flow on this machine"
	@echo "make demo    local mode + a 500-request batch + a summary"
	@echo "make integ   deploy the integration test into YOUR account, assert, destroy (costs money)"
	@echo "make integ-snapshot         offline: the integ test's snapshot and assertions (in make test)"
	@echo "make integ-snapshot-update  rewrite tests/integ/*.snapshot after a deliberate change"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(SDK_V3_VENV)/.installed: requirements-sagemaker-v3.txt
	$(PYTHON) -m venv $(SDK_V3_VENV)
	$(SDK_V3_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sagemaker-v3.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(SDK_V3_VENV)/.installed node_modules/.installed

synth: setup
	cdk synth --quiet --no-notices $(CDK_ARGS)

# Lint first, as a step of its own: it fails in seconds, before minutes of tests. Then the
# unit tier in a pytest process of its own, so its import guard (tests/unit/conftest.py)
# sees every import; then every other tier (tests/README.md), tests/integ included: that is
# `make integ-snapshot`, offline. The e2e tier runs the stack's own template, hence synth.
# The other tiers run on every core (pytest-xdist), a test file per worker so that its
# module fixtures (a synth, a local mode) are built once: 16.3 -> 10.9 min on 2 cores.
test: lint synth
	$(PY) -m pytest tests/unit -q
	$(PY) -m pytest --ignore=tests/unit --numprocesses auto --dist loadfile

test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

test-infra: setup
	$(PY) -m pytest tests/infra

test-integration: setup
	$(PY) -m pytest tests/integration

test-e2e: synth
	$(PY) -m pytest tests/e2e

test-tooling: setup
	$(PY) -m pytest tests/tooling

# mypy's targets are [tool.mypy] files in pyproject.toml (app.py stacks lambda/results_writer
# lambda/endpoint_drain asyncinfer tests bench), shared with the pre-commit hook.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The job API's OpenAPI document is committed; a unit test fails when it drifts.
openapi: $(VENV)/.installed
	cd lambda && ../$(PY) -m job_api.openapi

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

local: setup
	$(VENV)/bin/asyncinfer local up

demo: setup
	$(PY) -m asyncinfer.local.demo

# The proof in your own account: tests/integ/integ_async_inference.py is an integ-tests-alpha
# app (IntegTest + assertions). It is deployed with the pinned CDK CLI rather than integ-runner:
# the newest integ-runner cannot read this aws-cdk-lib's cloud assembly yet
# (tests/integ/test_integ_runner.py; once it can, this is
# `integ-runner --language python --directory tests/integ --force --parallel-regions $$AWS_REGION`).
# Destroy runs whatever the deploy's outcome, and its failure fails the target too.
INTEG_APP := $(PY) tests/integ/integ_async_inference.py
INTEG_CDK = cdk --app "$(INTEG_APP)" --output cdk-integ.out --no-notices

integ: setup
	$(INTEG_CDK) deploy --all --require-approval never; deployed=$$?; \
	$(MAKE) --no-print-directory integ-destroy; destroyed=$$?; \
	if [ $$deployed -ne 0 ]; then echo "integ: FAILED (deploy or an assertion; see above)"; exit 1; fi; \
	if [ $$destroyed -ne 0 ]; then echo "integ: assertions passed, destroy FAILED"; exit 1; fi; \
	echo "integ: PASSED, everything destroyed"

integ-destroy: setup
	$(INTEG_CDK) destroy --all --force

# Offline, no AWS credentials used: the snapshot comparison (templates with asset hashes
# ignored, and integ.json: what integ-runner compares) plus the assertions it declares.
integ-snapshot: setup
	$(PY) -m pytest tests/integ -q

# After a deliberate change to the stack or the assertions; review the diff before committing.
integ-snapshot-update: setup
	INTEG_SNAPSHOT_UPDATE=1 $(PY) -m pytest tests/integ/test_integ_snapshot.py -q

clean:
	rm -rf cdk.out cdk-integ.out .pytest_cache .mypy_cache .ruff_cache
