#!/usr/bin/env bash
# `make install` as a C or C++ team uses it (`make test-install` runs this):
#   - installs into a fresh temporary prefix: the versioned, stripped shared
#     library (soname libwsx.so.MAJOR.MINOR), its links and separate debug
#     info, the static archive, wsx.pc and wsx-static.pc, the CMake package,
#     share/wsx/valgrind.supp;
#   - builds tests/install/consumer/consumer.c four ways and runs each:
#     pkg-config wsx (shared, with the rpath variable), pkg-config wsx-static,
#     CMake wsx::wsx and CMake wsx::wsx_static; readelf and ldd check that the
#     shared builds need the versioned soname and the static ones no libwsx;
#   - runs the shared build under valgrind with only the installed
#     suppression file: 0 errors, nothing definitely lost (the program
#     connects by host name, so the name-resolution threads run).
# INSTALL_PROFILE picks the cargo profile installed (default: debug, the one
# the other C tests build, so nothing is compiled twice; `make install`
# itself defaults to release).
# Prints "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROFILE=${INSTALL_PROFILE:-debug}
CC=${CC:-cc}
PREFIX=$(mktemp -d)
WORK=$(mktemp -d)
trap 'rm -rf "$PREFIX" "$WORK"' EXIT

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR=${VERSION%%.*}
MINOR=${VERSION#*.}
MINOR=${MINOR%%.*}
if [ "$MAJOR" = 0 ]; then SONAME=libwsx.so.0.$MINOR; else SONAME=libwsx.so.$MAJOR; fi
REALNAME=libwsx.so.$VERSION
LIB=$PREFIX/lib
PC=(env PKG_CONFIG_PATH="$LIB/pkgconfig" PKG_CONFIG_LIBDIR="$LIB/pkgconfig" pkg-config)
CFLAGS=(-std=c11 -Wall -Wextra -Werror)

# shellcheck source=tests/steps.sh
source "$ROOT/tests/steps.sh"

# has PATTERN...: grep that reads all of its input (grep -q stops early, and
# with pipefail the writer's SIGPIPE would fail the pipeline at random).
has() {
  grep "$@" >/dev/null
}

# needs_soname PROGRAM: PROGRAM names the versioned soname and the loader
# finds it in the prefix.
needs_soname() {
  readelf -d "$1" | grep -F "(NEEDED)" | has -F "[$SONAME]" || { echo "$1 does not need $SONAME"; readelf -d "$1"; return 1; }
  ldd "$1" | has -F "$SONAME => $LIB/$SONAME" || { echo "$1 does not find $SONAME in $LIB"; ldd "$1"; return 1; }
}

# no_libwsx PROGRAM: a statically linked PROGRAM needs no libwsx at all.
no_libwsx() {
  if readelf -d "$1" | grep -F "(NEEDED)" | has libwsx || ldd "$1" | has libwsx; then
    echo "$1 depends on libwsx:"
    ldd "$1"
    return 1
  fi
  echo "note: $(basename "$1") needs:" $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
}

install_into_prefix() {
  make -s -C "$ROOT" install PREFIX="$PREFIX" INSTALL_PROFILE="$PROFILE"
}

installed_files() {
  local f
  for f in include/wsx.h "lib/$REALNAME" "lib/.debug/$REALNAME.debug" lib/libwsx.a lib/pkgconfig/wsx.pc \
    lib/pkgconfig/wsx-static.pc lib/cmake/wsx/wsxConfig.cmake lib/cmake/wsx/wsxConfigVersion.cmake \
    share/wsx/valgrind.supp; do
    [ -f "$PREFIX/$f" ] && [ ! -L "$PREFIX/$f" ] || { echo "not installed as a file: $f"; return 1; }
  done
  [ "$(readlink "$LIB/$SONAME")" = "$REALNAME" ] || { echo "$SONAME is not a link to $REALNAME"; return 1; }
  [ "$(readlink "$LIB/libwsx.so")" = "$SONAME" ] || { echo "libwsx.so is not a link to $SONAME"; return 1; }
  cmp -s ffi/valgrind.supp "$PREFIX/share/wsx/valgrind.supp"
}

# The soname, no debug info in what the loader maps, the debug info beside it.
shared_library_is_versioned_and_stripped() {
  local lib=$LIB/$REALNAME built=$ROOT/target/$PROFILE/libwsx.so
  readelf -d "$lib" | grep -F "(SONAME)" | has -F "[$SONAME]" || { readelf -d "$lib" | grep SONAME; return 1; }
  # Debug info, not .debug_gdb_scripts (a loaded section naming gdb's pretty printers).
  local dwarf='\.debug_(info|abbrev|line|str|ranges|rnglists|loc|loclists|aranges)'
  if readelf -SW "$lib" | has -E "$dwarf"; then echo "$lib keeps debug sections"; return 1; fi
  if readelf -SW "$LIB/libwsx.a" 2>/dev/null | has -E "$dwarf"; then echo "libwsx.a keeps debug sections"; return 1; fi
  readelf -p .gnu_debuglink "$lib" | has -F "$REALNAME.debug" || { echo "no .gnu_debuglink to $REALNAME.debug"; return 1; }
  readelf -SW "$LIB/.debug/$REALNAME.debug" | has '\.debug_line' || { echo "the debug file has no line tables"; return 1; }
  echo "note: libwsx.so: $(stat -c %s "$built") bytes built, $(stat -c %s "$lib") installed," \
    "$(stat -c %s "$LIB/.debug/$REALNAME.debug") in the debug file"
  echo "note: libwsx.a: $(stat -c %s "$ROOT/target/$PROFILE/libwsx.a") bytes built, $(stat -c %s "$LIB/libwsx.a") installed"
}

pkg_config_files() {
  [ "$("${PC[@]}" --modversion wsx)" = "$VERSION" ] && [ "$("${PC[@]}" --modversion wsx-static)" = "$VERSION" ] || return 1
  [ "$("${PC[@]}" --variable=rpath wsx)" = "-Wl,-rpath,$LIB" ] || { echo "rpath variable: $("${PC[@]}" --variable=rpath wsx)"; return 1; }
  "${PC[@]}" --static --libs wsx-static | has -F "$LIB/libwsx.a" || { "${PC[@]}" --static --libs wsx-static; return 1; }
}

pkg_config_shared_with_rpath() {
  # shellcheck disable=SC2046
  $CC "${CFLAGS[@]}" tests/install/consumer/consumer.c -o "$WORK/pc_shared" \
    $("${PC[@]}" --cflags --libs wsx) $("${PC[@]}" --variable=rpath wsx) || return 1
  needs_soname "$WORK/pc_shared" && "$WORK/pc_shared"
}

pkg_config_static() {
  # shellcheck disable=SC2046
  $CC "${CFLAGS[@]}" tests/install/consumer/consumer.c -o "$WORK/pc_static" \
    $("${PC[@]}" --static --cflags --libs wsx-static) || return 1
  no_libwsx "$WORK/pc_static" && "$WORK/pc_static"
}

cmake_targets() {
  cmake -S tests/install/consumer -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null && cmake --build "$WORK/cmake" >/dev/null || return 1
  needs_soname "$WORK/cmake/consumer" && "$WORK/cmake/consumer" || return 1
  no_libwsx "$WORK/cmake/consumer_static" && "$WORK/cmake/consumer_static"
}

# Only the installed suppression file; the program resolves "localhost".
valgrind_with_the_installed_suppressions() {
  local log=$WORK/valgrind.log
  valgrind -s --suppressions="$PREFIX/share/wsx/valgrind.supp" --leak-check=full \
    --errors-for-leak-kinds=definite --error-exitcode=1 "$WORK/pc_shared" >"$log" 2>&1
  local status=$?
  grep -E "ERROR SUMMARY|definitely lost|used_suppression|echo" "$log" | sort -u | sed 's/^/note: /'
  [ $status -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log" && ! grep -qE "definitely lost: [1-9]" "$log" ||
    { cat "$log"; return 1; }
}

step "make install PREFIX=(temporary) INSTALL_PROFILE=$PROFILE" install_into_prefix
step "installed files, $SONAME and libwsx.so links" installed_files
step "$REALNAME: soname $SONAME, stripped, debug info in lib/.debug" shared_library_is_versioned_and_stripped
step "wsx.pc (rpath variable) and wsx-static.pc" pkg_config_files
step "pkg-config wsx with the rpath: needs $SONAME, runs" pkg_config_shared_with_rpath
step "pkg-config wsx-static: no libwsx dependency, runs" pkg_config_static
step "CMake wsx::wsx needs $SONAME, wsx::wsx_static no libwsx; both run" cmake_targets
step "valgrind with only share/wsx/valgrind.supp: 0 errors, 0 definitely lost" valgrind_with_the_installed_suppressions

finish_steps
