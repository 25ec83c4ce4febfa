# The parity suite (tests/parity, issue 16): one list of scenarios
# (tests/parity/scenarios.json) run by a C runner, the Python runner (sync and
# asyncio APIs) and a C# runner against a python-websockets server and a wsx
# server, each asserting the same language-neutral outcome.
# tests/parity/run.py starts the servers, runs every runner against every
# server (a runner over its time limit is killed) and prints the
# language x server table; build/parity/ holds the flattened scenario files.
# `make test-parity PARITY_FLAGS="--langs c --only echo_text_0"` runs a part.
.PHONY: test-parity parity-runners
TEST_TARGETS += test-parity

PARITY_DIR := $(BUILD)/parity
PARITY_FLAGS ?=

# Two client APIs: the loop (runner_c.c) and the engine over the runner's
# own socket (runner_c_engine.c, with the examples' examples/c/sansio_io.h).
PARITY_C_SRC := tests/parity/runner_c.c tests/parity/runner_c_engine.c

$(PARITY_DIR)/runner_c: $(PARITY_C_SRC) tests/parity/runner_c.h examples/c/sansio_io.h include/wsx.h | ffi-lib
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WSX_CFLAGS) $(PARITY_C_SRC) -o $@ -lpthread \
	  -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx

# Beside Wsx.dll (mk/csharp.mk), whose dllmap finds the native library.
$(CSHARP_OUT)/ParityRunner.exe: tests/parity/ParityRunner.cs $(CSHARP_OUT)/Wsx.dll
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -out:$@ $<

parity-runners: ffi-lib python-install $(PARITY_DIR)/runner_c $(CSHARP_OUT)/ParityRunner.exe

test-parity: parity-runners
	nice $(PY) tests/parity/run.py --python $(PY) --out $(PARITY_DIR) \
	  --c-runner $(PARITY_DIR)/runner_c \
	  --csharp-runner $(CSHARP_OUT)/ParityRunner.exe --mono $(MONO) \
	  $(PARITY_FLAGS)
