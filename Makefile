# Every target creates the environments it needs. Separate environments keep the components
# independent: .venv (facts + SDK + deploy + tools), .venv-engine (facts + container + real
# vLLM on CPU), .venv-cdk (infra), .venv-notebooks and .venv-clients.
PYTHON ?= python3.11
DEV := .venv
ENGINE := .venv-engine
CDK := .venv-cdk
PIP_QUIET := --quiet --disable-pip-version-check
TINY_CACHE ?= .cache/tiny-models
PORT ?= 8080

export CDK_DISABLE_CLI_TELEMETRY := true
# vLLM on CPU: one process, loopback only (see docs/testing.md).
export VLLM_HOST_IP := 127.0.0.1

.PHONY: help local bench-sdk test lint typecheck test-facts test-sdk test-deploy test-repo test-container test-e2e serve-local envs lock-dev lock-engine lock-cdk clean

help:
	@echo "make test         every check and test (what CI runs)"
	@echo "make serve-local  serve the tiny deterministic gpt-oss on 127.0.0.1:$(PORT) with our entrypoint"
	@echo "make local        the whole path on this machine: SDK -> SageMaker stand-in -> container, cost report"
	@echo "make rehearse     every environment checked against AWS's documented behaviour"

$(DEV)/.installed: requirements/dev.lock facts/pyproject.toml sdk/pyproject.toml deploy/pyproject.toml
	rm -rf $(DEV)
	$(PYTHON) -m venv $(DEV)
	$(DEV)/bin/pip install $(PIP_QUIET) -r requirements/dev.lock
	$(DEV)/bin/pip install $(PIP_QUIET) --no-deps -e facts -e sdk -e deploy
	touch $@

$(ENGINE)/.installed: requirements/engine.lock facts/pyproject.toml inference_container/pyproject.toml tools/install_engine.sh
	rm -rf $(ENGINE)
	PYTHON=$(PYTHON) bash tools/install_engine.sh $(ENGINE)
	touch $@

$(CDK)/.installed: requirements/cdk.lock facts/pyproject.toml sdk/pyproject.toml deploy/pyproject.toml infra/pyproject.toml
	rm -rf $(CDK)
	$(PYTHON) -m venv $(CDK)
	$(CDK)/bin/pip install $(PIP_QUIET) -r requirements/cdk.lock
	$(CDK)/bin/pip install $(PIP_QUIET) --no-deps -e facts -e sdk -e deploy -e infra
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

envs: $(DEV)/.installed $(ENGINE)/.installed $(CDK)/.installed

lint: envs
	$(DEV)/bin/ruff check .
	$(DEV)/bin/ruff format --check .

typecheck: envs
	$(DEV)/bin/mypy --config-file pyproject.toml facts/src tests/facts sdk/src tests/sdk deploy/src tests/deploy tests/repo
	$(DEV)/bin/mypy --config-file pyproject.toml tests/e2e tests/support tools/local_demo.py inference_container/bench sdk/benchmarks
	$(CDK)/bin/mypy --config-file pyproject.toml infra/src infra/app.py tests/infra
	$(ENGINE)/bin/mypy --config-file pyproject.toml inference_container/src tests/container

# The shared facts (facts/, gptoss_facts): model geometry, GPU families, instance types, rules.
test-facts: $(DEV)/.installed
	$(DEV)/bin/pytest tests/facts

test-sdk: $(DEV)/.installed
	$(DEV)/bin/pytest tests/sdk

# The deployment configuration and its checks (deploy/, gptoss_deploy).
test-deploy: $(DEV)/.installed
	$(DEV)/bin/pytest tests/deploy

# The repository itself: every source is cited inside it (tests/repo).
test-repo: $(DEV)/.installed
	$(DEV)/bin/pytest tests/repo

test-container: $(ENGINE)/.installed
	TINY_CACHE=$(abspath $(TINY_CACHE)) $(ENGINE)/bin/pytest tests/container

