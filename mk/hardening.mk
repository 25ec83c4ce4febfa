# Hardening (tests/hardening, crate wsx-hardening; fuzz/): the fuzz targets'
# seeds and regressions replayed on stable, hostile peers against an
# in-process server, and the soak (100,000 connect/echo/close cycles, 10
# million messages) against the C echo server, in test-hardening; `make soak`
# runs the same soak on release builds; cargo-fuzz in `make fuzz` and
# `make fuzz-cmin` (FUZZING.md).
.PHONY: test-hardening soak fuzz fuzz-cmin fuzz-coverage
TEST_TARGETS += test-hardening

# Seconds each fuzz target runs for in `make fuzz` (FUZZING.md: the
# campaign behind fuzz/corpus/ ran each target for much longer).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frame_decoder message_assembler client_handshake server_handshake close_payload deflate \
  http_connect socks5 url deflate_negotiation c_feed cluster_link
# libFuzzer flags: inputs up to 4 KiB; any single allocation over 64 MiB is a
# failure (the targets use limits of a few hundred bytes); WebSocket, HTTP,
# URL and SOCKS5 tokens from the dictionary.
FUZZ_FLAGS ?= -max_len=4096 -rss_limit_mb=1024 -malloc_limit_mb=64 -print_final_stats=1 \
  -dict=$(ROOT)/fuzz/dict/websocket.dict
FUZZ_HAVE = $(CARGO) +nightly --version >/dev/null 2>&1 && $(CARGO) +nightly fuzz --version >/dev/null 2>&1
FUZZ_SKIP = echo "$@: SKIPPED: needs a nightly toolchain and cargo-fuzz" \
  "(rustup toolchain install nightly; cargo install cargo-fuzz --locked)"

# New inputs go to fuzz/corpus/<target> (checked in, replayed by
# test-hardening); the seeds are read too.
fuzz:
	@if ! { $(FUZZ_HAVE); }; then $(FUZZ_SKIP); else \
	  set -e; cd fuzz; \
	  for t in $(FUZZ_TARGETS); do \
	    mkdir -p corpus/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    nice -n 19 $(CARGO) +nightly fuzz run --debug-assertions $$t corpus/$$t seeds/$$t -- \
	      -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS); \
	  done; \
	fi

# Minimises fuzz/corpus/<target> to the inputs that reach distinct coverage.
fuzz-cmin:
	@if ! { $(FUZZ_HAVE); }; then $(FUZZ_SKIP); else \
	  set -e; cd fuzz; \
	  for t in $(FUZZ_TARGETS); do \
	    nice -n 19 $(CARGO) +nightly fuzz cmin --debug-assertions $$t corpus/$$t -- -max_len=4096; \
	  done; \
	fi

# Line coverage of each target's corpus (cargo fuzz coverage, then llvm-cov
# from the nightly toolchain's llvm-tools): build/fuzz-coverage/<target>.txt,
# per source file of wsx (FUZZING.md quotes the files each target is for).
FUZZ_COV_DIR := $(BUILD)/fuzz-coverage
fuzz-coverage:
	@if ! { $(FUZZ_HAVE); }; then $(FUZZ_SKIP); else \
	  set -e; mkdir -p $(FUZZ_COV_DIR); cd fuzz; \
	  rustup +nightly component add llvm-tools >/dev/null; \
	  cov=$$(rustc +nightly --print sysroot)/lib/rustlib/$$(rustc +nightly -vV | sed -n 's/^host: //p')/bin/llvm-cov; \
	  for t in $(FUZZ_TARGETS); do \
	    nice -n 19 $(CARGO) +nightly fuzz coverage --debug-assertions $$t corpus/$$t; \
	    $$cov report target/*/coverage/*/release/$$t -instr-profile=coverage/$$t/coverage.profdata \
	      -ignore-filename-regex='(\.cargo/registry|rustc/|/library/)' > $(FUZZ_COV_DIR)/$$t.txt; \
	    echo "fuzz-coverage: $(FUZZ_COV_DIR)/$$t.txt"; \
	  done; \
	fi

# The soak runs against the C echo server: the one `make examples` builds
# (debug library, dependencies optimised) in test-hardening, a release build
# of the same source in `make soak`. The load generator is
# tests/hardening/src/bin/wsx-soak.rs.
SOAK_DIR := $(BUILD)/soak
SOAK_CYCLES ?= 100000
SOAK_MESSAGES ?= 10000000

test-hardening: examples
	$(CARGO) test $(CARGO_FLAGS) -p wsx-hardening --no-fail-fast
	$(CARGO) build $(CARGO_FLAGS) -p wsx-hardening --bin wsx-soak
	$(ROOT)/target/debug/wsx-soak --server $(EXAMPLES_DIR)/echo_server --cycles $(SOAK_CYCLES) --messages $(SOAK_MESSAGES)

soak:
	$(CARGO) build $(CARGO_FLAGS) --release -p wsx-ffi -p wsx-hardening
	$(call ffi_soname_link,release)
	@mkdir -p $(SOAK_DIR)
	$(CC) -std=c11 $(WSX_CFLAGS) -O2 examples/c/echo_server.c -o $(SOAK_DIR)/echo_server \
	  -L$(call ffi_libdir,release) -Wl,-rpath,$(call ffi_libdir,release) -lwsx
	$(ROOT)/target/release/wsx-soak --server $(SOAK_DIR)/echo_server \
	  --cycles $(SOAK_CYCLES) --messages $(SOAK_MESSAGES)
