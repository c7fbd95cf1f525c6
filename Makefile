# Portico's entry points. Every target installs what it needs first (quietly when present).
#
#   make run      build and run the desktop app, or, without a display, the engine headless
#                 (`portico serve`) with the web UI in a browser
#   make bundle   build the desktop app's .deb and .rpm
#   make test     formatting, lints, the whole test suite, the web UI's checks and browser test,
#                 the API types check and the API fuzzer
#   make openapi  regenerate docs/openapi.json and ui/src/api/schema.d.ts after an API change
#   make ui       build the web UI into ui/dist (every target that runs cargo does this first:
#                 the engine embeds ui/dist)
#
# Build output goes to a cache outside the clone so every checkout and CI run shares it.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/portico/target
export CARGO_TERM_COLOR ?= auto
# schemathesis and the OpenAPI validator live in a venv beside the build cache.
export PORTICO_VENV ?= $(HOME)/.cache/portico/venv
# A Node.js new enough for the UI's tools, when the system's is not (scripts/install-deps.sh
# puts one here from the npm registry); harmless when the folder does not exist.
export PATH := $(HOME)/.cache/portico/node/node_modules/.bin:$(PATH)
# Playwright drives Debian's /usr/bin/chromium; it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
PREFIX ?= $(HOME)/.local
ARGS ?=

CARGO := cargo
PORTICO := $(CARGO_TARGET_DIR)/release/portico
# The debug binaries the browser, desktop and fuzz tests run, built with the same targets (and
# so the same dependency features) as nextest's build, so nothing is compiled twice.
DEBUG_BUILD := $(CARGO) build --locked --workspace --all-targets

.PHONY: run serve test deps build install lint fmt unit bench soak openapi check-api-types fuzz-api ui ui-check e2e \
	desktop-test bundle check-deb prune-cache

# The UI is rebuilt only when something it is built from changed.
UI_INPUTS := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/package.json ui/vite.config.ts \
	ui/tsconfig.json package-lock.json

## run: the desktop app when there is a display (X11 or Wayland), else `portico serve` with the
## UI in a browser (the `UI:` line it prints); ARGS go to `portico serve`
run: deps ui
ifneq ($(DISPLAY)$(WAYLAND_DISPLAY),)
	@$(CARGO) build --release --locked -p portico-desktop
	$(CARGO_TARGET_DIR)/release/portico-desktop
else
	@echo "no display: running Portico headless; open the UI: link below in a browser"
	@$(MAKE) --no-print-directory serve
endif

## serve: build (release) and run `portico serve`; pass options with ARGS="--http 127.0.0.1:8080"
serve: deps ui
	@$(CARGO) build --release --locked -p portico
	@echo "portico is at $(PORTICO) (make install puts it on your PATH)"
	$(PORTICO) serve $(ARGS)

## test: rustfmt, clippy (warnings are errors), every test with cargo-nextest (the desktop app
## is built with the workspace), the web UI's type check, lint, unit tests and build, the
## browser end-to-end test, the desktop app under a virtual display, the UI's API types
## against a fresh generation, and schemathesis against a running engine
test: deps prune-cache ui-check lint unit e2e desktop-test check-api-types fuzz-api

## prune-cache: delete superseded test binaries from the shared build cache (each change leaves
## hundreds of MB behind under a new hash; only the newest of each name is kept)
prune-cache:
	@scripts/prune-build-cache.sh

## ui: build the web UI into ui/dist (quiet, and nothing to do when it is up to date)
ui: deps ui/dist/index.html

ui/dist/index.html: $(UI_INPUTS) | deps
	@echo "building the web UI (ui/dist)"
	@npm run --silent ui:build

## ui-check: the UI's type check (tsc), lint (ESLint, no warnings), unit tests (Vitest), build
ui-check: deps
	npm run --silent ui:typecheck
	npx --no-install tsc -p tests/e2e
	npm run --silent ui:lint
	npm run --silent ui:test
	@$(MAKE) --no-print-directory ui

## e2e: Playwright with Debian's Chromium against a real `portico serve` (tests/e2e/);
## the pages' screenshots land in tests/e2e/screenshots/ (not committed)
e2e: deps ui
	@$(DEBUG_BUILD)
	npx --no-install playwright test -c tests/e2e/playwright.config.ts

## desktop-test: the desktop app end to end through WebDriver (tauri-driver, WebKitWebDriver,
## webdriverio) under a virtual display: it opens on the Routes page, a route added in the UI
## is served and shows in Traffic, closing the window keeps it serving, a second launch hands
## over to the first; its window's screenshot lands in tests/desktop/screenshots/
desktop-test: deps ui
	@$(DEBUG_BUILD)
	node tests/desktop/desktop.test.mjs

## bundle: the desktop app's .deb and .rpm (release build; the files land under
## $(CARGO_TARGET_DIR)/release/bundle/)
bundle: deps ui
	npx --no-install tauri build --bundles deb,rpm -- --locked

## check-deb: install the .deb from `make bundle` on a clean Debian chroot (debootstrap, needs
## root and the Debian archive) and start it there: apt resolves its dependencies, the engine answers
check-deb:
	scripts/check-deb.sh

lint: deps ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	shellcheck .ci/run bench/*.sh scripts/*.sh

unit: deps ui
	$(CARGO) nextest run --workspace --locked

## soak: minutes of mixed traffic (plain, HTTPS, WebSocket, SSE, injected faults) through one
## engine; fails if anything but the injected faults fails or memory and descriptors grow.
## SOAK_SECONDS sets the length (600). Not part of `make test`.
soak: deps ui
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(CARGO) nextest run -p portico-core --locked --profile soak \
	  --run-ignored only -E 'binary(soak)'

## openapi: write docs/openapi.json from the code, then ui/src/api/schema.d.ts from it
openapi: deps ui
	@$(CARGO) build --locked -p portico
	$(CARGO_TARGET_DIR)/debug/portico openapi > docs/openapi.json.tmp
	@mv docs/openapi.json.tmp docs/openapi.json
	npm run --silent gen:api

## check-api-types: fail when ui/src/api/schema.d.ts differs from what docs/openapi.json generates
check-api-types: deps
	@tmp="$$(mktemp --suffix=.d.ts)"; trap 'rm -f "$$tmp"' EXIT; \
	node scripts/gen-api-types.mjs "$$tmp" || exit 1; \
	if ! diff -u ui/src/api/schema.d.ts "$$tmp"; then \
	  echo "ui/src/api/schema.d.ts is stale: run 'make openapi' and commit the result" >&2; \
	  exit 1; \
	fi; \
	echo "ui/src/api/schema.d.ts matches docs/openapi.json"

## fuzz-api: schemathesis, driven by the OpenAPI document, against a real `portico serve`
fuzz-api: deps ui
	@$(DEBUG_BUILD)
	scripts/api-fuzz.sh $(CARGO_TARGET_DIR)/debug/portico

## build: release binary only
build: deps ui
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

## bench: Portico against nginx and Caddy as proxies (throughput, latency, memory), TLS against nginx, capture on versus off, compression and cache against nginx and Caddy, the web UI's live table under load in headless Chromium (installs nginx, Caddy, wrk and tools when missing)
bench: deps ui
	@scripts/install-deps.sh --bench
	$(CARGO) build --release --locked -p portico
	bench/compare.sh
	bench/tls.sh
	bench/capture.sh
	bench/features.sh
	bench/ui.sh