# The whole path: SDK -> boto3 -> SageMaker runtime stand-in -> container -> vLLM on CPU.
test-e2e: $(DEV)/.installed $(ENGINE)/.installed
	GPTOSS_ENGINE_PYTHON=$(abspath $(ENGINE))/bin/python TINY_CACHE=$(abspath $(TINY_CACHE)) \
	$(DEV)/bin/pytest tests/e2e

test: lint typecheck typecheck-notebooks typecheck-clients test-facts test-sdk test-deploy test-repo test-container test-e2e test-clients test-infra rehearse test-notebooks

serve-local: $(ENGINE)/.installed
	$(ENGINE)/bin/python -m gptoss_tiny build --kind chat --out $(TINY_CACHE)/chat --if-missing
	GPTOSS_MODEL_PATH=$(abspath $(TINY_CACHE))/chat GPTOSS_GPU_PROFILE=cpu \
	GPTOSS_HOST=127.0.0.1 GPTOSS_PORT=$(PORT) \
	$(ENGINE)/bin/python -m gptoss_container serve

# SDK hot paths (SSE reassembly, ledger transactions) as ratios against plain baselines.
bench-sdk: $(DEV)/.installed
	$(DEV)/bin/python sdk/benchmarks/bench_sdk.py

# The whole system on a laptop: container on CPU + SageMaker runtime stand-in + an SDK
# session through boto3, ending with the cost report (tools/local_demo.py).
local: $(DEV)/.installed $(ENGINE)/.installed
	$(DEV)/bin/python tools/local_demo.py --engine-python $(ENGINE)/bin/python --cache $(TINY_CACHE)

lock-cdk:
	rm -rf /tmp/gptoss-lock-cdk && $(PYTHON) -m venv /tmp/gptoss-lock-cdk
	/tmp/gptoss-lock-cdk/bin/pip install $(PIP_QUIET) -r requirements/cdk.in
	{ echo "# Locked from requirements/cdk.in by 'make lock-cdk' (pip freeze of a clean venv)."; \
	  /tmp/gptoss-lock-cdk/bin/pip freeze; } > requirements/cdk.lock

lock-dev:
	rm -rf /tmp/gptoss-lock-dev && $(PYTHON) -m venv /tmp/gptoss-lock-dev
	/tmp/gptoss-lock-dev/bin/pip install $(PIP_QUIET) -r requirements/dev.in
	{ echo "# Locked from requirements/dev.in by 'make lock-dev' (pip freeze of a clean venv)."; \
	  /tmp/gptoss-lock-dev/bin/pip freeze; } > requirements/dev.lock

lock-engine:
	rm -rf /tmp/gptoss-lock-engine && $(PYTHON) -m venv /tmp/gptoss-lock-engine
	/tmp/gptoss-lock-engine/bin/pip install $(PIP_QUIET) -r requirements/engine.in
	{ echo "# Locked from requirements/engine.in by 'make lock-engine' (pip freeze of a clean venv, less the"; \
	  echo "# torchvision family, see engine.in). Installed with --no-deps by tools/install_engine.sh."; \
	  /tmp/gptoss-lock-engine/bin/pip freeze | grep -viE '^(torchvision|torchaudio|torchcodec)=='; \
	} > requirements/engine.lock

clean:
	rm -rf $(DEV) $(ENGINE) $(CDK) .venv-notebooks node_modules cdk.out .cache .pytest_cache .mypy_cache .ruff_cache

# --- infrastructure: the CDK app (infra/, issue 4) -------------------------------------
# jsii prints a banner on Node 20 unless its major version is listed here (the value is a
# comma-separated list of Node major versions, not a boolean).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
CDK_ENV ?= dev

.PHONY: synth deploy destroy destroy-endpoint test-infra rehearse

