#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# non-reloadable worker: next to the reloadable "fixture" runs "keeper",
# made with wm_worker_set_reloadable(false). `reload` and `reload -g`
# replace the fixture process but not the keeper: its pid survives, it
# keeps serving (a connection held open to it too), and its
# on_worker_reload ran once per reload ("reloaded <pid>" on stdout, and a
# log line).
# Usage: proc_nonreload.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
KPORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --non-reloadable "text://127.0.0.1:$KPORT")
start_master
wait_ready 1 >/dev/null
keeper=$(worker_pids keeper)
hold K "$KPORT"
r=$(ask_fd "$K" before) || fail "the keeper did not answer"
[ "$(cut -d' ' -f2 <<<"$r")" = "$keeper" ] || fail "the keeper port answered '$r', not $keeper"

n=0
for how in "" -g; do
    n=$((n + 1))
    old=$(worker_pids)
    t0=$(now_ms)
    # shellcheck disable=SC2086
    fixture reload $how >/dev/null || fail "reload $how failed"
    while :; do
        now=$(worker_pids)
        [ -n "$now" ] && [ "$now" != "$old" ] && break
        [ $(($(now_ms) - t0)) -lt 10000 ] || fail "reload $how did not replace $old"
        sleep 0.02
    done
    wait_ready 1 >/dev/null
    now=$(worker_pids)
    k=$(worker_pids keeper)
    note "reload${how:+ $how}: fixture $old -> $now; keeper $keeper -> $k"
    [ "$k" = "$keeper" ] || fail "reload $how replaced the keeper: $keeper -> $k"
    r=$(py ask "$KPORT" after) || fail "the keeper does not answer after reload $how"
    [ "$(cut -d' ' -f2 <<<"$r")" = "$keeper" ] || fail "the keeper port answered '$r'"
    r=$(ask_fd "$K" held) || fail "the connection to the keeper stopped answering"
    [ "$(cut -d' ' -f2 <<<"$r")" = "$keeper" ] || fail "the held connection answered '$r'"
    for _ in $(seq 50); do
        [ "$(grep -c "^reloaded $keeper$" "$T/master.out")" -ge "$n" ] && break
        sleep 0.02
    done
    ran=$(grep -c "^reloaded $keeper$" "$T/master.out" || true)
    [ "$ran" = "$n" ] || fail "on_worker_reload ran $ran time(s) after $n reload(s)"
done
logged=$(grep -c "process $keeper: on_worker_reload ran" "$T/master.log" || true)
note "on_worker_reload ran $ran times (stdout), $logged times (log)"
[ "$logged" = 2 ] || fail "the log shows on_worker_reload $logged times, expected 2"
unhold "$K"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "the keeper survived reload and reload -g and ran on_worker_reload"
