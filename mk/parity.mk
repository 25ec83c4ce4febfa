# The parity suite (tests/parity, issue 16): one list of scenarios
# (tests/parity/scenarios.json) run by a C runner, the Python runner (sync and
# asyncio APIs) and a C# runner against a python-websockets server and the
# wsx server in Python, C and C# (servers/), each asserting the same
# language-neutral outcome.
# tests/parity/run.py starts the servers, runs every runner against every
# server (a runner over its time limit is killed) and prints the
# language x server table; build/parity/ holds the flattened scenario files.
# `make test-parity PARITY_FLAGS="--langs c --only echo_text_0"` runs a part.
.PHONY: test-parity parity-runners
TEST_TARGETS += test-parity

PARITY_DIR := $(BUILD)/parity
PARITY_FLAGS ?=

# How the suite's C programs are built: the .c prerequisites linked against the
# ffi layer's libwsx (rpath).
parity_cc = $(CC) -std=c11 $(WSX_CFLAGS) $(filter %.c,$^) -o $@ -lpthread \
  -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx
# How its C# programs are: $< against Wsx.dll, beside it (mk/csharp.mk), whose dllmap finds
# the native library.
parity_mcs = $(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -out:$@ $<

# Two client APIs: the loop (runner_c.c) and the engine over the runner's
# own socket (runner_c_engine.c, with the examples' examples/c/sansio_io.h).
$(PARITY_DIR)/runner_c: tests/parity/runner_c.c tests/parity/runner_c_engine.c tests/parity/runner_c.h \
  examples/c/sansio_io.h include/wsx.h | ffi-lib
	@mkdir -p $(@D)
	$(parity_cc)

$(CSHARP_OUT)/ParityRunner.exe: tests/parity/ParityRunner.cs $(CSHARP_OUT)/Wsx.dll
	$(parity_mcs)

# The parity servers of the C ABI and the C# binding (run.py's servers c and
# cs), built beside the runners.
$(PARITY_DIR)/wsx_server: tests/parity/servers/wsx_server.c include/wsx.h | ffi-lib
	@mkdir -p $(@D)
	$(parity_cc)

$(CSHARP_OUT)/ParityServer.exe: tests/parity/servers/ParityServer.cs $(CSHARP_OUT)/Wsx.dll
	$(parity_mcs)

parity-runners: ffi-lib python-install $(PARITY_DIR)/runner_c $(CSHARP_OUT)/ParityRunner.exe \
  $(PARITY_DIR)/wsx_server $(CSHARP_OUT)/ParityServer.exe

test-parity: parity-runners
	nice $(PY) tests/parity/run.py --python $(PY) --out $(PARITY_DIR) \
	  --c-runner $(PARITY_DIR)/runner_c \
	  --csharp-runner $(CSHARP_OUT)/ParityRunner.exe --mono $(MONO) \
	  --c-server $(PARITY_DIR)/wsx_server --csharp-server $(CSHARP_OUT)/ParityServer.exe \
	  $(PARITY_FLAGS)

# The cluster scenario (tests/parity/cluster/README.md): one wsx server per language
# (node_c.c, node_py.py, ClusterNode.cs) in one cluster on a redis-server of its own,
# python-websockets clients, the same checks for every node; classic pub/sub and sharded
# pub/sub over rediss://. Part of test-parity; PARITY_FLAGS' --langs and --only apply
# (`--only cluster` runs it alone).
.PHONY: test-parity-cluster
test-parity: test-parity-cluster

$(PARITY_DIR)/cluster_node_c: tests/parity/cluster/node_c.c include/wsx.h | ffi-lib
	@mkdir -p $(@D)
	$(parity_cc)

$(CSHARP_OUT)/ClusterNode.exe: tests/parity/cluster/ClusterNode.cs $(CSHARP_OUT)/Wsx.dll
	$(parity_mcs)

test-parity-cluster: ffi-lib python-install $(PARITY_DIR)/cluster_node_c $(CSHARP_OUT)/ClusterNode.exe
	nice $(PY) tests/parity/cluster/driver.py --python $(PY) --out $(PARITY_DIR) \
	  --c-node $(PARITY_DIR)/cluster_node_c --csharp-node $(CSHARP_OUT)/ClusterNode.exe \
	  --mono $(MONO) $(PARITY_FLAGS)
