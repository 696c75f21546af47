#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's test command, and what .ci/run calls. It installs the test
# dependencies, checks formatting, then builds and tests wm three ways:
#   build/          gcc, Debug, -Werror: the everyday build; every ctest case.
#   build-asan/     clang, AddressSanitizer + UBSan + libFuzzer: every ctest
#                   case again, plus the short fuzz runs tests/fuzz registers.
#   build-release/  gcc, Release, -Werror: -O2 finds warnings -O0 does not;
#                   runs the install test, as a user would install wm. The
#                   same directory scripts/run.sh builds, so neither rebuilds
#                   for the other.
# Every step runs even when another failed, so one run reports everything;
# the summary at the end lists each step, and the exit status is 1 if any
# failed. Already-installed packages and up-to-date builds make a rerun quick.
#
# Usage: scripts/test.sh [--quick] [--no-asan]
#   --quick    formatting and build/ only
#   --no-asan  skip build-asan/
# Environment: WM_JOBS (parallel builds and tests; default: the CPU count),
# WM_TEST_TIMEOUT_S (default per-test limit for tests that set none; 300).
set -euo pipefail

usage() { sed -n '/^# Usage:/,/^# WM_TEST/s/^# \{0,1\}//p' "$0"; }

quick=0
asan=1
for arg in "$@"; do
    case $arg in
    --quick) quick=1 ;;
    --no-asan) asan=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "test.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
jobs=${WM_JOBS:-$(nproc)}
test_timeout=${WM_TEST_TIMEOUT_S:-300}

# Sanitizers stop at the first finding and say where it came from; leak
# checking is on so that a test that forgets to free fails. Options the caller
# already set come last, so they win.
export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:detect_leaks=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# ---- step bookkeeping -----------------------------------------------------

results=() # one "STATUS SECONDS NAME" line per step, for the summary
details=() # what failed, in a word or a list, shown under the summary
failed=0
t_start=$SECONDS

# step NAME CMD...: runs one command, records PASS or FAIL with its time.
# Returns the command's status so that callers can skip what depends on it.
# CMD runs with `set -e` suspended (bash ignores it under `||`), so a shell
# function used as a step must check its own commands, as check_format does.
step() {
    local name=$1 t0=$SECONDS rc=0
    shift
    printf '\n==== %s\n' "$name"
    "$@" || rc=$?
    if [ $rc -eq 0 ]; then
        results+=("PASS $((SECONDS - t0)) $name")
    else
        results+=("FAIL $((SECONDS - t0)) $name")
        failed=1
        printf '==== FAILED (exit %d): %s\n' "$rc" "$name"
    fi
    return $rc
}

skip() { results+=("SKIP - $1"); }

# configure_and_build DIR CMAKE_ARGS...: the configure and build steps.
# The build keeps going past errors (make -k), and the tests run even when it
# failed, so that one broken target does not hide every other result (the
# build step still fails the run; tests whose binary is missing fail too).
# Returns 1 only when configuring failed: then there is nothing to test.
configure_and_build() {
    local dir=$1
    shift
    if ! step "$dir: configure" cmake -S . -B "$dir" "$@"; then
        skip "$dir: build"
        skip "$dir: ctest"
        return 1
    fi
    # Keep going is spelled differently per generator (CMAKE_GENERATOR may
    # have picked Ninja).
    local keep_going=(-k)
    if grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt"; then
        keep_going=(-k 0)
    fi
    step "$dir: build" cmake --build "$dir" -j "$jobs" -- "${keep_going[@]}" || true
    return 0
}

# run_ctest DIR WHAT CTEST_ARGS...: one ctest pass over DIR, with the names
# of the failed tests kept for the summary.
# Every pass adds its counts to the totals printed at the end.
tests_passed=0
tests_failed=0
ctest_counted() {
    local log rc=0
    log=$(mktemp)
    # pipefail (set above) makes a failing ctest the pipeline's status.
    ctest "$@" 2>&1 | tee "$log" || rc=$?
    # "100% tests passed, 0 tests failed out of 19"
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [ -n "$line" ]; then
        local failed total
        failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
        tests_passed=$((tests_passed + total - failed))
        tests_failed=$((tests_failed + failed))
    fi
    rm -f "$log"
    return $rc
}

run_ctest() {
    local dir=$1 what=$2
    shift 2
    if ! step "$dir: ctest$what" ctest_counted --test-dir "$dir" --output-on-failure -j "$jobs" \
        --timeout "$test_timeout" --no-tests=error "$@"; then
        # ctest leaves the names of the failed tests here ("N:name" lines).
        local f=$dir/Testing/Temporary/LastTestsFailed.log
        if [ -f "$f" ]; then
            details+=("$dir: failed tests: $(cut -d: -f2- "$f" | tr '\n' ' ')")
        fi
    fi
    return 0
}

# ---- formatting -------------------------------------------------------------

# Every tracked *.c/*.h, plus new files not yet added (so a check before the
# commit sees them too), must already be as clang-format would make it.
check_format() {
    local files=() bad=() f
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h')
    else
        mapfile -d '' files < <(find . -path './build*' -prune -o \( -name '*.c' -o -name '*.h' \) \
                                     -type f -print0)
    fi
    for f in "${files[@]}"; do
        [ -f "$f" ] || continue # deleted in the work tree, still in the index
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        echo "clang-format would change ${#bad[@]} file(s); fix with: clang-format -i FILE..."
        printf '  %s\n' "${bad[@]}"
        details+=("clang-format: ${bad[*]}")
        return 1
    fi
    echo "clang-format: ${#files[@]} files clean"
}

# ---- the run ------------------------------------------------------------------

step "dependencies (scripts/deps.sh test)" bash scripts/deps.sh test || true
step "clang-format" check_format || true

if configure_and_build build -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DWM_WERROR=ON; then
    run_ctest build ""
fi

if [ $quick -eq 0 ] && [ $asan -eq 1 ] &&
    configure_and_build build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
        -DWM_SANITIZE=ON -DWM_FUZZ=ON; then
    # The fuzzers (label "fuzz") each keep a CPU busy for their whole run:
    # they get a pass of their own, so that tests that measure time never
    # share the machine with them.
    run_ctest build-asan "" -LE fuzz
    run_ctest build-asan " (fuzzers)" -L fuzz
fi

# Keep these arguments the same as scripts/run.sh's.
if [ $quick -eq 0 ] &&
    configure_and_build build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
        -DWM_WERROR=ON; then
    run_ctest build-release " (install)" -R '^install_consumer$'
fi

# ---- summary ------------------------------------------------------------------

total=$((SECONDS - t_start))
printf '\n==== summary (%dm%02ds)\n' $((total / 60)) $((total % 60))
for r in "${results[@]}"; do
    read -r status secs name <<<"$r"
    if [ "$secs" = - ]; then
        printf '%-4s %6s  %s\n' "$status" "" "$name"
    else
        printf '%-4s %5ss  %s\n' "$status" "$secs" "$name"
    fi
done
for d in "${details[@]}"; do
    echo "  $d"
done
echo "ctest cases over every build: $tests_passed passed, $tests_failed failed"
if [ $failed -ne 0 ]; then
    echo "test.sh: FAILED"
    echo "tests: $tests_passed passed, $tests_failed failed"
    exit 1
fi
echo "test.sh: all passed"
echo "tests: $tests_passed passed, $tests_failed failed"
