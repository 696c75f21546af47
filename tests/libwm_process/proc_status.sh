#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# status and connections: with two workers ("fixture", 2 processes, and the
# non-reloadable "keeper", 1) and three connections held open from here,
#   status --json        the master pid, both workers (listen, count,
#                        reloadable), every process (pid = the master's
#                        children, worker name, listen URL, id, connection
#                        count, memory, requests, state idle);
#   status               the same pids, names, URLs, ids and counts as text;
#   connections --json   each held connection: its process, worker, worker
#                        id, protocol, local address and the remote address
#                        of our end, bytes read;
#   connections          the same rows as text.
# Then one process is stopped with SIGSTOP: `status` answers within ~1 s
# and shows it "busy", the others idle; after SIGCONT it is idle again.
# The keeper adds its own line with wm_worker_on_status: shown under the
# table as "PID keeper: ..." and as "info" in --json, and nowhere else.
# Usage: proc_status.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
KPORT=$(free_port)
URL=text://127.0.0.1:$PORT
KURL=text://127.0.0.1:$KPORT
FIXARGS=(--text "$URL" --count 2 --non-reloadable "$KURL")
start_master
wait_ready 2 >/dev/null

# Three held connections; each says which process serves it. The first two
# go to the fixture port until both fixture processes serve one (or 50 tries).
hold K "$KPORT"
r=$(ask_fd "$K" hello-keeper) || fail "the keeper did not answer"
kpid=$(cut -d' ' -f2 <<<"$r")
declare -A conn_pid=() pid_conns=()
conn_pid[$K]=$kpid
pid_conns[$kpid]=1
hold A "$PORT"
apid=$(ask_fd "$A" hello-a | cut -d' ' -f2)
for _ in $(seq 50); do
    hold B "$PORT"
    bpid=$(ask_fd "$B" hello-b | cut -d' ' -f2)
    [ "$bpid" != "$apid" ] && break
    unhold "$B"
done
conn_pid[$A]=$apid
conn_pid[$B]=$bpid
pid_conns[$apid]=$((${pid_conns[$apid]:-0} + 1))
pid_conns[$bpid]=$((${pid_conns[$bpid]:-0} + 1))
note "held: keeper conn -> $kpid, A -> $apid, B -> $bpid"

# ---- status --json -------------------------------------------------------------
# The servers see connects and closes asynchronously: on a loaded machine a
# tried-and-closed B may not be gone yet, or the last one not yet accepted.
# Wait (up to 3 s) until the totals settle at the three held connections;
# the checks below are then exact.
for _ in $(seq 30); do
    js=$(status_json) || fail "status --json failed"
    total=$(jget "sum(p.get('connections', 0) for p in j['processes'])" <<<"$js")
    [ "$total" = 3 ] && break
    sleep 0.1
done
kids=$(children_of "$MASTER" | tr ' ' '\n' | sort -n | xargs)
[ "$(jget "j['master_pid']" <<<"$js")" = "$MASTER" ] || fail "master_pid is not $MASTER: $js"
[ "$(jget "sorted(p['pid'] for p in j['processes'])" <<<"$js")" = "$kids" ] ||
    fail "status pids are not the master's children [$kids]: $js"
[ "$(jget "[(w['name'], w['listen'], w['count'], w['reloadable']) for w in j['workers']]" \
    <<<"$js")" = "('fixture', '$URL', 2, True) ('keeper', '$KURL', 1, False)" ] ||
    fail "workers are wrong: $(jget "j['workers']" <<<"$js")"
for p in $kids; do
    row=$(jget "[p for p in j['processes'] if p['pid']==$p][0]" <<<"$js")
    read -r w l id c mem st <<<"$(jget "[[p['worker'], p['listen'], p['id'], p['connections'],
        p['memory_kb'], p['state']] for p in j['processes'] if p['pid']==$p][0]" <<<"$js")"
    if [ "$p" = "$kpid" ]; then want="keeper $KURL 0"; else want="fixture $URL"; fi
    [[ "$w $l $id" == "$want"* ]] || fail "process $p: $row"
    [ "$c" = "${pid_conns[$p]:-0}" ] || fail "process $p shows $c connections, expected ${pid_conns[$p]:-0}: $row"
    { [ "$mem" -gt 0 ] && [ "$st" = idle ]; } || fail "process $p: memory or state wrong: $row"
done
ids=$(jget "sorted(p['id'] for p in j['processes'] if p['worker']=='fixture')" <<<"$js")
[ "$ids" = "0 1" ] || fail "fixture ids are [$ids], expected 0 1"
note "status --json: master $MASTER, processes [$kids], fixture ids [$ids], connections per pid" \
    "$(for p in "${!pid_conns[@]}"; do printf '%s=%s ' "$p" "${pid_conns[$p]}"; done)"

