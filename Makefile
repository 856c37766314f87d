# iam-key-rotator: build, test, try and ship the rotation function. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help venv test lint fmt
help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: ## Install the pinned Python tools (moto, cfn-lint, cargo-lambda, zig) into ./.venv
	@bash scripts/venv.sh

test: venv ## Run every test: unit, moto integration, end to end through the Lambda runtime
	cargo test --locked

lint: venv ## cargo fmt --check, clippy with warnings as errors
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
