# iam-key-rotator: build, test, try and ship the rotation function. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
# cargo-lambda finds zig (from the ziglang package) through the venv's python.
LAMBDA := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda
ZIP := target/lambda/iam-key-rotator/bootstrap.zip
EVENTS := $(wildcard events/*.json)

.PHONY: help venv tools build build-x86 package test lint fuzz soak demo local bench deploy
help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: ## Install the pinned test tools (moto, cfn-lint) into ./.venv
	@bash scripts/venv.sh requirements.txt

tools: ## Install the pinned build tools (cargo-lambda, zig) into ./.venv
	@bash scripts/venv.sh requirements.txt requirements-build.txt

build: tools ## Build the Lambda for arm64 (Graviton): target/lambda/iam-key-rotator/bootstrap
	$(LAMBDA) build --release --arm64 --bin iam-key-rotator

build-x86: tools ## Build the Lambda for x86_64
	$(LAMBDA) build --release --x86-64 --bin iam-key-rotator

package: tools ## Build the arm64 Lambda and zip it: target/lambda/iam-key-rotator/bootstrap.zip
	$(LAMBDA) build --release --arm64 --bin iam-key-rotator --output-format zip
	@ls -l $(ZIP)

test: venv ## Run every test (unit, moto, faults, soak, CLI, end to end) and cfn-lint; print the fault matrix
	rm -rf target/fault-matrix
	@# nextest runs the test binaries side by side (each with its own moto); cargo test one by one.
	if cargo nextest --version >/dev/null 2>&1; then cargo nextest run --locked; else cargo test --locked; fi
	$(VENV)/bin/cfn-lint template.yaml member-role.yaml
	@echo; echo "Fault matrix (every call point of a rotation, each fault kind, Secrets Manager's retries after):"
	@cat target/fault-matrix/*.txt

fuzz: ## Property-test event and secret parsing with 20,000 cases each (cargo test runs 256)
	PROPTEST_CASES=20000 cargo test --locked --lib input_properties

soak: venv ## Run the soak alone, printing its figures; SOAK_SEED=n replays another seed
	cargo test --locked --test soak -- --nocapture

lint: venv ## cargo fmt --check, clippy with warnings as errors, cfn-lint
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml member-role.yaml

demo: venv ## Rotate a key end to end on a local moto, through the Lambda binary, with a before/after table
	cargo build --locked --bin iam-key-rotator --bin iam-key-rotator-cli
	$(PY) scripts/demo.py

local: tools ## Serve the function with `cargo lambda watch` and invoke it with each file in events/
	@$(LAMBDA) watch --bin iam-key-rotator & watch=$$!; trap 'kill $$watch' EXIT; sleep 5; \
	for event in $(EVENTS); do echo "== $$event"; $(LAMBDA) invoke iam-key-rotator --data-file $$event || true; done

bench: tools ## Print size, start-to-ready time, peak memory and AWS calls of the release build
	@# The x86_64 Lambda build runs on this machine; the arm64 zip is what gets deployed.
	$(LAMBDA) build --release --x86-64 --bin iam-key-rotator
	cp target/lambda/iam-key-rotator/bootstrap target/bench-bootstrap-x86_64
	$(MAKE) --no-print-directory package
	cargo build --release --locked --bin iam-key-rotator-cli
	$(PY) scripts/bench.py --binary target/bench-bootstrap-x86_64 --package $(ZIP)

# The one architecture `sam build` builds and `sam deploy` deploys: make deploy ARCH=x86_64.
ARCH ?= arm64
SAM := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sam

deploy: ## Build and deploy with AWS SAM for ARCH (arm64); installs cargo-lambda, zig and the SAM CLI first (needs AWS credentials)
	@bash scripts/venv.sh requirements.txt requirements-build.txt requirements-deploy.txt
	$(SAM) build --beta-features --parameter-overrides Architecture=$(ARCH)
	$(SAM) deploy --guided --parameter-overrides Architecture=$(ARCH)
