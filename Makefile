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
# A Gemini key in the environment makes the local stack triage with Gemini (via the emulator's
# SSM, like deployed stacks); without one it uses the local analyzer.
ifneq ($(GEMINI_API_KEY),)
export TF_VAR_gemini_api_key := $(GEMINI_API_KEY)
endif
else
TF_STATE_ARG :=
TF_VARS :=
BUILD_TARGET := lambda
endif
PYTEST_ARGS ?=
E2E_ARGS ?=
BENCH_API_ARGS ?=  # e.g. "--repeat 10 --upload-seconds 30" for a quick run
# Real environments (dev, prod): MEDIA_PROCESS_IMAGE=<ecr repo>@sha256:<digest> (else the env's
# terraform.tfvars); AUTO_APPROVE=1 applies without asking; EMULATOR=1 (or ENDPOINT=... on the
# command line) makes plan-env plan the env's settings against the emulator instead of AWS.
MEDIA_PROCESS_IMAGE ?=
AUTO_APPROVE ?=
EMULATOR ?= $(if $(filter command line,$(origin ENDPOINT)),1,)
PLAN_DIR := $(CURDIR)/$(LOCAL_DIR)/plans
PLANFILE := $(PLAN_DIR)/$(ENV).tfplan
EMULATOR_PLAN_DIR := $(CURDIR)/$(LOCAL_DIR)/emulator-plan/$(ENV)
ifneq ($(ENV),local)
TF_VARS := $(if $(MEDIA_PROCESS_IMAGE),-var=media_process_image_uri=$(MEDIA_PROCESS_IMAGE),)
endif
# Container image of media_process (make image): Lambda's architecture name, arm64 | x86_64.
ARCH ?= arm64
IMAGE_NAME ?= media-triage-media-process
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)-$(ARCH)
IMAGE_REPO ?=
DOCKER_PLATFORM := linux/$(if $(filter x86_64,$(ARCH)),amd64,arm64)
CHECKOV := uvx --python 3.11 --from checkov==3.3.30 -c devtools/checkov-constraints.txt checkov

.PHONY: help install web test-web build image up down status deploy-env destroy-env plan-env demo test \
        test-unit test-integration test-e2e test-browser fuzz lint fmt typecheck tf-check checkov \
        policy-check bench bench-triage bench-media bench-cold-start bench-e2e bench-api bench-web cost clean \
        apply-local

help: ## List the tasks
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: .venv/.installed ## Install the workspace from uv.lock (uv required)
.venv/.installed: uv.lock pyproject.toml shared/pyproject.toml functions/*/pyproject.toml devtools/local_aws/pyproject.toml
	$(UV) sync --frozen
	@touch $@

# The page (web/): npm ci only when the lockfile is newer than the installed node_modules.
web/node_modules/.installed: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web: web/node_modules/.installed ## Build the page into build/web/ (deterministic, content-hashed assets; prints its gzipped weight)
	cd web && npm run build

test-web: web/node_modules/.installed ## The page's typecheck (tsc --noEmit, strict) and unit tests (node --test)
	cd web && npm run typecheck && npm test

build: install web ## Build the page and the deterministic Lambda zips into build/ (ENV=local: host ABI; else Lambda's, ARCH=arm64)
	$(PY) devtools/build_zips.py --target $(BUILD_TARGET) $(if $(filter lambda,$(BUILD_TARGET)),--arch $(ARCH),)

image: install ## Build the media_process container image (ARCH=arm64|x86_64; IMAGE_REPO=<ECR repo> pushes it); exits 2 without Docker
	@if ! docker info >/dev/null 2>&1; then \
	  echo "make image: no Docker engine here ('docker info' failed), so the media_process image was NOT built." >&2; \
	  echo "  Run it where Docker runs: make image ARCH=$(ARCH) IMAGE_REPO=<account>.dkr.ecr.<region>.amazonaws.com/$(IMAGE_NAME)" >&2; \
	  exit 2; \
	fi
	@mkdir -p build/image
	$(UV) export --frozen --package media-process --no-dev --no-emit-workspace --no-header --quiet \
	  -o build/image/requirements.txt
	docker build --platform $(DOCKER_PLATFORM) --build-arg ARCH=$(ARCH) \
	  -f functions/media_process/Dockerfile -t $(IMAGE_NAME):$(IMAGE_TAG) .
	@if [ -n "$(IMAGE_REPO)" ]; then \
	  docker tag $(IMAGE_NAME):$(IMAGE_TAG) $(IMAGE_REPO):$(IMAGE_TAG) && \
	  docker push $(IMAGE_REPO):$(IMAGE_TAG) && \
	  digest=$$(docker inspect --format '{{index .RepoDigests 0}}' $(IMAGE_REPO):$(IMAGE_TAG)) && \
	  echo "pushed: deploy with MEDIA_PROCESS_IMAGE=$$digest"; \
	else echo "built $(IMAGE_NAME):$(IMAGE_TAG) (IMAGE_REPO=<ECR repository> to push it)"; fi

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

# Re-initialised when a module is added or changed (an added module fails apply until init).
LOCAL_INIT := terraform/envs/local/.terraform/modules/modules.json
$(LOCAL_INIT): $(wildcard terraform/envs/local/*.tf terraform/modules/*/*.tf)
	$(TF) init -input=false
	@touch $@

