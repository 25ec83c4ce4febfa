# The C# binding (bindings/csharp, P/Invoke over libwsx): compiled with Mono's
# mcs as C# 7.2 against the netstandard2.0 subset, tested with mono against the
# C echo server, a Python websockets peer and its own WsxServer.
.PHONY: csharp test-csharp
TEST_TARGETS += test-csharp

MCS ?= mcs
MONO ?= mono
CSHARP_DIR := $(ROOT)/bindings/csharp
CSHARP_OUT := $(BUILD)/csharp
CSHARP_FLAGS := -langversion:7.2 -warnaserror -unsafe -nologo
CSHARP_SRC := $(wildcard $(CSHARP_DIR)/src/*.cs)
CSHARP_TESTS := $(wildcard $(CSHARP_DIR)/tests/*.cs)
# The library the C# programs load: the ffi layer's profile (mk/ffi.mk).
CSHARP_LIB_DIR = $(call ffi_libdir,$(FFI_PROFILE))
CSHARP_RUN = LD_LIBRARY_PATH=$(CSHARP_LIB_DIR) $(MONO) --debug

$(CSHARP_OUT)/Wsx.dll: $(CSHARP_SRC)
	@mkdir -p $(@D)
	$(MCS) $(CSHARP_FLAGS) -target:library -doc:$(CSHARP_OUT)/Wsx.xml -out:$@ $(CSHARP_SRC)

$(CSHARP_OUT)/Wsx.Tests.exe: $(CSHARP_OUT)/Wsx.dll $(CSHARP_TESTS)
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -r:System.Core.dll -out:$@ $(CSHARP_TESTS)

$(CSHARP_OUT)/%.exe: $(ROOT)/examples/csharp/%.cs $(CSHARP_OUT)/Wsx.dll
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -out:$@ $<

# The library, the tests and the examples (EchoClient.exe, ChatClient.exe).
csharp: ffi-lib $(CSHARP_OUT)/Wsx.Tests.exe $(CSHARP_OUT)/EchoClient.exe $(CSHARP_OUT)/ChatClient.exe

test-csharp: csharp examples
	$(CSHARP_RUN) $(CSHARP_OUT)/Wsx.Tests.exe \
	  --echo-server $(EXAMPLES_DIR)/echo_server --echo-server-args "--port 0" \
	  --python $(PY) --peer-script $(CSHARP_DIR)/tests/peer_server.py \
	  --chat-server $(EXAMPLES_DIR)/chat_server --chat-client $(CSHARP_OUT)/ChatClient.exe --runtime $(MONO)

# `make demo` runs EchoClient.exe against the C echo server (scripts/demo.sh).
DEMO_BUILD_TARGETS += csharp