# Every stack of infra/environments/$(CDK_ENV).json, offline (no account, no lookups), then
# the summary: stacks, resources, security findings, monthly cost. The summary also runs
# when cdk-nag fails the synthesis, so the findings are listed.
synth: $(CDK)/.installed node_modules/.installed
	rm -rf cdk.out
	status=0; npx cdk synth --no-lookups --no-notices --quiet -c env=$(CDK_ENV) || status=$$?; \
	if [ -f cdk.out/manifest.json ]; then $(CDK)/bin/python -m gptoss_infra.summary cdk.out || true; fi; \
	exit $$status

# Every stack of the environment, in dependency order. Needs AWS credentials and a
# bootstrapped account/region (`npx cdk bootstrap`), no Docker: the image is built and the
# weights copied and verified in CodeBuild, and the endpoint waits for both (docs/deploying.md).
deploy: $(CDK)/.installed node_modules/.installed
	npx cdk deploy --all --no-notices -c env=$(CDK_ENV) $(CDK_DEPLOY_ARGS)

# The environment's stacks (never the shared account stack). What stays behind is listed
# first, while the stacks can still be asked for its names, and again at the end.
LEFTOVERS := .cache/leftovers-$(CDK_ENV).txt
destroy: $(CDK)/.installed node_modules/.installed
	rm -rf cdk.out && mkdir -p .cache
	npx cdk synth --no-lookups --no-notices --quiet -c env=$(CDK_ENV)
	$(CDK)/bin/python -m gptoss_infra.teardown report cdk.out > $(LEFTOVERS)
	npx cdk destroy --force --no-notices -c env=$(CDK_ENV) \
	  $$($(CDK)/bin/python -m gptoss_infra.teardown stacks cdk.out)
	@cat $(LEFTOVERS)

# Only the endpoint's stack: the weights (and their verified copy) stay for the next deploy.
destroy-endpoint: $(CDK)/.installed node_modules/.installed
	rm -rf cdk.out
	npx cdk synth --no-lookups --no-notices --quiet -c env=$(CDK_ENV)
	npx cdk destroy --force --no-notices -c env=$(CDK_ENV) \
	  $$($(CDK)/bin/python -m gptoss_infra.teardown stacks cdk.out --endpoint-only)

test-infra: $(CDK)/.installed node_modules/.installed
	$(CDK)/bin/pytest tests/infra

# Every environment of infra/environments synthesized and checked against AWS's documented
# behaviour: creation order, topic publishers, update capacity, account-wide settings, AMI,
# profile bypass, IAM names, key scope, retained resources (docs/rehearsal.md).
rehearse: $(CDK)/.installed
	$(CDK)/bin/python -m gptoss_infra.rehearsal

# --- notebooks: SageMaker Studio quickstarts run top to bottom in CI (issue 5) ----------
# .venv-notebooks is what a Studio user has (SDK + reports + sagemaker v3) plus nbclient,
# moto's server and a kernel named gptoss-aws installed inside the venv (--sys-prefix), so
# the tests never touch the user's own Jupyter kernels.
NOTEBOOKS := .venv-notebooks
# SageMaker Python SDK telemetry (on by default) is switched off through an SDK defaults
# file (SageMaker.PythonSDK.Modules.TelemetryOptOut); the tests write their own.

.PHONY: test-notebooks typecheck-notebooks strip-notebooks lock-notebooks

$(NOTEBOOKS)/.installed: requirements/notebooks.lock facts/pyproject.toml sdk/pyproject.toml deploy/pyproject.toml
	rm -rf $(NOTEBOOKS)
	$(PYTHON) -m venv $(NOTEBOOKS)
	$(NOTEBOOKS)/bin/pip install $(PIP_QUIET) -r requirements/notebooks.lock
	$(NOTEBOOKS)/bin/pip install $(PIP_QUIET) --no-deps -e facts -e sdk -e deploy
	$(NOTEBOOKS)/bin/python -m ipykernel install --sys-prefix --name gptoss-aws \
	  --display-name "Python (gptoss-aws)"
	touch $@

