# `make install` into a temporary prefix, then a C program built against it
# four ways (pkg-config shared with rpath and static, CMake wsx::wsx and
# wsx::wsx_static), checked with readelf/ldd and run under valgrind with the
# installed suppression file (tests/install/run.sh). The profile installed
# is the one the C tests use (FFI_PROFILE), so nothing is built twice;
# `make test-install INSTALL_TEST_PROFILE=release` checks a release install.
.PHONY: test-install
TEST_TARGETS += test-install

INSTALL_TEST_PROFILE ?= $(FFI_PROFILE)

test-install: ffi-lib
	INSTALL_PROFILE=$(INSTALL_TEST_PROFILE) bash tests/install/run.sh
