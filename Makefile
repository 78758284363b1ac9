# Everyday targets. Every target installs what it needs first.
VENV := .venv
PY := $(VENV)/bin/python
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_DEFAULT_REGION ?= us-east-1
# `make up BROKERS=3`: a three-node Kafka cluster, topics replicated twice.
export BROKERS ?= 1
# `make bench S3_LATENCY_MS=25`: every S3 request of the functions waits 25 ms, as on a cloud store.
export S3_LATENCY_MS ?= 0
# `make up TRACES=1`: Jaeger, and every process sends it its spans (`billing trace` shows one).
export TRACES ?= 0

.PHONY: install install-tests deps venv up down status demo run test fast slow unit integration e2e compose-check model lint typecheck check bench logs clean

install:               ## the venv, the broker's jars, the S3 server, and Chromium for the console's browser tests
	@bash infra/install.sh --browser

install-tests:         ## install, Jaeger and the docker compose plugin the tests need
	@bash infra/install.sh --browser --for-tests

# What running the stack needs: `make install` without the browser, so `make demo` stays quick.
deps:
	@bash infra/install.sh

# What lint, typecheck and the unit tier need: the venv alone.
venv:
	@bash infra/install.sh --python-only

up: deps               ## broker, S3, provisioning, coordinator, CRM and runtime, in the background
	@$(PY) -m infra.stack up

down:                  ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(PY) -m infra.stack down; fi

status:
	@$(PY) -m infra.stack status

demo: up               ## a billing run for every seed customer, then the bills in S3
	@$(PY) -m infra.demo

# pytest keeps the test modules it rewrote (and Python its bytecode) only where bytecode may
# be written: without, every pytest process compiles them again (2 s of CPU each).
unexport PYTHONDONTWRITEBYTECODE
# Tests run in WORKERS processes (pytest-xdist), two on two cores, a worker that is done
# taking tests queued for the other; WORKERS=0 runs them in one.
WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(WORKERS) --dist worksteal --durations=10
# The unit tier runs on its own, with Kafka's client and infra unimportable (tests/helpers/unit_tier.py).
UNIT := $(PYTEST) -p tests.helpers.unit_tier tests/unit

test: install-tests    ## every tier; starts the broker and S3 server if they are not running; the compose check last
	@$(UNIT)
	@$(PYTEST) tests/integration tests/e2e
	@$(MAKE) --no-print-directory compose-check

fast: install-tests    ## every tier but the slow fault tests
	@$(UNIT)
	@$(PYTEST) -m "not slow" tests/integration tests/e2e

slow: install-tests    ## only the slow fault tests: crashes, outages, lost brokers
	@$(PYTEST) -m slow tests/integration tests/e2e

unit: venv             ## the unit tier alone: no network, no Kafka
	@$(UNIT)

integration: install-tests
	@$(PYTEST) tests/integration

e2e: install-tests
	@$(PYTEST) tests/e2e

# docker-compose.yml for real, beside anything else running: stand-in images built from
# Debian's, PyPI's and Maven's packages, `docker compose up --build -d` on podman, a billing
# run, a crashed runtime container, `down -v` (docs/compose.md).
compose-check:         ## podman and the stand-in images, then the compose stack up, billing, down
	@bash infra/install.sh --containers   # the venv and jars too, as `make deps`
	@$(PY) -m infra.standin_images
	@$(PY) -m pytest tests/compose

# ruff, then the import contracts (pyproject.toml's [tool.importlinter]: the floors, no circles).
lint: venv
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	@$(VENV)/bin/mypy

# The model-based test of the operator actions, at length: every tier runs a few random
# sequences of each of its four machines; this runs MODEL_EXAMPLES of each, their buckets in
# memory (0.02 to 0.08 s a sequence: 2,000 of each in 5 to 6 min on 2 workers), and
# MODEL_S3_EXAMPLES of the whole model on moto, S3's faults in boto3's requests (1 to 3 s a
# sequence), the machines on WORKERS processes. MODEL_ON_S3=1 runs all four on moto.
MODEL_EXAMPLES ?= 500
MODEL_S3_EXAMPLES ?= 100
model: venv            ## the operator actions' model-based test over MODEL_EXAMPLES random sequences a machine
	@MODEL_EXAMPLES=$(MODEL_EXAMPLES) MODEL_S3_EXAMPLES=$(MODEL_S3_EXAMPLES) $(PY) -m pytest -n $(WORKERS) --durations=4 -p tests.helpers.unit_tier -o timeout=14400 tests/unit/test_operator_model.py

check: lint typecheck unit   ## what to run before a commit: ruff, the import contracts, mypy and the unit tier

N ?= 10000
bench: up              ## the CRM with N customers, a billing run of them (default 10000), a billed period run again, then a one-customer run 20 times; S3_LATENCY_MS=25 for a cloud's latency
	@$(PY) -m bench.crm --customers $(N)
	@$(PY) -m bench.billing_run --customers $(N)
	@$(PY) -m bench.period_rerun --customers $(N)
	@$(PY) -m bench.billing_run --latency

logs:                  ## the last lines of every process's log
	@tail -n 20 .state/logs/*.log

run:                   ## a billing run of every customer, followed to the end (`make up` first)
	@$(VENV)/bin/billing run --all-customers --wait

clean: down            ## start over: every bill, run, job and customer of the local stack is deleted
	rm -rf .state
