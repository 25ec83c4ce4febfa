# The C ABI (crate wsx-ffi, libwsx.so + libwsx.a, include/wsx.h): the C and C++
# examples, `make install`, and the C tests (plain, ASan+UBSan, valgrind,
# examples against each other and against Python websockets).
.PHONY: ffi-lib examples install test-ffi
TEST_TARGETS += test-ffi

# Profile of the library the examples link: release, the build people run
# and benchmark (`make examples`, `make demo`, `make csharp`). `make test`
# builds and tests everything against the debug library instead (Makefile):
# the one the sanitizer and valgrind runs want, and CI compiles one profile.
FFI_PROFILE ?= release
INSTALL_PROFILE ?= release
PREFIX ?= /usr/local
EXAMPLES_DIR := $(BUILD)/examples
WSX_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml | head -n 1)
WSX_CFLAGS := -Wall -Wextra -Werror -g -I$(ROOT)/include
WSX_VERSION_MAJOR := $(word 1,$(subst ., ,$(WSX_VERSION)))
WSX_VERSION_MINOR := $(word 2,$(subst ., ,$(WSX_VERSION)))
# The shared library's soname (set in ffi/build.rs): libwsx.so.MAJOR.MINOR
# before 1.0 (a minor release may break the ABI), libwsx.so.MAJOR after.
WSX_SONAME := libwsx.so.$(if $(filter 0,$(WSX_VERSION_MAJOR)),0.$(WSX_VERSION_MINOR),$(WSX_VERSION_MAJOR))
WSX_REALNAME := libwsx.so.$(WSX_VERSION)
INSTALL_LIB = $(DESTDIR)$(PREFIX)/lib
STRIP ?= strip
OBJCOPY ?= objcopy
ffi_libdir = $(ROOT)/target/$(1)
ffi_cargo_profile = $(if $(filter release,$(1)),--release,)
# Cargo names the shared library libwsx.so; programs linked against it ask for
# its soname at run time, so a link of that name goes beside it.
ffi_soname_link = ln -sfn libwsx.so $(call ffi_libdir,$(1))/$(WSX_SONAME)

ffi-lib:
	$(CARGO) build $(CARGO_FLAGS) $(call ffi_cargo_profile,$(FFI_PROFILE)) -p wsx-ffi
	$(call ffi_soname_link,$(FFI_PROFILE))

# Linked against the shared library, found through an rpath into target/.
examples: ffi-lib
	@mkdir -p $(EXAMPLES_DIR)
	@set -e; for e in echo_server echo_client chat_server routes_server sansio_echo_server sansio_echo_client; do \
	  echo "cc examples/c/$$e.c"; \
	  $(CC) -std=c11 $(WSX_CFLAGS) examples/c/$$e.c -o $(EXAMPLES_DIR)/$$e \
	    -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx; \
	done
	@echo "c++ examples/cpp/game_loop.cpp"
	@$(CXX) -std=c++17 $(WSX_CFLAGS) examples/cpp/game_loop.cpp -o $(EXAMPLES_DIR)/game_loop \
	  -L$(call ffi_libdir,$(FFI_PROFILE)) -Wl,-rpath,$(call ffi_libdir,$(FFI_PROFILE)) -lwsx

# Installs under PREFIX (ELF platforms):
#   include/wsx.h
#   lib/libwsx.so.X.Y.Z   stripped; soname libwsx.so.X.Y (before 1.0), links
#   lib/libwsx.so.X.Y and lib/libwsx.so; its debug info in
#   lib/.debug/libwsx.so.X.Y.Z.debug (found by gdb and valgrind through the
#   library's .gnu_debuglink)
#   lib/libwsx.a          debug info stripped
#   lib/pkgconfig/wsx.pc (shared), lib/pkgconfig/wsx-static.pc (static)
#   lib/cmake/wsx/        wsx::wsx and wsx::wsx_static
#   share/wsx/valgrind.supp
install:
	$(CARGO) build $(CARGO_FLAGS) $(call ffi_cargo_profile,$(INSTALL_PROFILE)) -p wsx-ffi
	install -d $(INSTALL_LIB)/.debug $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/cmake/wsx \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/wsx
	install -m 644 include/wsx.h $(DESTDIR)$(PREFIX)/include/wsx.h
	$(OBJCOPY) --only-keep-debug $(call ffi_libdir,$(INSTALL_PROFILE))/libwsx.so $(INSTALL_LIB)/.debug/$(WSX_REALNAME).debug
	chmod 644 $(INSTALL_LIB)/.debug/$(WSX_REALNAME).debug
	install -m 755 $(call ffi_libdir,$(INSTALL_PROFILE))/libwsx.so $(INSTALL_LIB)/$(WSX_REALNAME)
	$(STRIP) --strip-unneeded $(INSTALL_LIB)/$(WSX_REALNAME)
	cd $(INSTALL_LIB) && $(OBJCOPY) --add-gnu-debuglink=.debug/$(WSX_REALNAME).debug $(WSX_REALNAME)
	ln -sfn $(WSX_REALNAME) $(INSTALL_LIB)/$(WSX_SONAME)
	ln -sfn $(WSX_SONAME) $(INSTALL_LIB)/libwsx.so
	install -m 644 $(call ffi_libdir,$(INSTALL_PROFILE))/libwsx.a $(INSTALL_LIB)/libwsx.a
	$(STRIP) --strip-debug $(INSTALL_LIB)/libwsx.a
	install -m 644 ffi/valgrind.supp $(DESTDIR)$(PREFIX)/share/wsx/valgrind.supp
	@set -e; for pc in wsx wsx-static; do \
	  sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(WSX_VERSION)|g' -e 's|@SONAME@|$(WSX_SONAME)|g' cmake/$$pc.pc.in > $(INSTALL_LIB)/pkgconfig/$$pc.pc; \
	done
	sed -e 's|@VERSION@|$(WSX_VERSION)|g' -e 's|@REALNAME@|$(WSX_REALNAME)|g' -e 's|@SONAME@|$(WSX_SONAME)|g' \
	  cmake/wsxConfig.cmake.in > $(INSTALL_LIB)/cmake/wsx/wsxConfig.cmake
	sed -e 's|@VERSION@|$(WSX_VERSION)|g' -e 's|@VERSION_MAJOR@|$(WSX_VERSION_MAJOR)|g' \
	  -e 's|@VERSION_MINOR@|$(WSX_VERSION_MINOR)|g' \
	  cmake/wsxConfigVersion.cmake.in > $(INSTALL_LIB)/cmake/wsx/wsxConfigVersion.cmake

test-ffi: examples
	$(CARGO) test $(CARGO_FLAGS) -p wsx-ffi
	FFI_PROFILE=$(FFI_PROFILE) PY=$(PY) bash tests/c/run.sh

DEMO_BUILD_TARGETS += examples
