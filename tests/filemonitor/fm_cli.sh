#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wm-filemonitor: --help; --run with 30 quick writes -> one run, which sees
# the changed paths in $WM_FM_PATHS, and writes under an excluded directory
# -> no run; the same with --poll; --signal USR2 --pid-file: a process
# (a bash loop trapping USR2, its pid in a file) gets the signal on a
# change; bad usage exits with status 2.
# Usage: fm_cli.sh BUILD_BIN_DIR
WM_TEST_NAME=filemonitor_cli
source "$(dirname "$0")/../libwm_process/proc_lib.sh"

FM=$BIN/wm-filemonitor
[ -x "$FM" ] || fail "no $FM"
"$FM" --help | grep -q "Usage: wm-filemonitor" || fail "--help"
set +e
"$FM" --bogus "$T" >/dev/null 2>&1
[ $? = 2 ] || fail "a bad option did not exit with status 2"
"$FM" "$T" >/dev/null 2>&1
[ $? = 2 ] || fail "no action did not exit with status 2"
set -e

# wait_lines FILE N SECONDS: until FILE has N lines.
wait_lines() {
    local t0
    t0=$(now_ms)
    while [ "$(wc -l 2>/dev/null <"$1" || echo 0)" -lt "$2" ]; do
        [ $(($(now_ms) - t0)) -lt $(($3 * 1000)) ] || return 1
        sleep 0.02
    done
}

# run_case NAME OPTIONS...: --run with those options.
run_case() {
    local name=$1 w=$T/$1
    shift
    mkdir -p "$w/build"
    : >"$T/$name.runs"
    bg "$T/$name.out" "$FM" "$@" --debounce 100 --exclude build/ \
        --run "printf '%s\n' \"\$WM_FM_PATHS\" >>$T/$name.paths; echo run >>$T/$name.runs" "$w"
    wait_lines "$T/$name.out" 1 5 || fail "$name: wm-filemonitor did not start: $(cat "$T/$name.out")"
    for i in $(seq 30); do echo "$i" >"$w/f$((i % 3)).c"; done
    wait_lines "$T/$name.runs" 1 5 || fail "$name: --run did not run: $(cat "$T/$name.out")"
    sleep 0.5
    [ "$(wc -l <"$T/$name.runs")" = 1 ] || fail "$name: 30 writes ran the command $(wc -l <"$T/$name.runs") times"
    grep -qx "$w/f1.c" "$T/$name.paths" || fail "$name: WM_FM_PATHS lacks $w/f1.c: $(cat "$T/$name.paths")"
    echo x >"$w/build/out.o"
    sleep 0.6
    [ "$(wc -l <"$T/$name.runs")" = 1 ] || fail "$name: a write under build/ ran the command"
    kill -TERM "$BG"
    wait "$BG" || fail "$name: wm-filemonitor exited with status $? on SIGTERM"
    note "$name: 30 writes -> 1 run with $(wc -l <"$T/$name.paths") paths; build/ ignored"
}
run_case inotify
run_case poll --poll 50

# --signal --pid-file: a process that counts USR2.
mkdir "$T/sig"
bg "$T/trap.out" bash -c "trap 'echo got >>$T/got' USR2; echo ready; while :; do sleep 0.05; done"
TARGET=$BG
echo "$TARGET" >"$T/target.pid"
wait_lines "$T/trap.out" 1 5 || fail "the signal target did not start"
bg "$T/sig.out" "$FM" --debounce 100 --signal USR2 --pid-file "$T/target.pid" "$T/sig"
wait_lines "$T/sig.out" 1 5 || fail "wm-filemonitor did not start"
touch "$T/sig/a.c"
wait_lines "$T/got" 1 5 || fail "the target got no USR2: $(cat "$T/sig.out")"
grep -q "sent User defined signal 2 to $TARGET" "$T/sig.out" || fail "no report of the signal: $(cat "$T/sig.out")"
note "--signal USR2 --pid-file: $(grep sent "$T/sig.out")"
pass "--run once per burst (inotify and --poll), excludes, --signal --pid-file"