# ---- status (text) --------------------------------------------------------------
fixture status >"$T/status.txt" || fail "status failed"
grep -q "master pid: $MASTER" "$T/status.txt" || fail "status does not show the master pid"
for p in $kids; do
    if [ "$p" = "$kpid" ]; then w=keeper l=$KURL; else w=fixture l=$URL; fi
    line=$(grep -E "^$p " "$T/status.txt") || fail "status has no row for $p: $(cat "$T/status.txt")"
    read -r _ _ tw tl tid tc _ <<<"$line"
    want_id=$(jget "[p['id'] for p in j['processes'] if p['pid']==$p][0]" <<<"$js")
    [ "$tw $tl $tid $tc" = "$w $l $want_id ${pid_conns[$p]:-0}" ] ||
        fail "status row for $p is '$line', expected $w $l $want_id ${pid_conns[$p]:-0}"
done
note "status (text) rows agree"
# wm_worker_on_status: the keeper adds its line; the fixture processes none.
grep -qx "$kpid *keeper: keeper_pid=$kpid answered=yes" "$T/status.txt" ||
    fail "status lacks the keeper's own line: $(cat "$T/status.txt")"
[ "$(grep -c ': keeper_pid=' "$T/status.txt")" = 1 ] || fail "more than one status info line"
[ "$(jget "[p.get('info') for p in j['processes'] if p['pid']==$kpid][0]" <<<"$js")" = \
    "keeper_pid=$kpid answered=yes" ] || fail "status --json lacks the keeper's info: $js"
[ "$(jget "len([p for p in j['processes'] if 'info' in p])" <<<"$js")" = 1 ] ||
    fail "status --json has info on a process that added none: $js"
note "wm_worker_on_status: the keeper's line in status and its info in --json"

# ---- connections --json and connections ---------------------------------------
cj=$(fixture connections --json) || fail "connections --json failed"
fixture connections >"$T/connections.txt" || fail "connections failed"
n=$(jget "len(j['connections'])" <<<"$cj")
[ "$n" = 3 ] || fail "connections --json lists $n connections, expected 3: $cj"
for fd in "$K" "$A" "$B"; do
    p=${conn_pid[$fd]}
    if [ "$p" = "$kpid" ]; then port=$KPORT w=keeper; else port=$PORT w=fixture; fi
    remote=$(local_addr_of_fd "$fd" "$port")
    [ -n "$remote" ] || fail "cannot find our end of fd $fd with ss"
    got=$(jget "[' '.join(str(x) for x in (c['pid'], c['worker'], c['protocol'], c['local'],
        c['bytes_read'])) for c in j['connections'] if c['remote']=='$remote']" <<<"$cj")
    # bytes_read: the one line sent on it ("hello-x" and a newline)
    [ "$got" = "$p $w text 127.0.0.1:$port $([ "$fd" = "$K" ] && echo 13 || echo 8)" ] ||
        fail "connection from $remote: got [$got], expected pid $p worker $w: $cj"
    wid=$(jget "[c['worker_id'] for c in j['connections'] if c['remote']=='$remote'][0]" <<<"$cj")
    sid=$(jget "[p['id'] for p in j['processes'] if p['pid']==$p][0]" <<<"$js")
    [ "$wid" = "$sid" ] || fail "connection from $remote: worker_id $wid, status says $sid"
    grep -E "^$p +$w +$sid +[0-9]+ +text +127.0.0.1:$port +$remote " "$T/connections.txt" \
        >/dev/null || fail "connections has no row '$p $w $sid ... $remote': $(cat "$T/connections.txt")"
    note "connection $remote -> pid $p ($w id $sid) listed in connections and --json"
done
# Connection ids are per process, as Workerman's: (pid, id) names one.
cids=$(jget "len(set((c['pid'], c['id']) for c in j['connections'] if c['id'] > 0))" <<<"$cj")
[ "$cids" = 3 ] || fail "(pid, connection id) pairs are not distinct: $cj"

# ---- a stopped process shows busy ------------------------------------------------
kill -STOP "$bpid"
t0=$(now_ms)
js=$(status_json) || {
    kill -CONT "$bpid"
    fail "status failed while $bpid was stopped"
}
took=$(($(now_ms) - t0))
kill -CONT "$bpid"
busy=$(jget "[p['pid'] for p in j['processes'] if p['state']=='busy']" <<<"$js")
idle=$(jget "len([p for p in j['processes'] if p['state']=='idle'])" <<<"$js")
note "with $bpid stopped (SIGSTOP), status --json answered in $took ms: busy [$busy], $idle idle"
[ "$busy" = "$bpid" ] || fail "status shows busy [$busy], expected [$bpid]: $js"
[ "$idle" = 2 ] || fail "the other processes are not idle: $js"
[ "$took" -lt 2500 ] || fail "status took $took ms with a stopped process"
fixture status >"$T/status2.txt"
grep -E "^$bpid .* idle$" "$T/status2.txt" >/dev/null ||
    fail "after SIGCONT $bpid is not idle: $(cat "$T/status2.txt")"

unhold "$A"
unhold "$B"
unhold "$K"
fixture stop >/dev/null || fail "stop failed"
wait "$MASTER" || fail "the master exited with status $?"
pass "status, status --json, connections, connections --json and busy agree"
