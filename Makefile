# Labs Agent Runtime: everything a developer or CI runs goes through these verbs.
# Only Python >= 3.11 is needed: `make up` and `make test` create .venv and install into it.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PROTODEPS := build/protodeps/google/api

export PIP_NO_INPUT := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install up servers test lint typecheck pytest proto proto-check proto-lint proto-breaking proto-baseline clean clean-data bench bench-quick bench-deps

help:
	@echo "make up           start nats-server, PostgreSQL and the five services (Ctrl-C stops them)"
	@echo "make servers      start only nats-server and PostgreSQL, print their NATS_URL/DATABASE_URL"
	@echo "make test         lint, typecheck, proto-check and the whole pytest suite (what CI runs)"
	@echo "make install      create .venv and install the project with its dev tools"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make typecheck    mypy"
	@echo "make proto        regenerate gen/python from proto/"
	@echo "make proto-check  fail on stale generated code, a buf lint finding or a breaking change"
	@echo "make proto-baseline  accept the current contracts as the compatibility baseline"
	@echo "make clean        remove caches and build output (never .venv nor .data)"
	@echo "make clean-data   remove .data (the local stack's database, event log and logs)"
	@echo "make bench        the benchmark (< 10 min): own stack on free ports, Celery and LiteLLM peers; bench/results/<date>.json"
	@echo "make bench-quick  the same table on smaller N (< 90 s)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"Python >= 3.11 is needed, $(PYTHON) is " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	@echo "creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "'$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

# Reinstalled only when pyproject.toml changes (or .venv is new).
$(STAMP): pyproject.toml | $(PY)
	@echo "installing the project and its dev tools into $(VENV)"
	@PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -qq -e '.[dev]'
	@touch $@

install: $(STAMP)

up: install
	@$(PY) -m deploy.local.launcher up

servers: install
	@$(PY) -m deploy.local.launcher servers

# Every check runs (-k) so one run shows every problem; any failure fails the target.
test: install
	@$(MAKE) -k lint typecheck proto-check pytest

lint: install
	@rc=0; $(VENV)/bin/ruff check . || rc=1; $(VENV)/bin/ruff format --check . || rc=1; exit $$rc

typecheck: install
	@$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is a failure here too (make fails on any
# non-zero status; the message says why).
pytest: install
	@rc=0; $(PY) -m pytest -q || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test: failing" >&2; fi; exit $$rc

proto: install
	@$(PY) scripts/gen_proto.py

proto-check: install
	@$(PY) scripts/gen_proto.py --check
	@$(MAKE) proto-lint
	@$(MAKE) proto-breaking

# Wire and JSON compatibility with proto/baseline.binpb (the contracts as last accepted).
# Additions pass; a rename, removal or type change fails until it is accepted on purpose
# with `make proto-baseline` (which shows up in review as a changed baseline).
proto-breaking: proto-lint
	@$(VENV)/bin/buf breaking proto --against proto/baseline.binpb && echo "buf breaking (WIRE_JSON vs proto/baseline.binpb): ok"

proto-baseline: proto-lint
	@$(VENV)/bin/buf build proto -o proto/baseline.binpb && echo "proto/baseline.binpb updated: commit it with the change it accepts"

# buf resolves google/api imports from build/protodeps (see buf.yaml): a copy of the files
# shipped by the installed googleapis-common-protos, so no network is needed.
proto-lint: install
	@mkdir -p $(PROTODEPS)
	@$(PY) -c 'import pathlib, shutil, google.api.annotations_pb2 as a; \
		[shutil.copy(pathlib.Path(a.__file__).parent / f, "$(PROTODEPS)") for f in ("annotations.proto", "http.proto")]'
	@$(VENV)/bin/buf lint && echo "buf lint: ok"

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache ./*.egg-info
	find . \( -path ./$(VENV) -o -path ./.data -o -path ./.git \) -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

clean-data: install
	@$(PY) -m deploy.local.launcher clean-data

# Benchmark only: the `bench` extra (Celery, py-spy) and a Redis server for the peer (Debian's
# redis-server when missing; apt-get needs root). Never part of `make install`.
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): pyproject.toml $(STAMP)
	@PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -qq -e '.[dev,bench]'
	@touch $@

# The LiteLLM proxy, the llm proxy's peer in `make bench` (issue 8): a throwaway venv, never a
# project dependency. Installed once per version (stamp); a failed install is recorded in
# $(LITELLM_VENV)/install-failed.txt (not retried: rm -rf $(LITELLM_VENV) to retry) and the
# benchmark reports the peer as skipped with that reason.
LITELLM_VENV := .venv-litellm
LITELLM_VERSION := 1.106.2
LITELLM_STAMP := $(LITELLM_VENV)/.stamp-$(LITELLM_VERSION)
$(LITELLM_STAMP): | $(PY)
	@rm -rf $(LITELLM_VENV) && mkdir -p $(LITELLM_VENV)
	@echo "installing litellm[proxy]==$(LITELLM_VERSION) into $(LITELLM_VENV) (benchmark peer only, once)"
	@{ $(PYTHON) -m venv $(LITELLM_VENV) && $(LITELLM_VENV)/bin/python -m pip install -qq \
		'litellm[proxy]==$(LITELLM_VERSION)'; } > $(LITELLM_VENV)/install.log 2>&1 \
		|| { tail -n 5 $(LITELLM_VENV)/install.log > $(LITELLM_VENV)/install-failed.txt; \
		echo "litellm[proxy] did not install (see $(LITELLM_VENV)/install.log): the LiteLLM peer will be skipped" >&2; }
	@touch $@

bench-deps: $(BENCH_STAMP) $(LITELLM_STAMP)
	@command -v redis-server >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } \
		|| echo "redis-server not found and not installable here: the Celery peer will be skipped" >&2; }

bench: bench-deps
	@$(PY) -m bench

bench-quick: bench-deps
	@$(PY) -m bench --quick
