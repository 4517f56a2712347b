# shouhou 售后 — `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.shouhou-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgresql://root@127.0.0.1:5432/test
PYTEST_ARGS ?=
export SHOUHOU_DATA_DIR ?= $(CURDIR)/var

# pytest exits 5 when it collected nothing: that is a broken run, never a pass.
define pytest_run
	rc=0; $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing the run"; fi; \
	exit $$rc
endef

.PHONY: help install run test test-sqlite test-pg lint bench fuzz

help:
	@echo "make run          install into $(VENV), migrate, load the demo on first start, serve on http://$(HOST):$(PORT)"
	@echo "make test         tests on SQLite, then on PostgreSQL ($(PG_URL); SHOUHOU_SKIP_PG=1 skips it outside CI)"
	@echo "make test-sqlite | test-pg | lint | bench"
	@echo "make fuzz         schemathesis against a served demo instance (FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) per operation, stateful phase on)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/shouhou migrate --noinput -v 0
	$(BIN)/shouhou demo --if-empty
	@echo
	@if [ -f "$$SHOUHOU_DATA_DIR/demo-credentials.txt" ]; then cat "$$SHOUHOU_DATA_DIR/demo-credentials.txt"; echo; fi
	@echo "  员工登录 staff:  http://$(HOST):$(PORT)/login/"
	@echo "  买家门户 buyers: http://$(HOST):$(PORT)/portal/"
	@echo "  帮助中心 help:   http://$(HOST):$(PORT)/help/yuexiang/"
	@echo "  后台 admin:      http://$(HOST):$(PORT)/admin/"
	@echo "  API 文档 docs:   http://$(HOST):$(PORT)/api/v1/docs"
	@echo
	exec $(BIN)/shouhou serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	@$(MAKE) --no-print-directory test-sqlite
	@if [ "$${CI:-}" = "true" ] || [ "$${SHOUHOU_SKIP_PG:-0}" != "1" ]; then \
		$(MAKE) --no-print-directory test-pg; \
	else \
		echo "SHOUHOU_SKIP_PG=1: the PostgreSQL pass was skipped (CI=true always runs it)"; \
	fi

# Tests get a throw-away data dir, so they never touch the demo in ./var.
test-sqlite: $(STAMP)
	@echo "== pytest on SQLite =="
	@data=$$(mktemp -d /tmp/shouhou-test.XXXXXX); trap 'rm -rf "$$data"' EXIT; mkdir -p "$$data/static"; \
	$(call pytest_run,env -u SHOUHOU_DATABASE_URL -u SHOUHOU_TEST_DB_NAME SHOUHOU_DATA_DIR="$$data" \
		$(BIN)/pytest -m "not postgres" -p no:cacheprovider $(PYTEST_ARGS))

test-pg: $(STAMP)
	@echo "== pytest on PostgreSQL ($(PG_URL)) =="
	@if ! $(BIN)/python -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=5).close()' "$(PG_URL)" 2>/dev/null; then \
		echo "PostgreSQL is unreachable at $(PG_URL): start it, or run with SHOUHOU_SKIP_PG=1 (not allowed under CI=true)"; \
		exit 1; \
	fi
	@data=$$(mktemp -d /tmp/shouhou-test.XXXXXX); trap 'rm -rf "$$data"' EXIT; mkdir -p "$$data/static"; \
	$(call pytest_run,SHOUHOU_DATABASE_URL="$(PG_URL)" SHOUHOU_DATA_DIR="$$data" \
		SHOUHOU_TEST_DB_NAME="$${SHOUHOU_TEST_DB_NAME:-test_shouhou_$$$$}" \
		$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS))

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	@if [ -f bench/run_all.py ]; then \
		$(BIN)/python bench/run_all.py --quick; \
	else \
		echo "bench/run_all.py not found: no benchmarks yet"; \
	fi

# A longer schemathesis run than the bounded one in `make test` (tests/api/test_fuzz.py):
# the demo shop served by gunicorn on a free port from a throw-away data dir, rate limits
# off, the demo's API key; all phases, stateful included. Fails on any failure.
FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= 20241111
FUZZ_ARGS ?=
fuzz: $(STAMP)
	@data=$$(mktemp -d /tmp/shouhou-fuzz.XXXXXX); pid=; \
	trap 'if [ -n "$$pid" ]; then kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; fi; rm -rf "$$data"' EXIT; \
	export SHOUHOU_DATA_DIR="$$data" SHOUHOU_RATE_LIMIT_API=off SHOUHOU_RATE_LIMIT_PORTAL=off; \
	unset SHOUHOU_DATABASE_URL; mkdir -p "$$data/static"; \
	echo "== fuzz: demo data in $$data =="; \
	$(BIN)/shouhou migrate --noinput -v 0 && $(BIN)/shouhou demo --orders 60 >"$$data/demo.log" 2>&1 \
		|| { cat "$$data/demo.log"; exit 1; }; \
	key=$$(grep -A1 '^API key for' "$$data/demo-credentials.txt" | tail -n 1 | tr -d ' '); \
	case "$$key" in sh_*) ;; *) echo "no API key in $$data/demo-credentials.txt"; exit 1;; esac; \
	cfg="$$data/schemathesis.toml"; export SHOUHOU_FUZZ_IDS="$$data/ids.json"; \
	sed 's/^hooks = .*/hooks = "tests.api.fuzz_demo_hooks"/' tests/api/schemathesis.toml >"$$cfg"; \
	$(BIN)/python tests/api/fuzz_demo_ids.py "$$key" "$$SHOUHOU_FUZZ_IDS" >>"$$cfg" || exit 1; \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(BIN)/shouhou serve --host 127.0.0.1 --port $$port >"$$data/serve.log" 2>&1 & pid=$$!; \
	echo "== fuzz: schemathesis against http://127.0.0.1:$$port/api/v1/openapi.json =="; \
	rc=0; PYTHONPATH="$(CURDIR)" $(BIN)/schemathesis --config-file "$$cfg" run \
		"http://127.0.0.1:$$port/api/v1/openapi.json" --wait-for-schema 60 \
		-H "Authorization: Bearer $$key" --max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED) \
		--phases examples,coverage,fuzzing,stateful --workers 2 $(FUZZ_ARGS) || rc=$$?; \
	if [ $$rc -ne 0 ]; then echo "== fuzz: failures (server log: last lines) =="; tail -n 40 "$$data/serve.log"; fi; \
	exit $$rc
