# One entry point for every task. Each target sets up what it needs first, so a fresh
# clone needs nothing but python3 (3.11+), npm and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov pins its own boto3 and packaging, so it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
# Put the pinned Node.js (node_modules/.bin/node, a supported release, so jsii prints no
# end-of-life banner) and CDK CLI ahead of anything installed on the machine.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# The CLI's telemetry and notices reach the network; neither has a place in an offline build.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: help setup synth test lint bench local demo clean

help:
	@echo "make synth   set up, then cdk synth the default app into cdk.out/"
	@echo "make test    set up, synth, then run the whole test suite (what CI runs)"
	@echo "make lint    ruff + mypy"
	@echo "make bench   run the benchmarks; figures land in bench/results/"
	@echo "make local   run the whole async data flow on this machine"
	@echo "make demo    local mode + a 500-request batch + a summary"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

synth: setup
	cdk synth --quiet --no-notices $(CDK_ARGS)

# Local mode's end-to-end tests run the stack's own template, so synthesize it first.
test: synth
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy app.py stacks lambda/results_writer lambda/endpoint_drain asyncinfer tests bench

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

local: setup
	$(VENV)/bin/asyncinfer local up

demo: setup
	$(PY) -m asyncinfer.local.demo

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
