#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kill: with two processes, SIGKILL one. A connection held open to the OTHER
# process answers before, right after and after the replacement came; the
# master starts a replacement (same worker id) that answers new connections
# within 1 s of the kill; `status --json` counts the exit as signal 9, and
# the log says why the process ended. Last, SIGKILL of the master: its
# workers end by themselves (none is left orphaned).
# Usage: proc_kill.sh BUILD_BIN_DIR
source "$(dirname "$0")/proc_lib.sh"

PORT=$(free_port)
FIXARGS=(--text "text://127.0.0.1:$PORT" --count 2)
start_master
note "ready after $(wait_ready 2) ms"
# Processes younger than a second are restarted with a back-off; this test
# is about the plain case of a process that has been serving.
sleep 1.1

read -r p0 p1 <<<"$(worker_pids)"
hold H "$PORT"
r=$(ask_fd "$H" before) || fail "no answer on the held connection"
held=$(cut -d' ' -f2 <<<"$r")
if [ "$held" = "$p0" ]; then victim=$p1; else victim=$p0; fi
victim_id=$(status_json | jget "[p['id'] for p in j['processes'] if p['pid']==$victim][0]")
note "held connection is served by $held; killing $victim (id $victim_id)"

t0=$(now_ms)
kill -KILL "$victim"
r=$(ask_fd "$H" during) || fail "the held connection to $held did not answer right after the kill"
[ "$(cut -d' ' -f2 <<<"$r")" = "$held" ] || fail "held connection answered '$r', not from $held"
out=$(py until-new "$PORT" "$held,$victim" 3) || fail "no replacement answered within 3 s"
read -r probe_ms newpid <<<"$out"
served_ms=$(($(now_ms) - t0))
note "replacement $newpid answered a new connection ${served_ms} ms after the kill" \
    "(the probe loop ran ${probe_ms} ms)"
[ "$served_ms" -lt 1000 ] || fail "the replacement took $served_ms ms to serve (limit 1000)"

r=$(ask_fd "$H" after) || fail "the held connection to $held stopped answering after the kill"
[ "$(cut -d' ' -f2 <<<"$r")" = "$held" ] || fail "held connection answered '$r', not from $held"
note "held connection still answers from $held: '$r'"

js=$(status_json)
now_pids=$(jget "sorted(p['pid'] for p in j['processes'])" <<<"$js")
new_id=$(jget "[p['id'] for p in j['processes'] if p['pid']==$newpid][0]" <<<"$js")
sig9=$(jget "sum(e['count'] for w in j['workers'] for e in w['exits'] if e.get('signal')==9)" <<<"$js")
exits=$(jget "j['workers'][0]['exits']" <<<"$js")
note "status: pids [$now_pids], new process id $new_id, exits $exits"
[ "$(wc -w <<<"$now_pids")" -eq 2 ] || fail "expected 2 processes, status shows [$now_pids]"
grep -qw "$held" <<<"$now_pids" || fail "$held is missing from status"
[ "$new_id" = "$victim_id" ] || fail "the replacement has id $new_id, the killed one had $victim_id"
[ "$sig9" = 1 ] || fail "status counts $sig9 exits by signal 9, expected 1: $exits"
grep -q "process $victim (id $victim_id) killed by signal 9" "$T/master.log" ||
    fail "the log does not say that $victim was killed by signal 9"
unhold "$H"

# The master killed outright: its workers notice and end, none is orphaned.
kill -KILL "$MASTER"
{ wait "$MASTER"; } 2>/dev/null || true
for p in $now_pids; do
    ms=$(wait_gone "$p" 3) || fail "worker $p still runs 3 s after its master was killed"
    note "worker $p ended $ms ms after the master was SIGKILLed"
done
pass "replacement served after $served_ms ms; held connection kept working"
