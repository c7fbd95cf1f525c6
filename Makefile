# Portico's entry points. Every target installs what it needs first (quietly when present).
#
#   make run    build and run the engine headless (`portico serve`)
#   make test   formatting, lints and the whole test suite
#
# Build output goes to a cache outside the clone so every checkout and CI run shares it.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/portico/target
export CARGO_TERM_COLOR ?= auto
PREFIX ?= $(HOME)/.local
ARGS ?=

CARGO := cargo
PORTICO := $(CARGO_TARGET_DIR)/release/portico

.PHONY: run test deps build install lint fmt unit bench

## run: build (release) and run `portico serve`; pass options with ARGS="--http 127.0.0.1:8080"
run: deps
	@$(CARGO) build --release --locked -p portico
	@echo "portico is at $(PORTICO) (make install puts it on your PATH)"
	$(PORTICO) serve $(ARGS)

## test: rustfmt, clippy (warnings are errors) and every test, with cargo-nextest
test: deps lint unit

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: deps
	$(CARGO) nextest run --workspace --locked

## build: release binary only
build: deps
	$(CARGO) build --release --locked -p portico

## install: copy the release binary to $(PREFIX)/bin
install: build
	@install -D -m 0755 $(PORTICO) $(PREFIX)/bin/portico
	@echo "installed $(PREFIX)/bin/portico"

## fmt: format the code
fmt:
	$(CARGO) fmt --all

deps:
	@scripts/install-deps.sh

## bench: performance against nginx on this machine (installs nginx and tools when missing)
bench: deps
	@scripts/install-deps.sh --bench
	$(CARGO) build --release --locked -p portico
	bench/tls.sh