ifeq ($(ENV),local)
deploy-env: build $(LOCAL_INIT)
	$(TF_APPLY_LOCAL)

plan-env: build $(LOCAL_INIT)
	$(TF) plan -input=false $(TF_STATE_ARG) $(TF_VARS)

destroy-env: $(LOCAL_INIT)
	$(TF) destroy -input=false $(TF_STATE_ARG) $(TF_VARS) -auto-approve
else
# dev/prod: the preflight runs first, so that missing credentials or a missing backend.hcl stop
# the run before anything is built, initialised, planned or applied.
PREFLIGHT = $(PY) devtools/preflight.py --env $(ENV) --action $@ $(if $(MEDIA_PROCESS_IMAGE),--image $(MEDIA_PROCESS_IMAGE),)
TF_INIT = $(TF) init -input=false -reconfigure -backend-config=backend.hcl

deploy-env:
	@$(PREFLIGHT)
	@$(MAKE) -s build ENV=$(ENV)
	$(TF_INIT)
	@mkdir -p $(PLAN_DIR)
	$(TF) plan -input=false $(TF_VARS) -out=$(PLANFILE)
	$(TF) show -json $(PLANFILE) | $(PY) devtools/tf_policy.py -
	@if [ -z "$(AUTO_APPROVE)" ]; then \
	  read -r -p "Apply this plan to $(ENV)? Type '$(ENV)' to confirm: " answer; \
	  [ "$$answer" = "$(ENV)" ] || { echo "Not applied."; exit 1; }; \
	fi
	$(TF) apply -input=false $(PLANFILE)

ifeq ($(EMULATOR),)
plan-env:
	@$(PREFLIGHT)
	@$(MAKE) -s build ENV=$(ENV)
	$(TF_INIT)
	@mkdir -p $(PLAN_DIR)
	$(TF) plan -input=false $(TF_VARS) -out=$(PLANFILE)
	$(TF) show -json $(PLANFILE) | $(PY) devtools/tf_policy.py -
else
plan-env:
	@$(PY) -m local_aws wait --url $(ENDPOINT) --timeout 10 >/dev/null || { \
	  echo "make plan-env EMULATOR=1: no emulator at $(ENDPOINT) (make up, or PORT=/ENDPOINT=)" >&2; exit 2; }
	@$(MAKE) -s install
	@# Zips beside the scratch copy (build/ keeps the emulator's); a plan only hashes them.
	$(PY) devtools/build_zips.py --target local --out $(EMULATOR_PLAN_DIR)/build
	$(PY) devtools/tf_emulator_plan.py --env $(ENV) --endpoint $(ENDPOINT) \
	  --workdir $(EMULATOR_PLAN_DIR) --artifacts-dir $(EMULATOR_PLAN_DIR)/build \
	  --json $(EMULATOR_PLAN_DIR)/plan.json \
	  $(if $(MEDIA_PROCESS_IMAGE),--var media_process_image_uri=$(MEDIA_PROCESS_IMAGE),)
endif

destroy-env:
	@$(PREFLIGHT)
	$(TF_INIT)
	$(TF) destroy $(TF_VARS)
endif

deploy-env: ## Build and apply terraform/envs/$(ENV): local to the emulator; dev/prod to AWS (preflight, plan, policy check, confirm unless AUTO_APPROVE=1)
plan-env: ## Plan terraform/envs/$(ENV) (dev/prod: EMULATOR=1 plans their settings against the emulator)
destroy-env: ## Destroy terraform/envs/$(ENV) (dev/prod ask for confirmation)

