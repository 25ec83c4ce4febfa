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
# The library the C# programs load: the ffi layer's profile (mk/ffi.mk), placed as the NuGet
# package places it, runtimes/<rid>/native/libwsx.so beside Wsx.dll, where Wsx.dll.config's
# dllmap (Mono) and NativeLibraryResolver (.NET) find it: no LD_LIBRARY_PATH, no copy beside the
# programs.
CSHARP_LIB_DIR = $(call ffi_libdir,$(FFI_PROFILE))
CSHARP_RID := linux-$(patsubst x86_64,x64,$(patsubst aarch64,arm64,$(shell uname -m)))
CSHARP_NATIVE := $(CSHARP_OUT)/runtimes/$(CSHARP_RID)/native/libwsx.so
CSHARP_RUN = $(MONO) --debug

$(CSHARP_OUT)/Wsx.dll: $(CSHARP_SRC) $(CSHARP_DIR)/Wsx.dll.config
	@mkdir -p $(@D) $(dir $(CSHARP_NATIVE))
	$(MCS) $(CSHARP_FLAGS) -target:library -doc:$(CSHARP_OUT)/Wsx.xml -out:$@ $(CSHARP_SRC)
	cp $(CSHARP_DIR)/Wsx.dll.config $(CSHARP_OUT)/Wsx.dll.config
	ln -sfn $(CSHARP_LIB_DIR)/libwsx.so $(CSHARP_NATIVE)

# The tests read the library's defaults and live-object counts by P/Invoke of their own: the
# same dllmap serves them.
$(CSHARP_OUT)/Wsx.Tests.exe: $(CSHARP_OUT)/Wsx.dll $(CSHARP_TESTS)
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -r:System.Core.dll -out:$@ $(CSHARP_TESTS)
	cp $(CSHARP_DIR)/Wsx.dll.config $@.config

$(CSHARP_OUT)/%.exe: $(ROOT)/examples/csharp/%.cs $(CSHARP_OUT)/Wsx.dll
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -out:$@ $<

# The ClientWebSocket sample as it was before its one changed line: the tests run both.
$(CSHARP_OUT)/ClientWebSocketEcho.Stock.exe: $(ROOT)/examples/csharp/ClientWebSocketEcho.cs
	@mkdir -p $(@D)
	sed 's/new Wsx\.WsxClient()/new ClientWebSocket()/' $< > $(CSHARP_OUT)/ClientWebSocketEcho.Stock.cs
	$(MCS) $(CSHARP_FLAGS) -out:$@ $(CSHARP_OUT)/ClientWebSocketEcho.Stock.cs

CSHARP_EXAMPLES := EchoClient ChatClient ClientWebSocketEcho ClientWebSocketEcho.Stock AnyWebSocket RoutesServer

# The library, the tests and the examples.
csharp: ffi-lib $(CSHARP_OUT)/Wsx.Tests.exe $(CSHARP_EXAMPLES:%=$(CSHARP_OUT)/%.exe)

test-csharp: csharp examples
	$(CSHARP_RUN) $(CSHARP_OUT)/Wsx.Tests.exe \
	  --echo-server $(EXAMPLES_DIR)/echo_server --echo-server-args "--port 0" \
	  --python $(PY) --peer-script $(CSHARP_DIR)/tests/peer_server.py \
	  --chat-server $(EXAMPLES_DIR)/chat_server --chat-client $(CSHARP_OUT)/ChatClient.exe --runtime $(MONO) \
	  --examples $(CSHARP_OUT) --examples-src $(ROOT)/examples/csharp

# `make demo` runs EchoClient.exe against the C echo server (scripts/demo.sh).
DEMO_BUILD_TARGETS += csharp