# Both notebooks top to bottom: moto's server for the control plane, the SageMaker runtime
# stand-in in front of the container on CPU (started once), a Bedrock stand-in.
test-notebooks: $(NOTEBOOKS)/.installed $(ENGINE)/.installed
	GPTOSS_ENGINE_PYTHON=$(abspath $(ENGINE))/bin/python TINY_CACHE=$(abspath $(TINY_CACHE)) \
	$(NOTEBOOKS)/bin/pytest tests/notebooks

typecheck-notebooks: $(NOTEBOOKS)/.installed
	$(NOTEBOOKS)/bin/mypy --config-file pyproject.toml \
	  deploy/src tests/notebooks tools/strip_notebooks.py

# Committed notebooks carry no outputs or execution counts (tests/notebooks checks it).
strip-notebooks: $(DEV)/.installed
	$(DEV)/bin/python tools/strip_notebooks.py notebooks/*.ipynb

lock-notebooks:
	rm -rf /tmp/gptoss-lock-notebooks && $(PYTHON) -m venv /tmp/gptoss-lock-notebooks
	/tmp/gptoss-lock-notebooks/bin/pip install $(PIP_QUIET) -r requirements/notebooks.in
	{ echo "# Locked from requirements/notebooks.in by 'make lock-notebooks' (pip freeze of a clean venv)."; \
	  /tmp/gptoss-lock-notebooks/bin/pip freeze; } > requirements/notebooks.lock

# --- real clients, fuzz and load against the container on CPU (issue 9) -----------------
# .venv-clients: openai-python, LiteLLM, Strands Agents and schemathesis, kept out of .venv
# so LiteLLM's dependencies never reach the SDK's own tests; the SDK (for the SageMaker
# runtime stand-in) is installed editable on top.
CLIENTS := .venv-clients

.PHONY: test-clients typecheck-clients fuzz-long lock-clients

$(CLIENTS)/.installed: requirements/clients.lock facts/pyproject.toml sdk/pyproject.toml
	rm -rf $(CLIENTS)
	$(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/pip install $(PIP_QUIET) -r requirements/clients.lock
	$(CLIENTS)/bin/pip install $(PIP_QUIET) --no-deps -e facts -e sdk
	touch $@

test-clients: $(CLIENTS)/.installed $(ENGINE)/.installed
	GPTOSS_ENGINE_PYTHON=$(abspath $(ENGINE))/bin/python TINY_CACHE=$(abspath $(TINY_CACHE)) \
	$(CLIENTS)/bin/pytest tests/clients

typecheck-clients: $(CLIENTS)/.installed
	$(CLIENTS)/bin/mypy --config-file pyproject.toml tests/clients

# The fuzz alone, longer: schemathesis' coverage phase too and 500 cases per route (most
# of an hour on 2 cores). FUZZ_EXAMPLES and FUZZ_PHASES override.
FUZZ_EXAMPLES ?= 500
FUZZ_PHASES ?= coverage,fuzzing
fuzz-long: $(CLIENTS)/.installed $(ENGINE)/.installed
	GPTOSS_ENGINE_PYTHON=$(abspath $(ENGINE))/bin/python TINY_CACHE=$(abspath $(TINY_CACHE)) \
	GPTOSS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) GPTOSS_FUZZ_PHASES=$(FUZZ_PHASES) \
	$(CLIENTS)/bin/pytest tests/clients/test_fuzz.py

lock-clients:
	rm -rf /tmp/gptoss-lock-clients && $(PYTHON) -m venv /tmp/gptoss-lock-clients
	/tmp/gptoss-lock-clients/bin/pip install $(PIP_QUIET) -r requirements/clients.in
	{ echo "# Locked from requirements/clients.in by 'make lock-clients' (pip freeze of a clean venv)."; \
	  /tmp/gptoss-lock-clients/bin/pip freeze; } > requirements/clients.lock