# make demo: one line per step with its duration; full logs in .local/logs/ (printed with the
# log's tail when a step fails; VERBOSE=1 shows everything). The batch step is shown live.
LOG_DIR := $(LOCAL_DIR)/logs
STEP = python3 devtools/run_step.py $(if $(filter-out 0,$(VERBOSE)),--verbose,)
TF_APPLY_LOCAL = $(TF) apply -input=false $(TF_STATE_ARG) $(TF_VARS) -auto-approve
TF_OUTPUT_LOCAL = $(TF) output -raw $(TF_STATE_ARG)

demo: ## Fresh machine -> emulator, build, apply, a generated batch through the API, verdicts, teardown (KEEP=1 keeps it up, VERBOSE=1 shows every log)
	@started=$$(date +%s); mkdir -p $(LOG_DIR); \
	echo "media-triage demo: the local stack on $(ENDPOINT) (step logs in $(LOG_DIR)/)"; \
	finish() { \
	  code=$$?; \
	  if [ -z "$(KEEP)" ]; then \
	    $(STEP) teardown --log $(LOG_DIR)/teardown.log -- $(MAKE) -s down || true; \
	  elif [ -n "$$web_url" ]; then \
	    echo; echo "  The stack stays up (KEEP=1). Open the page:"; echo; echo "      $$web_url"; echo; \
	    echo "  Stop it with: make down$(if $(filter-out 4566,$(PORT)), PORT=$(PORT),)"; \
	  else echo "  The stack stays up (KEEP=1); stop it with: make down$(if $(filter-out 4566,$(PORT)), PORT=$(PORT),)"; fi; \
	  took=$$(( $$(date +%s) - started )); \
	  if [ $$code -eq 0 ]; then echo "demo finished in $$((took / 60)) min $$((took % 60)) s"; \
	  else echo "demo FAILED after $$((took / 60)) min $$((took % 60)) s (exit $$code)"; fi; \
	  exit $$code; }; \
	trap finish EXIT; web_url=; \
	$(STEP) install --log $(LOG_DIR)/install.log --summary '((Installed|Uninstalled) [0-9]+ packages? in .*)' -- $(MAKE) -s install || exit $$?; \
	$(STEP) emulator --log $(LOG_DIR)/emulator-start.log --summary '(emulator (up at|already running).*)' \
	  -- $(MAKE) -s up || exit $$?; \
	$(STEP) build --log $(LOG_DIR)/build.log --summary '^built \S*/(\S+ \S+ \S+)' \
	  -- $(MAKE) -s build ENV=local || exit $$?; \
	$(STEP) "terraform apply" --log $(LOG_DIR)/terraform-apply.log --summary 'Apply complete! (.*)' \
	  -- $(MAKE) -s apply-local ENV=local || exit $$?; \
	web_url=$$($(TF_OUTPUT_LOCAL) web_url 2>/dev/null) || web_url=; \
	if [ -n "$$web_url" ]; then \
	  echo; echo "  The page:  $$web_url"; \
	  echo "  (open it to drop your own files$(if $(KEEP),,; KEEP=1 make demo keeps it up afterwards))"; echo; fi; \
	$(STEP) "the batch" --live \
	  -- $(PY) devtools/demo.py --api "$$($(TF_OUTPUT_LOCAL) api_url)" --out out/demo

# The apply half of deploy-env (local), without the build (make demo runs the build as its own step).
apply-local: $(LOCAL_INIT)
	$(TF_APPLY_LOCAL)

test: install ## The test suite: lint, the page's tests, unit, integration and e2e (starts its own emulator)
	$(MAKE) -s lint
	$(MAKE) -s test-web
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install ## Unit tests only (no emulator)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install ## Integration tests against the emulator (or AWS_ENDPOINT_URL)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: install ## End-to-end tests: the HTTP API driven like the page
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

test-browser: install ## The page in Debian's Chromium (Playwright) against a freshly deployed local stack; screenshots in out/browser/
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

fuzz: install ## Long API fuzzing (schemathesis, new seed each run) against a freshly deployed local stack
	MEDIA_TRIAGE_FUZZ=long $(PY) -m pytest tests/e2e/test_api_fuzz.py -s -p no:cacheprovider $(PYTEST_ARGS)

lint: install tf-check checkov ## ruff (lint + format check), mypy --strict, terraform fmt/validate, checkov
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

tf-check: ## terraform fmt -check and validate every env root
	terraform fmt -check -recursive terraform
	@for env in local dev prod; do \
	  TF_DATA_DIR=$(CURDIR)/$(LOCAL_DIR)/tf-validate-$$env terraform -chdir=terraform/envs/$$env init -backend=false -input=false >/dev/null && \
	  TF_DATA_DIR=$(CURDIR)/$(LOCAL_DIR)/tf-validate-$$env terraform -chdir=terraform/envs/$$env validate -no-color || exit $$?; \
	done

