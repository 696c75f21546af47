#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest's install_consumer (registered by tests/install/CMakeLists.txt).
# Installs a build into a temporary prefix with `cmake --install --prefix`,
# then builds tests/install/consumer against that copy alone, as a user would,
# and runs it:
#   1. pkg-config --cflags --libs wm, linking the static archive;
#   2. pkg-config again, linking the shared library (LD_LIBRARY_PATH);
#   3. a CMake project: find_package(wm) with wm::wm and wm::wm_shared.
# Each run must print the library's version, a bound port and one timer shot.
#
# Usage: check.sh BUILD_DIR SOURCE_DIR CC VERSION [EXTRA_CFLAGS [EXTRA_LDFLAGS]]
# EXTRA_* are the sanitizer flags of a sanitizer build (see CMakeLists.txt).
set -euo pipefail

build=$1 src=$2 cc=$3 version=$4
extra_cflags=${5:-} extra_ldflags=${6:-}
read -ra xcflags <<<"$extra_cflags"
read -ra xldflags <<<"$extra_ldflags"
consumer=$src/tests/install/consumer
# Users compile with their own flags, often plain C11 (no _GNU_SOURCE, which
# our own build defines): the installed headers must compile clean that way.
user_cflags=(-std=c11 -Wall -Wextra -Werror)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wm-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() {
    echo "install_consumer: FAIL: $*" >&2
    exit 1
}
# quiet LOG CMD...: runs CMD with its output in LOG, shown only on failure.
quiet() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || {
        cat "$log" >&2
        fail "$*"
    }
}

# run_consumer LABEL EXE [VAR=VALUE...]: runs one build of the consumer and
# checks what it prints. A hang is a failure, not a stuck ctest.
run_consumer() {
    local label=$1 exe=$2 out=$tmp/out.txt port
    shift 2
    if ! env "$@" timeout 20 "$exe" >"$out" 2>"$tmp/err.txt"; then
        cat "$out" "$tmp/err.txt" >&2
        fail "$label: $exe exited non-zero"
    fi
    grep -qx "version $version" "$out" || {
        cat "$out" >&2
        fail "$label: expected 'version $version'"
    }
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$out")
    if [ -z "$port" ] || [ "$port" -eq 0 ]; then
        fail "$label: no bound port in: $(cat "$out")"
    fi
    grep -qx 'timer fired 1' "$out" || fail "$label: the timer did not fire once: $(cat "$out")"
    echo "ok   $label (port $port)"
}

# needs_libwm_so EXE: whether the dynamic section names libwm.so.
needs_libwm_so() { readelf -d "$1" | grep -q 'NEEDED.*libwm\.so'; }

# ---- install ------------------------------------------------------------

quiet "$tmp/install.log" cmake --install "$build" --prefix "$prefix"
for h in "$src"/libwm/include/wm/*.h; do
    [ -f "$prefix/include/wm/${h##*/}" ] || fail "public header ${h##*/} was not installed"
done
pc=$(find "$prefix" -path '*/pkgconfig/wm.pc' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/wm.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libwm.a" ] || fail "no libwm.a in $libdir"
[ -e "$libdir/libwm.so" ] || fail "no libwm.so in $libdir"
[ -f "$libdir/cmake/wm/wmConfig.cmake" ] || fail "no cmake/wm/wmConfig.cmake in $libdir"
echo "ok   installed into $prefix"

# ---- pkg-config ------------------------------------------------------------

# PKG_CONFIG_PATH is searched first, so a wm installed elsewhere cannot answer.
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc_prefix=$(pkg-config --variable=prefix wm)
pc_inc=$(pkg-config --variable=includedir wm)
# wm.pc must describe where it was installed, not where the build was
# configured to install: `cmake --install --prefix` does not reconfigure it.
[ "$pc_inc" -ef "$prefix/include" ] ||
    fail "wm.pc says prefix=$pc_prefix, includedir=$pc_inc, but it was installed under" \
        "$prefix: the .pc file is not relocatable (libwm/wm.pc.in should derive prefix" \
        "from \${pcfiledir})"
[ "$(pkg-config --modversion wm)" = "$version" ] ||
    fail "wm.pc version $(pkg-config --modversion wm), expected $version"
read -ra pc_cflags <<<"$(pkg-config --cflags wm)"
read -ra pc_libs <<<"$(pkg-config --libs wm)"
read -ra pc_static_libs <<<"$(pkg-config --static --libs wm)"

# The shared library: what `-lwm` finds when both are installed.
quiet "$tmp/cc-shared.log" "$cc" "${user_cflags[@]}" "${xcflags[@]}" "${pc_cflags[@]}" \
    -o "$tmp/pc-shared" "$consumer/main.c" "${xldflags[@]}" "${pc_libs[@]}"
needs_libwm_so "$tmp/pc-shared" || fail "pc-shared does not load libwm.so"
run_consumer "pkg-config, shared" "$tmp/pc-shared" LD_LIBRARY_PATH="$libdir"

# The static archive: the same flags with -lwm spelled -l:libwm.a, which is
# how a user picks the archive when both are installed.
for i in "${!pc_static_libs[@]}"; do
    [ "${pc_static_libs[i]}" != -lwm ] || pc_static_libs[i]=-l:libwm.a
done
quiet "$tmp/cc-static.log" "$cc" "${user_cflags[@]}" "${xcflags[@]}" "${pc_cflags[@]}" \
    -o "$tmp/pc-static" "$consumer/main.c" "${xldflags[@]}" "${pc_static_libs[@]}"
! needs_libwm_so "$tmp/pc-static" || fail "pc-static loads libwm.so"
run_consumer "pkg-config, static" "$tmp/pc-static"

# ---- find_package ------------------------------------------------------------

quiet "$tmp/cmake-configure.log" cmake -S "$consumer" -B "$tmp/cmake" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_C_FLAGS="${user_cflags[*]} $extra_cflags" -DCMAKE_EXE_LINKER_FLAGS="$extra_ldflags" \
    -DWM_EXPECTED_VERSION="$version"
wm_dir=$(sed -n 's/^wm_DIR:PATH=//p' "$tmp/cmake/CMakeCache.txt")
[ "$wm_dir" -ef "$libdir/cmake/wm" ] || fail "find_package found wm in $wm_dir, not in $prefix"
quiet "$tmp/cmake-build.log" cmake --build "$tmp/cmake" -j 2
! needs_libwm_so "$tmp/cmake/consumer_static" || fail "wm::wm links libwm.so, not libwm.a"
needs_libwm_so "$tmp/cmake/consumer_shared" || fail "wm::wm_shared does not load libwm.so"
run_consumer "find_package, wm::wm" "$tmp/cmake/consumer_static"
# No LD_LIBRARY_PATH: CMake puts the imported library's directory in the
# build tree's RPATH, as for any user's project.
run_consumer "find_package, wm::wm_shared" "$tmp/cmake/consumer_shared"

echo "install_consumer: all passed"
