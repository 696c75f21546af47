#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# count: a worker with `--count 2` runs as two processes, children of the
# master, with ids 0 and 1 (status --json), and both of them serve: 400
# connections from 8 threads are answered, every one correctly, by both pids.
# Then `stop` ends the master and both processes.
# Usage: proc_count.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2)
start_master
note "ready after $(wait_ready 2) ms"

js=$(status_json)
pids=$(jget "sorted(p['pid'] for p in j['processes'] if p['worker']=='fixture')" <<<"$js")
ids=$(jget "sorted(p['id'] for p in j['processes'])" <<<"$js")
kids=$(children_of "$MASTER" | tr ' ' '\n' | sort -n | xargs)
note "status --json: fixture pids [$pids] ids [$ids]; the master's children [$kids]"
[ "$(wc -w <<<"$pids")" -eq 2 ] || fail "expected 2 processes, status shows [$pids]"
[ "$ids" = "0 1" ] || fail "expected ids 0 1, got [$ids]"
[ "$(jget "j['master_pid']" <<<"$js")" = "$MASTER" ] || fail "master_pid is not $MASTER"
[ "$(tr ' ' '\n' <<<"$pids" | sort -n | xargs)" = "$kids" ] ||
    fail "status pids [$pids] are not the master's children [$kids]"

spread=$(py spread "$PORT" 400 8)
note "400 connections from 8 threads: $spread"
[ "$(jget "j['failed']" <<<"$spread")" = 0 ] || fail "some connections failed: $spread"
served=$(jget "sorted(int(p) for p in j['pids'])" <<<"$spread")
[ "$served" = "$pids" ] || fail "served by [$served], expected both of [$pids]"
total=$(status_json | jget "sum(p['requests'] for p in j['processes'])")
[ "$total" -ge 400 ] || fail "status counts $total requests, expected >= 400"
note "status counts $total requests"

t0=$(now_ms)
fixture stop >/dev/null || fail "stop failed"
note "stop took $(($(now_ms) - t0)) ms"
alive "$MASTER" && fail "the master is still running after stop"
for p in $pids; do
    alive "$p" && fail "worker $p is still running after stop"
done
wait "$MASTER" || fail "the master exited with status $?"
pass "2 processes, both served, stopped"
