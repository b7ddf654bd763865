# media-triage: every task is a target here. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENV ?= local
PORT ?= 4566
ENDPOINT ?= http://127.0.0.1:$(PORT)
LOCAL_DIR := .local
PIDFILE := $(LOCAL_DIR)/emulator.pid
PY := .venv/bin/python
UV ?= uv
TF := terraform -chdir=terraform/envs/$(ENV)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraform/cli.tfrc
export TF_IN_AUTOMATION := 1
# Local state lives beside the emulator's data: a fresh emulator means fresh state.
LOCAL_STATE := $(CURDIR)/$(LOCAL_DIR)/terraform-local.tfstate
ifeq ($(ENV),local)
TF_STATE_ARG := -state=$(LOCAL_STATE)
TF_VARS := -var=endpoint=$(ENDPOINT)
BUILD_TARGET := local
else
TF_STATE_ARG :=
TF_VARS :=
BUILD_TARGET := lambda
endif
PYTEST_ARGS ?=

.PHONY: help install build up down status deploy-env destroy-env plan-env demo test test-unit \
        test-integration test-e2e lint fmt typecheck tf-check bench bench-triage bench-media \
        bench-e2e clean

help: ## List the tasks
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: .venv/.installed ## Install the workspace from uv.lock (uv required)
.venv/.installed: uv.lock pyproject.toml shared/pyproject.toml functions/*/pyproject.toml devtools/local_aws/pyproject.toml
	$(UV) sync --frozen
	@touch $@

build: install ## Build deterministic Lambda zips into build/ (ENV=local: host ABI; else Lambda's)
	$(PY) devtools/build_zips.py --target $(BUILD_TARGET)

up: install ## Start the local AWS emulator on 127.0.0.1:4566 (PORT=...; pidfile in .local/)
	@mkdir -p $(LOCAL_DIR)
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then \
	  echo "emulator already running (pid $$(cat $(PIDFILE)))"; \
	else \
	  rm -f $(LOCAL_STATE) $(LOCAL_STATE).backup; \
	  nohup $(PY) -m local_aws serve --host 127.0.0.1 --port $(PORT) --pidfile $(PIDFILE) \
	    --state-dir $(LOCAL_DIR)/emulator > $(LOCAL_DIR)/emulator.log 2>&1 & \
	  $(PY) -m local_aws wait --url $(ENDPOINT) --timeout 60 && echo "emulator up at $(ENDPOINT)"; \
	fi

down: ## Stop the local AWS emulator
	@$(PY) -m local_aws stop --pidfile $(PIDFILE) || true
	@rm -f $(LOCAL_STATE) $(LOCAL_STATE).backup

status: ## Show whether the emulator is running
	@if [ -f $(PIDFILE) ] && kill -0 $$(cat $(PIDFILE)) 2>/dev/null; then echo "up (pid $$(cat $(PIDFILE)))"; else echo down; fi

terraform/envs/$(ENV)/.terraform:
	$(TF) init -input=false $(if $(filter local,$(ENV)),,-backend-config=backend.hcl)

deploy-env: build terraform/envs/$(ENV)/.terraform ## Build and apply terraform/envs/$(ENV) (local: to the emulator)
	$(TF) apply -input=false $(TF_STATE_ARG) $(TF_VARS) $(if $(filter local,$(ENV)),-auto-approve,$(if $(AUTO_APPROVE),-auto-approve,))

plan-env: build terraform/envs/$(ENV)/.terraform ## Plan terraform/envs/$(ENV)
	$(TF) plan -input=false $(TF_STATE_ARG) $(TF_VARS)

destroy-env: terraform/envs/$(ENV)/.terraform ## Destroy terraform/envs/$(ENV)
	$(TF) destroy -input=false $(TF_STATE_ARG) $(TF_VARS) $(if $(filter local,$(ENV)),-auto-approve,)

demo: ## Fresh machine -> emulator, build, apply, a generated batch through the API, verdicts, teardown (KEEP=1 keeps it up)
	@$(MAKE) -s up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) -s down' EXIT; \
	  $(MAKE) -s deploy-env ENV=local && \
	  $(PY) devtools/demo.py --api "$$($(TF) output -raw $(TF_STATE_ARG) api_url)" --out out/demo

test: install ## The test suite: lint, unit, integration and e2e (starts its own emulator)
	$(MAKE) -s lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install ## Unit tests only (no emulator)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install ## Integration tests against the emulator (or AWS_ENDPOINT_URL)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: install ## End-to-end tests: the HTTP API driven like the page
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: install tf-check ## ruff (lint + format check) and mypy --strict
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

tf-check: ## terraform fmt -check and validate every env root
	terraform fmt -check -recursive terraform
	@for env in local dev prod; do \
	  TF_DATA_DIR=$(CURDIR)/$(LOCAL_DIR)/tf-validate-$$env terraform -chdir=terraform/envs/$$env init -backend=false -input=false >/dev/null && \
	  TF_DATA_DIR=$(CURDIR)/$(LOCAL_DIR)/tf-validate-$$env terraform -chdir=terraform/envs/$$env validate -no-color || exit 1; \
	done

fmt: install ## Format Python and Terraform
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
	terraform fmt -recursive terraform

bench: bench-media bench-triage ## All benchmarks (ratios against in-run baselines)

bench-media: install ## Thumbnail/proxy costs vs baselines
	$(PY) devtools/bench_media.py

bench-triage: install ## TriageRun vs the ideal batch schedule (fake Gemini)
	$(PY) devtools/bench_triage.py

clean: ## Remove build outputs and local state
	rm -rf build out $(LOCAL_DIR) .pytest_cache .mypy_cache .ruff_cache
