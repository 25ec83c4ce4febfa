# The C ABI (crate wsx-ffi, libwsx.so + libwsx.a, include/wsx.h): the C and C++
# examples, `make install`, and the C tests (plain, ASan+UBSan, valgrind,
# examples against each other and against Python websockets).
.PHONY: ffi-lib examples install test-ffi
TEST_TARGETS += test-ffi

# Profile of the library the examples and tests link (install: release).
FFI_PROFILE ?= debug
INSTALL_PROFILE ?= release
PREFIX ?= /usr/local
EXAMPLES_DIR := $(BUILD)/examples
WSX_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml | head -n 1)
WSX_CFLAGS := -Wall -Wextra -Werror -g -I$(ROOT)/include
ffi_libdir = $(ROOT)/target/$(1)
ffi_cargo_profile = $(if $(filter release,$(1)),--release,)

ffi-lib:
	$(CARGO) build $(CARGO_FLAGS) $(call ffi_cargo_profile,$(FFI_PROFILE)) -p wsx-ffi

# Linked against the shared library, found through an rpath into target/.
examples: ffi-lib
	@mkdir -p $(EXAMPLES_DIR)
	@set -e; for e in echo_server echo_client chat_server; do \
	  echo "cc examples/c/$$e.c"; \
	  $(CC) -std=c11 $(WSX_CFLAGS) examples/c/$$e.c -o $(EXAMPLES_DIR)/$$e \
	    -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx; \
	done
	@echo "c++ examples/cpp/game_loop.cpp"
	@$(CXX) -std=c++17 $(WSX_CFLAGS) examples/cpp/game_loop.cpp -o $(EXAMPLES_DIR)/game_loop \
	  -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx

# Installs the header, both libraries, wsx.pc and the CMake package under PREFIX.
install:
	$(CARGO) build $(CARGO_FLAGS) $(call ffi_cargo_profile,$(INSTALL_PROFILE)) -p wsx-ffi
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/wsx
	install -m 644 include/wsx.h $(DESTDIR)$(PREFIX)/include/wsx.h
	install -m 755 $(call ffi_libdir,$(INSTALL_PROFILE))/libwsx.so $(DESTDIR)$(PREFIX)/lib/libwsx.so
	install -m 644 $(call ffi_libdir,$(INSTALL_PROFILE))/libwsx.a $(DESTDIR)$(PREFIX)/lib/libwsx.a
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(WSX_VERSION)|g' cmake/wsx.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/wsx.pc
	sed -e 's|@VERSION@|$(WSX_VERSION)|g' cmake/wsxConfig.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/wsx/wsxConfig.cmake
	sed -e 's|@VERSION@|$(WSX_VERSION)|g' -e 's|@VERSION_MAJOR@|$(word 1,$(subst ., ,$(WSX_VERSION)))|g' \
	  -e 's|@VERSION_MINOR@|$(word 2,$(subst ., ,$(WSX_VERSION)))|g' \
	  cmake/wsxConfigVersion.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/wsx/wsxConfigVersion.cmake

test-ffi: examples
	$(CARGO) test $(CARGO_FLAGS) -p wsx-ffi
	FFI_PROFILE=$(FFI_PROFILE) PY=$(PY) bash tests/c/run.sh

DEMO_BUILD_TARGETS += examples
