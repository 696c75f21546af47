#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# crash-on-start: a worker that aborts in on_worker_start every time is
# restarted with a growing back-off, not in a tight loop: over 3 s the log
# shows few starts (< 10) and growing "restarting in N ms" delays, status
# --json counts the exits (signal 6), and `stop` still ends the master.
# Usage: proc_crash.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --crash-on-start)
start_master
sleep 3
alive "$MASTER" || fail "the master died"

starts=$(grep -c "crashing on start as asked" "$T/master.log" || true)
delays=$(grep -o 'restarting in [0-9]* ms' "$T/master.log" | awk '{print $3}' | xargs)
note "in 3 s: $starts start(s); restart delays (ms): [$delays]"
[ "$starts" -ge 2 ] || fail "the master did not restart the crashing process ($starts starts)"
[ "$starts" -lt 10 ] || fail "$starts starts in 3 s: no back-off"
prev=0
for d in $delays; do
    [ "$d" -gt "$prev" ] || [ "$d" -ge 10000 ] || fail "the delays do not grow: [$delays]"
    prev=$d
done

js=$(status_json) || fail "status --json failed while the worker crashes"
aborts=$(jget "sum(e['count'] for e in j['workers'][0]['exits'] if e.get('signal')==6)" <<<"$js")
note "status --json exits: $(jget "j['workers'][0]['exits']" <<<"$js")"
[ "$aborts" -ge $((starts - 1)) ] || fail "status counts $aborts aborts for $starts starts"

t0=$(now_ms)
fixture stop >/dev/null || fail "stop failed"
note "stop took $(($(now_ms) - t0)) ms"
wait_gone "$MASTER" 3 >/dev/null || fail "the master is still running 3 s after stop"
wait "$MASTER" || fail "the master exited with status $?"
pass "$starts starts in 3 s, delays [$delays]"
