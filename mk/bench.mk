# The speed yardstick (benches/, its own cargo workspace): `make bench` builds
# release binaries of every server and client, runs the grid, the criterion
# micro benchmarks, the bindings and the memory harness, prints the table and
# writes benches/RESULTS.md (+ benches/results.png). Not a test: it is not in
# TEST_TARGETS; `test-bench` only type-checks the bench crates, so they cannot rot.
# Durations: BENCH_WARMUP, BENCH_DURATION, BENCH_ROUNDS, BENCH_PARTS, ... (see
# benches/run.py), e.g. `make bench BENCH_DURATION=1 BENCH_ROUNDS=1`.
.PHONY: bench bench-build test-bench
TEST_TARGETS += test-bench

BENCH_DIR := $(ROOT)/benches
BENCH_NATIVE := $(BENCH_DIR)/target/native
BENCH_PYTHON := $(BENCH_DIR)/target/python
BENCH_LIB := $(ROOT)/target/release
BENCH_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -I$(ROOT)/include
export BENCH_WARMUP BENCH_DURATION BENCH_ROUNDS BENCH_PARTS BENCH_IDLE_CONNS BENCH_MICRO_TIME BENCH_SERVER_CPU BENCH_CLIENT_CPU
export BENCH_SCALE_ONE BENCH_SCALE_MANY BENCH_SCALE_SERVERS

# Type-checks every bench crate (no code generation: CI time matters).
test-bench:
	cd $(BENCH_DIR) && $(CARGO) check $(CARGO_FLAGS) --workspace --all-targets

# Release builds of every server and client; the Python module as users get it
# (a release wheel, in its own directory beside the editable dev install).
bench-build:
	cd $(BENCH_DIR) && $(CARGO) build $(CARGO_FLAGS) --release --workspace --bins --benches
	$(CARGO) build $(CARGO_FLAGS) --release -p wsx-core --example echo_server --example deflate_memory
	$(CARGO) build $(CARGO_FLAGS) --release -p wsx-ffi
	$(call ffi_soname_link,release)
	@mkdir -p $(BENCH_NATIVE)
	@# The bindings' parts are built when they build: a part that does not is
	@# reported by the bench as 'skipped: not built', not a failed bench.
	@$(CC) $(BENCH_CFLAGS) examples/c/echo_server.c -o $(BENCH_NATIVE)/echo_server \
	  -L$(BENCH_LIB) -Wl,-rpath,$(BENCH_LIB) -lwsx \
	  || { echo "skipped: C echo server not built"; rm -f $(BENCH_NATIVE)/echo_server; }
	@$(CC) $(BENCH_CFLAGS) benches/bindings/rr_client.c -o $(BENCH_NATIVE)/rr_client \
	  -L$(BENCH_LIB) -Wl,-rpath,$(BENCH_LIB) -lwsx \
	  || { echo "skipped: C client not built"; rm -f $(BENCH_NATIVE)/rr_client; }
	@command -v $(MCS) >/dev/null \
	  && $(MCS) $(CSHARP_FLAGS) -target:library -out:$(BENCH_NATIVE)/Wsx.dll $(CSHARP_SRC) \
	  && $(MCS) $(CSHARP_FLAGS) -r:$(BENCH_NATIVE)/Wsx.dll -out:$(BENCH_NATIVE)/RrClient.exe benches/bindings/RrClient.cs \
	  || { echo "skipped: C# client not built"; rm -f $(BENCH_NATIVE)/RrClient.exe; }
	@# The cluster part's peer: Socket.IO 4 with its Redis adapter.
	@if [ ! -d $(BENCH_DIR)/cluster/node/node_modules ]; then \
	  (cd $(BENCH_DIR)/cluster/node && npm ci --silent --no-audit --no-fund) \
	  || echo "warning: Socket.IO not installed; the cluster part will fail"; fi
	rm -rf $(BENCH_DIR)/target/wheels $(BENCH_PYTHON)
	@if $(VENV)/bin/maturin build --release -m bindings/python/Cargo.toml -o $(BENCH_DIR)/target/wheels; then \
	  $(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(BENCH_PYTHON) $(BENCH_DIR)/target/wheels/wsx-*.whl; \
	else echo "warning: no release wheel of the Python module; the bench uses the installed one"; fi

bench: deps bench-build
	PYTHONPATH=$(BENCH_PYTHON) WSX_LIB_DIR=$(BENCH_LIB) PY=$(PY) $(PY) $(BENCH_DIR)/run.py