checkov: ## checkov over terraform/ (pinned, isolated via uvx; skips justified in .checkov.yaml)
	$(CHECKOV) --config-file .checkov.yaml

policy-check: install ## Plan prod's settings against a bare moto and run the least-privilege checks (tests/unit/test_terraform.py)
	$(PY) -m pytest tests/unit/test_terraform.py -q -p no:cacheprovider

fmt: install ## Format Python and Terraform
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
	terraform fmt -recursive terraform

bench: bench-media bench-triage bench-cold-start bench-e2e bench-api bench-web ## All benchmarks (ratios against in-run baselines, written to docs/benchmarks.md)

bench-media: install ## Thumbnail/proxy costs vs baselines, peak RSS/CPU per file kind and the Lambda memory trade (ADR 0016)
	$(PY) devtools/bench_media.py

bench-triage: install ## TriageRun vs the ideal batch schedule (fake Gemini)
	$(PY) devtools/bench_triage.py

bench-cold-start: install ## Handler imports in fresh processes (as zipped) vs a bare boto3 client
	$(PY) devtools/bench_cold_start.py

bench-e2e: ## Camera-roll batches (36 mixed, 200 photos) at 20/100 Mbit/s uplinks vs a serial baseline; tail after the last byte (E2E_ARGS=--quick; KEEP=1)
	@$(MAKE) -s up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) -s down' EXIT; \
	  $(MAKE) -s deploy-env ENV=local && \
	  $(PY) devtools/bench_e2e.py --api "$$($(TF) output -raw $(TF_STATE_ARG) api_url)" \
	    --endpoint $(ENDPOINT) --bucket "$$($(TF) output -raw $(TF_STATE_ARG) bucket_name)" \
	    --out out/bench --cache out/bench/batches $(E2E_ARGS)

bench-api: ## Results poll (36/500 files): 304 vs a bare GetItem, full vs a bare Query, read units; poll-loop transitions of a 2-min upload job
	@$(MAKE) -s up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) -s down' EXIT; \
	  $(MAKE) -s deploy-env ENV=local && \
	  $(PY) devtools/bench_api.py --api "$$($(TF) output -raw $(TF_STATE_ARG) api_url)" \
	    --endpoint $(ENDPOINT) --files-table "$$($(TF) output -raw $(TF_STATE_ARG) files_table_name)" \
	    --sessions-table "$$($(TF) output -raw $(TF_STATE_ARG) sessions_table_name)" \
	    --state-machine-arn "$$($(TF) output -raw $(TF_STATE_ARG) state_machine_arn)" $(BENCH_API_ARGS)

cost: ## The cost of one job in $ (36 and 500 files, local analyzer and Gemini), measured on the local stack and priced (KEEP=1 keeps it up; COST_ARGS=--sizes 36)
	@$(MAKE) -s up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) -s down' EXIT; \
	  $(MAKE) -s deploy-env ENV=local && \
	  $(PY) devtools/cost.py --api "$$($(TF) output -raw $(TF_STATE_ARG) api_url)" \
	    --endpoint $(ENDPOINT) --bucket "$$($(TF) output -raw $(TF_STATE_ARG) bucket_name)" \
	    --sessions-table "$$($(TF) output -raw $(TF_STATE_ARG) sessions_table_name)" \
	    --state-machine-arn "$$($(TF) output -raw $(TF_STATE_ARG) state_machine_arn)" \
	    --tf-state $(LOCAL_STATE) $(COST_ARGS)

bench-web: ## The page: weight, first render vs a static page, uploads vs the CLI, 500 files in one job (KEEP=1 keeps it up)
	@$(MAKE) -s up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) -s down' EXIT; \
	  $(MAKE) -s deploy-env ENV=local && \
	  $(PY) devtools/bench_web.py --web-url "$$($(TF) output -raw $(TF_STATE_ARG) web_url)" \
	    --api "$$($(TF) output -raw $(TF_STATE_ARG) api_url)" --endpoint $(ENDPOINT) \
	    --web-bucket "$$($(TF) output -raw $(TF_STATE_ARG) web_bucket_name)" --out out/bench-web

clean: ## Remove build outputs and local state
	rm -rf build out $(LOCAL_DIR) .pytest_cache .mypy_cache .ruff_cache
