# wsx: `make demo` and `make test` do all the set-up on a fresh machine.
# Each layer's targets live in mk/<layer>.mk; this file only ties them together.

SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
CARGO ?= cargo
CARGO_FLAGS ?= --locked
BUILD := $(ROOT)/build
# Node packages for the interop tests (ws, playwright-core) live here.
NODE_DIR := $(ROOT)/tests/interop/node

include mk/*.mk

.PHONY: help deps lint test demo

help:
	@echo "make demo   build everything, run the example clients against the example server"
	@echo "make test   every test layer (what CI runs)"
	@echo "make lint   cargo fmt --check, clippy -D warnings, rustdoc -D warnings"
	@echo "make deps   install the peers and tools the tests need (apt, pip venv, npm)"

deps:
	bash scripts/install-deps.sh

# The docs of the core and the C ABI (whose comments become wsx.h's) build
# without a warning: no broken or private links.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc $(CARGO_FLAGS) --no-deps -p wsx-core -p wsx-ffi

# Every layer adds its own test target to TEST_TARGETS in its mk file. The
# tests link the debug library (with its assertions, for ASan and valgrind);
# what `make examples` and `make demo` build is release (mk/ffi.mk).
test: FFI_PROFILE = debug
test: deps lint $(TEST_TARGETS)
	@echo "all test layers passed: $(TEST_TARGETS)"

demo: deps $(DEMO_TARGETS)
