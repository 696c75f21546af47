#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reload under load: a load client of our own (proc_client.py load) runs
# requests from 4 threads, a new connection per request, each answer
# checked, for the whole test, while `reload` runs 5 times (each waited for:
# status --json lists only new pids, all idle). Then a second client with
# keep-alive connections (50 requests per connection) joins and `reload -g`
# runs. Every request must succeed: zero failed, refused or reset requests,
# each reload must replace every process, and every replaced process must
# exit with status 0. Prints the figures.
#
# With SLOW_MS the fixture answers each line SLOW_MS ms later, from a timer,
# as a server does that waits on a database or another service: a reload
# must not fail the requests whose answer is still on its way either.
# Usage: proc_reload.sh BUILD_BIN_DIR [SLOW_MS]
source "$(dirname "$0")/proc_lib.sh"
SLOW=${2:-}

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2)
if [ -n "$SLOW" ]; then
    FIXARGS+=(--slow-ms "$SLOW")
    note "the fixture answers each request after $SLOW ms"
fi
RELOADS=5
start_master --stop-timeout=10
wait_ready 2 >/dev/null

# reload_and_wait [-g]: one reload; waits until no process from before it is
# listed and 2 new ones are idle. Prints its duration in ms.
reload_and_wait() {
    local before t0 js now
    before=$(worker_pids | tr ' ' ',')
    t0=$(now_ms)
    fixture reload "$@" >/dev/null || fail "reload $* failed"
    while :; do
        if js=$(status_json); then
            now=$(jget "sorted(p['pid'] for p in j['processes'] if p['state']=='idle'
                   and p['pid'] not in [$before]) if len(j['processes'])==2 else []" <<<"$js")
            [ "$(wc -w <<<"$now")" -eq 2 ] && break
        fi
        [ $(($(now_ms) - t0)) -lt 15000 ] || fail "reload $* did not replace [$before] in 15 s: $js"
        sleep 0.02
    done
    echo "$(($(now_ms) - t0)) ms: [$before] -> [$now]"
}

bg "$T/load.out" "$PYTHON" "$HERE/proc_client.py" load "$PORT" --threads 4
LOAD=$BG
sleep 1
for i in $(seq $RELOADS); do
    note "reload $i: $(reload_and_wait)"
    sleep 0.3
done
bg "$T/keepalive.out" "$PYTHON" "$HERE/proc_client.py" load "$PORT" --threads 2 --keepalive 50
KEEP=$BG
sleep 1
note "reload -g: $(reload_and_wait -g)"
sleep 1
kill -TERM "$LOAD" "$KEEP"
wait "$LOAD" || fail "the load client failed: $(cat "$T/load.out")"
wait "$KEEP" || fail "the keep-alive client failed: $(cat "$T/keepalive.out")"

summary() {
    local js
    js=$(tail -n 1 "$1")
    jget "'%d requests on %d connections in %s s by %d pids, %d failed %s %s' % (j['requests'],
          j['connections'], j['seconds'], len(j['pids']), j['failed'], j['kinds'] or '',
          j['first_failures'] or '')" <<<"$js"
}
note "new connection per request: $(summary "$T/load.out")"
note "keep-alive (50 per connection): $(summary "$T/keepalive.out")"
served=$(tail -n 1 "$T/load.out" | jget "j['requests']")
kserved=$(tail -n 1 "$T/keepalive.out" | jget "j['requests']")
failed=$(tail -n 1 "$T/load.out" | jget "j['failed']")
kfailed=$(tail -n 1 "$T/keepalive.out" | jget "j['failed']")
note "reload under load: $((served + kserved)) requests served during $RELOADS reloads and" \
    "1 reload -g, $((failed + kfailed)) failed"
{ [ "$served" -gt 0 ] && [ "$kserved" -gt 0 ]; } || fail "the clients made no requests"
[ "$failed" = 0 ] || fail "$failed requests failed during reload"
[ "$kfailed" = 0 ] || fail "$kfailed keep-alive requests failed during reload -g"
npids=$(tail -n 1 "$T/load.out" | jget "len(j['pids'])")
[ "$npids" -ge $((2 * RELOADS)) ] || fail "only $npids processes served the load"
# Every replaced process ended by itself, cleanly.
exits=$(status_json | jget "j['workers'][0]['exits']")
clean=$(status_json | jget "sum(e['count'] for e in j['workers'][0]['exits'] if e.get('status')==0)")
note "exit statuses of the $((2 * (RELOADS + 1))) replaced processes: $exits"
[ "$clean" = $((2 * (RELOADS + 1))) ] || fail "not every replaced process exited with status 0: $exits"

fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "$((served + kserved)) requests, 0 failed, $RELOADS reloads + reload -g"
